"""``client.responses.create(...)``: the Responses API, tracked exactly as chat is.

The order of a call is ``client.chat.completions.create``'s (``_resources``):

1. the arguments are checked locally, then ``backend.check_responses`` (a backend that
   reaches no Responses API refuses here, naming the ones that do): a ``ConfigurationError``
   costs nothing and writes nothing;
2. the target is resolved;
3. ``tracker.begin(intent)`` reserves the call (same intent as chat: model, placement, tags,
   ``max_output_tokens`` as the output bound, the prompt bounded from its bytes); a hard
   budget or a missing price refuses it here;
4. the request is sent under the retry policy (a stream only until its first event);
5. the call is settled with the response's usage (``input_tokens`` -> prompt,
   ``output_tokens`` -> completion, ``output_tokens_details.reasoning_tokens`` ->
   reasoning): the ledger row has the same columns and cost basis as a chat row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, overload

from gptoss_aws._resources import (
    TrackerLike,
    abegin,
    aopen_tracked,
    make_intent,
    merge_tags,
    open_tracked,
    settle_error,
)
from gptoss_aws._responses_types import Response
from gptoss_aws.backends._responses_request import ResponsesRequest, build_responses_request
from gptoss_aws.streaming._responses_stream import (
    AsyncResponseStream,
    ResponseCallState,
    ResponseStream,
)
from gptoss_aws.streaming.stream import TrackedCallLike, call_id_of, off_loop

if TYPE_CHECKING:
    from gptoss_aws.backends._responses_wire import ResponsesResult
    from gptoss_aws.backends.base import BackendBase, Target
    from gptoss_aws.client import AsyncGptOss, GptOss

Effort = Literal["low", "medium", "high"]


def _prepare(
    backend: BackendBase,
    client_tags: Mapping[str, str],
    call_tags: Mapping[str, str] | None,
    **fields: Any,
) -> tuple[ResponsesRequest, dict[str, str]]:
    request = build_responses_request(**fields)
    tags = merge_tags(client_tags, call_tags)
    request = replace(request, tags=tags or None)
    backend.check_responses(request)
    return request, tags


def _begin(
    tracker: TrackerLike | None, target: Target, request: ResponsesRequest, tags: dict[str, str]
) -> tuple[TrackedCallLike | None, int]:
    if tracker is None:
        return None, 0
    from gptoss_aws._token_estimates import estimate_prompt_tokens

    parts = request.prompt_parts()
    bound = estimate_prompt_tokens(parts, request.tools)
    typical = estimate_prompt_tokens(parts, request.tools, bound=False)
    return tracker.begin(make_intent(target, request, tags, bound)), typical


def _settle(call: TrackedCallLike | None, result: ResponsesResult, estimate: int) -> Response:
    response, usage = result.response, result.usage
    if not result.usage_reported and usage.prompt_tokens == 0:
        usage.prompt_tokens = estimate
    if call is not None:
        # A response the server reports as failed was still generated (and billed): its
        # usage is recorded, under status "error", as a chat call that failed would be.
        failed = response.status == "failed"
        response.cost = call.finish(
            usage,
            status="error" if failed else "ok",
            error_kind="ResponseFailed" if failed else None,
            usage_source="reported" if result.usage_reported else "estimated",
        )
        response.call_id = call_id_of(call)
    return response


def _run(
    client: GptOss, request: ResponsesRequest, call_tags: dict[str, str], stream: bool
) -> Response | ResponseStream:
    """Reserve, send under the retry policy, settle (or hand back the tracked stream)."""
    backend, policy = client.backend, client.retry_policy
    target = policy.call(backend.target)
    call, estimate = _begin(client.tracker, target, request, call_tags)
    started = time.monotonic()
    if not stream:
        try:
            result = policy.call(lambda: backend.send_responses(request))
        except BaseException as exc:
            settle_error(call, exc)
            raise
        return _settle(call, result, estimate)
    state = ResponseCallState(call, backend.name, estimate, started)
    opened = open_tracked(policy, lambda: backend.stream_responses(request), state)
    if opened.first is not None:
        state.observe_event(opened.first)
    return ResponseStream(opened.raw, state, opened.first)


async def _arun(
    client: AsyncGptOss, request: ResponsesRequest, call_tags: dict[str, str], stream: bool
) -> Response | AsyncResponseStream:
    """The async twin of ``_run``: ledger writes happen off the event loop."""
    backend, policy = client.backend, client.retry_policy
    target = await policy.acall(backend.atarget)
    call, estimate = await abegin(client.tracker, _begin, target, request, call_tags)
    started = time.monotonic()
    state = ResponseCallState(call, backend.name, estimate, started)
    if not stream:
        try:
            result = await policy.acall(lambda: backend.asend_responses(request))
        except BaseException as exc:
            await off_loop(state, settle_error, call, exc)
            raise
        return await off_loop(state, _settle, call, result, estimate)
    opened = await aopen_tracked(policy, lambda: backend.astream_responses(request), state)
    if opened.first is not None:
        await off_loop(state, state.observe_event, opened.first)
    return AsyncResponseStream(opened.raw, state, opened.first)


class Responses:
    """``client.responses``: OpenAI's Responses API on any backend that reaches one."""

    def __init__(self, client: GptOss) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        input: str | list[Any],
        stream: Literal[False] = False,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> Response: ...

    @overload
    def create(
        self,
        *,
        input: str | list[Any],
        stream: Literal[True],
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> ResponseStream: ...

    @overload
    def create(
        self,
        *,
        input: str | list[Any],
        stream: bool,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> Response | ResponseStream: ...

    def create(
        self,
        *,
        input: str | list[Any],
        stream: bool = False,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> Response | ResponseStream:
        """Send a Responses request; a ``Response``, or with ``stream=True`` a
        ``ResponseStream`` of ``ResponseStreamEvent`` whose ``response.completed`` event
        carries the usage (and, once recorded, the cost).

        ``input`` is a string or a list of input items; items may be an earlier
        ``Response``'s ``output`` items as they are, so ``input=[*previous.output,
        {"type": "function_call_output", "call_id": ..., "output": ...}]`` carries the
        reasoning over a tool turn. ``tools`` are in the Responses shape
        (``{"type": "function", "name", "parameters"}``); ``reasoning={"effort": "low"}``.
        Other OpenAI parameters go in ``extra_body``. ``tags`` are the ledger's (as in
        chat); ``metadata`` is the request's own and is sent."""
        client = self._client
        request, call_tags = _prepare(
            client.backend,
            client.tags,
            tags,
            input=input,
            stream=stream,
            model=model,
            instructions=instructions,
            tools=tools,
            tool_choice=tool_choice,
            reasoning=reasoning,
            max_output_tokens=max_output_tokens,
            temperature=temperature,
            top_p=top_p,
            metadata=metadata,
            parallel_tool_calls=parallel_tool_calls,
            previous_response_id=previous_response_id,
            store=store,
            include=include,
            text=text,
            truncation=truncation,
            user=user,
            extra_body=extra_body,
            service_tier=service_tier,
            project=project,
        )
        return _run(client, request, call_tags, stream)


class AsyncResponses:
    """The async twin of ``Responses``."""

    def __init__(self, client: AsyncGptOss) -> None:
        self._client = client

    @overload
    async def create(
        self,
        *,
        input: str | list[Any],
        stream: Literal[False] = False,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> Response: ...

    @overload
    async def create(
        self,
        *,
        input: str | list[Any],
        stream: Literal[True],
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> AsyncResponseStream: ...

    @overload
    async def create(
        self,
        *,
        input: str | list[Any],
        stream: bool,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> Response | AsyncResponseStream: ...

    async def create(
        self,
        *,
        input: str | list[Any],
        stream: bool = False,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        reasoning: dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        previous_response_id: str | None = None,
        store: bool | None = None,
        include: list[str] | None = None,
        text: dict[str, Any] | None = None,
        truncation: str | None = None,
        user: str | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> Response | AsyncResponseStream:
        """The async twin of ``Responses.create``."""
        client = self._client
        request, call_tags = _prepare(
            client.backend,
            client.tags,
            tags,
            input=input,
            stream=stream,
            model=model,
            instructions=instructions,
            tools=tools,
            tool_choice=tool_choice,
            reasoning=reasoning,
            max_output_tokens=max_output_tokens,
            temperature=temperature,
            top_p=top_p,
            metadata=metadata,
            parallel_tool_calls=parallel_tool_calls,
            previous_response_id=previous_response_id,
            store=store,
            include=include,
            text=text,
            truncation=truncation,
            user=user,
            extra_body=extra_body,
            service_tier=service_tier,
            project=project,
        )
        return await _arun(client, request, call_tags, stream)

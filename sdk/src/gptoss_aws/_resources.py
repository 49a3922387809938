"""``client.chat.completions.create(...)``: validation, budgets, retries, the ledger.

The order of a call is fixed, and the same for every backend and for sync and async:

1. the arguments are checked locally (a ``ConfigurationError`` costs nothing and writes
   nothing);
2. the target is resolved (endpoint placement, or the model behind a Bedrock profile);
3. ``tracker.begin(intent)`` records the intent; a hard budget or a missing price raises
   here, and then nothing is sent;
4. the request is sent under the retry policy (a stream only until its first byte);
5. ``finish()`` settles the call with the reported usage, or with zero usage and the
   error's class name when it failed, or (streams) as described in ``streaming.stream``.

Sync and async share every step but the I/O itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import anyio
import anyio.to_thread

from gptoss_aws.backends._request import ChatRequest, build_request
from gptoss_aws.backends.base import (
    BackendBase,
    BackendResult,
    Target,
)
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.streaming.stream import (
    AsyncStream,
    CallState,
    Stream,
    TrackedCallLike,
    call_id_of,
    off_loop,
)
from gptoss_aws.types import ChatCompletion, Usage

if TYPE_CHECKING:
    from gptoss_aws.client import AsyncGptOss, GptOss
    from gptoss_aws.retry import RetryPolicy
    from gptoss_aws.tracking import CallIntent


class TrackerLike(Protocol):
    """What the client needs from ``gptoss_aws.tracking.Tracker`` (test doubles fit too)."""

    def begin(self, intent: CallIntent) -> TrackedCallLike: ...


class IntentSource(Protocol):
    """What a call's intent takes from its request (a chat or a Responses request)."""

    @property
    def stream(self) -> bool: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def service_tier(self) -> str | None: ...
    @property
    def project(self) -> str | None: ...


def make_intent(
    target: Target, request: IntentSource, tags: dict[str, str], prompt_estimate: int
) -> CallIntent:
    from gptoss_aws.tracking import CallIntent

    return CallIntent(
        backend=target.backend,
        model=target.model,
        model_id=target.model_id,
        endpoint=target.endpoint,
        variant=target.variant,
        inference_component=target.inference_component,
        instance_type=target.instance_type,
        region=target.region,
        tags=tags,
        stream=request.stream,
        max_tokens=request.max_tokens,
        prompt_tokens_estimate=prompt_estimate,
        price=target.price,
        service_tier=request.service_tier,
        project=request.project or target.project,
    )


def merge_tags(default: Mapping[str, str], call: Mapping[str, str] | None) -> dict[str, str]:
    tags = {**default, **(call or {})}
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigurationError(f"tags must map str to str, got {key!r}: {value!r}")
    return tags


def _prepare(
    backend: BackendBase,
    client_tags: Mapping[str, str],
    call_tags: Mapping[str, str] | None,
    **fields: Any,
) -> tuple[ChatRequest, dict[str, str]]:
    """The checked request and the call's tags, before any budget or network use."""
    request = build_request(**fields)
    tags = merge_tags(client_tags, call_tags)
    # The call's tags travel with the request too: Bedrock sends them as requestMetadata,
    # so its invocation logs carry the same attribution as the ledger row.
    request = replace(request, metadata=tags or None)
    backend.check(request)
    return request, tags


def _begin(
    tracker: TrackerLike | None, target: Target, request: ChatRequest, tags: dict[str, str]
) -> tuple[TrackedCallLike | None, int]:
    if tracker is None:
        return None, 0  # no ledger: nothing to estimate or reserve
    # Imported here: the tracking stack (ledger, prices) loads only for tracked clients.
    from gptoss_aws._token_estimates import estimate_prompt_tokens

    bound = estimate_prompt_tokens(request.messages, request.tools)
    # The upper bound sizes the reservation; a typical figure stands in for the prompt only
    # if the backend never reports usage (the row is then marked "estimated").
    typical = estimate_prompt_tokens(request.messages, request.tools, bound=False)
    return tracker.begin(make_intent(target, request, tags, bound)), typical


def _settle(
    call: TrackedCallLike | None, result: BackendResult, prompt_estimate: int
) -> ChatCompletion:
    completion = result.completion
    if not result.usage_reported and completion.usage.prompt_tokens == 0:
        completion.usage.prompt_tokens = prompt_estimate
    if call is not None:
        completion.cost = call.finish(
            completion.usage,
            status="ok",
            usage_source="reported" if result.usage_reported else "estimated",
        )
        completion.call_id = call_id_of(call)
    return completion


def settle_error(call: TrackedCallLike | None, exc: BaseException) -> None:
    if call is None:
        return
    status: Literal["error", "aborted"] = "error" if isinstance(exc, Exception) else "aborted"
    call.finish(Usage(), status=status, error_kind=type(exc).__name__)


class Opened:
    """A stream opened under the retry policy: its first item read, or the error that came
    after bytes had arrived (too late to retry). Chat and Responses streams alike."""

    def __init__(self, raw: Any, first: Any, late_error: Exception | None) -> None:
        self.raw = raw
        self.first = first
        self.late_error = late_error


def open_first(open_stream: Callable[[], Any]) -> Opened:
    """Open a stream and read its first item; an error before any byte arrived propagates,
    so the retry policy may try again."""
    raw = open_stream()
    try:
        return Opened(raw, next(raw, None), None)
    except Exception as exc:
        if raw.received_bytes == 0:
            raw.close()
            raise  # nothing arrived: the policy may retry
        return Opened(raw, None, exc)


async def aopen_first(open_stream: Callable[[], Awaitable[Any]]) -> Opened:
    raw = await open_stream()
    try:
        return Opened(raw, await anext(raw, None), None)
    except Exception as exc:
        if raw.received_bytes == 0:
            await raw.aclose()
            raise
        return Opened(raw, None, exc)


def open_tracked(policy: RetryPolicy, open_stream: Callable[[], Any], state: CallState) -> Opened:
    """Open a stream under the retry policy; a failure, early or after bytes arrived, is
    recorded on the call before it is raised."""
    try:
        opened = policy.call(lambda: open_first(open_stream))
    except BaseException as exc:
        state.fail(exc)
        raise
    if opened.late_error is not None:
        state.received_anything = True
        state.fail(opened.late_error)
        opened.raw.close()
        raise opened.late_error
    return opened


async def aopen_tracked(
    policy: RetryPolicy,
    open_stream: Callable[[], Awaitable[Any]],
    state: CallState,
) -> Opened:
    """The async twin of ``open_tracked``: the failure is recorded off the event loop."""
    try:
        opened = await policy.acall(lambda: aopen_first(open_stream))
    except BaseException as exc:
        await off_loop(state, state.fail, exc)
        raise
    if opened.late_error is not None:
        state.received_anything = True
        await off_loop(state, state.fail, opened.late_error)
        await opened.raw.aclose()
        raise opened.late_error
    return opened


async def abegin(
    tracker: TrackerLike | None,
    begin: Callable[..., tuple[TrackedCallLike | None, int]],
    target: Target,
    request: Any,
    tags: dict[str, str],
) -> tuple[TrackedCallLike | None, int]:
    """``begin`` (reserve the call in the ledger) from async code: ledger writes block
    (lock waits, network), so off the event loop, and shielded so a reservation is never
    made without this task knowing it."""
    if tracker is None:
        return None, 0
    with anyio.CancelScope(shield=True):
        begun = await anyio.to_thread.run_sync(begin, tracker, target, request, tags)
    return begun


class Completions:
    def __init__(self, client: GptOss) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: Literal[False] = False,
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> ChatCompletion: ...

    @overload
    def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: Literal[True],
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> Stream: ...

    @overload
    def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: bool,
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> ChatCompletion | Stream: ...

    def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: bool = False,
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> ChatCompletion | Stream:
        """Send a chat request; a ``ChatCompletion``, or with ``stream=True`` a ``Stream``
        of ``ChatCompletionChunk`` whose last chunk carries usage and cost.

        ``service_tier`` (Bedrock: standard/"default", flex, priority, reserved) is sent as
        Converse ``serviceTier`` (or ``service_tier`` in the OpenAI body); the call is priced
        at the tier AWS reports serving it at. ``project`` is sent as Bedrock's
        ``projectIdentifier`` and recorded."""
        client = self._client
        request, call_tags = _prepare(
            client.backend,
            client.tags,
            tags,
            messages=messages,
            stream=stream,
            model=model,
            reasoning_effort=reasoning_effort,
            tools=tools,
            tool_choice=tool_choice,
            max_tokens=max_tokens,
            temperature=temperature,
            extra_body=extra_body,
            service_tier=service_tier,
            project=project,
        )
        backend, policy = client.backend, client.retry_policy
        target = policy.call(backend.target)
        call, estimate = _begin(client.tracker, target, request, call_tags)
        started = time.monotonic()
        if not stream:
            try:
                result = policy.call(lambda: backend.complete(request))
            except BaseException as exc:
                settle_error(call, exc)
                raise
            return _settle(call, result, estimate)
        state = CallState(call, backend.name, estimate, started)
        opened = open_tracked(policy, lambda: backend.open_stream(request), state)
        if opened.first is not None:
            state.observe(opened.first)
        return Stream(opened.raw, state, opened.first)


class AsyncCompletions:
    def __init__(self, client: AsyncGptOss) -> None:
        self._client = client

    @overload
    async def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: Literal[False] = False,
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: Literal[True],
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> AsyncStream: ...

    @overload
    async def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: bool,
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> ChatCompletion | AsyncStream: ...

    async def create(
        self,
        *,
        messages: list[dict[str, Any]],
        stream: bool = False,
        model: str | None = None,
        reasoning_effort: Literal["low", "medium", "high"] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        service_tier: str | None = None,
        project: str | None = None,
    ) -> ChatCompletion | AsyncStream:
        """The async twin of ``Completions.create``."""
        client = self._client
        request, call_tags = _prepare(
            client.backend,
            client.tags,
            tags,
            messages=messages,
            stream=stream,
            model=model,
            reasoning_effort=reasoning_effort,
            tools=tools,
            tool_choice=tool_choice,
            max_tokens=max_tokens,
            temperature=temperature,
            extra_body=extra_body,
            service_tier=service_tier,
            project=project,
        )
        backend, policy = client.backend, client.retry_policy
        target = await policy.acall(backend.atarget)
        call, estimate = await abegin(client.tracker, _begin, target, request, call_tags)
        started = time.monotonic()
        state = CallState(call, backend.name, estimate, started)
        if not stream:
            try:
                result = await policy.acall(lambda: backend.acomplete(request))
            except BaseException as exc:
                await off_loop(state, settle_error, call, exc)
                raise
            return await off_loop(state, _settle, call, result, estimate)
        opened = await aopen_tracked(policy, lambda: backend.aopen_stream(request), state)
        if opened.first is not None:
            state.observe(opened.first)
        return AsyncStream(opened.raw, state, opened.first)


class Chat:
    def __init__(self, client: GptOss) -> None:
        self.completions = Completions(client)


class AsyncChat:
    def __init__(self, client: AsyncGptOss) -> None:
        self.completions = AsyncCompletions(client)

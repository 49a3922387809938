"""The Responses wire format: the JSON answer, the SSE events, usage and their estimates.

Spoken by every backend that reaches a Responses API (the container behind a SageMaker
endpoint through ``CustomAttributes="route=/v1/responses"``, any OpenAI-compatible server,
Bedrock's Mantle endpoint), so it is parsed here once.

Streams are SSE with an ``event:`` line and a ``data:`` line whose JSON repeats the name in
``type`` (vLLM 0.32.0 ``entrypoints/openai/responses/api_router.py``: ``f"event:
{event_type}\\ndata: {json}\\n\\n"``); no ``[DONE]`` follows, the ``response.completed``
event (or ``.incomplete`` / ``.failed``) ends the response and carries its usage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gptoss_aws._responses_types import (
    FunctionCallItem,
    OutputMessage,
    ReasoningItem,
    Response,
    ResponseStreamEvent,
)
from gptoss_aws._token_estimates import estimate_output_tokens
from gptoss_aws.backends._http_errors import error_for_status
from gptoss_aws.backends._openai_wire import openai_error_details
from gptoss_aws.errors import APIConnectionError, APIStatusError
from gptoss_aws.streaming._sse import SSEDecoder
from gptoss_aws.types import Backend, Usage


@dataclass(frozen=True)
class ResponsesResult:
    response: Response
    usage: Usage  # the ledger's names for the response's usage, or the estimate
    usage_reported: bool  # False: the server sent no usage; the output tokens were estimated


def parse_response(data: Any, backend: Backend) -> ResponsesResult:
    """The JSON answer of ``POST /v1/responses`` -> a typed ``Response``."""
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        raise APIStatusError(
            "the server's answer is not a Responses API response (no 'output' list)",
            status_code=502,
            backend=backend,
            body=data,
        )
    try:
        response = Response.model_validate({**data, "backend": backend})
    except ValidationError as exc:
        raise APIStatusError(
            f"the server's Responses answer has an unexpected shape: {exc}",
            status_code=502,
            backend=backend,
            body=data,
        ) from exc
    if response.usage is not None:
        return ResponsesResult(response, response.usage.to_usage(), usage_reported=True)
    return ResponsesResult(response, estimate_response_usage(response), usage_reported=False)


def estimate_response_usage(response: Response) -> Usage:
    """Output tokens of an answer that came without usage (from its texts' bytes)."""
    output = reasoning = 0
    for item in response.output:
        if isinstance(item, ReasoningItem):
            size = len(item.text.encode())
            reasoning += size
            output += size
        elif isinstance(item, OutputMessage):
            output += sum(len(getattr(part, "text", "").encode()) for part in item.content)
        elif isinstance(item, FunctionCallItem):
            output += len((item.name + item.arguments).encode())
    return Usage(
        completion_tokens=estimate_output_tokens(output),
        reasoning_tokens=estimate_output_tokens(reasoning),
    )


def parse_response_event(data: str, name: str, backend: Backend) -> ResponseStreamEvent:
    """One SSE event -> a ``ResponseStreamEvent``; an ``error`` event raises."""
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise APIConnectionError(
            f"the stream carried a malformed event: {data[:200]!r}", backend=backend
        ) from exc
    if not isinstance(raw, dict):
        raise APIConnectionError(f"unexpected stream event: {data[:200]!r}", backend=backend)
    kind = raw.get("type")
    if kind == "error" or (kind is None and "error" in raw):
        # OpenAI's ResponseErrorEvent {"type": "error", "code", "message", "param"}, or the
        # {"error": {...}} body a server writes when it fails after the stream started.
        message, status = openai_error_details(raw if kind is None else {"error": raw}, 500)
        if isinstance(raw.get("code"), str) and kind == "error":
            message = f"{raw['code']}: {message}"
        raise error_for_status(status, message, backend=backend, body=raw)
    if not isinstance(kind, str):
        if name == "message":
            raise APIConnectionError(
                f"a Responses stream event without a type: {data[:200]!r}", backend=backend
            )
        raw = {**raw, "type": name}  # the event line names it; keep the data as sent
    return ResponseStreamEvent.model_validate(raw)


class ResponseEventParser:
    """SSE bytes in any split -> Responses events (the ``SSEParser`` the streams take)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._decoder = SSEDecoder()
        self.done = False
        self.received_bytes = 0

    def feed(self, part: bytes | None) -> list[ResponseStreamEvent]:
        if part is None:
            events = self._decoder.flush()
            self.done = True
        else:
            self.received_bytes += len(part)
            events = self._decoder.feed(part)
        out: list[ResponseStreamEvent] = []
        for event in events:
            if event.data == "[DONE]":  # not OpenAI's, but some gateways append it
                self.done = True
                break
            out.append(parse_response_event(event.data, event.event, self._backend))
        return out

"""The OpenAI chat wire format: completions, stream chunks, usage and error bodies.

Spoken by two backends (the container behind a SageMaker endpoint, and any
OpenAI-compatible server), so it is parsed here once; Bedrock converts Converse itself.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from gptoss_aws._token_estimates import estimate_output_tokens
from gptoss_aws.backends._http_errors import error_for_status
from gptoss_aws.backends.base import BackendResult
from gptoss_aws.errors import APIConnectionError, APIStatusError
from gptoss_aws.types import Backend, ChatCompletion, ChatCompletionChunk, Usage


def usage_from_openai(data: Any) -> Usage | None:
    """OpenAI usage -> Usage; reasoning from completion_tokens_details (vLLM fills it)."""
    if not isinstance(data, dict):
        return None
    details = data.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        reasoning_tokens=int(details.get("reasoning_tokens") or 0),
    )


def _normalise_reasoning(fields: dict[str, Any]) -> dict[str, Any]:
    # vLLM >= 0.10 says "reasoning"; older vLLM and some servers "reasoning_content".
    if fields.get("reasoning") is None and fields.get("reasoning_content") is not None:
        fields = {**fields, "reasoning": fields["reasoning_content"]}
    fields.pop("reasoning_content", None)
    return fields


def parse_openai_completion(data: Any, backend: Backend) -> BackendResult:
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise APIStatusError(
            "the server's answer is not a chat completion",
            status_code=502,
            backend=backend,
            body=data,
        )
    choices = []
    for raw in data["choices"]:
        message = _normalise_reasoning(dict(raw.get("message") or {}))
        message.pop("role", None)
        choices.append({**raw, "message": message})
    usage = usage_from_openai(data.get("usage"))
    completion = ChatCompletion.model_validate(
        {
            **data,
            "choices": choices,
            "usage": usage or Usage(),
            "backend": backend,
            "object": "chat.completion",
            "created": data.get("created") or 0,
            "model": data.get("model") or "",
            "id": data.get("id") or "",
        }
    )
    if usage is None:
        completion.usage = estimate_completion_usage(completion)
    return BackendResult(completion, usage_reported=usage is not None)


def estimate_completion_usage(completion: ChatCompletion) -> Usage:
    """Completion tokens of a non-streamed answer that came without usage."""
    out = reasoning = 0
    for choice in completion.choices:
        m = choice.message
        text_bytes = len((m.content or "").encode())
        reasoning_bytes = len((m.reasoning or "").encode())
        tool_bytes = sum(
            len((t.function.name + t.function.arguments).encode()) for t in m.tool_calls or ()
        )
        reasoning += estimate_output_tokens(reasoning_bytes)
        out += estimate_output_tokens(text_bytes + reasoning_bytes + tool_bytes)
    return Usage(completion_tokens=out, reasoning_tokens=reasoning)


def parse_openai_chunk(data: str, backend: Backend) -> ChatCompletionChunk | None:
    """One SSE data field -> a chunk; None for ``[DONE]``. An error event raises."""
    if data == "[DONE]":
        return None
    if '"usage"' not in data and '"reasoning_content"' not in data and '"error"' not in data:
        # Fast path for the delta chunks that make up nearly all of a stream: already in
        # our shape (a quoted key cannot occur inside a JSON string, where quotes are
        # escaped). Anything unusual falls through to the general path.
        try:
            return ChatCompletionChunk.model_validate_json(data)
        except ValidationError:
            pass
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise APIConnectionError(
            f"the stream carried a malformed event: {data[:200]!r}", backend=backend
        ) from exc
    if not isinstance(raw, dict):
        raise APIConnectionError(f"unexpected stream event: {data[:200]!r}", backend=backend)
    if "error" in raw and "choices" not in raw:
        # vLLM reports a failure after the stream started as one error event.
        message, status = openai_error_details(raw, 500)
        raise error_for_status(status, message, backend=backend, body=raw)
    choices = []
    for choice in raw.get("choices") or ():
        delta = _normalise_reasoning(dict(choice.get("delta") or {}))
        choices.append({**choice, "delta": delta})
    return ChatCompletionChunk.model_validate(
        {
            **raw,
            "choices": choices,
            "usage": usage_from_openai(raw.get("usage")),
            "object": "chat.completion.chunk",
            "created": raw.get("created") or 0,
            "model": raw.get("model") or "",
            "id": raw.get("id") or "",
        }
    )


def openai_error_details(body: Any, status: int) -> tuple[str, int]:
    """Message and status from the shapes servers use: OpenAI's {"error": {...}}, vLLM's
    older {"object": "error", "message", "code"}, FastAPI's {"detail": ...}."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or json.dumps(body)[:500]
            code = error.get("code")
            if isinstance(code, int) and 400 <= code <= 599:
                status = code
            return str(message), status
        if isinstance(error, str):
            return error, status
    if isinstance(body, str) and body:
        return body[:500], status
    return f"HTTP {status}", status

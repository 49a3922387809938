"""What the middleware does to one JSON request before vLLM sees it.

Pure functions over the parsed body, so each rule is tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gptoss_container.request_shapes import (
    ShapeError,
    check_chat_messages,
    check_object_fields,
    check_responses_input,
    check_tool_names,
    check_values,
    parse,
)
from gptoss_container.stream_usage import USAGE_PATHS, with_stream_usage

# Routes whose bodies we read. Everything else goes to vLLM untouched.
JSON_PATHS: frozenset[str] = frozenset(
    {
        "/invocations",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/responses",
        "/tokenize",
        "/detokenize",
    }
)

# Each route's request schema in vLLM's OpenAPI document (components/schemas). /tokenize
# takes a chat body (messages) or a completion body (prompt).
_SCHEMA_NAMES: dict[str, str] = {
    "/v1/chat/completions": "ChatCompletionRequest",
    "/v1/completions": "CompletionRequest",
    "/v1/responses": "ResponsesRequest",
    "/detokenize": "DetokenizeRequest",
}
# The output-length fields of each API (OpenAI API reference: chat `max_tokens` and
# `max_completion_tokens`, completions `max_tokens`, responses `max_output_tokens`).
_LENGTH_FIELDS: dict[str, tuple[str, ...]] = {
    "/v1/chat/completions": ("max_tokens", "max_completion_tokens"),
    "/v1/completions": ("max_tokens",),
    "/v1/responses": ("max_output_tokens",),
    "/invocations": ("max_tokens", "max_completion_tokens"),
}


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    param: str | None = None


@dataclass(frozen=True)
class Decision:
    path: str
    body: bytes | None = None  # None: forward the original bytes
    refusal: Refusal | None = None


def decide(
    path: str,
    body: bytes,
    max_model_len: int | None,
    route_by_body: bool,
    *,
    via_invocations: bool = False,
    openapi: Mapping[str, Any] | None = None,
) -> Decision:
    """What to do with one JSON request.

    ``via_invocations``: the request came in on /invocations (SageMaker's only route),
    whatever route the custom attributes chose. ``openapi``: vLLM's OpenAPI document,
    for the object-typed fields of each route's request schema.
    """
    try:
        request: Any = parse(body)
        check_values(request)
    except ShapeError as exc:
        return Decision(path, refusal=Refusal(400, exc.message, exc.param))
    except ValueError:
        return Decision(path)  # vLLM answers malformed JSON with a 400 of its own
    if not isinstance(request, dict):
        return Decision(path)

    if path == "/invocations" and route_by_body:
        # vLLM's /invocations tries the chat schema, then the completions schema, and a
        # chat body with one wrong field gets the *completions* error ("prompt must be
        # provided"). Sending it to its own route gives the error about the real mistake.
        if "messages" in request:
            path = "/v1/chat/completions"
        elif "prompt" in request:
            path = "/v1/completions"

    try:
        _check_shapes(path, request, openapi)
    except ShapeError as exc:
        return Decision(path, refusal=Refusal(400, exc.message, exc.param))

    refusal = _length_refusal(path, request, max_model_len)
    if refusal is not None:
        return Decision(path, refusal=refusal)

    changed: dict[str, Any] | None = None
    if via_invocations and "model" in request:
        # Behind /invocations the endpoint is the model: SageMaker clients (LiteLLM's
        # sagemaker_chat, Strands' payload_config) send the endpoint's name or whatever
        # their user wrote. Without a model vLLM serves its own (serving.py
        # _is_model_supported) and answers with the served name.
        changed = {k: v for k, v in request.items() if k != "model"}
    if via_invocations and request.get("tools") == [] and "messages" in request:
        # An agent without tools (Strands' LiteLLM provider) sends "tools": [], which
        # vLLM refuses as OpenAI does. Behind /invocations it means "no tools": drop it,
        # and a tool_choice that only makes sense with tools.
        changed = {k: v for k, v in (changed or request).items() if k != "tools"}
        if changed.get("tool_choice") in ("auto", "none"):
            del changed["tool_choice"]
    if path in USAGE_PATHS:
        changed = with_stream_usage(changed or request) or changed
    if changed is not None:
        return Decision(path, json.dumps(changed).encode())
    return Decision(path)


def _check_shapes(path: str, request: dict[str, Any], openapi: Mapping[str, Any] | None) -> None:
    chat = path == "/v1/chat/completions" or (
        path in ("/invocations", "/tokenize") and "messages" in request
    )
    if chat:
        check_chat_messages(request)
    if path == "/v1/responses":
        check_responses_input(request)
    check_object_fields(request, _request_schema(openapi, path, request))
    if chat or path == "/v1/responses":
        check_tool_names(request)


def _request_schema(
    openapi: Mapping[str, Any] | None, path: str, request: dict[str, Any]
) -> Mapping[str, Any] | None:
    if openapi is None:
        return None
    name = _SCHEMA_NAMES.get(path)
    if path == "/tokenize":
        name = "TokenizeChatRequest" if "messages" in request else "TokenizeCompletionRequest"
    elif path == "/invocations":
        name = "ChatCompletionRequest" if "messages" in request else "CompletionRequest"
    components = openapi.get("components", {})
    schema = components.get("schemas", {}).get(name) if name else None
    if not isinstance(schema, Mapping):
        return None
    return {"schema": schema, "components": components}


def _length_refusal(
    path: str, request: dict[str, Any], max_model_len: int | None
) -> Refusal | None:
    """vLLM silently clamps an output length past the context window
    (vllm/entrypoints/serve/utils/api_utils.py get_max_tokens); a caller who asked for
    more than the model can ever produce should hear so, not get a quiet cut."""
    if max_model_len is None:
        return None
    for field in _LENGTH_FIELDS.get(path, ()):
        value = request.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > max_model_len:
            return Refusal(
                400,
                f"{field}={value} is more than this model's context window of "
                f"{max_model_len} tokens (prompt and output together); ask for at most "
                f"{max_model_len} minus the prompt's length",
                param=field,
            )
    return None

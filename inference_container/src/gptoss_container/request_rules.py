"""What the middleware does to one JSON request before vLLM sees it.

Pure functions over the parsed body, so each rule is tested without a server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gptoss_container.stream_usage import USAGE_PATHS, with_stream_usage

# Routes whose bodies we read. Everything else goes to vLLM untouched.
JSON_PATHS: frozenset[str] = frozenset(
    {"/invocations", "/v1/chat/completions", "/v1/completions", "/v1/responses"}
)

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


def decide(path: str, body: bytes, max_model_len: int | None, route_by_body: bool) -> Decision:
    try:
        request: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
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

    refusal = _length_refusal(path, request, max_model_len)
    if refusal is not None:
        return Decision(path, refusal=refusal)

    if path in USAGE_PATHS:
        changed = with_stream_usage(request)
        if changed is not None:
            return Decision(path, json.dumps(changed).encode())
    return Decision(path)


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

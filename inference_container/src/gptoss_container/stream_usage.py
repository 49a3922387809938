"""Make every streamed chat or text completion end with a usage chunk.

vLLM sends token usage in a stream only when the request says
``stream_options: {"include_usage": true}`` (OpenAI API reference, chat streaming).
Cost tracking must never lose streamed tokens, so we set it on every streamed request;
clients that did not ask get one extra final chunk with empty ``choices``, which OpenAI's
own clients already handle.
"""

from __future__ import annotations

from typing import Any

# Paths whose request bodies accept stream_options. /invocations carries a chat or a
# text completion body (vLLM's SageMaker router tries chat first, then completions).
USAGE_PATHS: frozenset[str] = frozenset({"/v1/chat/completions", "/v1/completions", "/invocations"})


def with_stream_usage(request: dict[str, Any]) -> dict[str, Any] | None:
    """The request with usage switched on, or None when it needs no change.

    A wrong type is left alone for vLLM's validation to name.
    """
    if request.get("stream") is not True:
        return None
    options = request.get("stream_options")
    if options is None:
        options = {}
    if not isinstance(options, dict) or options.get("include_usage") is True:
        return None
    return {**request, "stream_options": {**options, "include_usage": True}}

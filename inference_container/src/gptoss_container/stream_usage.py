"""Make every streamed chat or text completion end with a usage chunk.

vLLM sends token usage in a stream only when the request says
``stream_options: {"include_usage": true}`` (OpenAI API reference, chat streaming).
Cost tracking must never lose streamed tokens, so we set it on every streamed request;
clients that did not ask get one extra final chunk with empty ``choices``, which OpenAI's
own clients already handle.
"""

from __future__ import annotations

import json
from typing import Any

# Paths whose request bodies accept stream_options. /invocations carries a chat or a
# text completion body (vLLM's SageMaker router tries chat first, then completions).
USAGE_PATHS: frozenset[str] = frozenset({"/v1/chat/completions", "/v1/completions", "/invocations"})


def force_stream_usage(body: bytes) -> bytes | None:
    """The body with usage switched on, or None when it needs no change.

    Bodies we cannot parse are left to vLLM, which answers them with a proper 400.
    """
    try:
        request: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(request, dict) or request.get("stream") is not True:
        return None
    options = request.get("stream_options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        return None  # a wrong type: let vLLM's validation name it
    if options.get("include_usage") is True:
        return None
    request["stream_options"] = {**options, "include_usage": True}
    return json.dumps(request).encode()

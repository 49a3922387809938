"""OpenAI-shaped error bodies, the same shape vLLM's own exception handlers return.

vLLM (vllm/entrypoints/serve/exception_handling) answers {"error": {"message", "type",
"param", "code"}} with the HTTP reason phrase as the type; ours match it so a client sees
one error format whether vLLM or our middleware refused the request.
"""

from __future__ import annotations

import json
from http import HTTPStatus


def error_body(status: int, message: str, param: str | None = None) -> bytes:
    return json.dumps(
        {
            "error": {
                "message": message,
                "type": HTTPStatus(status).phrase,
                "param": param,
                "code": status,
            }
        }
    ).encode()

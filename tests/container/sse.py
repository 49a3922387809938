"""Read an SSE body the simple way: the tests' server sends whole lines."""

from __future__ import annotations

import json
from typing import Any

import httpx


def events(response: httpx.Response) -> list[Any]:
    """The JSON payloads of `data:` lines, in order; `[DONE]` is returned as the string."""
    out: list[Any] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out

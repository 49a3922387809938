"""Send a chat completion's reasoning under both names, ``reasoning`` and ``reasoning_content``.

vLLM 0.32 puts it in ``reasoning`` (vllm/entrypoints/openai/chat_completion/protocol.py;
``reasoning_content`` is only still accepted on input). Clients written against earlier vLLM
releases and DeepSeek-style APIs read ``reasoning_content`` only, in whole messages and in
streamed deltas; Strands Agents' SageMaker provider is one. Without the alias they get the
answer and silently lose the reasoning. The copy is exact, so a client that reads both names
must take one of them (the gptoss_aws SDK keeps ``reasoning``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .settings import env_name

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

REASONING_CONTENT_ENV = env_name("reasoning_content")
_CHAT_OBJECTS = ("chat.completion", "chat.completion.chunk")
_MARK = b'"reasoning"'


def reasoning_content_enabled(environ: MutableMapping[str, str] | Any) -> bool:
    """The setting as settings.py validated it at start (a boolean, on by default)."""
    value = str(environ.get(REASONING_CONTENT_ENV, "true")).strip().lower()
    return value not in ("false", "0", "no", "off")


def alias_reasoning(payload: Any) -> bool:
    """Add ``reasoning_content`` next to every ``reasoning`` of a chat completion or chunk.

    Returns whether anything changed.
    """
    if not isinstance(payload, dict) or payload.get("object") not in _CHAT_OBJECTS:
        return False
    changed = False
    for choice in payload.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        for key in ("message", "delta"):
            part = choice.get(key)
            if isinstance(part, dict) and "reasoning" in part and "reasoning_content" not in part:
                part["reasoning_content"] = part["reasoning"]
                changed = True
    return changed


def rewrite_json(body: bytes) -> bytes | None:
    """A whole JSON answer with the alias; None when it needs no change."""
    if _MARK not in body:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return json.dumps(payload, ensure_ascii=False).encode() if alias_reasoning(payload) else None


def rewrite_event(event: bytes) -> bytes:
    """One SSE event (without its blank-line terminator) with the alias."""
    if _MARK not in event:
        return event
    lines = event.split(b"\n")
    for i, line in enumerate(lines):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].lstrip(b" ")
        try:
            payload = json.loads(data)
        except ValueError:
            continue
        if alias_reasoning(payload):
            lines[i] = b"data: " + json.dumps(payload, ensure_ascii=False).encode()
    return b"\n".join(lines)


def aliasing_send(send: Send) -> Send:
    """Wrap an ASGI ``send`` so JSON and SSE answers carry the alias.

    A JSON answer is held until complete (its Content-Length changes); a stream is
    rewritten event by event as the events complete, so it stays a stream.
    """
    start: Message | None = None
    mode = "pass"
    held = bytearray()

    async def wrapped(message: Message) -> None:
        nonlocal start, mode
        if message["type"] == "http.response.start":
            content_type = _content_type(message)
            if content_type == "application/json":
                mode, start = "json", message
                return
            if content_type == "text/event-stream":
                mode = "sse"
            await send(message)
            return
        if message["type"] != "http.response.body" or mode == "pass":
            await send(message)
            return
        held.extend(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if mode == "json":
            if more:
                return
            body = rewrite_json(bytes(held)) or bytes(held)
            assert start is not None
            await send(_with_length(start, len(body)))
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        out = bytearray()
        while True:
            end = held.find(b"\n\n")
            if end < 0:
                break
            out += rewrite_event(bytes(held[:end])) + b"\n\n"
            del held[: end + 2]
        if not more and held:
            out += rewrite_event(bytes(held))
            held.clear()
        if out or not more:
            await send({"type": "http.response.body", "body": bytes(out), "more_body": more})

    return wrapped


def _content_type(message: Message) -> str:
    for key, value in message.get("headers", ()):
        if bytes(key).lower() == b"content-type":
            return bytes(value).decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _with_length(start: Message, length: int) -> Message:
    headers = [(k, v) for k, v in start.get("headers", ()) if bytes(k).lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    return {**start, "headers": headers}

"""The ASGI middleware that adds what vLLM's SageMaker routes lack.

vLLM loads it through its own ``--middleware`` option and adds it last, so it sees every
request first. One class on purpose: the steps depend on each other's order (drain gate,
then /invocations routing, then the stream-usage rewrite, which must see the final path).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gptoss_container.drain import DrainState
from gptoss_container.errors import error_body
from gptoss_container.routing import CUSTOM_ATTRIBUTES_HEADER, choose_route
from gptoss_container.stream_usage import USAGE_PATHS, force_stream_usage

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("gptoss_container.middleware")

DRAIN_TIMEOUT_ENV = "GPTOSS_DRAIN_TIMEOUT_SECONDS"
# Default when the variable is missing (it is always set by `gptoss_container serve`):
# settings.py documents the source of the shipped default.
_FALLBACK_DRAIN_TIMEOUT_S = 30.0


class GptOssMiddleware:
    def __init__(self, app: ASGIApp, drain: DrainState | None = None) -> None:
        self.app = app
        self.drain = drain or DrainState(
            float(os.environ.get(DRAIN_TIMEOUT_ENV, _FALLBACK_DRAIN_TIMEOUT_S))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path: str = scope["path"]
        if path == "/ping" or path == "/health":
            if self.drain.draining:
                await _respond(send, 503, "the server is shutting down")
                return
            await self.app(scope, receive, send)
            return

        if self.drain.draining:
            await _respond(send, 503, "the server is shutting down; retry on another instance")
            return

        if path == "/invocations" and scope["method"] == "POST":
            route = choose_route(_header(scope, CUSTOM_ATTRIBUTES_HEADER))
            if route.error is not None:
                await _respond(send, 400, route.error, param="CustomAttributes")
                return
            if route.path is not None:
                scope = dict(scope, path=route.path, raw_path=route.path.encode())
                path = route.path

        if scope["method"] == "POST" and path in USAGE_PATHS:
            receive, scope = await _with_stream_usage(scope, receive)

        self.drain.request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.request_finished()

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # vLLM registers its signal handlers before uvicorn runs the lifespan,
                # so ours, added now, replaces its SIGTERM handler (SIGINT stays vLLM's).
                self.drain.install_signal_handler()
            return message

        return wrapped


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _with_stream_usage(scope: Scope, receive: Receive) -> tuple[Receive, Scope]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _replay(message, receive), scope
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    rewritten = force_stream_usage(body)
    if rewritten is not None:
        body = rewritten
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        scope = dict(scope, headers=headers)
    return _replay({"type": "http.request", "body": body, "more_body": False}, receive), scope


def _replay(first: Message, receive: Receive) -> Receive:
    """Hand the buffered body to the app once, then pass the real receive through, so a
    client that disconnects mid-stream still reaches vLLM (which then aborts the request)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replayed


async def _respond(send: Send, status: int, message: str, param: str | None = None) -> None:
    body = error_body(status, message, param)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""The ASGI middleware that adds what vLLM's SageMaker routes lack.

vLLM loads it through its own ``--middleware`` option and adds it last, so it sees every
request first. One class on purpose: the steps depend on each other's order (drain gate,
then /invocations routing, then the body rules of request_rules.py, which must see the
final path).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gptoss_container.drain import DrainState
from gptoss_container.errors import error_body
from gptoss_container.reasoning_alias import aliasing_send, reasoning_content_enabled
from gptoss_container.request_rules import JSON_PATHS, decide
from gptoss_container.routing import CUSTOM_ATTRIBUTES_HEADER, choose_route
from gptoss_container.settings import env_name
from gptoss_facts.endpoint import DRAIN_TIMEOUT_S

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("gptoss_container.middleware")

DRAIN_TIMEOUT_ENV = env_name("drain_timeout_s")


def ensure_logging() -> None:
    """vLLM configures only its own loggers; without this our drain and routing messages
    would be dropped inside the server process."""
    root = logging.getLogger("gptoss_container")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(asctime)s [%(name)s] %(message)s"))
        root.addHandler(handler)
        root.setLevel(os.environ.get(env_name("log_level"), "INFO").upper())
        root.propagate = False


class GptOssMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        drain: DrainState | None = None,
        route_by_body: bool | None = None,
        reasoning_content: bool | None = None,
    ) -> None:
        ensure_logging()
        self.app = app
        self.drain = drain or DrainState(
            # `gptoss_container serve` always sets the variable; without it, the same
            # default as the settings (SageMaker's SIGTERM-to-SIGKILL grace less the
            # engine's stop time).
            float(os.environ.get(DRAIN_TIMEOUT_ENV, DRAIN_TIMEOUT_S))
        )
        if route_by_body is None:
            # A custom invocation handler or sticky sessions live on /invocations itself
            # (model-hosting-container-standards); then /invocations stays as it is.
            route_by_body = not (
                _env_true(env_name("allow_custom_code"))
                or _env_true("SAGEMAKER_ENABLE_STATEFUL_SESSIONS")
            )
        self.route_by_body = route_by_body
        self.reasoning_content = (
            reasoning_content_enabled(os.environ)
            if reasoning_content is None
            else reasoning_content
        )
        self._openapi: dict[str, Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path: str = scope["path"]
        via_invocations = path == "/invocations"
        if path in ("/ping", "/health"):
            if self.drain.draining:
                await _respond(send, 503, "the server is shutting down")
                return
            await self.app(scope, receive, send)
            return

        if self.drain.draining:
            await _respond(send, 503, "the server is shutting down; retry on another instance")
            return

        if scope["method"] == "POST" and path == "/invocations":
            route = choose_route(_header(scope, CUSTOM_ATTRIBUTES_HEADER))
            if route.error is not None:
                await _respond(send, 400, route.error, param="CustomAttributes")
                return
            if route.path is not None:
                scope = _with_path(scope, route.path)
                path = route.path

        if scope["method"] == "POST" and path in JSON_PATHS:
            content_type = _header(scope, b"content-type") or ""
            if content_type.split(";", 1)[0].strip().lower() != "application/json":
                await _respond(
                    send,
                    415,
                    f"Content-Type must be application/json, got {content_type or 'none'!r}; "
                    "send the OpenAI request as JSON (InvokeEndpoint: "
                    "ContentType='application/json')",
                    param="Content-Type",
                )
                return
            body, disconnected = await _read_body(receive)
            if disconnected:
                return
            decision = decide(
                path,
                body,
                _max_model_len(scope),
                self.route_by_body,
                via_invocations=via_invocations,
                openapi=self._openapi_document(scope),
            )
            if decision.refusal is not None:
                r = decision.refusal
                await _respond(send, r.status, r.message, r.param)
                return
            if decision.path != path:
                scope = _with_path(scope, decision.path)
                path = decision.path
            if decision.body is not None:
                body = decision.body
                scope = _with_content_length(scope, len(body))
            receive = _replay({"type": "http.request", "body": body, "more_body": False}, receive)
            if self.reasoning_content and path in ("/v1/chat/completions", "/invocations"):
                send = aliasing_send(send)

        self.drain.request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.request_finished()

    def _openapi_document(self, scope: Scope) -> dict[str, Any] | None:
        """vLLM's OpenAPI document (FastAPI builds it once and caches it), for the
        request schemas request_shapes checks object-typed fields against."""
        if self._openapi is None:
            build = getattr(scope.get("app"), "openapi", None)
            if callable(build):
                try:
                    document = build()
                except Exception:  # a schema vLLM cannot render must not fail requests
                    logger.exception("cannot build vLLM's OpenAPI document; skipping")
                    document = {}
                self._openapi = document if isinstance(document, dict) else {}
        return self._openapi or None

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # vLLM registers its signal handlers before uvicorn runs the lifespan,
                # so ours, added now, replaces its SIGTERM handler (SIGINT stays vLLM's).
                self.drain.install_signal_handler()
            return message

        return wrapped


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _max_model_len(scope: Scope) -> int | None:
    """The context window of the running engine (vLLM keeps its config on app.state)."""
    app = scope.get("app")
    config = getattr(getattr(app, "state", None), "vllm_config", None)
    value = getattr(getattr(config, "model_config", None), "max_model_len", None)
    return value if isinstance(value, int) else None


def _with_path(scope: Scope, path: str) -> Scope:
    return dict(scope, path=path, raw_path=path.encode())


def _with_content_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    return dict(scope, headers=headers)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


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

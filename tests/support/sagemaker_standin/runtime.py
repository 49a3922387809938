"""A stand-in for the SageMaker runtime service, on 127.0.0.1, in front of a real container.

boto3's ``sagemaker-runtime`` client pointed at it (``endpoint_url=standin.url``) makes
real ``InvokeEndpoint`` and ``InvokeEndpointWithResponseStream`` requests; the stand-in
forwards them to the container's ``/invocations`` the way SageMaker does (body, content
type, custom attributes), and answers in SageMaker's wire format:

- a container error becomes SageMaker's HTTP 424 ``ModelError`` carrying the container's
  status and body (``OriginalStatusCode``, ``OriginalMessage``);
- a streamed answer is cut into event-stream ``PayloadPart`` messages at random byte
  offsets, so a part may end inside an SSE event or a UTF-8 character, and hold several
  events (the case that broke strands-agents, #4035);
- ``cut_after_bytes`` stops a stream half-way, as a broken connection would;
- SageMaker's OpenAI-compatible route, ``/endpoints/{name}[/inference-components/{ic}]
  /openai/v1/chat/completions``, checks the bearer token (sagemaker_standin.bearer) and
  forwards the body as sent to the container's ``/v1/chat/completions``, relaying its answer
  (JSON or SSE, any status) as is.

It is what the end-to-end tests and ``make local`` use; it is not a SageMaker emulator
(no SigV4 or IAM checks, no variants, no scaling).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import httpx

from sagemaker_standin.handler import Handler as _Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: SageMakerRuntimeStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-stream is part of what the tests do


class SageMakerRuntimeStandIn:
    """Serve ``endpoints`` (name -> container base URL) the way SageMaker runtime does.

    ``inference_components`` (component name -> container base URL) are reached with
    ``InferenceComponentName``; ``default_upstream`` serves any other endpoint or component
    name (for notebooks that create endpoints with generated names); ``route_body`` may
    pick another upstream from the request body (tests send tool questions to a model that
    calls tools, everything else to a chat model); ``max_part`` bounds the random
    PayloadPart sizes; ``seed`` makes the splits repeatable.
    """

    def __init__(
        self,
        endpoints: Mapping[str, str],
        *,
        inference_components: Mapping[str, str] | None = None,
        default_upstream: str | None = None,
        route_body: Callable[[bytes], str | None] | None = None,
        port: int = 0,
        seed: int | None = None,
        max_part: int = 64,
        cut_after_bytes: int | None = None,
        region: str = "us-east-1",
        timeout: float = 300.0,
    ) -> None:
        if max_part < 1:
            raise ValueError(f"max_part must be >= 1, got {max_part}")
        self.endpoints = dict(endpoints)
        self.inference_components = dict(inference_components or {})
        self.default_upstream = default_upstream
        self.route_body = route_body
        self.random = random.Random(seed)  # noqa: S311 - split points, not secrets
        self.max_part = max_part
        self.cut_after_bytes = cut_after_bytes
        self.region = region
        self.parts_sent: list[bytes] = []
        # (container URL, body) of each request the OpenAI-compatible route forwarded.
        self.openai_forwarded: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        # The handler threads forward through this one client (connection reuse).
        self.http = httpx.Client(timeout=timeout)
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.standin = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.http.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def split(self, data: bytes) -> list[bytes]:
        """Cut ``data`` at random offsets (1..max_part bytes per part)."""
        parts = []
        with self._lock:
            while data:
                size = self.random.randint(1, self.max_part)
                parts.append(data[:size])
                data = data[size:]
        return parts

    def upstream(self, endpoint: str, component: str | None, body: bytes) -> str | None:
        """The container base URL a request goes to; None when SageMaker would answer that
        the endpoint or component does not exist."""
        if component:
            found = self.inference_components.get(component, self.default_upstream)
        else:
            found = self.endpoints.get(endpoint, self.default_upstream)
        if found is not None and self.route_body is not None:
            found = self.route_body(body) or found
        return found

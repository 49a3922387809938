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
- ``cut_after_bytes`` stops a stream half-way, as a broken connection would.

It is what the end-to-end tests and ``make local`` use; it is not a SageMaker emulator
(no auth, no variants, no scaling).
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import httpx

from gptoss_aws.local.eventstream import exception_event, payload_part

_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<op>invocations|invocations-response-stream)$")
# Headers SageMaker passes from InvokeEndpoint to the container (SageMaker API reference,
# InvokeEndpoint request syntax).
_FORWARDED = ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")
ACCOUNT = "123456789012"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

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
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout)
        self._httpd = _Server(("127.0.0.1", port), self._handler())
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
        self._http.close()

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

    def _upstream(self, endpoint: str, component: str | None) -> str | None:
        if component:
            return self.inference_components.get(component, self.default_upstream)
        return self.endpoints.get(endpoint, self.default_upstream)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = _PATH.match(self.path.split("?", 1)[0])
                if match is None:
                    self._error(404, "UnknownOperationException", f"no operation at {self.path}")
                    return
                endpoint = match["name"]
                component = self.headers.get("X-Amzn-SageMaker-Inference-Component")
                upstream = standin._upstream(endpoint, component)
                if upstream is not None and standin.route_body is not None:
                    upstream = standin.route_body(body) or upstream
                if upstream is None:
                    what = f"Inference component {component}" if component else "Endpoint"
                    name = component or endpoint
                    self._error(
                        400,
                        "ValidationError",
                        f"{what} {name} of account {ACCOUNT} not found.",
                    )
                    return
                headers = {h: v for h in _FORWARDED if (v := self.headers.get(h)) is not None}
                url = upstream.rstrip("/") + "/invocations"
                if match["op"] == "invocations":
                    self._invoke(url, headers, body)
                else:
                    self._invoke_stream(url, headers, body)

            def _invoke(self, url: str, headers: dict[str, str], body: bytes) -> None:
                try:
                    answer = standin._http.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    self._error(
                        500, "InternalFailure", f"the model container is unreachable: {exc}"
                    )
                    return
                if answer.status_code >= 400:
                    self._model_error(answer.status_code, answer.content)
                    return
                self.send_response(200)
                self.send_header(
                    "Content-Type", answer.headers.get("content-type", "application/json")
                )
                self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def _invoke_stream(self, url: str, headers: dict[str, str], body: bytes) -> None:
                try:
                    with standin._http.stream("POST", url, content=body, headers=headers) as answer:
                        if answer.status_code >= 400:
                            self._model_error(answer.status_code, answer.read())
                            return
                        self.send_response(200)
                        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
                        self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        sent = 0
                        for data in answer.iter_bytes():
                            for part in standin.split(data):
                                if standin.cut_after_bytes is not None:
                                    room = standin.cut_after_bytes - sent
                                    if room <= 0:
                                        self._cut()
                                        return
                                    part = part[:room]
                                sent += len(part)
                                standin.parts_sent.append(part)
                                self._chunk(payload_part(part))
                        self.wfile.write(b"0\r\n\r\n")
                except httpx.HTTPError as exc:
                    # The container broke mid-stream: SageMaker reports it in the stream.
                    self._chunk(
                        exception_event(
                            "ModelStreamError",
                            {
                                "Message": f"the model container stopped: {exc}",
                                "ErrorCode": "ModelStreamError",
                            },
                        )
                    )
                    self.wfile.write(b"0\r\n\r\n")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _cut(self) -> None:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)

            def _model_error(self, status: int, body: bytes) -> None:
                # SageMaker's answer when the container returns an error status (HTTP 424,
                # ModelError; SageMaker API reference, InvokeEndpoint errors).
                original = body.decode("utf-8", "replace")
                kind = "CLIENT_ERROR_FROM_MODEL" if status < 500 else "SERVER_ERROR_FROM_MODEL"
                self._send_json(
                    424,
                    "ModelError",
                    {
                        "ErrorCode": kind,
                        "OriginalStatusCode": status,
                        "OriginalMessage": original,
                        "LogStreamArn": (
                            f"arn:aws:logs:{standin.region}:{ACCOUNT}:log-group:"
                            "/aws/sagemaker/Endpoints/local"
                        ),
                        "Message": f"Received client error ({status}) from primary with "
                        f'message "{original}".',
                    },
                )

            def _error(self, status: int, code: str, message: str) -> None:
                self._send_json(status, code, {"message": message})

            def _send_json(self, status: int, code: str, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-ErrorType", f"{code}:")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler

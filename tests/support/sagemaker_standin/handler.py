"""The stand-in's HTTP side: one request handler, one method per job.

Routing (which operation, which container), forwarding (one answer, or a stream cut into
``PayloadPart`` events, or the OpenAI route's answer relayed as is) and SageMaker's error
replies are separate methods, so a test that needs another wire behaviour changes one of them.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import httpx

from sagemaker_standin.bearer import check_bearer
from sagemaker_standin.eventstream import exception_event, payload_part

if TYPE_CHECKING:
    from sagemaker_standin.runtime import SageMakerRuntimeStandIn, _Server

_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<op>invocations|invocations-response-stream)$")
# SageMaker's OpenAI-compatible route: "SageMaker AI endpoints expose an
# `/openai/v1/chat/completions` path", and "To invoke a specific inference component, include
# its name in the URL path"
# (.../endpoints/{ENDPOINT_NAME}/inference-components/{IC_NAME}/openai/v1);
# https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html
_OPENAI_PATH = re.compile(
    r"^/endpoints/(?P<name>[^/]+)(?:/inference-components/(?P<ic>[^/]+))?"
    r"/openai/v1/chat/completions$"
)
# Same page, "Supported containers": "The container must implement the `/v1/chat/completions`
# path and return streaming responses in SSE format."
OPENAI_CONTAINER_PATH = "/v1/chat/completions"
# What the route forwards besides the body. AWS documents none of the headers (NOT
# CONFIRMED); the bearer token is SageMaker's, so it is not passed on.
_OPENAI_FORWARDED = ("Content-Type", "Accept")
# Headers SageMaker passes from InvokeEndpoint to the container (SageMaker API reference,
# InvokeEndpoint request syntax).
_FORWARDED = ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")
ACCOUNT = "123456789012"
# The SageMaker SDK's variant name, which InvokeEndpoint reports back.
_VARIANT = "AllTraffic"


class _Route(NamedTuple):
    url: str
    streaming: bool


class Handler(BaseHTTPRequestHandler):
    """InvokeEndpoint and InvokeEndpointWithResponseStream, answered in SageMaker's format."""

    protocol_version = "HTTP/1.1"

    @property
    def standin(self) -> SageMakerRuntimeStandIn:
        # The stand-in sets itself on its server before it serves.
        return cast("_Server", self.server).standin

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        openai = _OPENAI_PATH.match(self.path.split("?", 1)[0])
        if openai is not None:
            self._openai(openai["name"], openai["ic"], body)
            return
        route = self._route(body)
        if route is None:
            return  # _route answered with SageMaker's error
        headers = {h: v for h in _FORWARDED if (v := self.headers.get(h)) is not None}
        if route.streaming:
            self._invoke_stream(route.url, headers, body)
        else:
            self._invoke(route.url, headers, body)

    # --- routing --------------------------------------------------------------------------

    def _route(self, body: bytes) -> _Route | None:
        """The container URL and operation of this request, or None after an error reply."""
        match = _PATH.match(self.path.split("?", 1)[0])
        if match is None:
            self._error(404, "UnknownOperationException", f"no operation at {self.path}")
            return None
        endpoint = match["name"]
        component = self.headers.get("X-Amzn-SageMaker-Inference-Component")
        upstream = self._upstream(endpoint, component, body)
        if upstream is None:
            return None
        url = upstream.rstrip("/") + "/invocations"
        return _Route(url, streaming=match["op"] != "invocations")

    def _upstream(self, endpoint: str, component: str | None, body: bytes) -> str | None:
        """The container base URL, or None after SageMaker's not-found reply."""
        upstream = self.standin.upstream(endpoint, component, body)
        if upstream is None:
            what = f"Inference component {component}" if component else "Endpoint"
            name = component or endpoint
            self._error(400, "ValidationError", f"{what} {name} of account {ACCOUNT} not found.")
        return upstream

    # --- forwarding -----------------------------------------------------------------------

    def _invoke(self, url: str, headers: dict[str, str], body: bytes) -> None:
        try:
            answer = self.standin.http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._error(500, "InternalFailure", f"the model container is unreachable: {exc}")
            return
        if answer.status_code >= 400:
            self._model_error(answer.status_code, answer.content)
            return
        self.send_response(200)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("x-Amzn-Invoked-Production-Variant", _VARIANT)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def _invoke_stream(self, url: str, headers: dict[str, str], body: bytes) -> None:
        try:
            with self.standin.http.stream("POST", url, content=body, headers=headers) as answer:
                if answer.status_code >= 400:
                    self._model_error(answer.status_code, answer.read())
                    return
                self._start_event_stream()
                if self._relay_parts(answer):
                    self.wfile.write(b"0\r\n\r\n")
        except httpx.HTTPError as exc:
            # The container broke mid-stream: SageMaker reports it in the stream.
            message = f"the model container stopped: {exc}"
            error = {"Message": message, "ErrorCode": "ModelStreamError"}
            self._chunk(exception_event("ModelStreamError", error))
            self.wfile.write(b"0\r\n\r\n")

    def _start_event_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("x-Amzn-Invoked-Production-Variant", _VARIANT)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _relay_parts(self, answer: httpx.Response) -> bool:
        """Send the container's bytes as PayloadParts cut at random offsets; False when
        ``cut_after_bytes`` broke the connection on purpose."""
        standin = self.standin
        sent = 0
        for data in answer.iter_bytes():
            for part in standin.split(data):
                if standin.cut_after_bytes is not None:
                    room = standin.cut_after_bytes - sent
                    if room <= 0:
                        self._cut()
                        return False
                    part = part[:room]
                sent += len(part)
                standin.parts_sent.append(part)
                self._chunk(payload_part(part))
        return True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(2)

    # --- the OpenAI-compatible route ------------------------------------------------------

    def _openai(self, endpoint: str, component: str | None, body: bytes) -> None:
        """Check the bearer token, then relay the container's /v1/chat/completions answer:
        the route "returns responses directly from the container, including streaming"."""
        refusal = check_bearer(self.headers.get("Authorization"), self.standin.region)
        if refusal is not None:
            self._error(refusal.status, refusal.code, refusal.message)
            return
        upstream = self._upstream(endpoint, component, body)
        if upstream is None:
            return
        url = upstream.rstrip("/") + OPENAI_CONTAINER_PATH
        headers = {h: v for h in _OPENAI_FORWARDED if (v := self.headers.get(h)) is not None}
        self.standin.openai_forwarded.append((url, body))
        try:
            with self.standin.http.stream("POST", url, content=body, headers=headers) as answer:
                self._relay_as_is(answer)
        except httpx.HTTPError as exc:
            self._error(500, "InternalFailure", f"the model container is unreachable: {exc}")

    def _relay_as_is(self, answer: httpx.Response) -> None:
        """The container's status, content type and bytes, sent on as they arrive."""
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for data in answer.iter_bytes():
                if data:  # an empty chunk would end the chunked body
                    self._chunk(data)
        except httpx.HTTPError:
            self._cut()  # the container broke mid-answer: so does the route's connection
            return
        self.wfile.write(b"0\r\n\r\n")

    # --- SageMaker's error replies ----------------------------------------------------------

    def _model_error(self, status: int, body: bytes) -> None:
        # SageMaker's answer when the container returns an error status (HTTP 424,
        # ModelError; SageMaker API reference, InvokeEndpoint errors).
        original = body.decode("utf-8", "replace")
        kind = "CLIENT_ERROR_FROM_MODEL" if status < 500 else "SERVER_ERROR_FROM_MODEL"
        log_group = f"arn:aws:logs:{self.standin.region}:{ACCOUNT}:log-group:"
        self._send_json(
            424,
            "ModelError",
            {
                "ErrorCode": kind,
                "OriginalStatusCode": status,
                "OriginalMessage": original,
                "LogStreamArn": f"{log_group}/aws/sagemaker/Endpoints/local",
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

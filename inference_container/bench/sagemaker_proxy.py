#!/usr/bin/env python3
"""An OpenAI-compatible HTTP server on 127.0.0.1 that forwards to a SageMaker endpoint.

OpenAI clients and `vllm bench serve` speak plain HTTP; SageMaker's runtime API needs
SigV4-signed InvokeEndpoint calls. This proxy sits between them, signing with boto3:

- POST /v1/chat/completions, /v1/completions, /tokenize, /detokenize go to the
  endpoint's /invocations with ``CustomAttributes="route=<path>"``, which our container
  routes (inference_container/src/gptoss_container/routing.py);
- bodies with ``"stream": true`` go through InvokeEndpointWithResponseStream and come
  back as server-sent events, the container's own bytes;
- GET /v1/models answers the served model name (SageMaker has no GET route to ask).

    python sagemaker_proxy.py --endpoint gptoss-120b --region us-east-1 --port 8081
    curl http://127.0.0.1:8081/v1/chat/completions -H 'Content-Type: application/json' \
        -d '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64}'

It binds 127.0.0.1 only: whoever reaches it calls the endpoint with your credentials.
Needs boto3 and nothing else outside the standard library, so it runs in the container
image as well as on a workstation.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

log = logging.getLogger("sagemaker_proxy")

HOST = "127.0.0.1"
DEFAULT_MODEL = "gpt-oss-120b"
# A saturation benchmark keeps this many requests in flight; botocore's pool of 10 would
# open (and throw away) a new TLS connection for every request past the tenth.
DEFAULT_MAX_CONNECTIONS = 256
# Seconds between bytes: a non-streamed answer arrives only when generation ends.
DEFAULT_READ_TIMEOUT = 600.0

# The POST paths we forward; each is named to the container as the route, so /invocations
# does not have to guess from the body (and a custom invocation handler is bypassed).
ROUTES: frozenset[str] = frozenset(
    {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"}
)

# SageMaker runtime error codes (API reference, InvokeEndpoint "Errors"), by the status
# an OpenAI client expects. ModelNotReadyException is SageMaker's own HTTP 429.
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "ModelNotReadyException"}
)
VALIDATION_CODES = frozenset({"ValidationError", "ValidationException"})

# SSE event terminators (WHATWG HTML, "Server-sent events": a blank line in any of the
# three line-ending styles).
_EVENT_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")


@dataclass(frozen=True)
class Target:
    """Where requests go: the endpoint, optionally one inference component on it."""

    endpoint_name: str
    inference_component: str | None = None
    served_model_name: str = DEFAULT_MODEL


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    body: bytes


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # SageMaker's 530 and friends
        return "Error"


def openai_error(status: int, message: str, param: str | None = None) -> bytes:
    """The error body vLLM and our container answer with, so clients parse one shape."""
    return json.dumps(
        {"error": {"message": message, "type": _phrase(status), "param": param, "code": status}}
    ).encode()


def _is_openai_error(text: str) -> bool:
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return False
    return isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)


def error_answer(exc: ClientError) -> ErrorAnswer:
    """Map a SageMaker runtime error to the HTTP status and body an OpenAI client expects."""
    # botocore puts a modelled error's fields (OriginalStatusCode...) next to "Error".
    response: Mapping[str, Any] = exc.response
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", "") or exc)
    if code == "ModelError":
        # The container answered an error status; give the client the container's own
        # answer, as if there were no SageMaker in between.
        original = response.get("OriginalStatusCode")
        status = original if isinstance(original, int) and 400 <= original <= 599 else 502
        body = response.get("OriginalMessage")
        if isinstance(body, str) and _is_openai_error(body):
            return ErrorAnswer(status, body.encode())
        return ErrorAnswer(
            status,
            openai_error(status, f"the model container answered {status}: {body or message}"),
        )
    if code in THROTTLING_CODES:
        return ErrorAnswer(429, openai_error(429, f"SageMaker {code}: {message}"))
    if code in VALIDATION_CODES:
        return ErrorAnswer(400, openai_error(400, f"SageMaker {code}: {message}"))
    return ErrorAnswer(502, openai_error(502, f"SageMaker {code or 'error'}: {message}"))


def _transport_error(exc: BotoCoreError) -> ErrorAnswer:
    if isinstance(exc, ReadTimeoutError):
        return ErrorAnswer(504, openai_error(504, f"SageMaker did not answer in time: {exc}"))
    return ErrorAnswer(502, openai_error(502, f"could not reach SageMaker: {exc}"))


class SseFramer:
    """Hold back an incomplete SSE event, so every write to the client ends on an event.

    SageMaker may cut the stream into PayloadParts anywhere, even inside an event. The
    bytes pass through unchanged, but `vllm bench serve` strips whitespace from each read
    before parsing (vllm/benchmarks/lib/endpoint_request_func.py), so an event split after
    "data:" fails its request. A partial event is of no use to any client before its end
    arrives, so holding it back costs no latency.
    """

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        """Complete events ready to send (possibly none)."""
        buffer = self._pending + data
        cut = max((buffer.rfind(end) + len(end) for end in _EVENT_ENDS if end in buffer), default=0)
        self._pending = buffer[cut:]
        return buffer[:cut]

    def rest(self) -> bytes:
        """What is left when the stream ends (nothing, for a well-formed SSE stream)."""
        rest, self._pending = self._pending, b""
        return rest


def _wants_stream(body: bytes) -> bool:
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False  # the container answers malformed JSON with its own 400
    return isinstance(request, dict) and request.get("stream") is True


class _ClientGoneError(Exception):
    """The HTTP client hung up; told apart from SageMaker's side breaking."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A saturation run opens hundreds of connections at once; the default listen backlog
    # of 5 drops SYNs, and the client's 1 s retransmit would land in the measured TTFT.
    request_queue_size = 1024

    def __init__(self, port: int, target: Target, client: SageMakerRuntimeClient) -> None:
        self.target = target
        self.client = client
        self.created = int(time.time())
        super().__init__((HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hangs up is not our error
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmark clients reuse connections
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/v1/models":
            self._send_error(404, f"no route GET {self.path} on this proxy")
            return
        name = self.server.target.served_model_name
        model = {
            "id": name,
            "object": "model",
            "created": self.server.created,
            "owned_by": "sagemaker",
            "root": name,
            "parent": None,
        }
        self._send(200, json.dumps({"object": "list", "data": [model]}).encode())

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None:
            # Chunked request bodies are not read; every OpenAI client sends a length.
            self.close_connection = True
            self._send_error(411, "send the request body with a Content-Length")
            return
        body = self.rfile.read(int(length))
        path = self.path.split("?", 1)[0]
        if path not in ROUTES:
            allowed = ", ".join(sorted(ROUTES))
            self._send_error(404, f"no route POST {path} on this proxy; use one of: {allowed}")
            return
        target = self.server.target
        request: dict[str, Any] = {
            "EndpointName": target.endpoint_name,
            "Body": body,
            "ContentType": self.headers.get("Content-Type") or "application/json",
            "CustomAttributes": f"route={path}",
        }
        if target.inference_component:
            request["InferenceComponentName"] = target.inference_component
        if _wants_stream(body):
            self._stream(request)
        else:
            self._invoke(request)

    def _invoke(self, request: dict[str, Any]) -> None:
        try:
            answer = self.server.client.invoke_endpoint(Accept="application/json", **request)
            data = answer["Body"].read()
        except ClientError as exc:
            self._send_answer(error_answer(exc))
            return
        except BotoCoreError as exc:
            self._send_answer(_transport_error(exc))
            return
        self._send(200, data, answer.get("ContentType") or "application/json")

    def _stream(self, request: dict[str, Any]) -> None:
        try:
            answer = self.server.client.invoke_endpoint_with_response_stream(
                Accept="text/event-stream", **request
            )
        except ClientError as exc:
            self._send_answer(error_answer(exc))  # e.g. the container's 400, before any byte
            return
        except BotoCoreError as exc:
            self._send_answer(_transport_error(exc))
            return
        events = answer["Body"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        framer = SseFramer()
        try:
            for event in events:
                part = event.get("PayloadPart")
                if part and (ready := framer.feed(part["Bytes"])):
                    self._chunk(ready)
            if rest := framer.rest():
                self._chunk(rest)
            self._chunk(b"")  # the last chunk of a chunked body is empty
        except _ClientGoneError:
            self.close_connection = True  # stop reading from SageMaker: nobody listens
            events.close()
        except Exception as exc:  # the status line is gone, so the error goes in-band
            # SageMaker reports a failure mid-stream as an exception event (ModelStreamError,
            # InternalStreamFailure) or a broken connection. Send it as an SSE error event,
            # as vLLM does, then end without the final chunk: HTTP clients (vllm bench
            # among them) then see an incomplete answer and count the request failed.
            log.warning("stream from %s broke: %s", request["EndpointName"], exc)
            message = f"the SageMaker stream broke: {exc}"
            self.close_connection = True
            with suppress(_ClientGoneError):
                self._chunk(b"data: " + openai_error(502, message) + b"\n\n")
            events.close()

    def _chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except ConnectionError as exc:
            raise _ClientGoneError from exc

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_answer(self, answer: ErrorAnswer) -> None:
        self._send(answer.status, answer.body)

    def _send_error(self, status: int, message: str) -> None:
        self._send(status, openai_error(status, message))


def runtime_client(
    *,
    region: str | None = None,
    profile: str | None = None,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> SageMakerRuntimeClient:
    """A sagemaker-runtime client for the proxy; ``endpoint_url`` points it at a stand-in."""
    session = session or boto3.session.Session(profile_name=profile, region_name=region)
    config = Config(
        # No retries: a throttled or failed request must count as one in a benchmark, not
        # hide inside a longer latency.
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max_connections,
        read_timeout=read_timeout,
    )
    return session.client(
        "sagemaker-runtime", region_name=region, endpoint_url=endpoint_url, config=config
    )


def make_server(target: Target, client: SageMakerRuntimeClient, port: int = 0) -> _Server:
    """The proxy's HTTP server on 127.0.0.1 (``port=0``: any free port); not yet serving."""
    return _Server(port, target, client)


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


@contextmanager
def serve_in_thread(
    endpoint_name: str,
    *,
    inference_component: str | None = None,
    served_model_name: str = DEFAULT_MODEL,
    client: SageMakerRuntimeClient | None = None,
    region: str | None = None,
    profile: str | None = None,
    session: boto3.session.Session | None = None,
    endpoint_url: str | None = None,
    port: int = 0,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> Iterator[str]:
    """Serve the proxy on a background thread; yields its base URL (no /v1 suffix).

    ``client`` is used as given; otherwise one is made from ``session`` or ``profile``,
    ``region`` and ``endpoint_url``.
    """
    if client is None:
        client = runtime_client(
            region=region,
            profile=profile,
            session=session,
            endpoint_url=endpoint_url,
            max_connections=max_connections,
        )
    server = make_server(
        Target(endpoint_name, inference_component, served_model_name), client, port
    )
    thread = threading.Thread(target=server.serve_forever, name="sagemaker-proxy", daemon=True)
    thread.start()
    try:
        yield base_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="SageMaker endpoint name")
    parser.add_argument("--inference-component", help="inference component on that endpoint")
    parser.add_argument("--region", help="AWS region (default: from the profile/environment)")
    parser.add_argument("--profile", help="AWS profile for the credentials")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="served model name GET /v1/models answers (the container's served name)",
    )
    parser.add_argument("--endpoint-url", help="SageMaker runtime URL, e.g. a local stand-in")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    # botocore logs at INFO too (where it found credentials); keep to ours.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    client = runtime_client(
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        max_connections=args.max_connections,
    )
    target = Target(args.endpoint, args.inference_component, args.model)
    server = make_server(target, client, args.port)
    where = f" (inference component {target.inference_component})"
    print(
        f"{base_url(server)}/v1 -> SageMaker endpoint {target.endpoint_name}"
        f"{where if target.inference_component else ''} in {client.meta.region_name}; "
        "Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""inference_container/bench/sagemaker_proxy.py, end to end: an HTTP client -> the proxy ->
boto3 (signed) -> the SageMaker runtime stand-in -> our container -> the real vLLM engine.

This is the path `bench_serve.py run --sagemaker-endpoint` measures; the streamed answers
are read off the raw socket, so the tests see the proxy's exact chunk boundaries.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError
from conftest import CHAT_ENDPOINT, REPO
from sagemaker_standin import SageMakerRuntimeStandIn
from serverproc import Server

PROXY_PATH = REPO / "inference_container" / "bench" / "sagemaker_proxy.py"
SERVED_NAME = "gpt-oss-20b"  # serverproc.serve_tiny's default served name
# The tiny deterministic chat model's reply (inference_container/src/gptoss_tiny/script.py).
REASONING = "User says hello; reply warmly, for example:"
CONTENT = "Hello! How can I help you today?"
MESSAGES = [{"role": "user", "content": "Hello there"}]


class Framer(Protocol):
    def feed(self, data: bytes) -> bytes: ...
    def rest(self) -> bytes: ...


class ErrorAnswer(Protocol):
    status: int
    body: bytes


class Client(Protocol):
    """The slice of a boto3 sagemaker-runtime client the tests hand over."""

    def invoke_endpoint(self, **kwargs: Any) -> Any: ...


class ProxyModule(Protocol):
    """What the tests use of sagemaker_proxy.py (loaded by path: it is not a package)."""

    def serve_in_thread(
        self,
        endpoint_name: str,
        *,
        inference_component: str | None = None,
        served_model_name: str = ...,
        client: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> AbstractContextManager[str]: ...

    def runtime_client(
        self, *, region: str | None = None, endpoint_url: str | None = None
    ) -> Client: ...

    def error_answer(self, exc: ClientError) -> ErrorAnswer: ...

    def SseFramer(self) -> Framer: ...


@pytest.fixture(scope="session")
def proxy_module() -> ProxyModule:
    spec = importlib.util.spec_from_file_location("sagemaker_proxy", PROXY_PATH)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["sagemaker_proxy"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return cast(ProxyModule, module)


@pytest.fixture
def proxy(proxy_module: ProxyModule, standin: SageMakerRuntimeStandIn) -> Iterator[str]:
    with proxy_module.serve_in_thread(
        CHAT_ENDPOINT,
        served_model_name=SERVED_NAME,
        region="us-east-1",
        endpoint_url=standin.url,
    ) as url:
        yield url


@dataclass
class RawAnswer:
    """An HTTP/1.1 answer as it came off the socket, chunk boundaries kept."""

    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    complete: bool  # the chunked body ended with its zero-length chunk

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def events(self) -> list[str]:
        """The SSE events' data fields, in order."""
        text = self.body.decode()
        return [e.removeprefix("data: ") for e in text.split("\n\n") if e.startswith("data: ")]


def post_raw(base_url: str, path: str, body: dict[str, Any]) -> RawAnswer:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    raw = b""
    with socket.create_connection((host, port), timeout=300) as sock:
        sock.sendall(head.encode() + data)
        while received := sock.recv(65536):
            raw += received
    header_block, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    assert headers.get("transfer-encoding") == "chunked", headers
    chunks: list[bytes] = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return RawAnswer(int(status_line.split()[1]), headers, chunks, complete=True)
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return RawAnswer(int(status_line.split()[1]), headers, chunks, complete=False)


def test_a_chat_completion_comes_back_through_the_proxy(proxy: str) -> None:
    answer = httpx.post(
        f"{proxy}/v1/chat/completions",
        json={"model": SERVED_NAME, "messages": MESSAGES, "max_tokens": 64},
        timeout=300,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    message = body["choices"][0]["message"]
    assert (message["reasoning"], message["content"]) == (REASONING, CONTENT)
    assert body["usage"]["completion_tokens"] == 29
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 10


def test_a_streamed_chat_arrives_as_whole_sse_events(
    proxy: str, standin: SageMakerRuntimeStandIn
) -> None:
    before = len(standin.parts_sent)
    answer = post_raw(
        proxy,
        "/v1/chat/completions",
        {"model": SERVED_NAME, "messages": MESSAGES, "max_tokens": 64, "stream": True},
    )
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.complete
    # SageMaker's parts were cut anywhere; the proxy's chunks each end on an event.
    assert any(not part.endswith(b"\n\n") for part in standin.parts_sent[before:])
    assert all(chunk.endswith(b"\n\n") for chunk in answer.chunks)
    assert answer.body.endswith(b"data: [DONE]\n\n")
    events = answer.events()
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = "".join(d.get("reasoning") or "" for d in deltas)
    content = "".join(d.get("content") or "" for d in deltas)
    assert (reasoning, content) == (REASONING, CONTENT)
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["completion_tokens"] == 29
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 10


def test_a_completion_with_a_prompt(proxy: str) -> None:
    answer = httpx.post(
        f"{proxy}/v1/completions",
        json={"model": SERVED_NAME, "prompt": "Hello there", "max_tokens": 8},
        timeout=300,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "text_completion"
    assert isinstance(body["choices"][0]["text"], str)
    assert body["usage"]["completion_tokens"] > 0
    assert body["usage"]["prompt_tokens"] > 0


def test_a_streamed_completion_ends_with_usage_and_done(proxy: str) -> None:
    answer = post_raw(
        proxy,
        "/v1/completions",
        {"model": SERVED_NAME, "prompt": "Hello there", "max_tokens": 8, "stream": True},
    )
    assert answer.status == 200
    assert answer.complete
    events = answer.events()
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    # The container asks vLLM for the usage chunk itself (stream_usage.py).
    assert chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_container_400_is_a_400_with_the_containers_error(proxy: str, stream: bool) -> None:
    answer = httpx.post(
        f"{proxy}/v1/chat/completions",
        json={
            "model": SERVED_NAME,
            "messages": MESSAGES,
            "max_tokens": 1_000_000,
            "stream": stream,
        },
        timeout=300,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == "max_tokens"
    assert "max_tokens=1000000" in error["message"]
    assert (error["type"], error["code"]) == ("Bad Request", 400)


def test_an_unknown_endpoint_is_sagemakers_validation_error_as_400(
    proxy_module: ProxyModule, standin: SageMakerRuntimeStandIn
) -> None:
    with proxy_module.serve_in_thread(
        "no-such-endpoint", region="us-east-1", endpoint_url=standin.url
    ) as url:
        answer = httpx.post(f"{url}/v1/chat/completions", json={"messages": MESSAGES}, timeout=60)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "Bad Request"
    assert "ValidationError" in error["message"]
    assert "no-such-endpoint" in error["message"]


def test_models_answers_the_served_name(proxy: str) -> None:
    answer = httpx.get(f"{proxy}/v1/models", timeout=10)
    assert answer.status_code == 200
    [model] = answer.json()["data"]
    assert (model["id"], model["root"], model["object"]) == (SERVED_NAME, SERVED_NAME, "model")


def test_tokenize_reaches_the_container(proxy: str) -> None:
    # `vllm bench serve` calls /tokenize to check its prompt lengths against the server's.
    answer = httpx.post(
        f"{proxy}/tokenize",
        json={"model": SERVED_NAME, "prompt": "Hello there", "add_special_tokens": False},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    tokens = answer.json()["tokens"]
    assert tokens
    assert all(isinstance(t, int) for t in tokens)


def test_unknown_routes_are_openai_shaped_404s(proxy: str) -> None:
    answer = httpx.post(f"{proxy}/v1/embeddings", json={"input": "x"}, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == 404


def test_a_stream_broken_half_way_ends_in_an_error_event_and_an_incomplete_body(
    proxy_module: ProxyModule, containers: dict[str, Server]
) -> None:
    endpoints = {CHAT_ENDPOINT: containers[CHAT_ENDPOINT].url}
    with SageMakerRuntimeStandIn(endpoints, seed=3, max_part=48, cut_after_bytes=700) as cut:
        client = proxy_module.runtime_client(region="us-east-1", endpoint_url=cut.url)
        with proxy_module.serve_in_thread(CHAT_ENDPOINT, client=client) as url:
            answer = post_raw(
                url,
                "/v1/chat/completions",
                {"messages": MESSAGES, "max_tokens": 64, "stream": True},
            )
    assert answer.status == 200
    assert not answer.complete  # clients see the answer cut short
    events = answer.events()
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == 502
    assert "stream broke" in error["message"]
    assert all(json.loads(e).get("choices") is not None for e in events[:-1])


def _client_error(code: str, status: int, **fields: Any) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **fields,
    }
    return ClientError(response, "InvokeEndpoint")


@pytest.mark.parametrize(
    ("code", "sagemaker_status", "status"),
    [
        ("ThrottlingException", 400, 429),
        ("ModelNotReadyException", 429, 429),
        ("ValidationError", 400, 400),
        ("InternalFailure", 500, 502),
        ("ServiceUnavailable", 503, 502),
        ("InternalDependencyException", 530, 502),
    ],
)
def test_sagemaker_errors_map_to_openai_statuses(
    proxy_module: ProxyModule, code: str, sagemaker_status: int, status: int
) -> None:
    answer = proxy_module.error_answer(_client_error(code, sagemaker_status))
    assert answer.status == status
    error = json.loads(answer.body)["error"]
    assert error["code"] == status
    assert code in error["message"]


def test_a_model_error_without_a_json_body_is_wrapped(proxy_module: ProxyModule) -> None:
    answer = proxy_module.error_answer(
        _client_error("ModelError", 424, OriginalStatusCode=503, OriginalMessage="warming up")
    )
    assert answer.status == 503
    error = json.loads(answer.body)["error"]
    assert (error["type"], error["code"]) == ("Service Unavailable", 503)
    assert "warming up" in error["message"]


def test_the_framer_releases_whole_events_wherever_the_stream_is_cut(
    proxy_module: ProxyModule,
) -> None:
    stream = b'data: {"a": " x"}\n\ndata: {"b": 2}\r\n\r\ndata: [DONE]\n\n'
    for cut in range(len(stream) + 1):
        framer = proxy_module.SseFramer()
        out = [framer.feed(stream[:cut]), framer.feed(stream[cut:])]
        assert b"".join(out) + framer.rest() == stream
        assert all(not o or o.endswith((b"\n\n", b"\r\n\r\n")) for o in out)

"""Fixtures for the notebook tests: the AWS services a notebook talks to, on 127.0.0.1.

The notebooks are not changed for CI: their kernel gets environment variables that point
boto3 at local services (botocore reads ``AWS_ENDPOINT_URL`` and the service-specific
``AWS_ENDPOINT_URL_<SERVICE_ID>``, e.g. ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``):

- moto's server answers every control-plane call (SageMaker, CloudFormation, CloudWatch,
  STS...) through the catch-all ``AWS_ENDPOINT_URL``;
- the SageMaker runtime stand-in (``sagemaker_standin`` in tests/support) forwards
  InvokeEndpoint to our container on CPU with the tiny deterministic model, started once
  per session;
- ``BedrockRuntimeStandIn`` below answers Converse and ConverseStream, the one service here
  neither moto nor our container can play.

Runs in .venv-notebooks (sagemaker v3 lives there); the container runs in .venv-engine,
found through GPTOSS_ENGINE_PYTHON (``make test-notebooks`` sets it).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import serverproc
from fakeaws import fake_aws_environment as base_fake_aws_environment
from fakeaws import use_fake_aws
from moto.core.responses import ActionResult
from moto.sagemaker.models import FakeEndpointConfig
from moto.sagemaker.responses import SageMakerResponse
from moto.server import ThreadedMotoServer
from sagemaker_standin import SageMakerRuntimeStandIn
from sagemaker_standin.eventstream import frame
from serverproc import Server, chat_and_tool_containers

from gptoss_deploy.sagemaker import TELEMETRY_OPT_OUT_ENV, write_telemetry_opt_out
from gptoss_facts.instances import INSTANCE_TYPES

REGION = "us-east-1"
# What the container calls the tiny model: the name the deployed endpoint asks for
# (GPTOSS_SERVED_MODEL_NAME = config.sagemaker.model), so requests carry a real model name.
SERVED_MODEL = "gpt-oss-20b"


# ---- moto 5.2.5 and the sagemaker v3 SDK ---------------------------------------------


@contextlib.contextmanager
def moto_sagemaker_fixes() -> Iterator[None]:
    """Two moto 5.2.5 gaps that real SageMaker does not have:

    - CreateEndpointConfig checks InstanceType against a list that stops at p3/g4dn
      (FakeEndpointConfig.validate_instance_type; tests/infra/harness.py has the same
      wrap): the GPU types of the SDK's instance table pass, anything else is still
      checked by moto;
    - DescribeModel / DescribeEndpointConfig / DescribeEndpoint return ``{}`` for unset
      structures (VpcConfig, DataCaptureConfig...) where SageMaker omits them, and
      sagemaker.core's pydantic shapes reject an empty structure with required members.
    """
    original_validate = FakeEndpointConfig.validate_instance_type

    def validate(self: FakeEndpointConfig, instance_type: str) -> None:
        if instance_type not in INSTANCE_TYPES:
            original_validate(self, instance_type)

    describes = ("describe_model", "describe_endpoint_config", "describe_endpoint")
    originals = {name: getattr(SageMakerResponse, name) for name in describes}

    def without_empty(name: str) -> Any:
        def describe(self: SageMakerResponse) -> ActionResult:
            result = originals[name](self).result
            assert isinstance(result, dict)
            return ActionResult({k: v for k, v in result.items() if v != {}})

        return describe

    FakeEndpointConfig.validate_instance_type = validate  # type: ignore[method-assign]
    for name in describes:
        setattr(SageMakerResponse, name, without_empty(name))
    try:
        yield
    finally:
        FakeEndpointConfig.validate_instance_type = original_validate  # type: ignore[method-assign]
        for name, method in originals.items():
            setattr(SageMakerResponse, name, method)


def fake_aws_environment(home: Path) -> dict[str, str]:
    """Credentials and settings that keep boto3, the SDK and sagemaker off the real AWS
    and out of the user's files: fake keys, empty config files, no instance metadata,
    the SDK's ledger under ``home``, SageMaker SDK telemetry off."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **base_fake_aws_environment(home, REGION),
        "AWS_REGION": REGION,
        TELEMETRY_OPT_OUT_ENV: str(write_telemetry_opt_out(home / "sagemaker-config.yaml")),
        # The container or a stand-in answers slowly on 2 cores; never in a loop of retries.
        "AWS_MAX_ATTEMPTS": "1",
    }


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_fake_aws(monkeypatch, fake_aws_environment(tmp_path / "home"))


# ---- Bedrock runtime stand-in ------------------------------------------------------------


class BedrockRuntimeStandIn:
    """Converse and ConverseStream in Bedrock's wire format, with fixed gpt-oss-shaped
    answers, on 127.0.0.1.

    Bedrock cannot run here and moto has no bedrock-runtime, so this is the stand-in for
    that one service. It is not a model: the answer is a reasoning block (longer at higher
    ``reasoning_effort``) and a text; with ``toolConfig`` and no tool result yet, one
    ``toolUse`` of the first tool with ``{"city": "Paris"}``. Token counts are word counts.
    Requests are recorded in ``requests`` so tests can look at what was sent.

    Wire format (Bedrock Runtime API reference): REST-JSON, ``POST /model/{id}/converse``
    answers a JSON document; ``/converse-stream`` answers AWS event-stream messages whose
    ``:event-type`` is the union member (messageStart, contentBlockStart,
    contentBlockDelta, contentBlockStop, messageStop, metadata) and whose payload is that
    member's JSON. Errors carry ``x-amzn-ErrorType``.
    """

    MODELS = ("openai.gpt-oss-120b-1:0", "openai.gpt-oss-20b-1:0")
    ANSWER = "Hello from Bedrock! How can I help you today?"
    AFTER_TOOL = "It is sunny in Paris."
    REASONING: ClassVar[dict[str, str]] = {
        "low": "Greet back.",
        "medium": "The user greets me; greet back and offer help.",
        "high": "The user greets me. Consider tone: friendly, brief. Offer help, and "
        "keep it to one sentence so the answer stays short and clear.",
    }

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> BedrockRuntimeStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the scripted answer --------------------------------------------------------------

    def answer(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]], str, dict[str, int]]:
        """(content blocks, stopReason, usage) for a Converse request."""
        effort = (request.get("additionalModelRequestFields") or {}).get("reasoning_effort")
        reasoning = self.REASONING.get(str(effort), self.REASONING["medium"])
        messages = request.get("messages") or []
        last = (messages[-1].get("content") or []) if messages else []
        tools = (request.get("toolConfig") or {}).get("tools") or []
        blocks: list[dict[str, Any]] = [
            {"reasoningContent": {"reasoningText": {"text": reasoning}}}
        ]
        if tools and not any("toolResult" in block for block in last):
            name = tools[0]["toolSpec"]["name"]
            blocks.append(
                {
                    "toolUse": {
                        "toolUseId": "tooluse_standin1",
                        "name": name,
                        "input": {"city": "Paris"},
                    }
                }
            )
            stop = "tool_use"
        else:
            text = self.AFTER_TOOL if any("toolResult" in b for b in last) else self.ANSWER
            blocks.append({"text": text})
            stop = "end_turn"
        words = sum(
            len(str(block.get("text", "")).split())
            for message in messages
            for block in message.get("content") or []
        ) + sum(len(str(block.get("text", "")).split()) for block in request.get("system") or [])
        output = len(reasoning.split()) + sum(
            len(b["text"].split()) if "text" in b else 8 for b in blocks[1:]
        )
        usage = {
            "inputTokens": words + 20,
            "outputTokens": output,
            "totalTokens": words + 20 + output,
        }
        return blocks, stop, usage

    def stream_events(self, request: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        blocks, stop, usage = self.answer(request)
        events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
        for index, block in enumerate(blocks):
            if "reasoningContent" in block:
                text = block["reasoningContent"]["reasoningText"]["text"]
                # Two deltas, so the client has to join them.
                for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                    delta = {"reasoningContent": {"text": piece}}
                    events.append(
                        ("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
                    )
            elif "toolUse" in block:
                use = block["toolUse"]
                start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
                events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
                delta = {"toolUse": {"input": json.dumps(use["input"])}}
                events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
            else:
                words = block["text"].split(" ")
                for n, word in enumerate(words):
                    delta = {"text": word if n == len(words) - 1 else word + " "}
                    events.append(
                        ("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
                    )
            events.append(("contentBlockStop", {"contentBlockIndex": index}))
        events.append(("messageStop", {"stopReason": stop}))
        events.append(("metadata", {"usage": usage, "metrics": {"latencyMs": 5}}))
        return events

    # -- HTTP --------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                from urllib.parse import unquote

                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                parts = self.path.split("?", 1)[0].split("/")
                if (
                    len(parts) != 4
                    or parts[1] != "model"
                    or parts[3] not in ("converse", "converse-stream")
                ):
                    self._error(404, "UnknownOperationException", f"no operation at {self.path}")
                    return
                model = unquote(parts[2])
                standin.requests.append({"model": model, "operation": parts[3], **body})
                if model not in standin.MODELS:
                    self._error(
                        400,
                        "ValidationException",
                        f"The provided model identifier is invalid: {model}",
                    )
                    return
                if parts[3] == "converse":
                    blocks, stop, usage = standin.answer(body)
                    self._json(
                        200,
                        {
                            "output": {"message": {"role": "assistant", "content": blocks}},
                            "stopReason": stop,
                            "usage": usage,
                            "metrics": {"latencyMs": 5},
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.amazon.eventstream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for kind, payload in standin.stream_events(body):
                    headers = {
                        ":event-type": kind,
                        ":content-type": "application/json",
                        ":message-type": "event",
                    }
                    data = frame(headers, json.dumps(payload).encode())
                    self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            def _json(self, status: int, payload: dict[str, Any], error: str | None = None) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error:
                    self.send_header("x-amzn-ErrorType", f"{error}:")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, code: str, message: str) -> None:
                self._json(status, {"message": message}, error=code)

        return Handler


# ---- services, started once per session --------------------------------------------------


@pytest.fixture(scope="session")
def engine_python() -> str:
    return serverproc.engine_python()


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return serverproc.tiny_cache(tmp_path_factory.mktemp)


@pytest.fixture(scope="session")
def containers(
    engine_python: str, tiny_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    """The tiny "chat" model and the tiny "tool" model (which always calls get_weather)."""
    logs = tmp_path_factory.mktemp("container")
    with chat_and_tool_containers(engine_python, tiny_cache, logs, SERVED_MODEL) as (chat, tool):
        yield {"chat": chat, "tool": tool}


def _tool_question_goes_to(tool_url: str) -> Callable[[bytes], str | None]:
    """A question sent with tools reaches the model that calls them; the follow-up that
    carries the tool's result (and everything else) reaches the chat model, so the notebook
    shows the whole round trip on real engine answers."""

    def route(body: bytes) -> str | None:
        try:
            request = json.loads(body)
        except ValueError:
            return None
        messages = request.get("messages") or [{}]
        if request.get("tools") and messages[-1].get("role") != "tool":
            return tool_url
        return None

    return route


@pytest.fixture(scope="session")
def sagemaker_runtime(containers: dict[str, Server]) -> Iterator[SageMakerRuntimeStandIn]:
    # Endpoint names are made by the notebook at run time: every name reaches a container.
    with SageMakerRuntimeStandIn(
        {},
        default_upstream=containers["chat"].url,
        route_body=_tool_question_goes_to(containers["tool"].url),
        seed=5,
    ) as standin:
        yield standin


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    with moto_sagemaker_fixes():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="session")
def bedrock_runtime() -> Iterator[BedrockRuntimeStandIn]:
    with BedrockRuntimeStandIn() as standin:
        yield standin

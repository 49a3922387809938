"""``gptoss-aws chat`` against the replayed container."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from test_backend_vllm_replay import (
    CONTENT,
    REASONING,
    TOOL_ARGUMENTS,
    ReplayServer,
)
from test_client_harness import FakeTracker

from gptoss_aws._cli_commands import chat
from gptoss_aws.backends.bedrock import BedrockBackend
from gptoss_aws.backends.openai_compat import OpenAICompatibleBackend
from gptoss_aws.backends.sagemaker import SageMakerBackend
from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.types import Cost


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    yield replay
    replay.stop()


def parse(argv: list[str], tracker_factory: Any = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gptoss-aws")
    chat.register(parser.add_subparsers(), tracker_factory=tracker_factory)
    return parser.parse_args(["chat", *argv])


def run(argv: list[str], tracker_factory: Any = None) -> str:
    args = parse(argv, tracker_factory)
    out = io.StringIO()
    assert chat.run(args, tracker_factory=tracker_factory, out=out) == 0
    return out.getvalue()


@pytest.mark.parametrize("stream", [False, True])
def test_chat_prints_reasoning_then_answer_then_usage_and_cost(
    server: ReplayServer, stream: bool
) -> None:
    tracker = FakeTracker()
    argv = ["--base-url", server.url, "--reasoning-effort", "low", "--tag", "team=cli", "hello"]
    output = run(argv + (["--stream"] if stream else []), lambda args: tracker)
    assert output == (
        f"reasoning: {REASONING}\n\n{CONTENT}\n\n"
        "usage: 68 prompt + 29 completion tokens (10 reasoning), finish: stop\n"
        "cost: $0.000097 (test: $1 per 1M tokens)\n"
    )
    body = server.seen[0].json()
    assert body["reasoning_effort"] == "low"
    assert body.get("stream", False) is stream
    assert dict(tracker.last.intent.tags) == {"team": "cli"}


def test_the_callable_registered_as_func_runs_the_command(
    server: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(["--base-url", server.url, "--no-track", "--hide-reasoning", "hi"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(CONTENT)
    assert "reasoning" not in printed.split("\n")[0]
    assert "cost: not tracked" in printed


def test_tool_calls_are_printed(server: ReplayServer) -> None:
    server.stream_chunks = lambda body: __import__("test_backend_vllm_replay").tool_stream_chunks()
    output = run(["--base-url", server.url, "--no-track", "--stream", "weather?"])
    assert f"tool call get_weather({TOOL_ARGUMENTS})" in output


def test_default_tracker_refuses_an_unpriced_server_with_a_hint(server: ReplayServer) -> None:
    with pytest.raises(UnpricedError, match="--allow-unpriced"):
        run(["--base-url", server.url, "hi"])
    assert server.seen == []


def test_default_tracker_records_a_priced_call_in_the_ledger(server: ReplayServer) -> None:
    output = run(
        [
            "--base-url",
            server.url,
            "--price-in",
            "1",
            "--price-out",
            "2",
            "--max-tokens",
            "64",
            "hi",
        ]
    )
    expected = (68 * Decimal(1) + 29 * Decimal(2)) / 1_000_000
    assert f"cost: ${expected:.8f}".rstrip("0") in output

    from gptoss_aws.ledger import open_ledger

    (row,) = open_ledger().query(backend="openai")
    assert (row.status, row.cost_usd, row.completion_tokens) == ("ok", expected, 29)


def test_unpriced_calls_are_recorded_when_allowed(server: ReplayServer) -> None:
    output = run(["--base-url", server.url, "--allow-unpriced", "--max-tokens", "8", "hi"])
    assert "cost: unpriced" in output


def test_the_backend_flags_build_the_right_client() -> None:
    args = parse(
        [
            "--sagemaker",
            "ep",
            "--inference-component",
            "ic",
            "--instance-type",
            "ml.p5.4xlarge",
            "--region",
            "us-west-2",
            "--timeout",
            "30",
            "--max-retries",
            "5",
            "hi",
        ]
    )
    client = chat.build_client(args, None)
    backend = client.backend
    assert isinstance(backend, SageMakerBackend)
    assert (backend.endpoint_name, backend.inference_component, backend.region) == (
        "ep",
        "ic",
        "us-west-2",
    )
    assert (client.timeout, client.max_retries) == (30, 5)
    bedrock = chat.build_client(parse(["--bedrock", "gpt-oss-20b", "hi"]), None).backend
    assert isinstance(bedrock, BedrockBackend)
    assert bedrock.model_id == "openai.gpt-oss-20b-1:0"
    server = chat.build_client(parse(["--base-url", "http://h:1", "--api-key", "k", "x"]), None)
    assert isinstance(server.backend, OpenAICompatibleBackend)
    assert server.backend.headers["Authorization"] == "Bearer k"


def test_bad_flags_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="KEY=VALUE"):
        run(["--base-url", "http://h:1", "--no-track", "--tag", "oops", "hi"])
    with pytest.raises(ConfigurationError, match="both --price-in and --price-out"):
        run(["--base-url", "http://h:1", "--price-in", "1", "hi"])
    with pytest.raises(SystemExit):
        parse(["--sagemaker", "a", "--bedrock", "b", "hi"])


def test_cost_lines_never_show_zero_for_unknown() -> None:
    assert chat.cost_line(None) == "cost: not tracked"
    assert "instance-hours" in chat.cost_line(Cost(usd=None, basis="instance_hours"))
    assert "unpriced" in chat.cost_line(Cost(usd=None, basis="unpriced"))
    assert chat.cost_line(Cost(usd=Decimal("1.5"), basis="per_token")) == "cost: $1.5000"

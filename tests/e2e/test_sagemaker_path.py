"""One call down the whole path and back into the ledger, for every way of calling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from conftest import CHAT_ENDPOINT, TOOL_ENDPOINT
from sagemaker_standin import SageMakerRuntimeStandIn
from tiny_tools import WEATHER_TOOL

from gptoss_aws import APIError, AsyncGptOss, GptOss, Tracker, open_ledger
from gptoss_aws.ledger import Ledger

# The tiny deterministic models' replies (inference_container/src/gptoss_tiny/script.py).
REASONING = "User says hello; reply warmly, for example:"
CONTENT = "Hello! How can I help you today?"
TOOL_REASONING = "Need current conditions, so ask the weather service:"
MESSAGES = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return open_ledger(tmp_path / "ledger.sqlite3")


def client(runtime: Any, ledger: Ledger, endpoint: str = CHAT_ENDPOINT) -> GptOss:
    return GptOss.sagemaker(
        endpoint,
        runtime_client=runtime,
        instance_type="ml.g6e.xlarge",  # declared: the stand-in has no DescribeEndpoint
        model="gpt-oss-20b",
        tracker=Tracker(ledger=ledger),
        tags={"team": "e2e"},
    )


def assert_row(ledger: Ledger, call_id: str | None, completion: int, reasoning: int) -> None:
    [row] = ledger.query()
    assert row.id == call_id
    assert (row.backend, row.endpoint, row.instance_type, row.model) == (
        "sagemaker",
        CHAT_ENDPOINT if completion == 29 else TOOL_ENDPOINT,
        "ml.g6e.xlarge",
        "gpt-oss-20b",
    )
    assert (row.status, row.usage_source, row.cost_basis) == ("ok", "reported", "instance_hours")
    assert (row.completion_tokens, row.reasoning_tokens) == (completion, reasoning)
    assert row.prompt_tokens > 0
    assert row.tags == {"team": "e2e"}
    assert row.latency_ms is not None
    assert row.latency_ms > 0


def test_a_plain_call_returns_reasoning_content_usage_and_a_ledger_row(
    runtime: Any, ledger: Ledger
) -> None:
    answer = client(runtime, ledger).chat.completions.create(
        messages=MESSAGES, max_tokens=64, reasoning_effort="low"
    )
    message = answer.choices[0].message
    assert (message.reasoning, message.content) == (REASONING, CONTENT)
    assert (answer.usage.completion_tokens, answer.usage.reasoning_tokens) == (29, 10)
    assert answer.cost is not None
    assert answer.cost.basis == "instance_hours"
    assert answer.cost.usd is None  # allocated over a window by reports, never a fake figure
    assert_row(ledger, answer.call_id, 29, 10)


def test_a_stream_split_at_random_bytes_reassembles_exactly(
    runtime: Any, ledger: Ledger, standin: SageMakerRuntimeStandIn
) -> None:
    before = len(standin.parts_sent)
    with client(runtime, ledger).chat.completions.create(
        messages=MESSAGES, max_tokens=64, stream=True
    ) as stream:
        chunks = list(stream)
        final = stream.final_completion()
    parts = standin.parts_sent[before:]
    body = b"".join(parts)
    events = body.count(b"data: ")
    # The split really was arbitrary: parts far outnumber events and cut events apart.
    assert len(parts) > events
    assert any(not p.endswith(b"\n\n") for p in parts)
    reasoning = "".join(c.choices[0].delta.reasoning or "" for c in chunks if c.choices)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, content) == (REASONING, CONTENT)
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.completion_tokens, chunks[-1].usage.reasoning_tokens) == (29, 10)
    assert final.choices[0].message.content == CONTENT
    assert_row(ledger, stream.call_id, 29, 10)


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_travels_the_whole_path(runtime: Any, ledger: Ledger, stream: bool) -> None:
    gpt = client(runtime, ledger, TOOL_ENDPOINT)
    if stream:
        with gpt.chat.completions.create(
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL],
            max_tokens=128,
            stream=True,
        ) as chunks:
            for _ in chunks:
                pass
            answer = chunks.final_completion()
            call_id = chunks.call_id
    else:
        answer = gpt.chat.completions.create(
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL],
            max_tokens=128,
        )
        call_id = answer.call_id
    message = answer.choices[0].message
    assert message.reasoning == TOOL_REASONING
    assert message.tool_calls is not None
    [call] = message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert answer.choices[0].finish_reason == "tool_calls"
    assert_row(ledger, call_id, 35, 16)


def test_a_stream_cut_off_half_way_is_still_in_the_ledger(
    containers: dict[str, Any], ledger: Ledger
) -> None:
    endpoints = {CHAT_ENDPOINT: containers[CHAT_ENDPOINT].url}
    with SageMakerRuntimeStandIn(endpoints, seed=3, max_part=48, cut_after_bytes=700) as cut:
        runtime = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=cut.url)
        received = ""
        gpt = client(runtime, ledger)
        with (  # noqa: PT012 - the error comes while iterating
            pytest.raises(APIError),
            gpt.chat.completions.create(messages=MESSAGES, max_tokens=64, stream=True) as s,
        ):
            for chunk in s:
                if chunk.choices:
                    received += chunk.choices[0].delta.reasoning or ""
    [row] = ledger.query()
    assert row.status in ("error", "aborted")
    assert row.usage_source == "estimated"
    assert 0 < len(received) < len(REASONING + CONTENT)
    assert row.completion_tokens > 0  # what arrived is counted, not dropped
    assert row.completion_tokens < 29


def test_the_async_client_takes_the_same_path(runtime: Any, ledger: Ledger) -> None:
    async def call() -> Any:
        async with AsyncGptOss.sagemaker(
            CHAT_ENDPOINT,
            runtime_client=runtime,
            instance_type="ml.g6e.xlarge",
            model="gpt-oss-20b",
            tracker=Tracker(ledger=ledger),
            tags={"team": "e2e"},
        ) as gpt:
            return await gpt.chat.completions.create(messages=MESSAGES, max_tokens=64)

    answer = anyio.run(call)
    assert answer.choices[0].message.content == CONTENT
    assert_row(ledger, answer.call_id, 29, 10)


def test_a_container_error_comes_back_as_the_right_exception(runtime: Any, ledger: Ledger) -> None:
    from gptoss_aws import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="max_tokens"):
        client(runtime, ledger).chat.completions.create(messages=MESSAGES, max_tokens=10**6)
    [row] = ledger.query()
    assert (row.status, row.error_kind) == ("error", "InvalidRequestError")

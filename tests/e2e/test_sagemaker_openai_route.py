"""``GptOss.sagemaker_openai``: the SDK through SageMaker's OpenAI-compatible route, the
runtime stand-in and the real container on CPU, into the ledger.

AWS, "Invoke endpoints with OpenAI-compatible APIs"
(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html):
"SageMaker AI endpoints expose an `/openai/v1/chat/completions` path that accepts Chat
Completions requests and returns responses directly from the container, including
streaming"; "The container must implement the `/v1/chat/completions` path and return streaming
responses in SSE format"; "SageMaker AI OpenAI-compatible endpoints use bearer token
authentication". The stand-in checks the token the SDK mints and forwards the body as sent to
the container's ``/v1/chat/completions``.

A row of this route must equal the row ``GptOss.sagemaker`` (InvokeEndpoint) writes for the
same call on the same endpoint, but for the backend name: both are instance-hours shares of
one endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import CHAT_ENDPOINT, TOOL_ENDPOINT
from sagemaker_standin import SageMakerRuntimeStandIn
from serverproc import Server
from tiny_tools import WEATHER_TOOL

from gptoss_aws import AsyncGptOss, GptOss, InvalidRequestError, Tracker, open_ledger
from gptoss_aws.ledger import Ledger
from gptoss_aws.types import CallRecord

# The tiny deterministic models' replies (inference_container/src/gptoss_tiny/script.py).
REASONING = "User says hello; reply warmly, for example:"
CONTENT = "Hello! How can I help you today?"
TOOL_REASONING = "Need current conditions, so ask the weather service:"
MESSAGES = [{"role": "user", "content": "Hello there"}]
COMPONENT = "gptoss-chat-ic"
INSTANCE = "ml.g6e.xlarge"  # declared: the stand-in has no DescribeEndpoint


@pytest.fixture(scope="module")
def route_standin(containers: dict[str, Server]) -> Iterator[SageMakerRuntimeStandIn]:
    chat = containers[CHAT_ENDPOINT].url
    with SageMakerRuntimeStandIn(
        {name: server.url for name, server in containers.items()},
        inference_components={COMPONENT: chat},
        seed=5,
        max_part=48,
    ) as running:
        yield running


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(tmp_path / "ledger.sqlite3")
    yield opened
    opened.close()


def route(
    cls: Any,
    standin: SageMakerRuntimeStandIn,
    ledger: Ledger,
    endpoint: str = CHAT_ENDPOINT,
    **kwargs: Any,
) -> Any:
    return cls.sagemaker_openai(
        endpoint,
        "us-east-1",
        endpoint_url=standin.url,
        instance_type=INSTANCE,
        model="gpt-oss-20b",
        tracker=Tracker(ledger=ledger),
        tags={"team": "e2e"},
        **kwargs,
    )


def invoke(runtime: Any, ledger: Ledger, endpoint: str = CHAT_ENDPOINT) -> GptOss:
    return GptOss.sagemaker(
        endpoint,
        runtime_client=runtime,
        instance_type=INSTANCE,
        model="gpt-oss-20b",
        tracker=Tracker(ledger=ledger),
        tags={"team": "e2e"},
    )


def comparable(row: CallRecord) -> dict[str, Any]:
    skip = {"id", "backend", "started_at", "ended_at", "latency_ms", "ttft_ms", "process_id"}
    return {k: v for k, v in row.model_dump().items() if k not in skip}


def test_a_call_answers_with_reasoning_and_a_row_like_invoke_endpoints(
    route_standin: SageMakerRuntimeStandIn, runtime: Any, ledger: Ledger
) -> None:
    answer = route(GptOss, route_standin, ledger).chat.completions.create(
        messages=MESSAGES, max_tokens=64, reasoning_effort="low"
    )
    message = answer.choices[0].message
    assert (message.reasoning, message.content) == (REASONING, CONTENT)
    assert (answer.usage.completion_tokens, answer.usage.reasoning_tokens) == (29, 10)
    assert answer.cost is not None
    assert (answer.cost.basis, answer.cost.usd) == ("instance_hours", None)
    _, sent = route_standin.openai_forwarded[-1]
    assert json.loads(sent)["model"] == "gpt-oss-20b"  # passed through, as sent

    invoke(runtime, ledger).chat.completions.create(
        messages=MESSAGES, max_tokens=64, reasoning_effort="low"
    )
    by_backend = {r.backend: r for r in ledger.query()}
    assert set(by_backend) == {"sagemaker", "sagemaker_openai"}
    assert comparable(by_backend["sagemaker_openai"]) == comparable(by_backend["sagemaker"])
    row = by_backend["sagemaker_openai"]
    assert (row.endpoint, row.instance_type, row.status, row.usage_source) == (
        CHAT_ENDPOINT,
        INSTANCE,
        "ok",
        "reported",
    )


def test_a_stream_reassembles_with_usage_like_invoke_endpoints(
    route_standin: SageMakerRuntimeStandIn, runtime: Any, ledger: Ledger
) -> None:
    for client in (route(GptOss, route_standin, ledger), invoke(runtime, ledger)):
        with client.chat.completions.create(
            messages=MESSAGES, max_tokens=64, stream=True
        ) as stream:
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            final = stream.final_completion()
        assert text == CONTENT
        assert final.choices[0].message.reasoning == REASONING
    rows = {r.backend: r for r in ledger.query()}
    assert comparable(rows["sagemaker_openai"]) == comparable(rows["sagemaker"])
    assert (rows["sagemaker_openai"].completion_tokens, rows["sagemaker_openai"].stream) == (
        29,
        True,
    )


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_through_the_route(
    route_standin: SageMakerRuntimeStandIn, ledger: Ledger, stream: bool
) -> None:
    gpt = route(GptOss, route_standin, ledger, TOOL_ENDPOINT)
    request: dict[str, Any] = {
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "max_tokens": 128,
    }
    if stream:
        with gpt.chat.completions.create(**request, stream=True) as chunks:
            for _ in chunks:
                pass
            answer = chunks.final_completion()
    else:
        answer = gpt.chat.completions.create(**request)
    message = answer.choices[0].message
    assert message.reasoning == TOOL_REASONING
    assert message.tool_calls is not None
    [call] = message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris"},
    )
    [row] = ledger.query()
    assert (row.backend, row.endpoint, row.completion_tokens, row.reasoning_tokens) == (
        "sagemaker_openai",
        TOOL_ENDPOINT,
        35,
        16,
    )


def test_an_inference_component_async(
    route_standin: SageMakerRuntimeStandIn, containers: dict[str, Server], ledger: Ledger
) -> None:
    async def main() -> tuple[str, str]:
        async with route(
            AsyncGptOss, route_standin, ledger, inference_component=COMPONENT, variant="AllTraffic"
        ) as client:
            answer = await client.chat.completions.create(messages=MESSAGES, max_tokens=64)
            stream = await client.chat.completions.create(
                messages=MESSAGES, max_tokens=64, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return answer.choices[0].message.content or "", text

    assert anyio.run(main) == (CONTENT, CONTENT)
    url, _ = route_standin.openai_forwarded[-1]
    assert url == containers[CHAT_ENDPOINT].url + "/v1/chat/completions"
    rows = ledger.query()
    assert {(r.backend, r.inference_component, r.variant) for r in rows} == {
        ("sagemaker_openai", COMPONENT, "AllTraffic")
    }


def test_a_container_error_is_the_containers_own_and_the_row_says_error(
    route_standin: SageMakerRuntimeStandIn, ledger: Ledger
) -> None:
    with pytest.raises(InvalidRequestError, match=r"^sagemaker_openai: .*\(HTTP 400\)"):
        route(GptOss, route_standin, ledger).chat.completions.create(
            messages=[{"role": "user", "content": "Hello"}], max_tokens=10**9
        )
    [row] = ledger.query()
    assert (row.backend, row.status, row.error_kind) == (
        "sagemaker_openai",
        "error",
        "InvalidRequestError",
    )

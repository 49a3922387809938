"""``client.responses.create`` down the whole path: the SDK's SageMaker backend -> boto3
(InvokeEndpoint / InvokeEndpointWithResponseStream with ``CustomAttributes=
"route=/v1/responses"``) -> the SageMaker runtime stand-in -> our container -> vLLM 0.32.0's
/v1/responses on CPU, and back into the ledger.

A two-turn tool conversation: turn 1 goes to the "tool" model (it reasons, then calls
get_weather); turn 2 carries turn 1's output items as they came (the reasoning item with its
text, the function_call) plus the tool's result, and goes to the "chat" model (it reasons,
then answers). Both tiny models render prompts with the same harmony encoding, so what turn
2's rendered prompt shows (turn 1's reasoning on the analysis channel) is vLLM's and the
container's doing, not the model's (tests/container/test_responses_and_openai_route.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import CHAT_ENDPOINT, TOOL_ENDPOINT
from sagemaker_standin import SageMakerRuntimeStandIn
from serverproc import Server, serve_tiny

from gptoss_aws import AsyncGptOss, GptOss, Tracker, open_ledger
from gptoss_aws.ledger import Ledger
from gptoss_aws.streaming import AsyncResponseStream, ResponseStream
from gptoss_aws.types import CallRecord, FunctionCallItem, ReasoningItem, Response

# The tiny deterministic models' replies (inference_container/src/gptoss_tiny/script.py) and
# vLLM's token counts for them (the same as on the chat route: tests/e2e/test_sagemaker_path.py).
TOOL_REASONING = "Need current conditions, so ask the weather service:"
CHAT_REASONING = "User says hello; reply warmly, for example:"
CHAT_CONTENT = "Hello! How can I help you today?"
TOOL_TOKENS = (35, 16)  # (output, reasoning) of turn 1
CHAT_TOKENS = (29, 10)  # of turn 2
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
QUESTION = {"role": "user", "content": "What's the weather in Paris?"}
TOOL_RESULT = '{"temperature_c": 18, "sky": "sunny"}'


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return open_ledger(tmp_path / "ledger.sqlite3")


def make(cls: type[Any], runtime: Any, ledger: Ledger, endpoint: str) -> Any:
    return cls.sagemaker(
        endpoint,
        runtime_client=runtime,
        instance_type="ml.g6e.xlarge",  # declared: the stand-in has no DescribeEndpoint
        model="gpt-oss-20b",
        # The caller's own attribute rides along; its route is replaced for Responses.
        custom_attributes="route=/v1/chat/completions,trace=e2e",
        tracker=Tracker(ledger=ledger),
        tags={"team": "e2e"},
    )


def analysis_texts(response: Response) -> list[str]:
    """Analysis-channel texts of the harmony messages vLLM rendered for this turn (its
    ``enable_response_messages`` extension)."""
    messages = (response.model_extra or {}).get("input_messages") or []
    return [
        part.get("text", "")
        for message in messages
        if message.get("channel") == "analysis"
        for part in message.get("content") or []
        if isinstance(part, dict)
    ]


def converse(runtime: Any, ledger: Ledger, flavor: str, stream: bool) -> tuple[Response, Response]:
    """Turn 1 to the tool model, turn 2 (carrying turn 1's items) to the chat model."""
    turn1_args: dict[str, Any] = {"input": [QUESTION], "tools": [WEATHER], "max_output_tokens": 128}

    def turn2_args(turn1: Response) -> dict[str, Any]:
        [call] = turn1.function_calls
        result = {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_RESULT}
        return {
            # The earlier output items go back as they came: reasoning (with its text) and
            # the call, then the tool's result.
            "input": [QUESTION, *turn1.output, result],
            "tools": [WEATHER],
            "max_output_tokens": 128,
            "extra_body": {"enable_response_messages": True},
        }

    if flavor == "sync":

        def once(client: GptOss, args: dict[str, Any]) -> Response:
            if not stream:
                answer: Response = client.responses.create(**args)
                return answer
            stream_: ResponseStream = client.responses.create(**args, stream=True)
            with stream_ as events:
                kinds = [event.type for event in events]
                assert kinds[0] == "response.created"
                assert kinds[-1] == "response.completed"
                return events.final_response()

        with make(GptOss, runtime, ledger, TOOL_ENDPOINT) as tool:
            turn1 = once(tool, turn1_args)
        with make(GptOss, runtime, ledger, CHAT_ENDPOINT) as chat:
            turn2 = once(chat, turn2_args(turn1))
        return turn1, turn2

    async def aonce(client: AsyncGptOss, args: dict[str, Any]) -> Response:
        if not stream:
            answer: Response = await client.responses.create(**args)
            return answer
        astream: AsyncResponseStream = await client.responses.create(**args, stream=True)
        async with astream as events:
            kinds = [event.type async for event in events]
            assert kinds[-1] == "response.completed"
            return events.final_response()

    async def main() -> tuple[Response, Response]:
        async with make(AsyncGptOss, runtime, ledger, TOOL_ENDPOINT) as tool:
            turn1 = await aonce(tool, turn1_args)
        async with make(AsyncGptOss, runtime, ledger, CHAT_ENDPOINT) as chat:
            turn2 = await aonce(chat, turn2_args(turn1))
        return turn1, turn2

    return asyncio.run(main())


def assert_rows(rows: list[CallRecord], turn1: Response, turn2: Response, stream: bool) -> None:
    assert len(rows) == 2
    for row, response, endpoint, tokens in (
        (rows[0], turn1, TOOL_ENDPOINT, TOOL_TOKENS),
        (rows[1], turn2, CHAT_ENDPOINT, CHAT_TOKENS),
    ):
        assert row.id == response.call_id
        assert (row.backend, row.endpoint, row.instance_type, row.model) == (
            "sagemaker",
            endpoint,
            "ml.g6e.xlarge",
            "gpt-oss-20b",
        )
        assert (row.status, row.usage_source) == ("ok", "reported")
        assert row.cost_basis == "instance_hours"
        assert (row.completion_tokens, row.reasoning_tokens) == tokens
        assert response.usage is not None
        assert row.prompt_tokens == response.usage.input_tokens
        assert row.stream is stream
        assert row.tags == {"team": "e2e"}
        assert response.cost is not None
        assert (response.cost.basis, response.cost.usd) == ("instance_hours", None)
    # Turn 2's prompt holds turn 1's question, reasoning, call and the tool's result.
    assert rows[1].prompt_tokens > rows[0].prompt_tokens


@pytest.mark.parametrize(
    ("flavor", "stream"),
    [("sync", False), ("sync", True), ("async", False), ("async", True)],
    ids=["sync", "sync-stream", "async", "async-stream"],
)
def test_a_tool_conversation_carries_the_reasoning_over_and_is_recorded(
    runtime: Any, ledger: Ledger, standin: SageMakerRuntimeStandIn, flavor: str, stream: bool
) -> None:
    turn1, turn2 = converse(runtime, ledger, flavor, stream)

    reasoning, call = turn1.output
    assert isinstance(reasoning, ReasoningItem)
    assert reasoning.text == TOOL_REASONING
    assert isinstance(call, FunctionCallItem)
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert turn1.usage is not None
    assert (turn1.usage.output_tokens, turn1.usage.reasoning_tokens) == TOOL_TOKENS

    assert (turn2.reasoning_text, turn2.output_text) == (CHAT_REASONING, CHAT_CONTENT)
    assert turn2.usage is not None
    assert (turn2.usage.output_tokens, turn2.usage.reasoning_tokens) == CHAT_TOKENS
    if not stream:
        # The engine rendered turn 1's reasoning into turn 2's prompt (analysis channel).
        assert TOOL_REASONING in analysis_texts(turn2)

    rows = sorted(ledger.query(), key=lambda row: row.started_at)
    assert_rows(rows, turn1, turn2, stream)


def test_a_responses_row_has_the_cost_basis_and_columns_of_a_chat_row(
    runtime: Any, ledger: Ledger
) -> None:
    with make(GptOss, runtime, ledger, CHAT_ENDPOINT) as client:
        chat = client.chat.completions.create(
            messages=[{"role": "user", "content": "Hello there"}], max_tokens=64
        )
        response = client.responses.create(input="Hello there", max_output_tokens=64)
    assert response.output_text == chat.choices[0].message.content
    by_id = {row.id: row for row in ledger.query()}
    chat_row, responses_row = by_id[chat.call_id or ""], by_id[response.call_id or ""]
    differ = {"id", "started_at", "ended_at", "latency_ms", "ttft_ms", "process_id"}
    differ |= {"prompt_tokens", "reserved_tokens"}  # the two APIs render the prompt differently
    same = set(CallRecord.model_fields) - differ
    assert {f: getattr(responses_row, f) for f in same} == {f: getattr(chat_row, f) for f in same}
    assert (responses_row.completion_tokens, responses_row.reasoning_tokens) == CHAT_TOKENS
    assert responses_row.cost_basis == "instance_hours"


# ---- one client, one endpoint: the tiny "agent" model runs the whole conversation ----------

AGENT_ENDPOINT = "gptoss-agent"
AGENT_ANSWER = "It is sunny and mild in Paris."  # once the tool's result (ending '"}') is in
AGENT_TOKENS = (12, 0)  # (output, reasoning) of its answer


@pytest.fixture(scope="module")
def agent_standin(
    engine_python: str, tiny_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SageMakerRuntimeStandIn]:
    """A stand-in endpoint serving the tiny "agent" model (gptoss_tiny): it reasons and
    calls get_weather, and answers once the prompt ends with the tool's result."""
    logs = tmp_path_factory.mktemp("agent-logs")
    server: Server = serve_tiny(engine_python, tiny_cache, logs, "agent", served_name="gpt-oss-20b")
    try:
        with SageMakerRuntimeStandIn({AGENT_ENDPOINT: server.url}, seed=3, max_part=32) as standin:
            yield standin
    finally:
        server.stop()


@pytest.fixture
def agent_runtime(agent_standin: SageMakerRuntimeStandIn) -> Any:
    # Per test: the fake AWS credentials are set per test (conftest's _fake_aws).
    return boto3.client(
        "sagemaker-runtime", region_name="us-east-1", endpoint_url=agent_standin.url
    )


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_one_client_runs_a_whole_tool_conversation_on_one_endpoint(
    agent_runtime: Any, ledger: Ledger, stream: bool
) -> None:
    def ask(client: GptOss, **args: Any) -> Response:
        if not stream:
            answer: Response = client.responses.create(**args)
            return answer
        events: ResponseStream = client.responses.create(**args, stream=True)
        with events:
            for _ in events:
                pass
            return events.final_response()

    with make(GptOss, agent_runtime, ledger, AGENT_ENDPOINT) as client:
        turn1 = ask(client, input=[QUESTION], tools=[WEATHER], max_output_tokens=128)
        assert turn1.reasoning_text == TOOL_REASONING
        [call] = turn1.function_calls
        result = {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_RESULT}
        turn2 = ask(
            client,
            input=[QUESTION, *turn1.output, result],
            tools=[WEATHER],
            max_output_tokens=128,
            extra_body={"enable_response_messages": True},
        )
    assert turn2.output_text == AGENT_ANSWER
    if not stream:
        assert TOOL_REASONING in analysis_texts(turn2)
    rows = sorted(ledger.query(), key=lambda row: row.started_at)
    assert [(r.completion_tokens, r.reasoning_tokens) for r in rows] == [TOOL_TOKENS, AGENT_TOKENS]
    assert [r.endpoint for r in rows] == [AGENT_ENDPOINT, AGENT_ENDPOINT]
    assert [r.id for r in rows] == [turn1.call_id, turn2.call_id]
    assert all((r.status, r.usage_source, r.stream) == ("ok", "reported", stream) for r in rows)
    assert turn2.usage is not None
    assert rows[1].prompt_tokens == turn2.usage.input_tokens > rows[0].prompt_tokens

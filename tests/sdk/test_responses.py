"""``client.responses.create``: vLLM 0.32.0's real Responses payloads replayed by a real HTTP
server (OpenAI-compatible path) and in SageMaker's event-stream framing (botocore parses real
frames), sync and async, and the ledger rows they make.

The payloads under fixtures/vllm-0.32.0-responses/ are what the container (vLLM 0.32.0
serving the tiny deterministic gpt-oss, tests/support/serverproc.py) answered on
``POST /v1/responses``: turn 1 of a tool conversation (the "tool" model: reasoning, then a
get_weather call), turn 2 carrying turn 1's output items and the tool's result (the "chat"
model: reasoning, then an answer), and a plain "Hello there", each as JSON and as SSE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sagemaker_standin.eventstream import exception_event
from test_backend_vllm_replay import (
    ReplayServer,
    Reply,
    error_reply,
    json_reply,
    sse_reply,
)
from test_client_harness import FakeTracker, Harness, Sleeps, no_sleep_policy

from gptoss_aws import AsyncGptOss, Budget, GptOss, Tracker, open_ledger
from gptoss_aws.backends._responses_wire import ResponseEventParser
from gptoss_aws.backends.sagemaker import responses_custom_attributes
from gptoss_aws.errors import (
    APIConnectionError,
    BudgetExceededError,
    ConfigurationError,
    InvalidRequestError,
    ModelError,
)
from gptoss_aws.pricing.records import TokenPrice
from gptoss_aws.types import (
    FunctionCallItem,
    OtherOutputItem,
    OutputMessage,
    ReasoningItem,
    Response,
    ResponseStreamEvent,
)

FIXTURES = Path(__file__).parent / "fixtures" / "vllm-0.32.0-responses"
TOOL_REASONING = "Need current conditions, so ask the weather service:"
CHAT_REASONING = "User says hello; reply warmly, for example:"
CHAT_CONTENT = "Hello! How can I help you today?"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
QUESTION = {"role": "user", "content": "What's the weather in Paris?"}
ENDPOINT = "gpt-oss-ep"


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def fixture_sse(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sse_events(name: str) -> list[dict[str, Any]]:
    """The data JSON of each event of a recorded stream."""
    return [
        json.loads(line[len("data: ") :])
        for line in fixture_sse(name).decode().splitlines()
        if line.startswith("data: ")
    ]


# ---- the replay server, answering Responses like the container ---------------------------


def responses_default(server: ReplayServer, seen: Any, chat: Any) -> Reply:
    body = seen.json() if seen.body else {}
    if "messages" in body:
        answer: Reply = chat(seen)  # a chat call: the recorded chat answers
        return answer
    turn2 = any(
        isinstance(i, dict) and i.get("type") == "function_call_output"
        for i in body.get("input") or ()
    )
    name = "turn2" if turn2 else "turn1" if body.get("tools") else "hello"
    if seen.path.endswith("/invocations-response-stream"):
        return server.sagemaker_stream(fixture_sse(f"{name}.sse"))
    if body.get("stream"):
        return sse_reply(fixture_sse(f"{name}.sse"), server.sse_split)
    return json_reply(fixture_json(f"{name}.json"))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    chat = replay.default
    replay.default = lambda seen: responses_default(replay, seen, chat)  # type: ignore[method-assign]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", replay.url)
    yield replay
    replay.stop()


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def openai_factory(server: ReplayServer, tracker: Any, sleeps: Sleeps) -> Any:
    def factory(cls: type[Any]) -> Any:
        return cls.openai_compatible(
            server.url,
            model="gpt-oss-20b",
            tracker=tracker,
            retry_policy=no_sleep_policy(sleeps),
        )

    return factory


def sagemaker_factory(tracker: Any, sleeps: Sleeps, **extra: Any) -> Any:
    def factory(cls: type[Any]) -> Any:
        options: dict[str, Any] = {
            "inference_component": "gpt-oss-ic",
            "instance_type": "ml.g6e.xlarge",
            "variant": "AllTraffic",
            "model": "gpt-oss-20b",
            "custom_attributes": "route=/v1/chat/completions;trace=abc",
            **extra,
        }
        return cls.sagemaker(
            ENDPOINT, tracker=tracker, retry_policy=no_sleep_policy(sleeps), **options
        )

    return factory


@pytest.fixture(params=["openai-sync", "openai-async", "sagemaker-sync", "sagemaker-async"])
def harness(
    request: pytest.FixtureRequest, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> Harness:
    backend, flavor = request.param.split("-")
    if backend == "openai":
        return Harness(flavor, openai_factory(server, tracker, sleeps))
    return Harness(flavor, sagemaker_factory(tracker, sleeps))


def run(harness: Harness, **kwargs: Any) -> Response:
    def sync_op(client: GptOss) -> Response:
        answer: Response = client.responses.create(**kwargs)
        return answer

    async def async_op(client: AsyncGptOss) -> Response:
        answer: Response = await client.responses.create(**kwargs)
        return answer

    result = harness._run(sync_op if harness.flavor == "sync" else async_op)
    assert isinstance(result, Response)
    return result


def run_stream(
    harness: Harness, take: int | None = None, **kwargs: Any
) -> tuple[list[ResponseStreamEvent], Response, Any]:
    """The events of a streamed call (only ``take`` of them, then close()), the stream's
    final response and its cost."""
    kwargs["stream"] = True

    def sync_op(client: GptOss) -> Any:
        events = []
        with client.responses.create(**kwargs) as stream:
            for event in stream:
                events.append(event)
                if take is not None and len(events) == take:
                    break
        return events, stream.final_response(), stream.cost

    async def async_op(client: AsyncGptOss) -> Any:
        events = []
        async with await client.responses.create(**kwargs) as stream:
            async for event in stream:
                events.append(event)
                if take is not None and len(events) == take:
                    break
        return events, stream.final_response(), stream.cost

    return harness._run(sync_op if harness.flavor == "sync" else async_op)  # type: ignore[no-any-return]


# ---- types -----------------------------------------------------------------------------------


def test_a_recorded_response_parses_into_typed_items_and_usage() -> None:
    turn1 = Response.model_validate(fixture_json("turn1.json"))
    reasoning, call = turn1.output
    assert isinstance(reasoning, ReasoningItem)
    assert reasoning.text == TOOL_REASONING
    assert isinstance(call, FunctionCallItem)
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert turn1.function_calls == [call]
    assert turn1.output_text == ""
    assert turn1.usage is not None
    assert (turn1.usage.input_tokens, turn1.usage.output_tokens) == (125, 35)
    assert turn1.usage.reasoning_tokens == 16
    assert turn1.usage.input_tokens_details.cached_tokens == 0
    usage = turn1.usage.to_usage()
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (125, 35, 16)

    turn2 = Response.model_validate(fixture_json("turn2.json"))
    assert [type(i) for i in turn2.output] == [ReasoningItem, OutputMessage]
    assert (turn2.reasoning_text, turn2.output_text) == (CHAT_REASONING, CHAT_CONTENT)
    # vLLM's own extras survive (servers add fields; we never drop them).
    assert turn1.model_extra is not None
    assert turn1.model_extra["parallel_tool_calls"] is True


def test_an_unknown_output_item_is_kept_with_every_field() -> None:
    data = fixture_json("turn2.json")
    search = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"q": "x"}}
    data["output"] = [search, *data["output"]]
    response = Response.model_validate(data)
    assert isinstance(response.output[0], OtherOutputItem)
    assert response.output[0].model_dump(mode="json") == search
    assert response.output_text == CHAT_CONTENT


def test_parts_of_other_kinds_do_not_make_a_response_unreadable() -> None:
    """A reasoning part of another type, a refusal part: kept, the rest still readable."""
    data = fixture_json("turn2.json")
    reasoning, message = data["output"]
    reasoning["content"].append({"type": "text", "text": "!"})
    message["content"].append({"type": "refusal", "refusal": "no"})
    response = Response.model_validate(data)
    assert response.reasoning_text == CHAT_REASONING + "!"
    assert response.output_text == CHAT_CONTENT
    assert response.output[1].model_dump(mode="json")["content"][1] == {
        "type": "refusal",
        "refusal": "no",
    }


@pytest.mark.parametrize("name", ["turn1.sse", "turn2.sse", "hello.sse"])
def test_every_recorded_event_dumps_back_to_the_json_the_server_sent(name: str) -> None:
    parser = ResponseEventParser("openai")
    events = parser.feed(fixture_sse(name)) + parser.feed(None)
    assert [e.model_dump(mode="json") for e in events] == sse_events(name)
    assert events[-1].type == "response.completed"
    assert events[-1].response is not None
    assert events[-1].response.usage is not None
    done = [e for e in events if e.type == "response.output_item.done"]
    assert all(e.item is not None for e in done)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_events_are_the_same_for_any_split_of_the_bytes(data: st.DataObject) -> None:
    raw = fixture_sse("turn1.sse")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(raw) - 1), max_size=40)))
    parts = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    parser = ResponseEventParser("sagemaker")
    events = [e for part in parts for e in parser.feed(part)] + parser.feed(None)
    assert [e.model_dump(mode="json") for e in events] == sse_events("turn1.sse")


def test_the_event_parser_fails_when_the_recorded_framing_is_broken() -> None:
    """The check above, seen failing once: a stream whose event is cut mid-JSON."""
    raw = fixture_sse("turn1.sse")
    broken = raw[: raw.index(b'"sequence_number":5') + 5] + b"\n\n"
    parser = ResponseEventParser("openai")
    with pytest.raises(APIConnectionError, match="malformed"):
        parser.feed(broken)


# ---- request checks: refused before anything is sent or recorded ---------------------------

BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"input": ""}, "empty string"),
    ({"input": 5}, "non-empty string or a non-empty list"),
    ({"input": []}, "non-empty"),
    ({"input": ["hi"]}, r"input\[0\] must be an input item"),
    ({"input": [{"role": "tool", "content": "x"}]}, "role 'tool'"),
    ({"input": [{"role": "user"}]}, "needs 'content'"),
    (
        {"input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
        "without a string 'arguments'",
    ),
    (
        {"input": [QUESTION, {"type": "function_call_output", "call_id": "c", "output": "x"}]},
        "no function_call with that call_id",
    ),
    (
        {"input": [{"type": "reasoning", "content": [{"type": "reasoning_text"}]}]},
        r"content\[0\] must be",
    ),
    ({"input": "hi", "tools": [{"type": "function", "function": {"name": "f"}}]}, "Chat Comp"),
    ({"input": "hi", "tools": [{"type": "function"}]}, "without a 'name'"),
    ({"input": "hi", "tool_choice": "any"}, "tool_choice must be one of"),
    ({"input": "hi", "reasoning": {"effort": "max"}}, "low, medium, high"),
    ({"input": "hi", "reasoning": "low"}, "reasoning must be a dict"),
    ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens must be a positive"),
    ({"input": "hi", "temperature": 3}, "temperature must be between 0 and 2"),
    ({"input": "hi", "top_p": 1.5}, "top_p must be between 0 and 1"),
    ({"input": "hi", "metadata": {"k": 1}}, "metadata must map str to str"),
    ({"input": "hi", "metadata": {str(i): "v" for i in range(17)}}, "at most 16"),
    ({"input": "hi", "stream": "yes"}, "stream must be True or False"),
    ({"input": "hi", "extra_body": []}, "extra_body must be a dict"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_REQUESTS)
def test_bad_input_is_refused_before_anything_is_sent_or_recorded(
    harness: Harness,
    server: ReplayServer,
    tracker: FakeTracker,
    kwargs: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        run(harness, **kwargs)
    assert server.seen == []
    assert tracker.calls == []


def test_bedrock_converse_refuses_responses_and_says_where_it_is_served() -> None:
    """AWS, https://docs.aws.amazon.com/bedrock/latest/userguide/inference-responses-api.html:
    "bedrock-mantle (compatibility) | https://bedrock-mantle.{region}.api.aws/v1 | Existing
    applications and workloads that require Mantle-only support, such as Responses API access
    to GPT OSS models"."""
    tracker = FakeTracker()
    client = GptOss.bedrock("gpt-oss-20b", region="us-east-1", tracker=tracker)
    with pytest.raises(ConfigurationError) as caught:
        client.responses.create(input="hi")
    message = str(caught.value)
    assert "Mantle" in message
    assert "GptOss.bedrock_mantle(...)" in message
    assert "OpenAI-compatible server" in message  # the backends that do serve it
    assert "SageMaker" in message
    assert tracker.calls == []


def test_async_bedrock_refuses_too() -> None:
    import asyncio

    async def main() -> None:
        client = AsyncGptOss.bedrock("gpt-oss-20b", region="us-east-1", tracker=None)
        with pytest.raises(ConfigurationError, match="bedrock_mantle"):
            await client.responses.create(input="hi")

    asyncio.run(main())


# ---- over the wire -----------------------------------------------------------------------------


def test_a_tool_turn_is_sent_as_a_responses_body_and_recorded(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    response = run(
        harness,
        input=[QUESTION],
        instructions="Be brief.",
        tools=[WEATHER],
        tool_choice="auto",
        reasoning={"effort": "low"},
        max_output_tokens=128,
        temperature=0.5,
        metadata={"ticket": "42"},
        tags={"team": "search"},
        extra_body={"vllm_extra": 1},
    )
    [seen] = server.seen
    body = seen.json()
    if harness.factory.__qualname__.startswith("sagemaker"):
        assert seen.path == f"/endpoints/{ENDPOINT}/invocations"
        # The container's route, then the caller's own attributes (their route replaced).
        assert seen.headers["X-Amzn-SageMaker-Custom-Attributes"] == "route=/v1/responses,trace=abc"
        assert seen.headers["X-Amzn-SageMaker-Inference-Component"] == "gpt-oss-ic"
    else:
        assert seen.path == "/v1/responses"
    assert body == {
        "model": "gpt-oss-20b",
        "input": [QUESTION],
        "instructions": "Be brief.",
        "tools": [WEATHER],
        "tool_choice": "auto",
        "reasoning": {"effort": "low"},
        "max_output_tokens": 128,
        "temperature": 0.5,
        "metadata": {"ticket": "42"},
        "vllm_extra": 1,
    }
    assert [item.type for item in response.output] == ["reasoning", "function_call"]
    assert response.reasoning_text == TOOL_REASONING
    call = tracker.last
    assert call.intent.max_tokens == 128
    assert call.intent.tags == {"team": "search"}
    assert call.intent.prompt_tokens_estimate > 0
    finish = call.only
    assert (finish.status, finish.usage_source) == ("ok", "reported")
    assert (finish.usage.prompt_tokens, finish.usage.completion_tokens) == (125, 35)
    assert finish.usage.reasoning_tokens == 16
    assert response.cost is not None
    assert response.cost.usd == Decimal(160) / Decimal(1_000_000)
    assert response.call_id == call.call_id


def test_the_reasoning_and_the_call_are_carried_into_the_next_turn(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    turn1 = run(harness, input=[QUESTION], tools=[WEATHER], max_output_tokens=128)
    [call] = turn1.function_calls
    result = {"type": "function_call_output", "call_id": call.call_id, "output": '{"c": 18}'}
    turn2 = run(
        harness, input=[QUESTION, *turn1.output, result], tools=[WEATHER], max_output_tokens=128
    )
    sent = server.seen[1].json()["input"]
    # The typed items go out as the JSON they came in as (nulls dropped), reasoning text kept.
    recorded = fixture_json("turn1.json")["output"]
    assert sent[1] == {k: v for k, v in recorded[0].items() if v is not None}
    assert sent[1]["content"] == [{"type": "reasoning_text", "text": TOOL_REASONING}]
    assert sent[2] == {k: v for k, v in recorded[1].items() if v is not None}
    assert sent[3] == result
    assert turn2.output_text == CHAT_CONTENT
    assert [c.only.usage.completion_tokens for c in tracker.calls] == [35, 29]
    assert [c.only.usage.reasoning_tokens for c in tracker.calls] == [16, 10]


def test_a_stream_passes_every_event_on_and_settles_on_response_completed(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    events, final, cost = run_stream(harness, input=[QUESTION], tools=[WEATHER])
    assert [e.model_dump(mode="json") for e in events] == sse_events("turn1.sse")
    reasoning = "".join(e.delta or "" for e in events if e.type == "response.reasoning_text.delta")
    assert reasoning == TOOL_REASONING
    completed = events[-1]
    assert completed.response is not None
    assert completed.response.cost == cost
    assert completed.response.call_id == tracker.last.call_id
    assert final is completed.response
    assert final.function_calls[0].arguments == '{"city": "Paris"}'
    finish = tracker.last.only
    assert (finish.status, finish.usage_source) == ("ok", "reported")
    usage = finish.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (125, 35, 16)
    assert finish.ttft_ms is not None
    assert tracker.last.intent.stream is True
    if harness.factory.__qualname__.startswith("sagemaker"):
        assert server.seen[0].path == f"/endpoints/{ENDPOINT}/invocations-response-stream"
        custom = server.seen[0].headers["X-Amzn-SageMaker-Custom-Attributes"]
        assert custom == "route=/v1/responses,trace=abc"


def test_a_stream_closed_early_is_recorded_as_aborted_with_what_arrived(
    harness: Harness, tracker: FakeTracker
) -> None:
    events, final, _ = run_stream(harness, take=8, input=[QUESTION], tools=[WEATHER])
    assert len(events) == 8
    finish = tracker.last.only
    assert (finish.status, finish.usage_source) == ("aborted", "estimated")
    assert finish.usage.completion_tokens > 0  # four reasoning deltas arrived
    assert finish.usage.reasoning_tokens == finish.usage.completion_tokens
    assert final.output == []  # no item was done yet


def test_a_stream_cut_mid_way_raises_and_records_an_error_with_what_arrived(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    raw = fixture_sse("turn1.sse")
    half = raw[: raw.index(b"event: response.function_call_arguments.delta")]
    if harness.factory.__qualname__.startswith("sagemaker"):
        # A model error mid-stream, as SageMaker reports one after the first PayloadParts.
        tail = exception_event(
            "ModelStreamError", {"Message": "the model stopped", "ErrorCode": "StreamBroken"}
        )
        server.replies.append(server.sagemaker_stream(half, tail=tail))
        expected: type[Exception] = ModelError
    else:
        server.replies.append(sse_reply(half, cut=True))
        expected = APIConnectionError
    with pytest.raises(expected):
        run_stream(harness, input=[QUESTION], tools=[WEATHER])
    finish = tracker.last.only
    assert (finish.status, finish.error_kind) == ("error", expected.__name__)
    assert finish.usage_source == "estimated"
    assert finish.usage.reasoning_tokens > 0


def test_an_error_event_raises_the_mapped_error(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    raw = fixture_sse("hello.sse")
    head = raw[: raw.index(b"event: response.output_item.added")]
    error = {"type": "error", "code": "invalid_request", "message": "bad", "param": None}
    stream = head + b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"
    if harness.factory.__qualname__.startswith("sagemaker"):
        server.replies.append(server.sagemaker_stream(stream))
    else:
        server.replies.append(sse_reply(stream))
    with pytest.raises(ModelError, match="invalid_request: bad"):
        run_stream(harness, input="Hello there")
    assert tracker.last.only.status == "error"


def container_400(server: ReplayServer, harness: Harness, message: str) -> None:
    """The container's OpenAI 400, as it reaches each backend: as is over HTTP; through
    SageMaker as HTTP 424 ModelError with the container's status and body."""
    if not harness.factory.__qualname__.startswith("sagemaker"):
        server.replies.append(error_reply(400, message, "invalid_request_error"))
        return
    original = {"error": {"message": message, "type": "invalid_request_error", "code": 400}}
    body = {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
        "Message": "Received client error (400) from primary with message ...",
        "OriginalMessage": json.dumps(original),
        "OriginalStatusCode": 400,
    }
    server.replies.append(
        Reply(
            status=424,
            headers={"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError"},
            body=json.dumps(body).encode(),
        )
    )


def test_an_http_400_is_an_invalid_request_recorded_with_no_tokens(
    harness: Harness, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> None:
    # vLLM's answer to a tool result with no call before it (captured from the container).
    container_400(server, harness, "No call message found for c (parameter=input)")
    with pytest.raises(InvalidRequestError, match="No call message found"):
        run(harness, input="hi", previous_response_id="resp_1")
    assert sleeps == []  # a bad request is not retried
    finish = tracker.last.only
    assert (finish.status, finish.error_kind) == ("error", "InvalidRequestError")
    assert finish.usage.completion_tokens == 0


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_hard_token_budget_refuses_before_anything_is_sent(
    server: ReplayServer, tmp_path: Path, sleeps: Sleeps, flavor: str
) -> None:
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    budget = Budget(name="tiny", limit=Decimal(1000), unit="tokens", period="total")
    tracker = Tracker(ledger=ledger, budgets=[budget], allow_unpriced=True)
    harness = Harness(flavor, openai_factory(server, tracker, sleeps))  # type: ignore[arg-type]
    with pytest.raises(BudgetExceededError):
        run(harness, input="hi", max_output_tokens=4096)
    assert server.seen == []
    assert ledger.query() == []
    run(harness, input="hi", max_output_tokens=64)  # within the budget: sent and recorded
    assert len(ledger.query()) == 1


def test_a_failed_response_is_recorded_as_an_error_with_its_usage(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    failed = {**fixture_json("hello.json"), "status": "failed", "error": {"code": "server_error"}}
    server.replies.append(json_reply(failed))
    response = run(harness, input="Hello there")
    assert response.status == "failed"
    finish = tracker.last.only
    assert (finish.status, finish.error_kind) == ("error", "ResponseFailed")
    assert finish.usage.completion_tokens == 29


def test_an_answer_without_usage_is_estimated_not_zero(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    server.replies.append(json_reply({**fixture_json("hello.json"), "usage": None}))
    run(harness, input="Hello there")
    finish = tracker.last.only
    assert finish.usage_source == "estimated"
    assert finish.usage.prompt_tokens > 0
    assert finish.usage.completion_tokens >= len(CHAT_CONTENT + CHAT_REASONING) // 3
    assert finish.usage.reasoning_tokens > 0


def test_custom_attributes_keep_the_callers_pairs_and_replace_their_route() -> None:
    assert responses_custom_attributes(None) == "route=/v1/responses"
    assert responses_custom_attributes("trace=1") == "route=/v1/responses,trace=1"
    assert responses_custom_attributes("Route=/v1/chat/completions; a=b") == (
        "route=/v1/responses,a=b"
    )


def test_custom_attributes_too_long_for_invoke_endpoint_are_refused(
    server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> None:
    factory = sagemaker_factory(tracker, sleeps, custom_attributes="x=" + "a" * 1020)
    with factory(GptOss) as client, pytest.raises(ConfigurationError, match="1024"):
        client.responses.create(input="hi")
    assert server.seen == []
    assert tracker.calls == []


# ---- the ledger: a Responses row is a chat row -----------------------------------------------

PRICE = TokenPrice(
    input_per_1m=Decimal("0.07"),
    output_per_1m=Decimal("0.30"),
    source="test price",
    as_of=__import__("datetime").date(2026, 12, 1),
    layer="override",
)


@pytest.mark.parametrize("backend", ["openai", "sagemaker"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_row_matches_a_chat_row_field_by_field(
    server: ReplayServer, tmp_path: Path, backend: str, stream: bool
) -> None:
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    tracker = Tracker(ledger=ledger)
    if backend == "openai":
        client = GptOss.openai_compatible(
            server.url, model="gpt-oss-20b", price=PRICE, tracker=tracker, tags={"team": "t"}
        )
    else:
        client = GptOss.sagemaker(
            ENDPOINT,
            instance_type="ml.g6e.xlarge",
            model="gpt-oss-20b",
            tracker=tracker,
            tags={"team": "t"},
        )
    # The chat call gets the chat recording (the same tokens as the Responses one: 29 out,
    # 10 reasoning), the Responses call vLLM's Responses answer to the same prompt.
    with client:
        if stream:
            with client.chat.completions.create(
                messages=[{"role": "user", "content": "Hello there"}], stream=True
            ) as chunks:
                list(chunks)
            with client.responses.create(input="Hello there", stream=True) as events:
                list(events)
        else:
            client.chat.completions.create(messages=[{"role": "user", "content": "Hello there"}])
            client.responses.create(input="Hello there")
    chat, responses = sorted(ledger.query(), key=lambda row: row.started_at)
    differ = {"id", "started_at", "ended_at", "latency_ms", "ttft_ms", "prompt_tokens"}
    differ |= {"reserved_tokens", "reserved_usd", "cost_usd"}  # they follow the prompt
    same = set(type(chat).model_fields) - differ
    assert {f: getattr(responses, f) for f in same} == {f: getattr(chat, f) for f in same}
    assert (responses.completion_tokens, responses.reasoning_tokens) == (29, 10)
    assert responses.prompt_tokens == 69  # vLLM's Responses usage for this prompt
    assert responses.status == "ok"
    assert responses.usage_source == "reported"
    if backend == "openai":
        assert responses.cost_basis == "per_token"
        expected = (69 * PRICE.input_per_1m + 29 * PRICE.output_per_1m) / 1_000_000
        assert responses.cost_usd == expected
    else:
        assert (responses.cost_basis, responses.cost_usd) == ("instance_hours", None)
    assert responses.reserved_tokens is not None
    assert chat.reserved_tokens is not None


def throttled(server: ReplayServer, harness: Harness) -> None:
    """One throttling answer, as each backend's service sends it."""
    if harness.factory.__qualname__.startswith("sagemaker"):
        body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
        server.replies.append(
            Reply(
                status=429,
                headers={
                    "Content-Type": "application/json",
                    "x-amzn-ErrorType": "ThrottlingException",
                },
                body=json.dumps(body).encode(),
            )
        )
    else:
        server.replies.append(error_reply(429, "slow down", "rate_limit_error"))


def test_throttling_is_retried_under_the_clients_policy(
    harness: Harness, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> None:
    throttled(server, harness)
    response = run(harness, input="Hello there")
    assert response.output_text == CHAT_CONTENT
    assert len(server.seen) == 2
    assert len(sleeps) == 1
    assert tracker.last.only.status == "ok"


def test_a_stream_throttled_before_its_first_byte_is_retried(
    harness: Harness, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> None:
    throttled(server, harness)
    events, final, _ = run_stream(harness, input="Hello there")
    assert events[-1].type == "response.completed"
    assert final.output_text == CHAT_CONTENT
    assert len(server.seen) == 2
    assert len(sleeps) == 1
    assert tracker.last.only.usage.completion_tokens == 29


def test_stubbed_invoke_endpoint_gets_exactly_the_responses_parameters() -> None:
    """botocore's Stubber checks every InvokeEndpoint parameter against the service model:
    the Responses body, and CustomAttributes, "an opaque value that is forwarded verbatim"
    (SageMaker API reference, InvokeEndpoint), carrying the container's route."""
    import io

    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stub = Stubber(runtime)
    raw = (FIXTURES / "hello.json").read_bytes()
    stub.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"},
        {
            "EndpointName": ENDPOINT,
            "Body": json.dumps(
                {"model": "gpt-oss-20b", "input": "Hello there", "max_output_tokens": 64}
            ).encode(),
            "ContentType": "application/json",
            "Accept": "application/json",
            "TargetVariant": "blue",
            "CustomAttributes": "route=/v1/responses,session=7",
        },
    )
    client = GptOss.sagemaker(
        ENDPOINT,
        instance_type="ml.g6e.2xlarge",
        variant="blue",
        model="gpt-oss-20b",
        custom_attributes="session=7",
        runtime_client=runtime,
        tracker=None,
    )
    with stub:
        response = client.responses.create(input="Hello there", max_output_tokens=64)
    stub.assert_no_pending_responses()
    assert (response.reasoning_text, response.output_text) == (CHAT_REASONING, CHAT_CONTENT)
    assert response.backend == "sagemaker"


def test_a_calls_project_header_goes_out_on_responses_too(server: ReplayServer) -> None:
    """The OpenAI-wire base asks ``call_headers(project)`` per Responses call (Mantle sends a
    call's project as OpenAI-Project); the copy it signs keeps the client's headers."""
    from gptoss_aws.backends.openai_compat import OpenAICompatibleBackend

    class ProjectHeader(OpenAICompatibleBackend):  # no ``name``: not registered
        def call_headers(self, project: str | None) -> dict[str, str]:
            return {"OpenAI-Project": project} if project else {}

    backend = ProjectHeader(server.url, model="gpt-oss-20b", headers={"X-Team": "t"})
    with GptOss(backend, tracker=None) as client:
        client.responses.create(input="Hello there", project="proj_1")
        client.responses.create(input="Hello there")
    first, second = server.seen
    assert (first.headers.get("OpenAI-Project"), first.headers.get("X-Team")) == ("proj_1", "t")
    assert (second.headers.get("OpenAI-Project"), second.headers.get("X-Team")) == (None, "t")
    assert "OpenAI-Project" not in backend.headers

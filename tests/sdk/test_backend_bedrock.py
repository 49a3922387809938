"""The Bedrock backend through botocore's Stubber: Converse and ConverseStream bodies in the
documented shapes, request parameters checked, and the real Tracker pricing the calls."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import stated_prices
from botocore.exceptions import EventStreamError
from botocore.stub import Stubber
from test_backend_vllm_replay import (
    CONTENT,
    CONTENT_PIECES,
    REASONING,
    REASONING_PIECES,
    TOOL_ARGUMENT_PIECES,
    TOOL_ARGUMENTS,
    WEATHER_TOOL,
)
from test_client_harness import FakeTracker, Harness, Sleeps, no_sleep_policy, text_of

from gptoss_aws.client import GptOss
from gptoss_aws.errors import (
    APITimeoutError,
    ConfigurationError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from gptoss_aws.tracking import Tracker

MODEL_ID = "openai.gpt-oss-120b-1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
META = {"RequestId": "req-1", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}


@pytest.fixture
def runtime() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(client)
    # ConverseStream's "stream" is an event stream that the Stubber's validator cannot
    # check; the request parameters are still checked.
    vars(stub)["_validate_operation_response"] = lambda operation_name, response: None
    with stub:
        yield client, stub
    stub.assert_no_pending_responses()


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(params=["sync", "async"])
def harness(
    request: pytest.FixtureRequest,
    runtime: tuple[Any, Stubber],
    tracker: FakeTracker,
    sleeps: Sleeps,
) -> Harness:
    def factory(cls: type[Any]) -> Any:
        return cls.bedrock(
            "gpt-oss-120b",
            runtime_client=runtime[0],
            tracker=tracker,
            retry_policy=no_sleep_policy(sleeps),
        )

    return Harness(request.param, factory)


def converse_answer(*blocks: dict[str, Any], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": list(blocks)}},
        "stopReason": stop,
        "usage": {"inputTokens": 68, "outputTokens": 29, "totalTokens": 97},
        "metrics": {"latencyMs": 420},
        "ResponseMetadata": META,
    }


def chat_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    events += [
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": p}}}}
        for p in REASONING_PIECES
    ]
    events.append({"contentBlockStop": {"contentBlockIndex": 0}})
    events += [
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"text": p}}}
        for p in CONTENT_PIECES
    ]
    events.append({"contentBlockStop": {"contentBlockIndex": 1}})
    events.append({"messageStop": {"stopReason": "end_turn"}})
    events.append(
        {
            "metadata": {
                "usage": {"inputTokens": 68, "outputTokens": 29, "totalTokens": 97},
                "metrics": {"latencyMs": 420},
            }
        }
    )
    return events


HELLO = [
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": "hello"},
]
EXPECTED_HELLO = {
    "modelId": MODEL_ID,
    "messages": [{"role": "user", "content": [{"text": "hello"}]}],
    "system": [{"text": "Be brief."}],
}


# ---- Converse ------------------------------------------------------------------------------


def test_converse_sends_effort_and_limits_and_reads_reasoning_and_usage(
    harness: Harness, runtime: tuple[Any, Stubber], tracker: FakeTracker
) -> None:
    _, stub = runtime
    stub.add_response(
        "converse",
        converse_answer(
            {"reasoningContent": {"reasoningText": {"text": REASONING}}}, {"text": CONTENT}
        ),
        {
            **EXPECTED_HELLO,
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.2},
            "additionalModelRequestFields": {"reasoning_effort": "high"},
        },
    )
    answer = harness.create(
        messages=HELLO, reasoning_effort="high", max_tokens=256, temperature=0.2
    )
    message = answer.choices[0].message
    assert (message.content, message.reasoning) == (CONTENT, REASONING)
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.id, answer.backend, answer.model) == ("bedrock-req-1", "bedrock", MODEL_ID)
    usage = answer.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (68, 29)
    # Bedrock does not report reasoning tokens: estimated from the text, marked as such.
    assert usage.reasoning_tokens == math.ceil(len(REASONING) / 4)
    assert usage.model_extra == {"reasoning_tokens_estimated": True}
    intent = tracker.last.intent
    assert (intent.backend, intent.model, intent.model_id, intent.region) == (
        "bedrock",
        "gpt-oss-120b",
        MODEL_ID,
        "us-east-1",
    )
    assert tracker.last.only.usage_source == "reported"


def test_tools_and_a_tool_conversation_convert_both_ways(
    harness: Harness, runtime: tuple[Any, Stubber]
) -> None:
    _, stub = runtime
    conversation = [
        {"role": "system", "content": "You check the weather."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": None,
            "reasoning": "not sent back",
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": '{"temp_c": 18}'},
        {"role": "user", "content": "And tomorrow?"},
    ]
    expected = {
        "modelId": MODEL_ID,
        "system": [{"text": "You check the weather."}],
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "toolUse": {
                            "toolUseId": "t1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        }
                    },
                ],
            },
            # The tool result and the next user turn merge: Converse needs alternation.
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "t1", "content": [{"text": '{"temp_c": 18}'}]}},
                    {"text": "And tomorrow?"},
                ],
            },
        ],
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "Current weather in a city",
                        "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": "get_weather"}},
        },
    }
    stub.add_response(
        "converse",
        converse_answer(
            {"reasoningContent": {"reasoningText": {"text": "Ask again."}}},
            {
                "toolUse": {
                    "toolUseId": "t2",
                    "name": "get_weather",
                    "input": {"city": "Paris", "day": "tomorrow"},
                }
            },
            stop="tool_use",
        ),
        expected,
    )
    answer = harness.create(
        messages=conversation,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    message = answer.choices[0].message
    assert message.content is None
    assert message.reasoning == "Ask again."
    assert message.tool_calls is not None
    (call,) = message.tool_calls
    assert (call.id, call.function.name) == ("t2", "get_weather")
    assert call.function.arguments == '{"city": "Paris", "day": "tomorrow"}'
    assert answer.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", {"auto": {}}), ("required", {"any": {}}), (None, None)],
)
def test_tool_choice_maps_to_converse(
    runtime: tuple[Any, Stubber], choice: str | None, expected: dict[str, Any] | None
) -> None:
    client, stub = runtime
    tool_config: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather in a city",
                    "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]},
                }
            }
        ],
    }
    if expected is not None:
        tool_config["toolChoice"] = expected
    stub.add_response(
        "converse",
        converse_answer({"text": "ok"}),
        {**EXPECTED_HELLO, "toolConfig": tool_config},
    )
    GptOss.bedrock(runtime_client=client).chat.completions.create(
        messages=HELLO, tools=[WEATHER_TOOL], tool_choice=choice
    )


# ---- ConverseStream --------------------------------------------------------------------------


def test_converse_stream_gives_openai_chunks_and_usage_from_the_metadata_event(
    harness: Harness, runtime: tuple[Any, Stubber], tracker: FakeTracker
) -> None:
    _, stub = runtime
    stub.add_response(
        "converse_stream",
        {"stream": chat_events(), "ResponseMetadata": META},
        {**EXPECTED_HELLO, "additionalModelRequestFields": {"reasoning_effort": "low"}},
    )
    chunks = harness.stream(messages=HELLO, reasoning_effort="low")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert text_of(chunks, "reasoning") == REASONING
    assert text_of(chunks, "content") == CONTENT
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (68, 29)
    assert last.cost is not None
    assert {c.id for c in chunks} == {"bedrock-req-1"}
    finish = tracker.last.only
    assert (finish.status, finish.usage_source) == ("ok", "reported")
    assert finish.ttft_ms is not None


def test_streamed_tool_use_becomes_indexed_tool_call_deltas(
    harness: Harness, runtime: tuple[Any, Stubber]
) -> None:
    _, stub = runtime
    events: list[dict[str, Any]] = [
        {"messageStart": {"role": "assistant"}},
        {
            "contentBlockDelta": {
                "contentBlockIndex": 0,
                "delta": {"reasoningContent": {"text": "Need weather."}},
            }
        },
        {
            "contentBlockStart": {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "t9", "name": "get_weather"}},
            }
        },
        *[
            {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": p}}}}
            for p in TOOL_ARGUMENT_PIECES
        ],
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": {"inputTokens": 123, "outputTokens": 35, "totalTokens": 158}}},
    ]
    stub.add_response("converse_stream", {"stream": events, "ResponseMetadata": META})
    chunks = harness.stream(messages=HELLO, tools=[WEATHER_TOOL])
    deltas = [tc for c in chunks for ch in c.choices for tc in ch.delta.tool_calls or ()]
    assert {d.index for d in deltas} == {0}
    assert deltas[0].id == "t9"
    assert (deltas[0].function or {})["name"] == "get_weather"
    assert "".join((d.function or {}).get("arguments", "") for d in deltas) == TOOL_ARGUMENTS
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_a_model_stream_error_mid_way_is_raised_and_recorded(
    harness: Harness, runtime: tuple[Any, Stubber], tracker: FakeTracker, sleeps: Sleeps
) -> None:
    _, stub = runtime

    def events() -> Iterator[dict[str, Any]]:
        yield from chat_events()[:8]
        raise EventStreamError(
            {"Error": {"Code": "modelStreamErrorException", "Message": "model broke"}},
            "ConverseStream",
        )

    stub.add_response("converse_stream", {"stream": events(), "ResponseMetadata": META})
    chunks, raised = harness.stream_until_error(messages=HELLO)
    assert isinstance(raised, ModelError)
    assert "model broke" in str(raised)
    assert len(chunks) == 8
    assert sleeps == []
    finish = tracker.last.only
    assert (finish.status, finish.error_kind, finish.usage_source) == (
        "error",
        "ModelError",
        "estimated",
    )
    assert finish.usage.reasoning_tokens >= 7


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error", "retried"),
    [
        ("ThrottlingException", 429, ThrottledError, True),
        ("ModelNotReadyException", 429, ModelNotReadyError, True),
        ("ServiceUnavailableException", 503, ModelNotReadyError, True),
        ("InternalServerException", 500, ModelError, True),
        ("ModelTimeoutException", 408, APITimeoutError, True),
        ("ValidationException", 400, InvalidRequestError, False),
        ("AccessDeniedException", 403, PermissionDeniedError, False),
        ("ResourceNotFoundException", 404, NotFoundError, False),
        ("ServiceQuotaExceededException", 400, ThrottledError, True),
    ],
)
def test_bedrock_error_codes_map_and_retry(
    runtime: tuple[Any, Stubber],
    tracker: FakeTracker,
    sleeps: Sleeps,
    code: str,
    status: int,
    error: type[Exception],
    retried: bool,
) -> None:
    client, stub = runtime
    attempts = 3 if retried else 1
    for _ in range(attempts):
        stub.add_client_error("converse", code, "it failed", status, expected_params=EXPECTED_HELLO)
    gpt = GptOss.bedrock(
        runtime_client=client, tracker=tracker, retry_policy=no_sleep_policy(sleeps)
    )
    with pytest.raises(error, match="it failed"):
        gpt.chat.completions.create(messages=HELLO)
    assert len(sleeps) == attempts - 1
    assert tracker.last.only.error_kind == error.__name__


def test_model_error_exception_uses_the_original_status(
    runtime: tuple[Any, Stubber], sleeps: Sleeps
) -> None:
    client, stub = runtime
    stub.add_client_error(
        "converse",
        "ModelErrorException",
        "bad input",
        424,
        modeled_fields={"originalStatusCode": 400},
        expected_params=EXPECTED_HELLO,
    )
    gpt = GptOss.bedrock(runtime_client=client, retry_policy=no_sleep_policy(sleeps))
    with pytest.raises(InvalidRequestError, match="bad input"):
        gpt.chat.completions.create(messages=HELLO)
    assert sleeps == []


# ---- models and profiles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "model_id", "name"),
    [
        ("gpt-oss-120b", "openai.gpt-oss-120b-1:0", "gpt-oss-120b"),
        ("openai/gpt-oss-20b", "openai.gpt-oss-20b-1:0", "gpt-oss-20b"),
        ("openai.gpt-oss-20b-1:0", "openai.gpt-oss-20b-1:0", "gpt-oss-20b"),
        ("us.openai.gpt-oss-120b-1:0", "us.openai.gpt-oss-120b-1:0", "gpt-oss-120b"),
        (
            "arn:aws:bedrock:us-west-2::foundation-model/openai.gpt-oss-20b-1:0",
            "arn:aws:bedrock:us-west-2::foundation-model/openai.gpt-oss-20b-1:0",
            "gpt-oss-20b",
        ),
    ],
)
def test_model_names_resolve_to_a_model_id_and_a_priced_name(
    given: str, model_id: str, name: str
) -> None:
    backend: Any = GptOss.bedrock(given).backend
    target = backend.target()
    assert (target.model_id, target.model) == (model_id, name)


def test_unknown_models_and_regions_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown Bedrock model 'anthropic\.claude'"):
        GptOss.bedrock("anthropic.claude")
    with pytest.raises(ConfigurationError, match="unknown region"):
        GptOss.bedrock("gpt-oss-120b", region="moon-central-1")


def test_an_application_inference_profile_is_sent_as_is_and_priced_as_its_model(
    runtime: tuple[Any, Stubber], tracker: FakeTracker
) -> None:
    client, stub = runtime
    control = boto3.client("bedrock", region_name="us-east-1")
    control_stub = Stubber(control)
    arn = PROFILE_ARN.replace("abc123", "team-search")
    control_stub.add_response(
        "get_inference_profile",
        {
            "inferenceProfileName": "team-search",
            "inferenceProfileArn": arn,
            "inferenceProfileId": "team-search",
            "status": "ACTIVE",
            "type": "APPLICATION",
            "models": [
                {"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/openai.gpt-oss-20b-1:0"}
            ],
        },
        {"inferenceProfileIdentifier": arn},
    )
    stub.add_response(
        "converse", converse_answer({"text": "hi"}), {**EXPECTED_HELLO, "modelId": arn}
    )
    gpt = GptOss.bedrock(arn, runtime_client=client, bedrock_client=control, tracker=tracker)
    with control_stub:
        gpt.chat.completions.create(messages=HELLO)
    control_stub.assert_no_pending_responses()
    intent = tracker.last.intent
    assert (intent.model, intent.model_id) == ("gpt-oss-20b", arn)


def test_what_converse_cannot_express_is_refused_before_anything_is_sent(
    runtime: tuple[Any, Stubber], tracker: FakeTracker
) -> None:
    client, _ = runtime
    gpt = GptOss.bedrock(runtime_client=client, tracker=tracker)
    with pytest.raises(ConfigurationError, match="tool_choice 'none'"):
        gpt.chat.completions.create(messages=HELLO, tools=[WEATHER_TOOL], tool_choice="none")
    with pytest.raises(ConfigurationError, match="text only"):
        gpt.chat.completions.create(
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]
        )
    with pytest.raises(ConfigurationError, match="make another client"):
        gpt.chat.completions.create(messages=HELLO, model="gpt-oss-20b")
    assert tracker.calls == []


# ---- with the real Tracker and ledger --------------------------------------------------------


def test_real_tracker_prices_a_streamed_call_exactly_and_records_an_abandoned_one(
    runtime: tuple[Any, Stubber],
) -> None:
    client, stub = runtime
    # The default SQLite ledger, in the test's GPTOSS_AWS_HOME; no Bedrock price is bundled,
    # so the test states the one it checks against.
    tracker = Tracker(prices=stated_prices.book())
    gpt = GptOss.bedrock(runtime_client=client, tracker=tracker, tags={"team": "search"})
    stub.add_response("converse_stream", {"stream": chat_events(), "ResponseMetadata": META})
    stub.add_response("converse_stream", {"stream": chat_events(), "ResponseMetadata": META})

    chunks = list(gpt.chat.completions.create(messages=HELLO, stream=True, max_tokens=512))
    # The stated us-east-1 price: $0.15 per 1M input tokens, $0.60 per 1M output tokens.
    expected = (68 * stated_prices.INPUT_120B + 29 * stated_prices.OUTPUT_120B) / 1_000_000
    assert chunks[-1].cost is not None
    assert chunks[-1].cost.usd == expected

    with gpt.chat.completions.create(messages=HELLO, stream=True, max_tokens=512) as stream:
        for _, _chunk in zip(range(4), stream, strict=False):
            pass
    rows = tracker.ledger.query(backend="bedrock")
    assert [r.status for r in rows] == ["ok", "aborted"]
    ok, aborted = rows
    assert (ok.prompt_tokens, ok.completion_tokens, ok.cost_usd) == (68, 29, expected)
    assert ok.tags == {"team": "search"}
    assert ok.usage_source == "reported"
    assert aborted.usage_source == "estimated"
    assert aborted.completion_tokens >= 3
    assert aborted.cost_usd is not None
    assert aborted.cost_usd > 0
    assert tracker.ledger.query(status="reserved") == []


def test_team_profile_discovery_reads_every_page_of_profiles() -> None:
    from gptoss_aws.backends.bedrock import discover_team_profiles

    model_arn = "arn:aws:bedrock:us-west-2::foundation-model/openai.gpt-oss-120b-1:0"

    def summary(name: str) -> dict[str, Any]:
        arn = f"arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/{name}"
        return {
            "inferenceProfileName": name, "inferenceProfileArn": arn,
            "inferenceProfileId": name, "status": "ACTIVE", "type": "APPLICATION",
            "models": [{"modelArn": model_arn}],
        }  # fmt: skip

    control = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(control) as stub:
        # ListInferenceProfiles answers in pages: the second team is on the second page.
        stub.add_response(
            "list_inference_profiles",
            {"inferenceProfileSummaries": [summary("search01")], "nextToken": "page-2"},
            {"typeEquals": "APPLICATION"},
        )
        stub.add_response(
            "list_tags_for_resource",
            {"tags": [{"key": "gptoss:team", "value": "search"}]},
            {"resourceARN": summary("search01")["inferenceProfileArn"]},
        )
        stub.add_response(
            "list_inference_profiles",
            {"inferenceProfileSummaries": [summary("ads01")]},
            {"typeEquals": "APPLICATION", "nextToken": "page-2"},
        )
        stub.add_response(
            "list_tags_for_resource",
            {"tags": [{"key": "gptoss:team", "value": "ads"}]},
            {"resourceARN": summary("ads01")["inferenceProfileArn"]},
        )
        found = discover_team_profiles(control, "openai.gpt-oss-120b-1:0")
        stub.assert_no_pending_responses()
    assert found == {
        "search": summary("search01")["inferenceProfileArn"],
        "ads": summary("ads01")["inferenceProfileArn"],
    }

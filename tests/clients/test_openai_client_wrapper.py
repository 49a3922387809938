"""openai-python's own clients from ``gptoss_aws.openai_client()``: the SDK's SageMaker
backend -> boto3 -> the SageMaker runtime stand-in -> the container -> vLLM on CPU.

Each call is made twice, once through openai-python and once with ``GptOss`` itself, each
into its own ledger: the rows must be the same field by field (ids, clock times and
latencies aside), because the wrapper's HTTP layer *is* our client. No AWS here: the
stand-in answers boto3 (see tests/support/sagemaker_standin), the container and engine
are real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import boto3
import openai
import pytest
from conftest import CHAT_ENDPOINT, SERVED_NAME, TOOL_ENDPOINT
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from sagemaker_standin import SageMakerRuntimeStandIn
from scripted import (
    CHAT_COMPLETION_TOKENS,
    CHAT_CONTENT,
    CHAT_REASONING,
    CHAT_REASONING_TOKENS,
    TOOL_ARGUMENTS,
    TOOL_COMPLETION_TOKENS,
    TOOL_NAME,
    TOOL_REASONING,
    TOOL_REASONING_TOKENS,
    WEATHER_TOOL,
)

import gptoss_aws
from gptoss_aws import (
    AsyncGptOss,
    Budget,
    BudgetExceededError,
    CallRecord,
    GptOss,
    NotFoundError,
    Tracker,
    open_ledger,
)
from gptoss_aws.ledger import Ledger

pytestmark = pytest.mark.engine

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]
WEATHER_Q: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the weather in Paris?"}
]
WEATHER: ChatCompletionToolParam = WEATHER_TOOL  # type: ignore[assignment]
TAGS = {"team": "wrapper"}
# What differs between two runs of the same call: identity, wall-clock and timings.
VOLATILE = {"id", "started_at", "ended_at", "latency_ms", "ttft_ms"}


def _runtime(standin: SageMakerRuntimeStandIn) -> Any:
    return boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=standin.url)


def gptoss(
    standin: SageMakerRuntimeStandIn,
    ledger: Ledger,
    endpoint: str = CHAT_ENDPOINT,
    budgets: list[Budget] | None = None,
) -> GptOss:
    return GptOss.sagemaker(
        endpoint,
        runtime_client=_runtime(standin),
        instance_type="ml.g6e.xlarge",  # declared: the stand-in has no DescribeEndpoint
        model=SERVED_NAME,
        tracker=Tracker(ledger=ledger, budgets=budgets or []),
        tags=TAGS,
    )


def async_gptoss(
    standin: SageMakerRuntimeStandIn, ledger: Ledger, endpoint: str = CHAT_ENDPOINT
) -> AsyncGptOss:
    return AsyncGptOss.sagemaker(
        endpoint,
        runtime_client=_runtime(standin),
        instance_type="ml.g6e.xlarge",
        model=SERVED_NAME,
        tracker=Tracker(ledger=ledger),
        tags=TAGS,
    )


@pytest.fixture
def ledgers(tmp_path: Path) -> tuple[Ledger, Ledger]:
    """(the wrapper's ledger, our own client's ledger)."""
    return open_ledger(tmp_path / "wrapper.sqlite3"), open_ledger(tmp_path / "own.sqlite3")


def only_row(ledger: Ledger) -> CallRecord:
    [row] = ledger.query()
    return row


def assert_same_rows(wrapper: Ledger, own: Ledger) -> CallRecord:
    ours, theirs = only_row(wrapper), only_row(own)
    assert ours.model_dump(exclude=VOLATILE) == theirs.model_dump(exclude=VOLATILE)
    assert ours.latency_ms is not None
    assert ours.latency_ms > 0
    return ours


def test_chat_is_openai_shaped_and_its_row_is_our_clients(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger))
    raw = oa.chat.completions.with_raw_response.create(
        model=SERVED_NAME, messages=HELLO, max_tokens=64, reasoning_effort="low"
    )
    r = raw.parse()
    assert isinstance(r, openai.types.chat.ChatCompletion)
    message = r.choices[0].message
    assert message.content == CHAT_CONTENT
    extra = message.model_extra or {}
    assert extra["reasoning"] == extra["reasoning_content"] == CHAT_REASONING
    assert "cost" not in (r.model_extra or {})  # the OpenAI shape, nothing of ours
    assert r.usage is not None
    assert r.usage.completion_tokens == CHAT_COMPLETION_TOKENS
    assert r.usage.completion_tokens_details is not None
    assert r.usage.completion_tokens_details.reasoning_tokens == CHAT_REASONING_TOKENS
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens

    own = gptoss(standin, own_ledger).chat.completions.create(
        model=SERVED_NAME, messages=[dict(m) for m in HELLO], max_tokens=64, reasoning_effort="low"
    )
    assert (own.usage.prompt_tokens, own.usage.completion_tokens) == (
        r.usage.prompt_tokens,
        r.usage.completion_tokens,
    )
    row = assert_same_rows(wrapper_ledger, own_ledger)
    assert (row.backend, row.endpoint, row.status, row.cost_basis) == (
        "sagemaker",
        CHAT_ENDPOINT,
        "ok",
        "instance_hours",
    )
    assert (row.completion_tokens, row.reasoning_tokens, row.tags) == (
        CHAT_COMPLETION_TOKENS,
        CHAT_REASONING_TOKENS,
        TAGS,
    )
    assert raw.headers["x-gptoss-call-id"] == row.id
    assert raw.headers["x-gptoss-cost-basis"] == "instance_hours"


def test_per_call_metadata_becomes_the_rows_tags(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger))
    oa.chat.completions.create(
        model=SERVED_NAME, messages=HELLO, max_completion_tokens=64, metadata={"feature": "faq"}
    )
    gptoss(standin, own_ledger).chat.completions.create(
        model=SERVED_NAME,
        messages=[dict(m) for m in HELLO],
        max_tokens=64,
        tags={"feature": "faq"},
    )
    row = assert_same_rows(wrapper_ledger, own_ledger)
    assert row.tags == {**TAGS, "feature": "faq"}


@pytest.mark.parametrize("include_usage", [True, False])
def test_streaming_chat(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger], include_usage: bool
) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger))
    with oa.chat.completions.create(
        model=SERVED_NAME,
        messages=HELLO,
        max_tokens=64,
        stream=True,
        stream_options={"include_usage": include_usage},
    ) as stream:
        chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in chunks
        if c.choices
    )
    assert (content, reasoning) == (CHAT_CONTENT, CHAT_REASONING)
    if include_usage:
        # OpenAI's contract: one last chunk with no choices and the usage.
        assert chunks[-1].choices == []
        usage = chunks[-1].usage
        assert usage is not None
        assert usage.completion_tokens == CHAT_COMPLETION_TOKENS
        assert usage.completion_tokens_details is not None
        assert usage.completion_tokens_details.reasoning_tokens == CHAT_REASONING_TOKENS
        assert all(c.usage is None for c in chunks[:-1])
    else:
        # Not asked, not sent (as OpenAI does); the ledger has the usage all the same.
        assert all(c.usage is None for c in chunks)
        assert all(c.choices for c in chunks)

    with gptoss(standin, own_ledger).chat.completions.create(
        model=SERVED_NAME, messages=[dict(m) for m in HELLO], max_tokens=64, stream=True
    ) as own:
        list(own)
    row = assert_same_rows(wrapper_ledger, own_ledger)
    assert (row.stream, row.status, row.usage_source) == (True, "ok", "reported")
    assert (row.completion_tokens, row.reasoning_tokens) == (
        CHAT_COMPLETION_TOKENS,
        CHAT_REASONING_TOKENS,
    )


def test_closing_the_openai_stream_early_closes_ours(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger))
    stream = oa.chat.completions.create(
        model=SERVED_NAME, messages=HELLO, max_tokens=64, stream=True
    )
    first = next(iter(stream))
    assert first.choices
    stream.close()
    row = only_row(wrapper_ledger)
    assert (row.status, row.usage_source) == ("aborted", "estimated")

    own = gptoss(standin, own_ledger).chat.completions.create(
        model=SERVED_NAME, messages=[dict(m) for m in HELLO], max_tokens=64, stream=True
    )
    next(own)
    own.close()
    assert only_row(own_ledger).status == "aborted"


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger], stream: bool
) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger, TOOL_ENDPOINT))
    if stream:
        parts = list(
            oa.chat.completions.create(
                model=SERVED_NAME,
                messages=WEATHER_Q,
                tools=[WEATHER],
                max_tokens=64,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        deltas = [d for c in parts if c.choices for d in c.choices[0].delta.tool_calls or ()]
        name = "".join(d.function.name or "" for d in deltas if d.function)
        arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
        finish = [c.choices[0].finish_reason for c in parts if c.choices][-1]
    else:
        r = oa.chat.completions.create(
            model=SERVED_NAME, messages=WEATHER_Q, tools=[WEATHER], max_tokens=64
        )
        choice = r.choices[0]
        assert choice.message.tool_calls is not None
        [call] = choice.message.tool_calls
        assert call.type == "function"
        name, arguments, finish = call.function.name, call.function.arguments, choice.finish_reason
        assert (choice.message.model_extra or {})["reasoning_content"] == TOOL_REASONING
    assert (name, arguments, finish) == (TOOL_NAME, TOOL_ARGUMENTS, "tool_calls")

    own = gptoss(standin, own_ledger, TOOL_ENDPOINT).chat.completions.create(
        model=SERVED_NAME,
        messages=[dict(m) for m in WEATHER_Q],
        tools=[WEATHER_TOOL],
        max_tokens=64,
        stream=stream,
    )
    if stream:
        with own as chunks:  # type: ignore[union-attr]
            list(chunks)
    row = assert_same_rows(wrapper_ledger, own_ledger)
    assert (row.completion_tokens, row.reasoning_tokens) == (
        TOOL_COMPLETION_TOKENS,
        TOOL_REASONING_TOKENS,
    )


def test_a_hard_budget_refuses_through_the_wrapper_as_402(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    wrapper_ledger, own_ledger = ledgers
    tight = [Budget(name="tiny", limit=16, unit="tokens", period="day", mode="hard")]
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger, budgets=tight))
    with pytest.raises(openai.APIStatusError) as caught:
        oa.chat.completions.create(model=SERVED_NAME, messages=HELLO, max_tokens=64)
    exc = caught.value
    # 402, not 429: openai-python and frameworks retry a RateLimitError; a spent budget
    # does not come back in seconds.
    assert not isinstance(exc, openai.RateLimitError)
    assert (exc.status_code, exc.code, exc.type) == (402, "budget_exceeded", "BudgetExceededError")
    ours = gptoss_aws.gptoss_error(exc)
    assert isinstance(ours, BudgetExceededError)
    assert ours.budget == "tiny"

    with pytest.raises(BudgetExceededError):
        gptoss(standin, own_ledger, budgets=tight).chat.completions.create(
            model=SERVED_NAME, messages=[dict(m) for m in HELLO], max_tokens=64
        )
    assert wrapper_ledger.query() == own_ledger.query() == []


def test_backend_errors_become_openais_classes(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    wrapper_ledger, _ = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger, "no-such-endpoint"))
    with pytest.raises(openai.OpenAIError) as caught:
        oa.chat.completions.create(model=SERVED_NAME, messages=HELLO, max_tokens=8)
    ours = gptoss_aws.gptoss_error(caught.value)
    assert ours is not None
    if isinstance(ours, NotFoundError):
        assert isinstance(caught.value, openai.NotFoundError)
    [row] = wrapper_ledger.query()
    assert (row.status, row.error_kind) == ("error", type(ours).__name__)

    no_content: Any = [{"role": "user"}]  # a mistake openai-python's types would catch
    with pytest.raises(openai.BadRequestError) as bad:
        oa.chat.completions.create(model=SERVED_NAME, messages=no_content, max_tokens=8)
    assert (bad.value.type, bad.value.code) == ("ConfigurationError", "configuration")
    assert "messages[0] has no content" in str(bad.value)


def test_models_list_names_the_served_model(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    oa = gptoss_aws.openai_client(gptoss(standin, ledgers[0]))
    assert [m.id for m in oa.models.list()] == [SERVED_NAME]
    with pytest.raises(openai.NotFoundError):
        oa.embeddings.create(model=SERVED_NAME, input="x")


def test_async_parity(standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]) -> None:
    wrapper_ledger, own_ledger = ledgers

    async def through_openai() -> tuple[str | None, str]:
        oa = gptoss_aws.async_openai_client(async_gptoss(standin, wrapper_ledger))
        r = await oa.chat.completions.create(model=SERVED_NAME, messages=HELLO, max_tokens=64)
        stream = await oa.chat.completions.create(
            model=SERVED_NAME,
            messages=HELLO,
            max_tokens=64,
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join(
            [c.choices[0].delta.content or "" async for c in _chunks(stream) if c.choices]
        )
        return r.choices[0].message.content, text

    async def ours() -> None:
        client = async_gptoss(standin, own_ledger)
        await client.chat.completions.create(
            model=SERVED_NAME, messages=[dict(m) for m in HELLO], max_tokens=64
        )
        async with await client.chat.completions.create(
            model=SERVED_NAME, messages=[dict(m) for m in HELLO], max_tokens=64, stream=True
        ) as stream:
            async for _ in stream:
                pass

    assert anyio.run(through_openai) == (CHAT_CONTENT, CHAT_CONTENT)
    anyio.run(ours)
    mine = sorted(wrapper_ledger.query(), key=lambda r: r.stream)
    theirs = sorted(own_ledger.query(), key=lambda r: r.stream)
    assert [r.model_dump(exclude=VOLATILE) for r in mine] == [
        r.model_dump(exclude=VOLATILE) for r in theirs
    ]
    assert [(r.stream, r.status, r.completion_tokens) for r in mine] == [
        (False, "ok", CHAT_COMPLETION_TOKENS),
        (True, "ok", CHAT_COMPLETION_TOKENS),
    ]


async def _chunks(stream: Any) -> AsyncIterator[Any]:
    async for chunk in stream:
        yield chunk


# -- Responses: openai-python's responses.create through our client's Responses API ------

# The Responses API's flat function tool (no "function" wrapper); Any as openai-python's
# TypedDict unions would need a cast per use.
_FUNCTION: Any = WEATHER_TOOL["function"]
WEATHER_FUNCTION: Any = {"type": "function", **_FUNCTION}


def test_responses(standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger))
    r = oa.responses.create(model=SERVED_NAME, input="Hello there", max_output_tokens=64)
    assert isinstance(r, openai.types.responses.Response)
    assert r.output_text == CHAT_CONTENT
    assert [item.type for item in r.output] == ["reasoning", "message"]
    reasoning = r.output[0]
    assert isinstance(reasoning, openai.types.responses.ResponseReasoningItem)
    assert reasoning.content is not None
    assert "".join(c.text for c in reasoning.content) == CHAT_REASONING
    assert r.usage is not None
    assert r.usage.output_tokens == CHAT_COMPLETION_TOKENS
    assert r.usage.output_tokens_details.reasoning_tokens == CHAT_REASONING_TOKENS
    assert "cost" not in (r.model_extra or {})

    gptoss(standin, own_ledger).responses.create(
        model=SERVED_NAME, input="Hello there", max_output_tokens=64
    )
    row = assert_same_rows(wrapper_ledger, own_ledger)
    assert (row.completion_tokens, row.reasoning_tokens) == (
        CHAT_COMPLETION_TOKENS,
        CHAT_REASONING_TOKENS,
    )


def test_streamed_responses(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger))
    with oa.responses.create(
        model=SERVED_NAME, input="Hello there", max_output_tokens=64, stream=True
    ) as stream:
        events = list(stream)
    types = [e.type for e in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    thought = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    assert (text, thought) == (CHAT_CONTENT, CHAT_REASONING)
    completed = events[-1]
    assert isinstance(completed, openai.types.responses.ResponseCompletedEvent)
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens == CHAT_COMPLETION_TOKENS

    with gptoss(standin, own_ledger).responses.create(
        model=SERVED_NAME, input="Hello there", max_output_tokens=64, stream=True
    ) as own:
        list(own)
    row = assert_same_rows(wrapper_ledger, own_ledger)
    assert (row.stream, row.status, row.completion_tokens) == (True, "ok", CHAT_COMPLETION_TOKENS)


def test_a_responses_tool_turn_carries_the_reasoning_over(
    standin: SageMakerRuntimeStandIn, ledgers: tuple[Ledger, Ledger]
) -> None:
    wrapper_ledger, own_ledger = ledgers
    oa = gptoss_aws.openai_client(gptoss(standin, wrapper_ledger, TOOL_ENDPOINT))
    question: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = oa.responses.create(
        model=SERVED_NAME, input=question, tools=[WEATHER_FUNCTION], max_output_tokens=64
    )
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    reasoning, call = first.output
    assert isinstance(call, openai.types.responses.ResponseFunctionToolCall)
    assert (call.name, call.arguments) == (TOOL_NAME, TOOL_ARGUMENTS)
    answer: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"}
    previous: list[Any] = list(first.output)

    # The next turn, as OpenAI's docs say: the previous output items (reasoning included),
    # then the tool's output. Without the reasoning item the prompt is shorter by it.
    second = oa.responses.create(
        model=SERVED_NAME,
        input=[*question, *previous, answer],
        tools=[WEATHER_FUNCTION],
        max_output_tokens=64,
    )
    without = oa.responses.create(
        model=SERVED_NAME,
        input=[*question, previous[1], answer],
        tools=[WEATHER_FUNCTION],
        max_output_tokens=64,
    )
    assert second.usage is not None
    assert without.usage is not None
    assert first.usage is not None
    assert second.usage.input_tokens > without.usage.input_tokens > first.usage.input_tokens

    # The same three calls with our own client: the same three rows.
    own = gptoss(standin, own_ledger, TOOL_ENDPOINT)
    items = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
    for turn in (question, [*question, *items, answer], [*question, items[1], answer]):
        own.responses.create(
            model=SERVED_NAME, input=turn, tools=[WEATHER_FUNCTION], max_output_tokens=64
        )
    mine = sorted(wrapper_ledger.query(), key=lambda r: r.started_at)
    theirs = sorted(own_ledger.query(), key=lambda r: r.started_at)
    assert [r.model_dump(exclude=VOLATILE) for r in mine] == [
        r.model_dump(exclude=VOLATILE) for r in theirs
    ]
    assert [r.prompt_tokens for r in mine] == [
        first.usage.input_tokens,
        second.usage.input_tokens,
        without.usage.input_tokens,
    ]
    del reasoning

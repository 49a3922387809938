"""The client surface: validation before anything is sent, budgets, per-call options, and
streams that are abandoned or dropped. Run against both clients where it applies."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio
import pytest
from test_backend_vllm_replay import (
    CONTENT,
    REASONING,
    ReplayServer,
    Reply,
    chat_stream_chunks,
    error_reply,
    split_every,
    sse_bytes,
)
from test_client_harness import HELLO, FakeTracker, Harness, Sleeps, no_sleep_policy, text_of

from gptoss_aws.client import AsyncGptOss, GptOss
from gptoss_aws.errors import (
    BudgetExceededError,
    ConfigurationError,
    ModelNotReadyError,
    UnpricedError,
)
from gptoss_aws.retry import RetryPolicy
from gptoss_aws.streaming.stream import AsyncStream, Stream


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    yield replay
    replay.stop()


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(params=["sync", "async"])
def harness(
    request: pytest.FixtureRequest, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> Harness:
    def factory(cls: type[Any]) -> Any:
        return cls.openai_compatible(
            server.url,
            model="gpt-oss-20b",
            tracker=tracker,
            retry_policy=no_sleep_policy(sleeps),
            tags={"team": "search", "env": "dev"},
        )

    return Harness(request.param, factory)


# ---- bad input: a clear error, nothing begun, nothing sent ----------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"messages": []}, "non-empty list"),
        ({"messages": "hello"}, "non-empty list"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role 'robot'"),
        ({"messages": [{"role": "user"}]}, "no content"),
        ({"max_tokens": -1}, "positive integer"),
        ({"max_tokens": 0}, "positive integer"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"temperature": 3.5}, "temperature"),
        ({"tags": {"team": 7}}, "tags must map str to str"),
    ],
)
def test_bad_arguments_fail_before_anything_is_recorded_or_sent(
    harness: Harness,
    server: ReplayServer,
    tracker: FakeTracker,
    kwargs: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        harness.create(**kwargs)
    with pytest.raises(ConfigurationError, match=message):
        harness.stream(**kwargs)
    assert tracker.calls == []
    assert server.seen == []


@pytest.mark.parametrize(
    "refusal",
    [
        BudgetExceededError("team search is over budget", budget="search", limit=1, spent=1),
        UnpricedError("no price for this model"),
    ],
)
def test_a_refused_call_is_never_sent(
    request: pytest.FixtureRequest,
    server: ReplayServer,
    sleeps: Sleeps,
    refusal: Exception,
) -> None:
    for flavor in ("sync", "async"):
        harness = Harness(
            flavor,
            lambda cls: cls.openai_compatible(
                server.url,
                tracker=FakeTracker(refuse=refusal),
                retry_policy=no_sleep_policy(sleeps),
            ),
        )
        with pytest.raises(type(refusal)):
            harness.create()
        with pytest.raises(type(refusal)):
            harness.stream()
    assert server.seen == []
    assert sleeps == []


def test_without_a_tracker_calls_work_and_have_no_cost(server: ReplayServer) -> None:
    with GptOss.openai_compatible(server.url) as client:
        answer = client.chat.completions.create(messages=HELLO)
    assert answer.choices[0].message.content == CONTENT
    assert answer.cost is None
    assert answer.call_id is None


# ---- tags and options --------------------------------------------------------------------


def test_call_tags_are_merged_over_the_client_defaults(
    harness: Harness, tracker: FakeTracker
) -> None:
    harness.create(tags={"feature": "autocomplete", "env": "prod"})
    assert dict(tracker.last.intent.tags) == {
        "team": "search",
        "env": "prod",
        "feature": "autocomplete",
    }


def test_with_options_overrides_retries_for_that_copy_only(
    server: ReplayServer, sleeps: Sleeps
) -> None:
    client = GptOss.openai_compatible(server.url, retry_policy=no_sleep_policy(sleeps))
    patient = client.with_options(max_retries=4, timeout=30.0, tags={"k": "v"})
    assert (client.max_retries, patient.max_retries) == (2, 4)
    assert (client.timeout, patient.timeout) == (600.0, 30.0)
    assert (client.tags, patient.tags) == ({}, {"k": "v"})
    assert patient.retry_policy.sleep is sleeps  # the injected sleep is kept
    server.replies.extend([error_reply(503, "loading")] * 4)
    patient.chat.completions.create(messages=HELLO)
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    server.replies.extend([error_reply(503, "loading")] * 3)
    with pytest.raises(ModelNotReadyError):
        client.chat.completions.create(messages=HELLO)
    client.close()


def test_default_retry_policy_is_two_retries() -> None:
    client = GptOss.openai_compatible("http://127.0.0.1:9")
    assert client.max_retries == 2
    assert client.retry_policy.initial_backoff == 0.5
    assert client.retry_policy.max_backoff == 8
    assert GptOss.openai_compatible("http://127.0.0.1:9", max_retries=0).max_retries == 0
    assert GptOss(client.backend, retry_policy=RetryPolicy(max_retries=5)).max_retries == 5


def test_bad_client_options_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        GptOss.openai_compatible("http://127.0.0.1:9", timeout=0)
    with pytest.raises(ConfigurationError, match="max_retries"):
        GptOss.openai_compatible("http://127.0.0.1:9", max_retries=-1)
    with pytest.raises(ConfigurationError, match="base_url"):
        GptOss.openai_compatible("127.0.0.1:8080")


# ---- streams that end early ------------------------------------------------------------------


def test_a_stream_closed_early_is_recorded_as_aborted_with_estimated_usage(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    chunks = harness.stream(take=8)  # role + 7 reasoning deltas, then close()
    assert len(chunks) == 8
    finish = tracker.last.only
    assert (finish.status, finish.usage_source) == ("aborted", "estimated")
    streamed = text_of(chunks, "reasoning")
    assert streamed == REASONING[: len(streamed)]
    assert len(streamed) > 20
    assert finish.usage.completion_tokens == max(7, -(-len(streamed.encode()) // 3))
    assert finish.usage.reasoning_tokens == finish.usage.completion_tokens
    assert 0 < finish.usage.prompt_tokens < tracker.last.intent.prompt_tokens_estimate


def test_a_stream_dropped_without_close_is_recorded_when_collected(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    client = GptOss.openai_compatible(server.url, tracker=tracker)
    stream = client.chat.completions.create(messages=HELLO, stream=True)
    for i, _chunk in enumerate(stream):
        if i == 3:
            break
    assert tracker.last.finishes == []
    del stream, _chunk
    gc.collect()
    assert tracker.last.only.status == "aborted"
    client.close()


def test_an_async_stream_dropped_without_close_is_recorded_when_collected(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    async def main() -> None:
        async with AsyncGptOss.openai_compatible(server.url, tracker=tracker) as client:
            stream = await client.chat.completions.create(messages=HELLO, stream=True)
            async for _chunk in stream:
                break
            assert tracker.last.finishes == []
            del stream
            gc.collect()
            assert tracker.last.only.status == "aborted"

    asyncio.run(main())


def test_a_consumed_stream_settles_once_even_when_closed_again(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    with GptOss.openai_compatible(server.url, tracker=tracker) as client:
        stream = client.chat.completions.create(messages=HELLO, stream=True)
        assert isinstance(stream, Stream)
        chunks = list(stream)
        stream.close()
        stream.close()
        assert list(stream) == []
    assert tracker.last.only.status == "ok"
    assert stream.usage is not None
    assert stream.usage.completion_tokens == 29
    assert stream.cost_usd == Decimal(97) / 1_000_000
    assert stream.call_id == "call-0"
    assert chunks[-1].cost == stream.cost


def test_interrupting_a_stream_records_it_as_aborted(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    class Interrupting:
        """A raw stream whose read is interrupted (Ctrl-C while waiting for a chunk)."""

        received_bytes = 1

        def __iter__(self) -> Interrupting:
            return self

        def __next__(self) -> Any:
            raise KeyboardInterrupt

        def close(self) -> None:
            pass

    with GptOss.openai_compatible(server.url, tracker=tracker) as client:
        stream = client.chat.completions.create(messages=HELLO, stream=True)
        stream._raw = Interrupting()
        next(stream)  # the first chunk was read when the stream opened
        with pytest.raises(KeyboardInterrupt):
            next(stream)
    assert tracker.last.only.status == "aborted"


def test_async_stream_object_has_the_same_surface(server: ReplayServer) -> None:
    async def main() -> None:
        async with AsyncGptOss.openai_compatible(server.url) as client:
            stream = await client.chat.completions.create(messages=HELLO, stream=True)
            assert isinstance(stream, AsyncStream)
            chunks = [chunk async for chunk in stream]
            await stream.close()
            final = stream.final_completion()
            assert final.choices[0].message.content == CONTENT
            assert final.choices[0].message.reasoning == REASONING
            assert final.usage.completion_tokens == 29
            assert chunks[-1].usage is not None

    asyncio.run(main())


def test_a_cancelled_async_stream_is_recorded_as_aborted(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    data = sse_bytes(chat_stream_chunks())
    server.replies.append(
        Reply(
            headers={"Content-Type": "text/event-stream"},
            parts=split_every(data, 300),
            stall_after=2,  # the server goes quiet mid-answer
            stall=2.0,
        )
    )
    got: list[Any] = []

    async def main() -> None:
        async with AsyncGptOss.openai_compatible(server.url, tracker=tracker) as client:
            # A timeout scope cancels every await inside it until it exits: settling the
            # call must still get through (it is shielded).
            with anyio.move_on_after(0.3) as scope:
                stream = await client.chat.completions.create(messages=HELLO, stream=True)
                async with stream:
                    async for chunk in stream:
                        got.append(chunk)
            assert scope.cancelled_caught

    asyncio.run(main())
    assert 0 < len(got) < 22
    finish = tracker.last.only
    assert (finish.status, finish.usage_source) == ("aborted", "estimated")
    assert finish.usage.completion_tokens > 0


def test_the_async_client_writes_the_ledger_off_the_event_loop(
    server: ReplayServer, tracker: FakeTracker
) -> None:
    loop_threads: list[int] = []

    async def main() -> None:
        loop_threads.append(threading.get_ident())
        async with AsyncGptOss.openai_compatible(server.url, tracker=tracker) as client:
            await client.chat.completions.create(messages=HELLO)
            stream = await client.chat.completions.create(messages=HELLO, stream=True)
            async for _chunk in stream:
                pass

    asyncio.run(main())
    assert len(tracker.begin_threads) == 2
    for thread in tracker.begin_threads + [t for c in tracker.calls for t in c.finish_threads]:
        assert thread != loop_threads[0]

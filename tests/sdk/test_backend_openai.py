"""The OpenAI-compatible backend against a real socket server replaying vLLM 0.32."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from test_backend_vllm_replay import (
    CHAT_COMPLETION,
    CONTENT,
    REASONING,
    TOOL_ARGUMENTS,
    TOOL_ID,
    TOOL_REASONING,
    WEATHER_TOOL,
    ReplayServer,
    Reply,
    chat_stream_chunks,
    error_reply,
    json_reply,
    sse_bytes,
    sse_reply,
)
from test_client_harness import FakeTracker, Harness, Sleeps, no_sleep_policy, text_of

from gptoss_aws.client import AsyncGptOss, GptOss
from gptoss_aws.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)


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
            api_key="sk-local",
            model="openai/gpt-oss-120b",
            tracker=tracker,
            retry_policy=no_sleep_policy(sleeps),
            tags={"team": "search"},
        )

    return Harness(request.param, factory)


# ---- answers ---------------------------------------------------------------------------------


def test_chat_answer_has_content_reasoning_and_usage(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    answer = harness.create(reasoning_effort="low", max_tokens=64, temperature=0.0)
    message = answer.choices[0].message
    assert (message.content, message.reasoning, message.tool_calls) == (CONTENT, REASONING, None)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.model_dump() == {
        "prompt_tokens": 68,
        "completion_tokens": 29,
        "reasoning_tokens": 10,
    }
    assert (answer.id, answer.model, answer.backend) == (CHAT_COMPLETION["id"], "tiny", "openai")
    assert answer.cost is not None
    assert answer.cost.usd == Decimal(97) / 1_000_000
    assert answer.call_id == "call-0"

    (seen,) = server.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == "Bearer sk-local"
    assert seen.json() == {
        "model": "openai/gpt-oss-120b",
        "messages": [{"role": "user", "content": "hello"}],
        "reasoning_effort": "low",
        "max_tokens": 64,
        "temperature": 0.0,
    }
    call = tracker.last
    assert call.only.status == "ok"
    assert call.only.usage_source == "reported"
    intent = call.intent
    assert (intent.backend, intent.model, intent.model_id, intent.endpoint) == (
        "openai",
        "gpt-oss-120b",
        "openai/gpt-oss-120b",
        server.url,
    )
    assert (intent.stream, intent.max_tokens, dict(intent.tags)) == (False, 64, {"team": "search"})
    assert intent.prompt_tokens_estimate > 0


def test_older_servers_reasoning_content_is_read_as_reasoning(
    harness: Harness, server: ReplayServer
) -> None:
    body = json.loads(json.dumps(CHAT_COMPLETION))
    message = body["choices"][0]["message"]
    message["reasoning_content"] = message.pop("reasoning")
    server.replies.append(json_reply(body))
    assert harness.create().choices[0].message.reasoning == REASONING


def test_an_answer_without_usage_is_estimated_and_says_so(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    body = json.loads(json.dumps(CHAT_COMPLETION))
    del body["usage"]
    server.replies.append(json_reply(body))
    usage = harness.create().usage
    output_bytes = len((CONTENT + REASONING).encode())
    assert usage.completion_tokens == -(-output_bytes // 3)
    assert usage.reasoning_tokens == -(-len(REASONING.encode()) // 3)
    finish = tracker.last.only
    assert finish.usage_source == "estimated"
    # The typical prompt estimate is billed; the (larger) upper bound only sized the reservation.
    assert 0 < finish.usage.prompt_tokens < tracker.last.intent.prompt_tokens_estimate


def test_tool_call_answer(harness: Harness, server: ReplayServer) -> None:
    answer = harness.create(tools=[WEATHER_TOOL], tool_choice="auto")
    message = answer.choices[0].message
    assert message.content is None
    assert message.reasoning == TOOL_REASONING
    assert message.tool_calls is not None
    (call,) = message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        TOOL_ID,
        "get_weather",
        TOOL_ARGUMENTS,
    )
    assert answer.choices[0].finish_reason == "tool_calls"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (123, 35)
    assert answer.usage.reasoning_tokens == 16
    assert server.seen[0].json()["tools"] == [WEATHER_TOOL]
    assert server.seen[0].json()["tool_choice"] == "auto"


def test_extra_body_is_merged_into_the_request(harness: Harness, server: ReplayServer) -> None:
    harness.create(extra_body={"top_p": 0.5, "seed": 7})
    body = server.seen[0].json()
    assert (body["top_p"], body["seed"]) == (0.5, 7)


# ---- streams ---------------------------------------------------------------------------------


def test_stream_yields_the_recorded_deltas_and_ends_with_usage_and_cost(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    chunks = harness.stream(reasoning_effort="high")
    assert text_of(chunks, "reasoning") == REASONING
    assert text_of(chunks, "content") == CONTENT
    assert len(chunks) == 22  # role, 10 reasoning, 9 content, finish, usage
    last = chunks[-1]
    assert last.usage is not None
    assert last.usage.completion_tokens == 29
    assert last.usage.reasoning_tokens == 10
    assert last.cost is not None
    assert last.cost.usd == Decimal(97) / 1_000_000
    body = server.seen[0].json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    finish = tracker.last.only
    assert (finish.status, finish.usage_source) == ("ok", "reported")
    assert finish.ttft_ms is not None
    assert finish.ttft_ms >= 0
    assert tracker.last.intent.stream is True


def test_a_finished_stream_hands_its_connection_back_for_the_next_call(
    harness: Harness, server: ReplayServer
) -> None:
    def two_streams(client: Any) -> None:
        for _ in range(2):
            list(
                client.chat.completions.create(
                    messages=[{"role": "user", "content": "hi"}], stream=True
                )
            )

    async def two_async_streams(client: Any) -> None:
        for _ in range(2):
            stream = await client.chat.completions.create(
                messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async for _chunk in stream:
                pass

    harness._run(two_streams if harness.flavor == "sync" else two_async_streams)
    first, second = server.seen
    assert first.peer == second.peer  # one TCP connection, no new handshake


def test_streamed_tool_call_arguments_are_reassembled(server: ReplayServer, sleeps: Sleeps) -> None:
    with GptOss.openai_compatible(server.url, retry_policy=no_sleep_policy(sleeps)) as client:
        stream = client.chat.completions.create(
            messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER_TOOL], stream=True
        )
        chunks = list(stream)
        final = stream.final_completion()
    message = final.choices[0].message
    assert message.content is None
    assert message.reasoning == TOOL_REASONING
    assert message.tool_calls is not None
    assert message.tool_calls[0].id == TOOL_ID
    assert message.tool_calls[0].function.arguments == TOOL_ARGUMENTS
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage.completion_tokens == 35
    assert chunks[-1].usage is not None
    assert chunks[-1].cost is None


def test_a_server_that_sends_no_usage_gets_an_estimated_closing_chunk(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    server.replies.append(sse_reply(sse_bytes(chat_stream_chunks(with_usage=False))))
    chunks = harness.stream()
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.cost is not None
    finish = tracker.last.only
    assert (finish.status, finish.usage_source) == ("ok", "estimated")
    # 19 deltas carrying 75 bytes: at least one token per delta, bytes / 3 when larger.
    assert finish.usage.completion_tokens == max(19, -(-len((REASONING + CONTENT).encode()) // 3))
    assert finish.usage.reasoning_tokens == max(10, -(-len(REASONING.encode()) // 3))
    assert 0 < finish.usage.prompt_tokens < tracker.last.intent.prompt_tokens_estimate


def test_stream_broken_mid_way_raises_and_records_what_arrived(
    harness: Harness, server: ReplayServer, tracker: FakeTracker, sleeps: Sleeps
) -> None:
    data = sse_bytes(chat_stream_chunks())
    cut_at = data.index(b'"content": " How"')  # reasoning done, "Hello!" streamed
    server.replies.append(sse_reply(data[:cut_at], split=64, cut=True))
    chunks, error = harness.stream_until_error()
    assert isinstance(error, APIConnectionError)
    assert text_of(chunks, "content") == "Hello!"
    assert sleeps == []  # bytes had arrived: never retried
    assert len(server.seen) == 1
    finish = tracker.last.only
    assert (finish.status, finish.error_kind, finish.usage_source) == (
        "error",
        "APIConnectionError",
        "estimated",
    )
    assert finish.usage.completion_tokens >= 12  # 10 reasoning + 2 content deltas


def test_an_error_event_in_the_stream_raises_the_mapped_error(
    harness: Harness, server: ReplayServer, tracker: FakeTracker
) -> None:
    data = sse_bytes(chat_stream_chunks()[:3], done=False) + (
        b'data: {"error": {"message": "engine dead", "type": "InternalServerError", '
        b'"param": null, "code": 500}}\n\n'
    )
    server.replies.append(sse_reply(data))
    chunks, error = harness.stream_until_error()
    assert isinstance(error, ModelError)
    assert "engine dead" in str(error)
    assert len(chunks) == 3
    assert tracker.last.only.status == "error"


# ---- errors and retries ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (413, InvalidRequestError),
        (415, InvalidRequestError),
        (422, InvalidRequestError),
    ],
)
def test_client_errors_map_to_their_class_and_are_not_retried(
    harness: Harness,
    server: ReplayServer,
    tracker: FakeTracker,
    sleeps: Sleeps,
    status: int,
    error: type[Exception],
) -> None:
    server.replies.append(error_reply(status, "max_tokens must be at least 1"))
    with pytest.raises(error, match="max_tokens must be at least 1") as caught:
        harness.create()
    assert isinstance(caught.value, APIStatusError)
    assert caught.value.status_code == status
    body: Any = caught.value.body
    assert body["error"]["code"] == status
    assert sleeps == []
    assert len(server.seen) == 1
    finish = tracker.last.only
    assert (finish.status, finish.error_kind) == ("error", error.__name__)
    assert finish.usage.model_dump() == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "reasoning_tokens": 0,
    }


def test_non_json_error_bodies_still_map(harness: Harness, server: ReplayServer) -> None:
    server.replies.append(Reply(status=415, body=b"Unsupported Media Type"))
    with pytest.raises(InvalidRequestError, match="Unsupported Media Type"):
        harness.create()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, ThrottledError),
        (503, ModelNotReadyError),
        (500, ModelError),
        (502, ModelError),
        (408, APIStatusError),
        (409, APIStatusError),
    ],
)
def test_transient_statuses_are_retried_then_succeed(
    harness: Harness, server: ReplayServer, sleeps: Sleeps, status: int, error: type[Exception]
) -> None:
    server.replies.extend([error_reply(status, "busy"), error_reply(status, "busy")])
    assert harness.create().choices[0].message.content == CONTENT
    assert sleeps == [0.5, 1.0]
    assert len(server.seen) == 3


def test_retries_give_up_with_the_last_error_and_one_ledger_row(
    harness: Harness, server: ReplayServer, sleeps: Sleeps, tracker: FakeTracker
) -> None:
    server.replies.extend([error_reply(503, "draining")] * 3)
    with pytest.raises(ModelNotReadyError, match="draining"):
        harness.create()
    assert len(server.seen) == 3
    assert len(tracker.calls) == 1
    assert tracker.last.only.error_kind == "ModelNotReadyError"


def test_retry_after_header_sets_the_wait(
    harness: Harness, server: ReplayServer, sleeps: Sleeps
) -> None:
    reply = error_reply(429, "slow down")
    reply.headers["Retry-After"] = "2"
    server.replies.append(reply)
    harness.create()
    assert sleeps == [2.0]


def test_stream_is_retried_when_it_fails_before_the_first_byte(
    harness: Harness, server: ReplayServer, sleeps: Sleeps, tracker: FakeTracker
) -> None:
    server.replies.extend([error_reply(503, "loading"), Reply(reset=True)])
    chunks = harness.stream()
    assert text_of(chunks, "content") == CONTENT
    assert sleeps == [0.5, 1.0]
    assert len(server.seen) == 3
    assert tracker.last.only.status == "ok"


def test_stream_that_breaks_before_any_byte_of_body_is_retried(
    harness: Harness, server: ReplayServer, sleeps: Sleeps
) -> None:
    # Headers came, then the connection died with no body byte: nothing was delivered.
    server.replies.append(sse_reply(b"", cut=True))
    assert text_of(harness.stream(), "content") == CONTENT
    assert sleeps == [0.5]


def test_connection_refused_is_a_retried_connection_error(
    tracker: FakeTracker, sleeps: Sleeps
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = GptOss.openai_compatible(
        f"http://127.0.0.1:{port}", tracker=tracker, retry_policy=no_sleep_policy(sleeps)
    )
    with pytest.raises(APIConnectionError):
        client.chat.completions.create(messages=[{"role": "user", "content": "hi"}])
    assert sleeps == [0.5, 1.0]
    assert tracker.last.only.error_kind == "APIConnectionError"


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_timeout_raises_api_timeout_error(
    server: ReplayServer, sleeps: Sleeps, flavor: str
) -> None:
    def slow(seen: Any) -> Reply:
        time.sleep(0.5)
        return json_reply(CHAT_COMPLETION)

    server.replies.append(slow)

    def factory(cls: type[Any]) -> Any:
        client = cls.openai_compatible(server.url, retry_policy=no_sleep_policy(sleeps))
        return client.with_options(timeout=0.1, max_retries=0)

    with pytest.raises(APITimeoutError):
        Harness(flavor, factory).create()  # type: ignore[arg-type]


def test_base_url_may_include_v1_and_a_trailing_slash(server: ReplayServer) -> None:
    with GptOss.openai_compatible(server.url + "/v1/") as client:
        client.chat.completions.create(messages=[{"role": "user", "content": "hi"}])
    assert server.seen[0].path == "/v1/chat/completions"


def test_user_http_clients_are_used_and_not_closed(server: ReplayServer) -> None:
    http = httpx.Client(headers={"X-Team": "search"})
    client = GptOss.openai_compatible(server.url, http_client=http)
    client.chat.completions.create(messages=[{"role": "user", "content": "hi"}])
    client.close()
    assert server.seen[0].headers["X-Team"] == "search"
    assert not http.is_closed
    http.close()


def test_async_client_shares_nothing_with_a_closed_sync_client(server: ReplayServer) -> None:
    import asyncio

    async def main() -> str | None:
        async with AsyncGptOss.openai_compatible(server.url) as client:
            answer = await client.chat.completions.create(
                messages=[{"role": "user", "content": "hi"}]
            )
            return answer.choices[0].message.content

    assert asyncio.run(main()) == CONTENT

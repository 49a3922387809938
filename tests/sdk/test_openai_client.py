"""openai_client(): openai-python's own client over ours, against a real socket server
replaying vLLM 0.32 (test_backend_vllm_replay). The engine-backed proof (the container
through the SageMaker stand-in, Strands) is in tests/clients; here: every error kind's
status and class, timeouts, errors inside a stream, routes, constructor arguments, and the
missing extra."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import boto3
import httpx
import pytest
from botocore.stub import Stubber
from test_backend_bedrock import META, chat_events, converse_answer
from test_backend_mantle import PROJECT, REGION, header, mantle, only_row, verify_sigv4
from test_backend_vllm_replay import (
    CHAT_COMPLETION,
    CONTENT,
    REASONING,
    ReplayServer,
    Reply,
    Seen,
    chat_stream_chunks,
    error_reply,
    json_reply,
    sse_bytes,
    sse_reply,
)
from test_responses import (
    QUESTION,
    TOOL_REASONING,
    WEATHER,
    fixture_json,
    fixture_sse,
    sse_events,
)

import gptoss_aws
from gptoss_aws import (
    APITimeoutError,
    Budget,
    BudgetExceededError,
    ConfigurationError,
    GptOss,
    ModelNotReadyError,
    ThrottledError,
    TokenPrice,
    Tracker,
    open_ledger,
)
from gptoss_aws.ledger import Ledger
from gptoss_aws.retry import RetryPolicy

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

openai = pytest.importorskip("openai")  # the `openai` extra (requirements/dev.lock pins it)

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]
TEAM = {"team": "search"}
PRICE = TokenPrice(Decimal("0.15"), Decimal("0.60"), "test", date(2026, 11, 1))


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    yield replay
    replay.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return open_ledger(tmp_path / "ledger.sqlite3")


def ours(server: ReplayServer, ledger: Ledger, **kwargs: object) -> GptOss:
    return GptOss.openai_compatible(
        server.url,
        model="gpt-oss-20b",
        price=PRICE,
        tracker=Tracker(ledger=ledger, budgets=kwargs.pop("budgets", [])),  # type: ignore[arg-type]
        retry_policy=RetryPolicy(max_retries=0),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_priced_call_has_its_cost_in_headers_and_none_in_the_body(
    server: ReplayServer, ledger: Ledger
) -> None:
    oa = gptoss_aws.openai_client(ours(server, ledger))
    raw = oa.chat.completions.with_raw_response.create(model="gpt-oss-20b", messages=HELLO)
    r = raw.parse()
    assert r.choices[0].message.content == CONTENT
    assert (r.choices[0].message.model_extra or {})["reasoning"] == REASONING
    assert set(r.model_extra or {}) <= {"prompt_logprobs", "prompt_token_ids", "kv_transfer_params"}
    [row] = ledger.query()
    assert raw.headers["x-gptoss-call-id"] == row.id
    assert raw.headers["x-gptoss-cost-basis"] == "per_token"
    assert Decimal(raw.headers["x-gptoss-cost-usd"]) == row.cost_usd
    # What reached the server is what our own client sends: usage always asked for.
    assert server.seen[-1].path == "/v1/chat/completions"


@pytest.mark.parametrize(
    ("status", "openai_class", "our_class"),
    [
        (429, "RateLimitError", ThrottledError),
        (503, "InternalServerError", ModelNotReadyError),
        (400, "BadRequestError", gptoss_aws.InvalidRequestError),
        (404, "NotFoundError", gptoss_aws.NotFoundError),
        (401, "AuthenticationError", gptoss_aws.AuthenticationError),
    ],
)
def test_a_status_from_the_server_is_openais_class_and_ours_is_kept(
    server: ReplayServer, ledger: Ledger, status: int, openai_class: str, our_class: type
) -> None:
    reply = error_reply(status, "no")
    if status == 429:
        reply.headers["retry-after"] = "3"
    server.replies.append(reply)
    oa = gptoss_aws.openai_client(ours(server, ledger))
    with pytest.raises(getattr(openai, openai_class)) as caught:
        oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO)
    exc = caught.value
    assert exc.status_code == status
    assert exc.type == our_class.__name__
    assert isinstance(gptoss_aws.gptoss_error(exc), our_class)
    if status == 429:
        assert exc.response.headers["retry-after-ms"] == "3000"
    [row] = ledger.query()
    assert (row.status, row.error_kind) == ("error", our_class.__name__)


def test_a_hard_budget_is_402_never_retried(server: ReplayServer, ledger: Ledger) -> None:
    tight = [Budget(name="cap", limit=Decimal("0.0000001"), unit="usd", mode="hard")]
    oa = gptoss_aws.openai_client(ours(server, ledger, budgets=tight))
    with pytest.raises(openai.APIStatusError) as caught:
        oa.with_options(max_retries=3).chat.completions.create(
            model="gpt-oss-20b", messages=HELLO, max_tokens=64
        )
    exc = caught.value
    assert not isinstance(exc, openai.RateLimitError | openai.InternalServerError)
    assert (exc.status_code, exc.code) == (402, "budget_exceeded")
    assert exc.body["budget"] == "cap"
    assert isinstance(gptoss_aws.gptoss_error(exc), BudgetExceededError)
    assert server.seen == []  # nothing was sent, not once, not retried
    assert ledger.query() == []


def test_a_timeout_is_openais_timeout_chained_to_ours(server: ReplayServer, ledger: Ledger) -> None:
    def slow(seen: Seen) -> Reply:
        time.sleep(0.5)
        return json_reply(CHAT_COMPLETION)

    server.replies.append(slow)
    oa = gptoss_aws.openai_client(ours(server, ledger, timeout=0.3))
    with pytest.raises(openai.APITimeoutError) as caught:
        oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO)
    assert isinstance(gptoss_aws.gptoss_error(caught.value), APITimeoutError)


def test_an_error_inside_a_stream_raises_openais_api_error(
    server: ReplayServer, ledger: Ledger
) -> None:
    chunks = chat_stream_chunks()[:3]
    error = {"error": {"message": "engine died", "type": "InternalServerError", "code": 500}}
    server.replies.append(sse_reply(sse_bytes([*chunks, error], done=False)))
    oa = gptoss_aws.openai_client(ours(server, ledger))
    stream = oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO, stream=True)
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert caught.value.type == "ModelError"
    [row] = ledger.query()
    assert (row.status, row.error_kind, row.usage_source) == ("error", "ModelError", "estimated")


def test_closing_a_stream_early_settles_the_row_as_aborted(
    server: ReplayServer, ledger: Ledger
) -> None:
    oa = gptoss_aws.openai_client(ours(server, ledger))
    with oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO, stream=True) as stream:
        next(iter(stream))
    [row] = ledger.query()
    assert row.status == "aborted"


def test_bad_arguments_are_a_bad_request_naming_the_field(
    server: ReplayServer, ledger: Ledger
) -> None:
    oa = gptoss_aws.openai_client(ours(server, ledger))
    with pytest.raises(openai.BadRequestError) as caught:
        oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO, reasoning_effort="minimal")
    assert "reasoning_effort must be one of low, medium, high" in caught.value.message
    assert isinstance(gptoss_aws.gptoss_error(caught.value), ConfigurationError)
    assert server.seen == []


def test_routes_it_does_not_serve_are_404(server: ReplayServer, ledger: Ledger) -> None:
    oa = gptoss_aws.openai_client(ours(server, ledger))
    assert [m.id for m in oa.models.list()] == ["gpt-oss-20b"]
    assert oa.models.retrieve("gpt-oss-20b").id == "gpt-oss-20b"
    with pytest.raises(openai.NotFoundError):
        oa.models.retrieve("gpt-4o")
    with pytest.raises(openai.NotFoundError) as caught:
        oa.embeddings.create(model="gpt-oss-20b", input="x")
    assert "POST /v1/embeddings is not served" in caught.value.message


def test_project_comes_from_the_argument_not_the_environment(
    server: ReplayServer, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_from_an_openai_account")
    gptoss_aws.openai_client(ours(server, ledger)).chat.completions.create(
        model="gpt-oss-20b", messages=HELLO
    )
    gptoss_aws.openai_client(ours(server, ledger), project="proj_ours").chat.completions.create(
        model="gpt-oss-20b", messages=HELLO
    )
    assert sorted(str(row.project) for row in ledger.query()) == ["None", "proj_ours"]


def test_constructor_arguments(server: ReplayServer, ledger: Ledger) -> None:
    oa = gptoss_aws.openai_client(
        base_url=server.url, model="gpt-oss-20b", price=PRICE, tracker=Tracker(ledger=ledger)
    )
    assert isinstance(oa, openai.OpenAI)
    oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO)
    assert len(ledger.query()) == 1
    with pytest.raises(ConfigurationError, match="exactly one of endpoint="):
        gptoss_aws.openai_client()
    with pytest.raises(ConfigurationError, match="not both"):
        gptoss_aws.openai_client(ours(server, ledger), endpoint="x")
    assert isinstance(
        gptoss_aws.async_openai_client(base_url=server.url, price=PRICE), openai.AsyncOpenAI
    )
    # The same from the client itself.
    via_method = ours(server, ledger).openai(project="proj_x")
    assert isinstance(via_method, openai.OpenAI)
    via_method.chat.completions.create(model="gpt-oss-20b", messages=HELLO)
    assert sorted(str(row.project) for row in ledger.query()) == ["None", "proj_x"]
    assert isinstance(
        gptoss_aws.AsyncGptOss.openai_compatible(server.url, price=PRICE).openai(),
        openai.AsyncOpenAI,
    )


def test_without_the_extra_the_error_names_it(
    server: ReplayServer, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(ImportError, match=r'pip install "gptoss-aws\[openai\]"'):
        gptoss_aws.openai_client(ours(server, ledger))


def test_the_http_client_never_leaves_the_process(server: ReplayServer, ledger: Ledger) -> None:
    oa = gptoss_aws.openai_client(ours(server, ledger))
    assert httpx.URL(str(oa.base_url)).host.endswith(".invalid")


# -- the async client ---------------------------------------------------------------------


def test_async_errors_and_early_close_match_the_sync_client(
    server: ReplayServer, ledger: Ledger
) -> None:
    throttled = error_reply(429, "slow down")
    throttled.headers["retry-after"] = "2"
    server.replies.append(throttled)

    async def run() -> None:
        oa = gptoss_aws.async_openai_client(
            gptoss_aws.AsyncGptOss.openai_compatible(
                server.url,
                model="gpt-oss-20b",
                price=PRICE,
                tracker=Tracker(ledger=ledger),
                retry_policy=RetryPolicy(max_retries=0),
            )
        )
        with pytest.raises(openai.RateLimitError) as caught:
            await oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO)
        assert isinstance(gptoss_aws.gptoss_error(caught.value), ThrottledError)
        assert caught.value.response.headers["retry-after-ms"] == "2000"
        stream = await oa.chat.completions.create(model="gpt-oss-20b", messages=HELLO, stream=True)
        async for _ in stream:
            break
        await stream.close()

    anyio.run(run)
    rows = sorted(ledger.query(), key=lambda r: r.started_at)
    assert [(r.status, r.error_kind, r.stream) for r in rows] == [
        ("error", "ThrottledError", False),
        ("aborted", None, True),
    ]


# -- Bedrock (Converse) behind openai-python's client ---------------------------------------


@pytest.fixture
def bedrock_runtime() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(client)
    # As in test_backend_bedrock: the Stubber cannot validate ConverseStream's event stream.
    vars(stub)["_validate_operation_response"] = lambda operation_name, response: None
    with stub:
        yield client, stub
    stub.assert_no_pending_responses()


def test_bedrock_converse_answers_in_openais_shape_with_the_same_rows(
    bedrock_runtime: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stub = bedrock_runtime
    answer = converse_answer(
        {"reasoningContent": {"reasoningText": {"text": REASONING}}}, {"text": CONTENT}
    )
    for _ in range(2):
        stub.add_response("converse", answer)
        stub.add_response("converse_stream", {"stream": chat_events(), "ResponseMetadata": META})
    wrapper_ledger = open_ledger(tmp_path / "wrapper.sqlite3")
    own_ledger = open_ledger(tmp_path / "own.sqlite3")

    def bedrock(ledger: Ledger) -> GptOss:
        return GptOss.bedrock(
            "gpt-oss-120b", runtime_client=client, tracker=Tracker(ledger=ledger), tags=TEAM
        )

    oa = gptoss_aws.openai_client(bedrock(wrapper_ledger))
    r = oa.chat.completions.create(model="gpt-oss-120b", messages=HELLO, max_tokens=64)
    assert r.choices[0].message.content == CONTENT
    assert (r.choices[0].message.model_extra or {})["reasoning_content"] == REASONING
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (68, 29)
    chunks = list(
        oa.chat.completions.create(
            model="gpt-oss-120b",
            messages=HELLO,
            max_tokens=64,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == CONTENT
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 29

    own = bedrock(own_ledger)
    own.chat.completions.create(messages=[dict(m) for m in HELLO], max_tokens=64)
    with own.chat.completions.create(
        messages=[dict(m) for m in HELLO], max_tokens=64, stream=True
    ) as stream:
        list(stream)
    volatile = {"id", "started_at", "ended_at", "latency_ms", "ttft_ms"}
    mine = sorted(wrapper_ledger.query(), key=lambda r: r.stream)
    theirs = sorted(own_ledger.query(), key=lambda r: r.stream)
    assert [r.model_dump(exclude=volatile) for r in mine] == [
        r.model_dump(exclude=volatile) for r in theirs
    ]
    assert [(r.backend, r.stream, r.completion_tokens) for r in mine] == [
        ("bedrock", False, 29),
        ("bedrock", True, 29),
    ]


# -- Bedrock Mantle (SigV4, Projects, Responses) behind openai-python's client ----------------
# The Mantle stand-in and its doc citations are test_backend_mantle's; here the same calls
# come from openai-python through openai_client().


def test_mantle_responses_tool_turn_is_signed_by_our_backend_with_the_project(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.extend(
        [json_reply(fixture_json("turn1.json")), json_reply(fixture_json("turn2.json"))]
    )
    oa = gptoss_aws.openai_client(mantle(GptOss, server, ledger, project=PROJECT))
    weather: Any = WEATHER
    question: Any = QUESTION
    turn1 = oa.responses.create(
        model="gpt-oss-120b", input=[question], tools=[weather], max_output_tokens=128
    )
    assert [item.type for item in turn1.output][:2] == ["reasoning", "function_call"]
    call = next(i for i in turn1.output if i.type == "function_call")
    result: Any = {"type": "function_call_output", "call_id": call.call_id, "output": '{"c": 18}'}
    previous: list[Any] = list(turn1.output)
    oa.responses.create(
        model="gpt-oss-120b",
        input=[question, *previous, result],
        tools=[weather],
        max_output_tokens=128,
    )
    for seen in server.seen:
        assert seen.path == "/v1/responses"
        # Signed by our backend (openai-python's api_key never reaches the wire).
        verify_sigv4(seen, server.url + seen.path, "bedrock-mantle", REGION)
        assert header(seen, "OpenAI-Project") == PROJECT
    sent = server.seen[1].json()["input"]
    assert sent[1]["type"] == "reasoning"
    assert sent[1]["content"] == [{"type": "reasoning_text", "text": TOOL_REASONING}]
    rows = sorted(ledger.query(), key=lambda r: r.started_at)
    assert [(r.backend, r.project, r.cost_basis) for r in rows] == [
        ("bedrock_mantle", PROJECT, "per_token")
    ] * 2
    assert rows[0].cost_usd is not None


def test_mantle_response_events_are_relayed_as_sent(server: ReplayServer, ledger: Ledger) -> None:
    server.replies.append(sse_reply(fixture_sse("turn1.sse")))
    oa = gptoss_aws.openai_client(mantle(GptOss, server, ledger))
    weather: Any = WEATHER
    question: Any = QUESTION
    with oa.responses.with_streaming_response.create(
        model="gpt-oss-120b", input=[question], tools=[weather], stream=True
    ) as raw:
        lines = list(raw.iter_lines())
    relayed = [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]
    assert relayed == sse_events("turn1.sse")
    names = [line[len("event: ") :] for line in lines if line.startswith("event: ")]
    assert names == [event["type"] for event in relayed]
    row = only_row(ledger)
    assert (row.backend, row.stream, row.completion_tokens, row.reasoning_tokens) == (
        "bedrock_mantle",
        True,
        35,
        16,
    )


def test_openai_clients_project_is_the_mantle_project_of_a_chat_call(
    server: ReplayServer, ledger: Ledger
) -> None:
    # openai_client(project=...) is openai-python's OpenAI-Project header, which the
    # transport hands to our client as the call's project.
    server.replies.append(json_reply(CHAT_COMPLETION))
    oa = gptoss_aws.openai_client(mantle(GptOss, server, ledger), project=PROJECT)
    oa.chat.completions.create(model="gpt-oss-120b", messages=HELLO)
    assert header(server.seen[-1], "OpenAI-Project") == PROJECT
    assert only_row(ledger).project == PROJECT


def test_openai_clients_project_is_the_mantle_project_of_a_responses_call(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.append(json_reply(fixture_json("turn1.json")))
    oa = gptoss_aws.openai_client(mantle(GptOss, server, ledger), project=PROJECT)
    question: Any = QUESTION
    oa.responses.create(model="gpt-oss-120b", input=[question], max_output_tokens=128)
    assert only_row(ledger).project == PROJECT
    assert header(server.seen[-1], "OpenAI-Project") == PROJECT

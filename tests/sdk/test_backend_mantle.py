"""Bedrock Mantle (``GptOss.bedrock_mantle``) against a local HTTP server standing in for
``bedrock-mantle.{region}.api.aws``, which botocore does not model.

What the stand-in encodes (Amazon Bedrock user guide):

- "bedrock-mantle (recommended) | https://bedrock-mantle.{region}.api.aws/v1/chat/completions |
  Amazon Bedrock API key or AWS credentials"
  (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-chat-completions-mantle.html);
- ``OPENAI_BASE_URL="https://bedrock-mantle.<your-region>.api.aws/v1"``,
  ``OPENAI_API_KEY="<your Bedrock API key>"`` (the "Responses API" page,
  https://docs.aws.amazon.com/bedrock/latest/userguide/inference-responses-api.html): the key
  is a bearer token, as the OpenAI client sends ``api_key``;
- "Pass the project ID when initializing your client. All requests made with that client are
  attributed to the project."
  (https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-projects.html), which
  openai-python sends as the ``OpenAI-Project`` header (AWS's text naming the header: NOT
  CONFIRMED).

The SigV4 signing name ``bedrock-mantle`` is not in AWS's pages (openai-python 2.54.0 signs
with it; the IAM prefix is bedrock-mantle); these tests prove the signature is valid SigV4 for
that scope, not that AWS accepts that scope. The replies are OpenAI chat-completion shapes
(the recorded vLLM answer): AWS shows no Mantle response body for gpt-oss.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from stated_prices import INPUT_120B, OUTPUT_120B, document
from test_backend_vllm_replay import (
    CHAT_COMPLETION,
    CONTENT,
    ReplayServer,
    Seen,
    chat_stream_chunks,
    error_reply,
    json_reply,
    sse_bytes,
    sse_reply,
)
from test_client_harness import Sleeps, no_sleep_policy
from test_responses import QUESTION, TOOL_REASONING, WEATHER, fixture_json, fixture_sse, sse_events

from gptoss_aws import AsyncGptOss, GptOss, Tracker, open_ledger
from gptoss_aws.backends.bedrock_mantle import BedrockMantleBackend, mantle_model_id
from gptoss_aws.errors import AuthenticationError, ConfigurationError, ThrottledError
from gptoss_aws.ledger import Ledger
from gptoss_aws.pricing import PriceBook
from gptoss_aws.types import CallRecord

MESSAGES = [{"role": "user", "content": "Hello there"}]
REGION = "us-east-1"
PROJECT = "proj_abc123"
_CREDENTIAL = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)


def header(seen: Seen, name: str) -> str | None:
    """A received header, whatever case the client spelled it in."""
    return {k.lower(): v for k, v in seen.headers.items()}.get(name.lower())


# ---- independent SigV4 verification ---------------------------------------------------------


def verify_sigv4(seen: Seen, url: str, service: str, region: str) -> dict[str, str]:
    """Recompute the request's signature with botocore from what the server received (the
    signed headers it names, the body bytes, the X-Amz-Date), with the test's credentials;
    raise AssertionError unless it matches. Returns the parsed Authorization fields."""
    headers = {k.lower(): v for k, v in seen.headers.items()}
    match = _CREDENTIAL.match(headers.get("authorization", ""))
    assert match, f"not a SigV4 Authorization header: {headers.get('authorization')!r}"
    fields = match.groupdict()
    assert (fields["region"], fields["service"]) == (region, service)
    signed = fields["signed"].split(";")
    assert "host" in signed
    assert "x-amz-date" in signed
    request = AWSRequest(
        method=seen.method,
        url=url,
        data=seen.body,
        headers={name: headers[name] for name in signed if name != "x-amz-date"},
    )
    at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        botocore.auth.SigV4Auth(Credentials("testing", "testing"), service, region).add_auth(
            request
        )
    assert request.headers["Authorization"] == headers["authorization"], "signature mismatch"
    return fields


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    yield replay
    replay.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(tmp_path / "ledger.sqlite3")
    yield opened
    opened.close()


def tracker(ledger: Ledger) -> Tracker:
    return Tracker(ledger=ledger, prices=PriceBook.from_document(document(REGION)))


def mantle(cls: Any, server: ReplayServer, ledger: Ledger, **kwargs: Any) -> Any:
    kwargs.setdefault("retry_policy", no_sleep_policy(Sleeps()))
    return cls.bedrock_mantle(
        kwargs.pop("model", "gpt-oss-120b"),
        REGION,
        base_url=server.url + "/v1",
        tracker=tracker(ledger),
        **kwargs,
    )


def only_row(ledger: Ledger) -> CallRecord:
    [row] = ledger.query()
    return row


# ---- wire --------------------------------------------------------------------------------


def test_sigv4_signed_for_bedrock_mantle_with_the_project_header(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.append(json_reply(CHAT_COMPLETION))
    answer = mantle(GptOss, server, ledger, project=PROJECT).chat.completions.create(
        messages=MESSAGES, max_tokens=64
    )
    assert answer.choices[0].message.content == CONTENT
    [seen] = server.seen
    assert seen.path == "/v1/chat/completions"
    fields = verify_sigv4(seen, server.url + seen.path, "bedrock-mantle", REGION)
    assert fields["key"] == "testing"
    assert header(seen, "OpenAI-Project") == PROJECT
    assert "openai-project" in fields["signed"].split(";")  # the project is signed too
    # Mantle ids have no "-1:0" (research §1.4; GET /v1/models is the truth).
    assert seen.json()["model"] == "openai.gpt-oss-120b"


def test_a_tampered_body_fails_the_independent_verification(
    server: ReplayServer, ledger: Ledger
) -> None:
    # The check above must be able to fail: the same request with one byte changed.
    server.replies.append(json_reply(CHAT_COMPLETION))
    mantle(GptOss, server, ledger).chat.completions.create(messages=MESSAGES, max_tokens=64)
    [seen] = server.seen
    tampered = Seen(seen.method, seen.path, seen.headers, seen.body.replace(b"Hello", b"Jello"))
    with pytest.raises(AssertionError, match="signature mismatch"):
        verify_sigv4(tampered, server.url + seen.path, "bedrock-mantle", REGION)
    with pytest.raises(AssertionError):
        verify_sigv4(seen, server.url + seen.path, "bedrock", REGION)


def test_a_bedrock_api_key_is_a_bearer_token_and_nothing_is_signed(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.append(json_reply(CHAT_COMPLETION))
    mantle(GptOss, server, ledger, api_key="bedrock-api-key-EXAMPLE").chat.completions.create(
        messages=MESSAGES
    )
    [seen] = server.seen
    assert header(seen, "Authorization") == "Bearer bedrock-api-key-EXAMPLE"
    assert header(seen, "X-Amz-Date") is None
    assert header(seen, "OpenAI-Project") is None  # no project: the account's default project


def test_a_callable_api_key_is_asked_on_every_request(server: ReplayServer, ledger: Ledger) -> None:
    keys = iter(["bedrock-api-key-1", "bedrock-api-key-2"])
    server.replies.extend([json_reply(CHAT_COMPLETION), json_reply(CHAT_COMPLETION)])
    client = mantle(GptOss, server, ledger, api_key=lambda: next(keys))
    client.chat.completions.create(messages=MESSAGES)
    client.chat.completions.create(messages=MESSAGES)
    assert [header(s, "Authorization") for s in server.seen] == [
        "Bearer bedrock-api-key-1",
        "Bearer bedrock-api-key-2",
    ]


def test_a_retry_is_signed_afresh_and_errors_name_the_backend(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.extend(
        [error_reply(429, "Too many requests", "ThrottlingException"), json_reply(CHAT_COMPLETION)]
    )
    mantle(GptOss, server, ledger).chat.completions.create(messages=MESSAGES)
    assert len(server.seen) == 2
    for seen in server.seen:
        verify_sigv4(seen, server.url + seen.path, "bedrock-mantle", REGION)
    server.replies.append(error_reply(401, "The security token included in the request is invalid"))
    with pytest.raises(AuthenticationError, match=r"^bedrock_mantle: .*\(HTTP 401\)") as caught:
        mantle(GptOss, server, ledger, max_retries=0).chat.completions.create(messages=MESSAGES)
    assert caught.value.backend == "bedrock_mantle"
    server.replies.append(error_reply(429, "slow down"))
    with pytest.raises(ThrottledError):
        mantle(GptOss, server, ledger, max_retries=0).chat.completions.create(messages=MESSAGES)


# ---- ledger: priced like Bedrock, the project recorded -------------------------------------------


def test_the_row_is_priced_at_bedrocks_per_token_price_with_the_project(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.append(json_reply(CHAT_COMPLETION))
    answer = mantle(
        GptOss, server, ledger, project=PROJECT, tags={"team": "search"}
    ).chat.completions.create(messages=MESSAGES, max_tokens=64)
    row = only_row(ledger)
    assert (row.backend, row.model, row.model_id, row.region) == (
        "bedrock_mantle",
        "gpt-oss-120b",
        "openai.gpt-oss-120b",
        REGION,
    )
    assert (row.cost_basis, row.status, row.service_tier) == ("per_token", "ok", "standard")
    expected = (68 * INPUT_120B + 29 * OUTPUT_120B) / Decimal(1_000_000)
    assert row.cost_usd == expected
    assert answer.cost is not None
    assert answer.cost.usd == expected
    assert row.project == PROJECT  # the client's project, as no call named one
    assert row.tags == {"team": "search"}


def test_a_calls_own_project_goes_in_the_header_and_the_rows_project(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.append(json_reply(CHAT_COMPLETION))
    mantle(GptOss, server, ledger, project=PROJECT).chat.completions.create(
        messages=MESSAGES, project="proj_other9"
    )
    [seen] = server.seen
    assert header(seen, "OpenAI-Project") == "proj_other9"
    verify_sigv4(seen, server.url + seen.path, "bedrock-mantle", REGION)
    assert only_row(ledger).project == "proj_other9"


def test_a_stream_is_sse_with_usage_and_priced(server: ReplayServer, ledger: Ledger) -> None:
    server.replies.append(sse_reply(sse_bytes(chat_stream_chunks())))
    with mantle(GptOss, server, ledger).chat.completions.create(
        messages=MESSAGES, stream=True
    ) as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == CONTENT
    body = server.seen[0].json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    row = only_row(ledger)
    assert (row.stream, row.usage_source, row.completion_tokens, row.reasoning_tokens) == (
        True,
        "reported",
        29,
        10,
    )
    assert row.cost_usd is not None


def test_async_parity(server: ReplayServer, ledger: Ledger) -> None:
    server.replies.extend([json_reply(CHAT_COMPLETION), sse_reply(sse_bytes(chat_stream_chunks()))])

    async def main() -> str:
        async with mantle(AsyncGptOss, server, ledger, project=PROJECT) as client:
            answer = await client.chat.completions.create(messages=MESSAGES)
            stream = await client.chat.completions.create(messages=MESSAGES, stream=True)
            parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            assert answer.choices[0].message.content == "".join(parts)
            return answer.choices[0].message.content or ""

    assert anyio.run(main) == CONTENT
    for seen in server.seen:
        verify_sigv4(seen, server.url + seen.path, "bedrock-mantle", REGION)
        assert header(seen, "OpenAI-Project") == PROJECT
    assert [r.backend for r in ledger.query()] == ["bedrock_mantle", "bedrock_mantle"]


def test_service_tier_goes_out_as_the_openai_field_and_prices_that_tier(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.append(json_reply(CHAT_COMPLETION))
    mantle(GptOss, server, ledger).chat.completions.create(messages=MESSAGES, service_tier="flex")
    assert server.seen[0].json()["service_tier"] == "flex"
    row = only_row(ledger)
    # No flex price in the stated document: pending, never $0.
    assert (row.service_tier, row.cost_basis, row.cost_usd) == ("flex", "pending", None)


# ---- local checks: nothing sent ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("gpt-oss-120b", ("openai.gpt-oss-120b", "gpt-oss-120b")),
        ("gpt-oss-20b", ("openai.gpt-oss-20b", "gpt-oss-20b")),
        ("openai.gpt-oss-120b-1:0", ("openai.gpt-oss-120b", "gpt-oss-120b")),
        ("openai.gpt-oss-20b", ("openai.gpt-oss-20b", "gpt-oss-20b")),
        ("openai/gpt-oss-120b", ("openai.gpt-oss-120b", "gpt-oss-120b")),
        ("gpt-oss-safeguard-120b", ("openai.gpt-oss-safeguard-120b", "gpt-oss-safeguard-120b")),
        ("openai.gpt-oss-safeguard-20b", ("openai.gpt-oss-safeguard-20b", "gpt-oss-safeguard-20b")),
    ],
)
def test_model_ids_have_no_version_suffix(given: str, expected: tuple[str, str]) -> None:
    assert mantle_model_id(given) == expected


def test_unknown_model_region_and_project_are_refused_with_the_fix() -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown Bedrock Mantle model 'gpt-4o'.*gpt-oss-120b"
    ):
        BedrockMantleBackend("gpt-4o", region=REGION)
    with pytest.raises(ConfigurationError, match=r"not listed in 'eu-west-3'.*us-east-1"):
        BedrockMantleBackend("gpt-oss-120b", region="eu-west-3")
    with pytest.raises(ConfigurationError, match="not a Bedrock project ID"):
        BedrockMantleBackend("gpt-oss-120b", region=REGION, project="my project!")


def test_the_default_base_url_is_the_documented_one() -> None:
    backend = BedrockMantleBackend("gpt-oss-20b", region="eu-west-1", api_key="k")
    # "https://bedrock-mantle.{region}.api.aws/v1" (inference-responses-api); gpt-oss is under
    # /v1, not openai-python's provider default /openai/v1.
    assert backend.url == "https://bedrock-mantle.eu-west-1.api.aws/v1/chat/completions"
    assert backend.telemetry_provider == "aws.bedrock"


def test_a_call_for_another_model_is_refused_before_sending(
    server: ReplayServer, ledger: Ledger
) -> None:
    with pytest.raises(ConfigurationError, match="make another client"):
        mantle(GptOss, server, ledger).chat.completions.create(
            messages=MESSAGES, model="gpt-oss-20b"
        )
    assert server.seen == []
    assert ledger.query() == []


# ---- Responses (Mantle is where AWS serves it for gpt-oss) -----------------------------------
# "bedrock-mantle (compatibility) | https://bedrock-mantle.{region}.api.aws/v1 | ... such as
# Responses API access to GPT OSS models" (inference-responses-api). The replies are the vLLM
# 0.32.0 recordings (tests/sdk/fixtures/vllm-0.32.0-responses): OpenAI Responses objects;
# whether Mantle fills reasoning_tokens and returns reasoning content (rather than
# encrypted_content) for gpt-oss is NOT CONFIRMED.


def test_a_responses_tool_turn_is_signed_and_priced_with_reasoning_carried_over(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.extend(
        [json_reply(fixture_json("turn1.json")), json_reply(fixture_json("turn2.json"))]
    )
    client = mantle(GptOss, server, ledger, project=PROJECT)
    turn1 = client.responses.create(input=[QUESTION], tools=[WEATHER], max_output_tokens=128)
    assert turn1.reasoning_text == TOOL_REASONING
    [call] = turn1.function_calls
    result = {"type": "function_call_output", "call_id": call.call_id, "output": '{"c": 18}'}
    client.responses.create(
        input=[QUESTION, *turn1.output, result], tools=[WEATHER], max_output_tokens=128
    )
    for seen in server.seen:
        assert seen.path == "/v1/responses"
        verify_sigv4(seen, server.url + seen.path, "bedrock-mantle", REGION)
        assert header(seen, "OpenAI-Project") == PROJECT
        assert seen.json()["model"] == "openai.gpt-oss-120b"
    sent = server.seen[1].json()["input"]
    assert sent[1]["type"] == "reasoning"
    assert sent[1]["content"] == [{"type": "reasoning_text", "text": TOOL_REASONING}]
    rows = sorted(ledger.query(), key=lambda r: r.started_at)
    assert [(r.backend, r.project, r.cost_basis) for r in rows] == [
        ("bedrock_mantle", PROJECT, "per_token")
    ] * 2
    assert (rows[0].prompt_tokens, rows[0].completion_tokens, rows[0].reasoning_tokens) == (
        125,
        35,
        16,
    )
    assert rows[0].cost_usd == (125 * INPUT_120B + 35 * OUTPUT_120B) / Decimal(1_000_000)


def test_a_streamed_response_passes_the_events_on_and_is_priced(
    server: ReplayServer, ledger: Ledger
) -> None:
    server.replies.append(sse_reply(fixture_sse("turn1.sse")))

    async def main() -> list[dict[str, Any]]:
        async with mantle(AsyncGptOss, server, ledger) as client:
            stream = await client.responses.create(input=[QUESTION], tools=[WEATHER], stream=True)
            return [e.model_dump(mode="json") async for e in stream]

    assert anyio.run(main) == sse_events("turn1.sse")
    [seen] = server.seen
    verify_sigv4(seen, server.url + seen.path, "bedrock-mantle", REGION)
    row = only_row(ledger)
    assert (row.backend, row.stream, row.completion_tokens, row.reasoning_tokens) == (
        "bedrock_mantle",
        True,
        35,
        16,
    )
    assert row.cost_usd is not None


# ---- the tier AWS reports serving the call at ------------------------------------------------
# OpenAI's chat completion object carries a top-level ``service_tier``; Bedrock's tiers are
# requested with "the 'service_tier' optional parameter" (Bedrock user guide, "Service tiers for
# optimizing performance and cost"). The call is priced at the tier the answer reports, as the
# Bedrock backend does with Converse's serviceTier.

PRIORITY = {
    "bedrock": {
        "gpt-oss-120b": {
            REGION: {
                "input_per_1m": "1",
                "output_per_1m": "2",
                "source": "stated by the test (not an AWS price)",
                "as_of": "2026-01-01",
                "tiers": {
                    "priority": {
                        "input_per_1m": "10",
                        "output_per_1m": "20",
                        "source": "stated by the test (not an AWS price)",
                        "as_of": "2026-01-01",
                    }
                },
            }
        }
    }
}


@pytest.mark.parametrize("stream", [False, True])
def test_the_served_tier_prices_the_call(
    server: ReplayServer, ledger: Ledger, stream: bool
) -> None:
    if stream:
        chunks = [{**c, "service_tier": "priority"} for c in chat_stream_chunks()]
        server.replies.append(sse_reply(sse_bytes(chunks)))
    else:
        server.replies.append(json_reply({**CHAT_COMPLETION, "service_tier": "priority"}))
    client = GptOss.bedrock_mantle(
        "gpt-oss-120b",
        REGION,
        base_url=server.url + "/v1",
        tracker=Tracker(ledger=ledger, prices=PriceBook.from_document(PRIORITY)),
    )
    if stream:
        with client.chat.completions.create(messages=MESSAGES, stream=True) as chunks_in:
            for _ in chunks_in:
                pass
    else:
        client.chat.completions.create(messages=MESSAGES)
    row = only_row(ledger)
    assert (row.service_tier_requested, row.service_tier) == (None, "priority")
    assert row.cost_usd == (68 * Decimal(10) + 29 * Decimal(20)) / Decimal(1_000_000)


def test_a_tier_that_is_not_bedrocks_is_ignored(server: ReplayServer, ledger: Ledger) -> None:
    server.replies.append(json_reply({**CHAT_COMPLETION, "service_tier": "auto"}))
    mantle(GptOss, server, ledger).chat.completions.create(messages=MESSAGES)
    assert only_row(ledger).service_tier == "standard"


# ---- backends/_auth.py on its own: any httpx client can use it ------------------------------


def test_sigv4_auth_on_a_plain_httpx_client_with_a_profile_and_session_token(
    server: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    import httpx

    from gptoss_aws.backends._auth import SigV4Auth

    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[team]\naws_access_key_id = AKIDTEAM\naws_secret_access_key = teamsecret\n"
        "aws_session_token = team-session\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    session = boto3.Session(profile_name="team")
    server.replies.append(json_reply(CHAT_COMPLETION))
    with httpx.Client(auth=SigV4Auth("bedrock-mantle", REGION, session)) as http:
        http.post(server.url + "/v1/chat/completions", json={"messages": MESSAGES})
    [seen] = server.seen
    assert header(seen, "X-Amz-Security-Token") == "team-session"
    match = _CREDENTIAL.match(header(seen, "Authorization") or "")
    assert match is not None
    assert match["key"] == "AKIDTEAM"
    assert "x-amz-security-token" in match["signed"].split(";")
    # httpx's own headers (accept-encoding, connection, user-agent) are left unsigned.
    assert not {"accept-encoding", "connection", "user-agent"} & set(match["signed"].split(";"))


def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from gptoss_aws.backends._auth import SigV4Auth

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    auth = SigV4Auth("bedrock-mantle", REGION)
    request = httpx.Request("POST", "https://bedrock-mantle.us-east-1.api.aws/v1/models")
    with pytest.raises(AuthenticationError, match="no AWS credentials to sign with"):
        next(auth.sync_auth_flow(request))

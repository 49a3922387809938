"""bedrock-runtime's OpenAI-compatible Chat Completions path (``GptOss.bedrock_openai``)
against a local HTTP server; botocore does not model this path.

What the stand-in encodes (Amazon Bedrock user guide):

- "base_url — prefix the Amazon Bedrock runtime endpoint in the format /openai/v1:
  https://${bedrock-runtime-endpoint}/openai/v1", with ``model="openai.gpt-oss-20b-1:0"``
  ("Invoke a model with the OpenAI Chat Completions API",
  https://docs.aws.amazon.com/bedrock/latest/userguide/inference-chat-completions.html);
- "bedrock-runtime | https://bedrock-runtime.{region}.amazonaws.com/v1/chat/completions | AWS
  credentials (SigV4) or Amazon Bedrock API key" ("Inference using Chat Completions API",
  https://docs.aws.amazon.com/bedrock/latest/userguide/inference-chat-completions-mantle.html):
  the other path, ``path_prefix="/v1"``; which one a region accepts is NOT CONFIRMED;
- "The response body for OpenAI models conforms to the chat completion object returned by
  OpenAI" (model-parameters-openai): the replies are OpenAI chat completions;
- "You can authenticate with either your AWS credentials or with an Amazon Bedrock API key"
  (inference-chat-completions); SigV4's signing name is botocore's for bedrock-runtime,
  ``bedrock``;
- "Responses API access to GPT OSS models" is Mantle-only (inference-responses-api).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from stated_prices import INPUT_120B, OUTPUT_120B, document
from test_backend_mantle import header, verify_sigv4
from test_backend_vllm_replay import (
    CHAT_COMPLETION,
    CONTENT,
    ReplayServer,
    chat_stream_chunks,
    json_reply,
    sse_bytes,
    sse_reply,
)
from test_client_harness import Sleeps, no_sleep_policy

from gptoss_aws import AsyncGptOss, GptOss, Tracker, open_ledger
from gptoss_aws.backends.bedrock_openai import BedrockOpenAIBackend, runtime_model_id
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.ledger import Ledger
from gptoss_aws.pricing import PriceBook

MESSAGES = [{"role": "user", "content": "Hello there"}]
REGION = "us-west-2"


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


def runtime(cls: Any, server: ReplayServer, ledger: Ledger, **kwargs: Any) -> Any:
    return cls.bedrock_openai(
        kwargs.pop("model", "gpt-oss-120b"),
        REGION,
        base_url=server.url,
        tracker=Tracker(ledger=ledger, prices=PriceBook.from_document(document(REGION))),
        retry_policy=no_sleep_policy(Sleeps()),
        **kwargs,
    )


@pytest.mark.parametrize("prefix", ["/openai/v1", "/v1"])
def test_sigv4_for_bedrock_on_either_documented_path(
    server: ReplayServer, ledger: Ledger, prefix: str
) -> None:
    server.replies.append(json_reply(CHAT_COMPLETION))
    answer = runtime(GptOss, server, ledger, path_prefix=prefix).chat.completions.create(
        messages=MESSAGES, max_tokens=64, reasoning_effort="low"
    )
    assert answer.choices[0].message.content == CONTENT
    [seen] = server.seen
    assert seen.path == prefix + "/chat/completions"
    verify_sigv4(seen, server.url + seen.path, "bedrock", REGION)
    body = seen.json()
    # Runtime ids keep "-1:0" ("Model ID openai.gpt-oss-20b-1:0 openai.gpt-oss-120b-1:0").
    assert body["model"] == "openai.gpt-oss-120b-1:0"
    assert body["reasoning_effort"] == "low"


def test_the_default_url_is_the_openai_v1_one() -> None:
    backend = BedrockOpenAIBackend("gpt-oss-20b", region="us-west-2", api_key="k")
    assert backend.url == (
        "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/chat/completions"
    )
    with pytest.raises(ConfigurationError, match="path_prefix must be one of"):
        BedrockOpenAIBackend("gpt-oss-20b", region="us-west-2", path_prefix="/model")
    with pytest.raises(ConfigurationError, match="unknown region"):
        BedrockOpenAIBackend("gpt-oss-20b", region="us-wset-2")


def test_an_api_key_is_a_bearer_token(server: ReplayServer, ledger: Ledger) -> None:
    server.replies.append(json_reply(CHAT_COMPLETION))
    runtime(GptOss, server, ledger, api_key="bedrock-api-key-EXAMPLE").chat.completions.create(
        messages=MESSAGES
    )
    assert header(server.seen[0], "Authorization") == "Bearer bedrock-api-key-EXAMPLE"


def test_rows_are_priced_like_bedrock(server: ReplayServer, ledger: Ledger) -> None:
    server.replies.extend([json_reply(CHAT_COMPLETION), sse_reply(sse_bytes(chat_stream_chunks()))])

    async def main() -> None:
        async with runtime(AsyncGptOss, server, ledger) as client:
            await client.chat.completions.create(messages=MESSAGES)
            stream = await client.chat.completions.create(messages=MESSAGES, stream=True)
            async for _ in stream:
                pass

    anyio.run(main)
    rows = ledger.query()
    expected = (68 * INPUT_120B + 29 * OUTPUT_120B) / Decimal(1_000_000)
    assert sorted(r.stream for r in rows) == [False, True]
    for row in rows:
        assert (row.backend, row.model, row.model_id, row.region, row.cost_basis) == (
            "bedrock_openai",
            "gpt-oss-120b",
            "openai.gpt-oss-120b-1:0",
            REGION,
            "per_token",
        )
        assert row.cost_usd == expected
    for seen in server.seen:
        verify_sigv4(seen, server.url + seen.path, "bedrock", REGION)


def test_a_named_project_is_refused_runtime_serves_only_the_default(
    server: ReplayServer, ledger: Ledger
) -> None:
    # "On the bedrock-runtime endpoint, you can only use the default project" (Projects page).
    with pytest.raises(ConfigurationError, match="only the account's default project"):
        runtime(GptOss, server, ledger).chat.completions.create(
            messages=MESSAGES, project="proj_abc"
        )
    assert server.seen == []


def test_responses_are_refused_with_a_pointer_to_mantle() -> None:
    backend = BedrockOpenAIBackend("gpt-oss-20b", region=REGION, api_key="k")
    assert not backend.serves_responses()
    with pytest.raises(ConfigurationError, match=r"Mantle-only.*GptOss\.bedrock_mantle"):
        backend.check_responses(None)
    with pytest.raises(ConfigurationError, match="bedrock_mantle"):
        backend.send_responses(None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("gpt-oss-120b", "openai.gpt-oss-120b-1:0"),
        ("openai.gpt-oss-20b", "openai.gpt-oss-20b-1:0"),
        ("openai.gpt-oss-20b-1:0", "openai.gpt-oss-20b-1:0"),
        ("gpt-oss-safeguard-20b", "openai.gpt-oss-safeguard-20b"),
    ],
)
def test_runtime_model_ids(given: str, expected: str) -> None:
    assert runtime_model_id(given)[0] == expected

"""openai-python, unchanged, straight to the container's OpenAI routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from scripted import (
    CHAT_COMPLETION_TOKENS,
    CHAT_CONTENT,
    CHAT_REASONING,
    CHAT_REASONING_TOKENS,
    TOOL_ARGUMENTS,
    TOOL_COMPLETION_TOKENS,
    TOOL_NAME,
    TOOL_REASONING_TOKENS,
    WEATHER_TOOL,
)
from serverproc import Server

pytestmark = pytest.mark.engine
MODEL = "gpt-oss-20b"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]
WEATHER: ChatCompletionToolParam = WEATHER_TOOL  # type: ignore[assignment]


def client(server: Server) -> Iterator[OpenAI]:
    with OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0) as c:
        yield c


@pytest.fixture
def chat_client(chat: Server) -> Iterator[OpenAI]:
    yield from client(chat)


@pytest.fixture
def tool_client(tool: Server) -> Iterator[OpenAI]:
    yield from client(tool)


def test_chat(chat_client: OpenAI) -> None:
    r = chat_client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=64,
        temperature=0,
    )
    message = r.choices[0].message
    assert message.content == CHAT_CONTENT
    extra = message.model_extra or {}
    assert extra["reasoning"] == extra["reasoning_content"] == CHAT_REASONING
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert r.usage.completion_tokens == CHAT_COMPLETION_TOKENS
    assert r.usage.completion_tokens_details is not None
    assert r.usage.completion_tokens_details.reasoning_tokens == CHAT_REASONING_TOKENS
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_stream_ends_with_usage_without_asking(chat_client: OpenAI) -> None:
    stream = chat_client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=64,
        stream=True,
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in chunks
        if c.choices
    )
    assert (content, reasoning) == (CHAT_CONTENT, CHAT_REASONING)
    usage = chunks[-1].usage
    assert usage is not None
    assert chunks[-1].choices == []
    assert usage.completion_tokens == CHAT_COMPLETION_TOKENS


def test_responses(chat_client: OpenAI) -> None:
    r = chat_client.responses.create(model=MODEL, input="Hello there", max_output_tokens=64)
    assert r.output_text == CHAT_CONTENT
    assert [item.type for item in r.output] == ["reasoning", "message"]
    assert r.usage is not None
    assert r.usage.output_tokens == CHAT_COMPLETION_TOKENS
    assert r.usage.output_tokens_details.reasoning_tokens == CHAT_REASONING_TOKENS


def test_tool_call(tool_client: OpenAI) -> None:
    r = tool_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER],
        max_tokens=64,
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert (call.function.name, call.function.arguments) == (TOOL_NAME, TOOL_ARGUMENTS)
    assert r.usage is not None
    assert r.usage.completion_tokens == TOOL_COMPLETION_TOKENS
    assert r.usage.completion_tokens_details is not None
    assert r.usage.completion_tokens_details.reasoning_tokens == TOOL_REASONING_TOKENS

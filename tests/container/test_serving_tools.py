"""Tool calls through the container, on the real engine with the deterministic tool model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import Served
from sse import events

from gptoss_tiny.script import TOOL_ARGUMENTS, TOOL_NAME, TOOL_REASONING, expected

pytestmark = pytest.mark.engine

TOOL = expected("tool")
JSON = {"Content-Type": "application/json"}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
REQUEST: dict[str, Any] = {
    "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
    "tools": [WEATHER_TOOL],
    "max_tokens": 128,
}


def assert_tool_usage(usage: dict[str, Any]) -> None:
    assert usage["completion_tokens"] == TOOL.completion_tokens == 35
    assert usage["completion_tokens_details"]["reasoning_tokens"] == TOOL.reasoning_tokens == 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.parametrize("path", ["/invocations", "/v1/chat/completions"])
def test_the_model_calls_the_tool(tool_server: Served, path: str) -> None:
    r = httpx.post(tool_server.url + path, json=REQUEST, headers=JSON, timeout=120)
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["reasoning"] == TOOL_REASONING
    assert message["content"] is None
    [call] = message["tool_calls"]
    assert call["type"] == "function"
    assert call["function"]["name"] == TOOL_NAME
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert_tool_usage(r.json()["usage"])


def test_a_streamed_tool_call_reassembles_and_ends_with_usage(tool_server: Served) -> None:
    with httpx.stream(
        "POST",
        tool_server.url + "/invocations",
        json={**REQUEST, "stream": True},
        headers=JSON,
        timeout=120,
    ) as r:
        assert r.status_code == 200
        got = events(r)
    assert got[-1] == "[DONE]"
    chunks = got[:-1]
    assert_tool_usage(chunks[-1]["usage"])
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [tc for d in deltas for tc in d.get("tool_calls") or []]
    names = [tc["function"]["name"] for tc in calls if tc["function"].get("name")]
    arguments = "".join(tc["function"].get("arguments") or "" for tc in calls)
    assert names == [TOOL_NAME]
    assert arguments == TOOL_ARGUMENTS
    assert "".join(d.get("reasoning") or "" for d in deltas) == TOOL_REASONING
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


def test_the_responses_api_returns_a_function_call_item(tool_server: Served) -> None:
    request = {
        "input": "What's the weather in Paris?",
        "tools": [{"type": "function", **WEATHER_TOOL["function"]}],
        "max_output_tokens": 128,
    }
    r = httpx.post(
        tool_server.url + "/invocations",
        json=request,
        headers={**JSON, "X-Amzn-SageMaker-Custom-Attributes": "route=/v1/responses"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    calls = [item for item in body["output"] if item["type"] == "function_call"]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
        (TOOL_NAME, {"city": "Paris"})
    ]
    assert body["usage"]["output_tokens"] == 35
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] == 16

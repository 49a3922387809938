"""The Responses API and SageMaker's OpenAI-compatible route through the container, on the
real engine.

Responses: a multi-turn tool conversation whose reasoning is carried over, plain and
streamed, on /v1/responses itself and through /invocations with SageMaker's custom
attributes. OpenAI route: SageMaker forwards ``/openai/v1/chat/completions`` to the
container's ``/v1/chat/completions`` with the body as sent, and AWS's examples send
``"model": ""``.

The tiny "agent" model is scripted (gptoss_tiny.script): asked a question with the weather
tool, it reasons and calls get_weather; once the prompt ends with the tool's result, it
answers. The reasoning it gets back in the second turn cannot change its scripted answer, so
the carry-over is shown where it happens: in the prompt vLLM rendered for the second turn.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import Served

from gptoss_tiny.script import (
    AGENT_ANSWER,
    CHAT_CONTENT,
    CHAT_REASONING,
    TOOL_ARGUMENTS,
    TOOL_NAME,
    TOOL_REASONING,
    encode,
    expected,
    expected_answer,
)

pytestmark = pytest.mark.engine

JSON = {"Content-Type": "application/json"}
# SageMaker passes InvokeEndpoint's CustomAttributes to the container in this header
# (SageMaker API reference, InvokeEndpoint: "forwarded verbatim").
ROUTE = {**JSON, "X-Amzn-SageMaker-Custom-Attributes": "route=/v1/responses"}
# The two ways in: the route itself, and SageMaker's only route with the custom attribute.
WAYS = [("/v1/responses", JSON), ("/invocations", ROUTE)]
WAY_IDS = ["v1-responses", "invocations"]

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": TOOL_NAME,
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
QUESTION = {"role": "user", "content": "What's the weather in Paris?"}
# Ends with the token the agent model answers after (gptoss_tiny.script.AGENT_RESULT_TAIL).
TOOL_RESULT = '{"temperature_c": 18, "sky": "sunny"}'
# The carried-over reasoning as harmony renders it in the next prompt: an assistant message
# on the analysis channel (vllm/entrypoints/openai/responses/harmony.py).
ANALYSIS_MESSAGE = f"<|start|>assistant<|channel|>analysis<|message|>{TOOL_REASONING}<|end|>"

TOOL = expected("agent")
ANSWER = expected_answer()
CHAT = expected("chat")


def post(served: Served, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    r = httpx.post(served.url + path, json=body, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def first_turn(stream: bool = False) -> dict[str, Any]:
    return {
        "input": [QUESTION],
        "tools": [WEATHER_TOOL],
        "max_output_tokens": 128,
        "stream": stream,
    }


def second_turn(previous_output: list[dict[str, Any]], stream: bool = False) -> dict[str, Any]:
    """The next turn, managed by the caller: the previous output items go back as input,
    with the tool's result. OpenAI's reasoning item: "Be sure to include these items in your
    `input` to the Responses API for subsequent turns of a conversation if you are manually
    managing context." (openai-python types/responses/response_reasoning_item.py)."""
    [call] = [item for item in previous_output if item["type"] == "function_call"]
    result = {"type": "function_call_output", "call_id": call["call_id"], "output": TOOL_RESULT}
    return {
        "input": [QUESTION, *previous_output, result],
        "tools": [WEATHER_TOOL],
        "max_output_tokens": 128,
        "stream": stream,
        # vLLM's extension: the harmony messages the model was given, to show the carry-over.
        "enable_response_messages": True,
    }


def assert_first_turn_output(output: list[dict[str, Any]]) -> None:
    assert [item["type"] for item in output] == ["reasoning", "function_call"]
    reasoning, call = output
    assert reasoning["content"] == [{"type": "reasoning_text", "text": TOOL_REASONING}]
    assert (call["name"], json.loads(call["arguments"])) == (TOOL_NAME, json.loads(TOOL_ARGUMENTS))
    assert call["call_id"]


def assert_answer(body: dict[str, Any]) -> None:
    [message] = body["output"]
    assert message["type"] == "message"
    assert message["content"][0]["text"] == AGENT_ANSWER
    usage = body["usage"]
    assert (usage["output_tokens"], usage["output_tokens_details"]["reasoning_tokens"]) == (
        ANSWER.completion_tokens,
        0,
    )


def analysis_texts(messages: list[dict[str, Any]]) -> list[str]:
    """Texts of the analysis-channel messages among vLLM's serialised harmony messages."""
    return [
        part.get("text", "")
        for m in messages
        if m.get("channel") == "analysis"
        for part in (m.get("content") or [])
        if isinstance(part, dict)
    ]


@pytest.mark.parametrize(("path", "headers"), WAYS, ids=WAY_IDS)
def test_a_tool_conversation_carries_the_reasoning_into_the_next_turn(
    agent_server: Served, path: str, headers: dict[str, str]
) -> None:
    turn1 = post(agent_server, path, first_turn(), headers)
    assert_first_turn_output(turn1["output"])
    usage = turn1["usage"]
    assert (usage["output_tokens"], usage["output_tokens_details"]["reasoning_tokens"]) == (
        TOOL.completion_tokens,
        TOOL.reasoning_tokens,
    )

    turn2 = post(agent_server, path, second_turn(turn1["output"]), headers)
    assert_answer(turn2)
    # The reasoning of turn 1 is in the prompt the engine rendered for turn 2 ...
    assert TOOL_REASONING in analysis_texts(turn2["input_messages"])
    # ... and costs exactly its rendered tokens: the same turn without the reasoning item
    # is that many input tokens shorter (gpt-oss keeps the analysis before a tool call).
    without = second_turn([i for i in turn1["output"] if i["type"] != "reasoning"])
    shorter = post(agent_server, path, without, headers)
    assert TOOL_REASONING not in analysis_texts(shorter["input_messages"])
    assert turn2["usage"]["input_tokens"] - shorter["usage"]["input_tokens"] == len(
        encode(ANALYSIS_MESSAGE)
    )


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event line, data) pairs; every Responses event has both (vLLM's api_router)."""
    pairs: list[tuple[str, dict[str, Any]]] = []
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            pairs.append((event, json.loads(line[len("data: ") :])))
    return pairs


def stream(served: Served, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    with httpx.stream("POST", served.url + path, json=body, headers=headers, timeout=120) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return sse(r)


@pytest.mark.parametrize(("path", "headers"), WAYS, ids=WAY_IDS)
def test_a_streamed_tool_conversation_reports_reasoning_and_usage(
    agent_server: Served, path: str, headers: dict[str, str]
) -> None:
    events = stream(agent_server, path, first_turn(stream=True), headers)
    assert all(name == data["type"] for name, data in events)
    kinds = [name for name, _ in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    reasoning = "".join(d["delta"] for n, d in events if n == "response.reasoning_text.delta")
    arguments = "".join(
        d["delta"] for n, d in events if n == "response.function_call_arguments.delta"
    )
    assert (reasoning, arguments) == (TOOL_REASONING, TOOL_ARGUMENTS)
    completed = events[-1][1]["response"]
    assert_first_turn_output(completed["output"])
    usage = completed["usage"]
    assert usage["output_tokens"] == TOOL.completion_tokens
    assert usage["output_tokens_details"]["reasoning_tokens"] == TOOL.reasoning_tokens

    events = stream(agent_server, path, second_turn(completed["output"], stream=True), headers)
    answer = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert answer == AGENT_ANSWER
    assert events[-1][0] == "response.completed"
    assert_answer(events[-1][1]["response"])


# Responses bodies that are wrong in shape: each must be an OpenAI-shaped 400, never a 5xx
# (a 5xx counts in SageMaker's Invocation5XXErrors, the deployment's rollback alarm).
MALFORMED_RESPONSES: list[tuple[str, dict[str, Any], str | None]] = [
    ("input not a string or list", {"input": 5}, None),
    ("an input item not an object", {"input": ["hi"]}, "input[0]"),
    ("a message without content", {"input": [{"role": "user"}]}, "input[0].content"),
    (
        "a function_call without arguments",
        {"input": [{"type": "function_call", "call_id": "c", "name": "get_weather"}]},
        "input[0].arguments",
    ),
    (
        "a reasoning item whose content part has no text",
        {"input": [{"type": "reasoning", "content": [{"type": "reasoning_text"}]}]},
        "input[0].content[0].text",
    ),
    ("a tool without a name", {"input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
    (
        "reasoning content that is not a list of parts",
        {"input": [{"type": "reasoning", "content": ["thinking"]}]},
        "input[0].content[0]",
    ),
    (
        "a tool result with no call before it",
        {"input": [{"type": "function_call_output", "call_id": "c", "output": "sunny"}]},
        "input",
    ),
    ("metadata that is not an object", {"input": "hi", "metadata": 5}, "metadata"),
]


@pytest.mark.parametrize(("name", "body", "param"), MALFORMED_RESPONSES)
@pytest.mark.parametrize(("path", "headers"), WAYS, ids=WAY_IDS)
def test_malformed_responses_bodies_get_an_openai_400(
    agent_server: Served,
    path: str,
    headers: dict[str, str],
    name: str,
    body: dict[str, Any],
    param: str | None,
) -> None:
    r = httpx.post(agent_server.url + path, json=body, headers=headers, timeout=120)
    assert r.status_code == 400, f"{name}: {r.status_code} {r.text}"
    error = r.json()["error"]
    assert error["code"] == 400
    assert error["message"]
    if param is not None:
        assert error["param"] == param, error


# --- SageMaker's OpenAI-compatible route ----------------------------------------------------
# AWS, https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html:
# "The container must implement the `/v1/chat/completions` path and return streaming
# responses in SSE format." and "The `model` field is passed through to the container.
# Because SageMaker AI routes requests based on the endpoint name in the URL, you can leave
# this field empty or set it to match the model name your container expects."

OPENAI_ROUTE = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Hello there"}]
MODELS = [{"model": ""}, {}, {"model": "tiny"}]
MODEL_IDS = ["empty", "absent", "served-name"]


@pytest.mark.parametrize("model", MODELS, ids=MODEL_IDS)
def test_the_openai_route_serves_the_model_whatever_empty_name_it_gets(
    chat_server: Served, model: dict[str, str]
) -> None:
    body = post(chat_server, OPENAI_ROUTE, {**model, "messages": MESSAGES, "max_tokens": 64}, JSON)
    assert body["model"] == "tiny"
    message = body["choices"][0]["message"]
    assert (message["reasoning"], message["content"]) == (CHAT_REASONING, CHAT_CONTENT)
    # Our middleware's alias and the engine's usage, as on /invocations.
    assert message["reasoning_content"] == CHAT_REASONING
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == CHAT.reasoning_tokens


@pytest.mark.parametrize("model", MODELS[:2], ids=MODEL_IDS[:2])
def test_the_openai_route_streams_sse_that_ends_with_usage(
    chat_server: Served, model: dict[str, str]
) -> None:
    request = {**model, "messages": MESSAGES, "max_tokens": 64, "stream": True}
    with httpx.stream(
        "POST", chat_server.url + OPENAI_ROUTE, json=request, headers=JSON, timeout=120
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: ") :]) for line in lines[:-1]]
    # The client did not ask for usage: the middleware switched it on (cost tracking).
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == CHAT.completion_tokens
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == CHAT_CONTENT
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == CHAT_REASONING


def test_the_openai_route_answers_a_wrong_model_name_with_an_openai_404(
    chat_server: Served,
) -> None:
    """AWS lets the container decide: "set it to match the model name your container
    expects". vLLM refuses any other name and says which it serves."""
    r = httpx.post(
        chat_server.url + OPENAI_ROUTE,
        json={"model": "my-endpoint", "messages": MESSAGES},
        headers=JSON,
        timeout=120,
    )
    assert r.status_code == 404
    error = r.json()["error"]
    assert (error["code"], error["param"]) == (404, "model")
    assert "tiny" in error["message"]


def test_a_malformed_body_on_the_openai_route_is_an_openai_400(chat_server: Served) -> None:
    r = httpx.post(
        chat_server.url + OPENAI_ROUTE,
        json={"model": "", "messages": [{"role": "user", "content": 5}]},
        headers=JSON,
        timeout=120,
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages[0].content"

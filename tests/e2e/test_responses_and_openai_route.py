"""Raw wire checks through the SageMaker runtime stand-in to the real container: SageMaker's
OpenAI-compatible route (bearer token, chat, streamed chat) and the Responses API through
InvokeEndpoint's CustomAttributes (a multi-turn tool conversation with its reasoning carried
over, plain and through InvokeEndpointWithResponseStream). The conversation runs on the tiny
"agent" model, which calls get_weather and answers once the result is in; the carried-over
reasoning is read back from the prompt vLLM rendered (``enable_response_messages``).

No SDK here: httpx and boto3 only, so a failure names the wire, not a client. The SDK's own
helpers are tested on top of the same path elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from conftest import CHAT_ENDPOINT
from sagemaker_standin import SageMakerRuntimeStandIn
from sagemaker_token import bearer, mint_token
from serverproc import Server, serve_tiny

# The tiny deterministic models' replies (inference_container/src/gptoss_tiny/script.py).
REASONING = "User says hello; reply warmly, for example:"
CONTENT = "Hello! How can I help you today?"
TOOL_REASONING = "Need current conditions, so ask the weather service:"
TOOL_ARGUMENTS = '{"city": "Paris"}'
SERVED = "gpt-oss-20b"  # the e2e containers' served model name (serverproc.serve_tiny)
MESSAGES = [{"role": "user", "content": "Hello there"}]
AGENT_ENDPOINT = "gptoss-agent"
COMPONENT = "gptoss-chat-ic"
AGENT_ANSWER = "It is sunny and mild in Paris."  # once the tool's result is in

# AWS, "Invoke endpoints with OpenAI-compatible APIs"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html):
# "SageMaker AI endpoints expose an `/openai/v1/chat/completions` path"; base URLs
# ".../endpoints/{ENDPOINT_NAME}/openai/v1" and, "To invoke a specific inference component",
# ".../endpoints/{ENDPOINT_NAME}/inference-components/{IC_NAME}/openai/v1".
OPENAI_PATH = "/openai/v1/chat/completions"


@pytest.fixture(scope="module")
def agent(
    engine_python: str, tiny_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The tiny "agent" model: calls get_weather, then answers once the result is in."""
    logs = tmp_path_factory.mktemp("agent-logs")
    server = serve_tiny(engine_python, tiny_cache, logs, "agent", served_name=SERVED)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def agent_standin(
    containers: dict[str, Server], agent: Server
) -> Iterator[SageMakerRuntimeStandIn]:
    chat = containers[CHAT_ENDPOINT].url
    with SageMakerRuntimeStandIn(
        {CHAT_ENDPOINT: chat, AGENT_ENDPOINT: agent.url},
        inference_components={COMPONENT: chat},
        seed=11,
        max_part=40,
    ) as running:
        yield running


@pytest.fixture
def agent_runtime(agent_standin: SageMakerRuntimeStandIn) -> Any:
    return boto3.client(
        "sagemaker-runtime", region_name="us-east-1", endpoint_url=agent_standin.url
    )


def openai_url(standin: SageMakerRuntimeStandIn, component: str | None = None) -> str:
    where = f"/endpoints/{CHAT_ENDPOINT}"
    if component:
        where += f"/inference-components/{component}"
    return standin.url + where + OPENAI_PATH


# --- SageMaker's OpenAI-compatible route --------------------------------------------------


@pytest.mark.parametrize("component", [None, COMPONENT], ids=["endpoint", "inference-component"])
def test_the_openai_route_answers_chat_with_a_minted_token(
    agent_standin: SageMakerRuntimeStandIn, containers: dict[str, Server], component: str | None
) -> None:
    # AWS's examples send model="": "you can leave this field empty".
    sent = json.dumps({"model": "", "messages": MESSAGES, "max_tokens": 64}).encode()
    r = httpx.post(
        openai_url(agent_standin, component),
        content=sent,
        headers={"Content-Type": "application/json", **bearer()},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == SERVED
    message = body["choices"][0]["message"]
    assert (message["reasoning"], message["content"]) == (REASONING, CONTENT)
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 10
    # "The container must implement the `/v1/chat/completions` path": the body went there
    # as sent.
    chat = containers[CHAT_ENDPOINT].url
    assert agent_standin.openai_forwarded[-1] == (chat + "/v1/chat/completions", sent)


def test_the_openai_route_streams_the_containers_sse_as_is(
    agent_standin: SageMakerRuntimeStandIn,
) -> None:
    request = {"model": "", "messages": MESSAGES, "max_tokens": 64, "stream": True}
    with httpx.stream(
        "POST", openai_url(agent_standin), json=request, headers=bearer(), timeout=120
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning") or "" for d in deltas) == REASONING
    assert "".join(d.get("content") or "" for d in deltas) == CONTENT
    # The container switched usage on though the client did not ask (cost tracking).
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 29


def test_a_container_error_on_the_openai_route_comes_back_as_the_containers_own(
    agent_standin: SageMakerRuntimeStandIn,
) -> None:
    """The route "returns responses directly from the container": an OpenAI 400, not
    InvokeEndpoint's 424 ModelError wrapping."""
    bad = {"model": "", "messages": [{"role": "user", "content": 5}]}
    r = httpx.post(openai_url(agent_standin), json=bad, headers=bearer(), timeout=120)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages[0].content"


def _expired() -> str:
    # "valid up to 12 hours": signed 13 hours ago for 12.
    return mint_token(signed_at=datetime.now(UTC) - timedelta(hours=13))


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "MissingAuthenticationTokenException"),
        ({"Authorization": "Bearer sk-not-a-sagemaker-token"}, 401, "MissingAuthenticationToken"),
        ({"Authorization": "Bearer sagemaker-api-key-%%%"}, 403, "InvalidSignatureException"),
        (bearer(mint_token(action="InvokeEndpoint")), 403, "AccessDeniedException"),
        (bearer(mint_token(region="eu-west-1")), 403, "InvalidSignatureException"),
        ({"Authorization": "Bearer " + _expired()}, 403, "ExpiredTokenException"),
    ],
    ids=["none", "not-sagemaker", "not-base64", "other-action", "other-region", "expired"],
)
def test_the_openai_route_refuses_a_missing_or_bad_token_with_an_aws_error(
    agent_standin: SageMakerRuntimeStandIn, headers: dict[str, str], status: int, code: str
) -> None:
    before = len(agent_standin.openai_forwarded)
    r = httpx.post(openai_url(agent_standin), json={"messages": MESSAGES}, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["x-amzn-ErrorType"].startswith(code)
    assert r.json()["message"]
    assert len(agent_standin.openai_forwarded) == before  # nothing reached the container


def test_an_unknown_endpoint_is_the_same_error_as_invoke_endpoints(
    agent_standin: SageMakerRuntimeStandIn, agent_runtime: Any
) -> None:
    url = agent_standin.url + "/endpoints/nope" + OPENAI_PATH
    r = httpx.post(url, json={"messages": MESSAGES}, headers=bearer(), timeout=30)
    with pytest.raises(ClientError) as invoked:
        agent_runtime.invoke_endpoint(
            EndpointName="nope",
            Body=json.dumps({"messages": MESSAGES}),
            ContentType="application/json",
        )
    error = invoked.value.response
    assert r.status_code == error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r.headers["x-amzn-ErrorType"].startswith(error["Error"]["Code"])
    assert r.json()["message"] == error["Error"]["Message"]


# --- Responses through InvokeEndpoint's CustomAttributes -----------------------------------
# "CustomAttributes: Provides additional information about a request for an inference
# submitted to a model hosted at an Amazon SageMaker endpoint. The information is an opaque
# value that is forwarded verbatim." (SageMaker API reference, InvokeEndpoint); the container
# reads route=/v1/responses from it (inference_container README).

ROUTE = "route=/v1/responses"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
QUESTION = {"role": "user", "content": "What's the weather in Paris?"}


def invoke(runtime: Any, body: dict[str, Any]) -> Any:
    answer = runtime.invoke_endpoint(
        EndpointName=AGENT_ENDPOINT,
        Body=json.dumps(body),
        ContentType="application/json",
        CustomAttributes=ROUTE,
    )
    return json.loads(answer["Body"].read())


def invoke_stream(runtime: Any, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of the SSE the container sent, reassembled from PayloadParts."""
    answer = runtime.invoke_endpoint_with_response_stream(
        EndpointName=AGENT_ENDPOINT,
        Body=json.dumps({**body, "stream": True}),
        ContentType="application/json",
        CustomAttributes=ROUTE,
    )
    raw = b"".join(e["PayloadPart"]["Bytes"] for e in answer["Body"] if "PayloadPart" in e)
    pairs: list[tuple[str, dict[str, Any]]] = []
    for block in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            pairs.append((lines.get("event", ""), json.loads(lines["data"])))
    return pairs


def follow_up(output: list[dict[str, Any]]) -> dict[str, Any]:
    [call] = [item for item in output if item["type"] == "function_call"]
    # Ends with `"}`, the token after which the agent answers (gptoss_tiny.script).
    weather = '{"temperature_c": 18, "sky": "sunny"}'
    result = {"type": "function_call_output", "call_id": call["call_id"], "output": weather}
    return {
        "input": [QUESTION, *output, result],
        "tools": [WEATHER],
        "max_output_tokens": 128,
        "enable_response_messages": True,  # vLLM: return the harmony messages it was given
    }


def carried_reasoning(response: dict[str, Any]) -> list[str]:
    return [
        part.get("text")
        for m in response["input_messages"]
        if m.get("channel") == "analysis"
        for part in m.get("content") or []
    ]


def test_a_tool_conversation_over_invoke_endpoint_carries_the_reasoning(
    agent_runtime: Any,
) -> None:
    first = {"input": [QUESTION], "tools": [WEATHER], "max_output_tokens": 128}
    turn1 = invoke(agent_runtime, first)
    assert [item["type"] for item in turn1["output"]] == ["reasoning", "function_call"]
    reasoning, call = turn1["output"]
    assert reasoning["content"] == [{"type": "reasoning_text", "text": TOOL_REASONING}]
    assert (call["name"], call["arguments"]) == ("get_weather", TOOL_ARGUMENTS)
    assert turn1["usage"]["output_tokens_details"]["reasoning_tokens"] == 16

    turn2 = invoke(agent_runtime, follow_up(turn1["output"]))
    [message] = turn2["output"]
    assert message["content"][0]["text"] == AGENT_ANSWER
    assert TOOL_REASONING in carried_reasoning(turn2)
    assert turn2["usage"]["output_tokens"] == 12


def test_a_streamed_tool_conversation_over_invoke_endpoint_with_response_stream(
    agent_runtime: Any,
) -> None:
    first = {"input": [QUESTION], "tools": [WEATHER], "max_output_tokens": 128}
    events = invoke_stream(agent_runtime, first)
    names = [name for name, _ in events]
    assert names[0] == "response.created"
    assert names[-1] == "response.completed"
    assert all(name == data["type"] for name, data in events)
    thought = "".join(d["delta"] for n, d in events if n == "response.reasoning_text.delta")
    assert thought == TOOL_REASONING
    completed = events[-1][1]["response"]
    usage = completed["usage"]
    assert (usage["output_tokens"], usage["output_tokens_details"]["reasoning_tokens"]) == (35, 16)

    events = invoke_stream(agent_runtime, follow_up(completed["output"]))
    answer = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert answer == AGENT_ANSWER
    assert events[-1][0] == "response.completed"
    usage = events[-1][1]["response"]["usage"]
    assert (usage["output_tokens"], usage["output_tokens_details"]["reasoning_tokens"]) == (12, 0)

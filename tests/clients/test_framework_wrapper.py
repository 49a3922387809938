"""An agent framework, unchanged, on ``gptoss_aws.async_openai_client()``: Strands Agents.

Strands' ``OpenAIModel`` takes a ready ``AsyncOpenAI`` client (``client=``), as AWS's own
SageMaker docs and blog show it. Given ours, every model call it makes goes through our
``AsyncGptOss``: SageMaker backend -> boto3 -> the runtime stand-in -> the real container.
The tiny "tool" model answers every request with one ``get_weather`` call, so the tool
stops the agent once it has run (``agent.cancel(after_current_tools=True)``, Strands'
cooperative stop), or the loop would ask the model again forever.

The OpenAI Agents SDK is not used: its current release needs openai>=3, which the openai
2.x that LiteLLM and this lock pin excludes (see sdk/README.md, "From OpenAI code").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import SERVED_NAME, TOOL_ENDPOINT
from sagemaker_standin import SageMakerRuntimeStandIn
from scripted import TOOL_COMPLETION_TOKENS, TOOL_REASONING_TOKENS
from strands import Agent, tool
from strands.models.openai import OpenAIModel

import gptoss_aws
from gptoss_aws import AsyncGptOss, Tracker, open_ledger

pytestmark = pytest.mark.engine


# A wrapper that lost the tool call would leave Strands asking the model again and again:
# fail instead of hanging (the budget includes starting the containers, when this runs first).
@pytest.mark.timeout(600)
def test_a_strands_agent_turn_with_a_tool_is_tracked(
    standin: SageMakerRuntimeStandIn, tmp_path: Path
) -> None:
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    ours = AsyncGptOss.sagemaker(
        TOOL_ENDPOINT,
        runtime_client=boto3.client(
            "sagemaker-runtime", region_name="us-east-1", endpoint_url=standin.url
        ),
        instance_type="ml.g6e.xlarge",  # declared: the stand-in has no DescribeEndpoint
        model=SERVED_NAME,
        tracker=Tracker(ledger=ledger),
        tags={"team": "agents"},
    )
    invoked: list[str] = []
    agent: Agent

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city.
        """
        invoked.append(city)
        agent.cancel(after_current_tools=True)
        return f"Sunny in {city}"

    model = OpenAIModel(
        client=gptoss_aws.async_openai_client(ours),
        model_id=SERVED_NAME,
        params={"max_tokens": 64},
    )
    agent = Agent(model=model, tools=[get_weather], callback_handler=None)
    result: Any = agent("What is the weather in Paris?")

    assert invoked == ["Paris"]  # the tool really ran, with the model's arguments
    tool_uses = [
        block["toolUse"]
        for message in agent.messages
        for block in message["content"]
        if "toolUse" in block
    ]
    assert [(u["name"], u["input"]) for u in tool_uses] == [("get_weather", {"city": "Paris"})]
    results = [
        block["toolResult"]
        for message in agent.messages
        for block in message["content"]
        if "toolResult" in block
    ]
    assert [r["content"][0]["text"] for r in results] == ["Sunny in Paris"]

    # One model call, one row: as our own client records it.
    [row] = ledger.query()
    assert (row.backend, row.endpoint, row.model, row.stream, row.status) == (
        "sagemaker",
        TOOL_ENDPOINT,
        SERVED_NAME,
        True,  # Strands streams
        "ok",
    )
    assert (row.usage_source, row.completion_tokens, row.reasoning_tokens) == (
        "reported",
        TOOL_COMPLETION_TOKENS,
        TOOL_REASONING_TOKENS,
    )
    assert row.prompt_tokens > 0
    assert row.tags == {"team": "agents"}
    usage = result.metrics.accumulated_usage
    assert (usage["inputTokens"], usage["outputTokens"]) == (
        row.prompt_tokens,
        row.completion_tokens,
    )

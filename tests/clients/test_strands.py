"""Strands Agents, unchanged, through the SageMaker runtime stand-in.

Its own SageMaker provider (SageMakerAIModel) builds a boto3 sagemaker-runtime client;
botocore's service-specific endpoint variable (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, AWS
SDKs and Tools reference guide, "Service-specific endpoints") points it at the stand-in.
Strands 1.62.0's provider cannot read an OpenAI usage object that has
``completion_tokens_details`` (its UsageMetadata dataclass takes four fields and raises
TypeError on any other), and vLLM, like OpenAI, always sends it. That test is a strict
xfail: it starts failing, and so gets noticed, the day Strands reads the field. Strands'
LiteLLM provider over sagemaker_chat works, and is the way the container README names.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import CHAT_ENDPOINT
from sagemaker_standin import SageMakerRuntimeStandIn
from scripted import CHAT_COMPLETION_TOKENS, CHAT_CONTENT, CHAT_REASONING
from strands import Agent
from strands.agent import AgentResult
from strands.models.litellm import LiteLLMModel
from strands.models.sagemaker import SageMakerAIModel

pytestmark = pytest.mark.engine


def assert_scripted(result: AgentResult) -> None:
    blocks: list[dict[str, Any]] = list(result.message["content"])  # type: ignore[arg-type]
    text = "".join(b.get("text", "") for b in blocks)
    reasoning = "".join(
        b["reasoningContent"]["reasoningText"]["text"] for b in blocks if "reasoningContent" in b
    )
    assert (text, reasoning) == (CHAT_CONTENT, CHAT_REASONING)
    usage = result.metrics.accumulated_usage
    assert usage["outputTokens"] == CHAT_COMPLETION_TOKENS
    assert usage["totalTokens"] == usage["inputTokens"] + CHAT_COMPLETION_TOKENS


def test_agent_over_litellm_sagemaker_chat(standin: SageMakerRuntimeStandIn) -> None:
    model = LiteLLMModel(
        model_id=f"sagemaker_chat/{CHAT_ENDPOINT}",
        params={
            "max_tokens": 64,
            "sagemaker_base_url": (
                f"{standin.url}/endpoints/{CHAT_ENDPOINT}/invocations-response-stream"
            ),
            "aws_region_name": "us-east-1",
        },
    )
    assert_scripted(Agent(model=model, callback_handler=None)("Hello there"))


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="strands 1.62.0 SageMakerAIModel: UsageMetadata() rejects completion_tokens_details",
)
@pytest.mark.parametrize("stream", [True, False])
def test_agent_over_the_sagemaker_provider(
    standin: SageMakerRuntimeStandIn, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", standin.url)
    model = SageMakerAIModel(
        endpoint_config={"endpoint_name": CHAT_ENDPOINT, "region_name": "us-east-1"},
        payload_config={"max_tokens": 64, "stream": stream},
        boto_session=boto3.Session(region_name="us-east-1"),
    )
    assert_scripted(Agent(model=model, callback_handler=None)("Hello there"))

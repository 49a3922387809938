"""LiteLLM's sagemaker_chat provider, unchanged, through the SageMaker runtime stand-in.

sagemaker_chat sends the OpenAI body to InvokeEndpoint with ``"model": "<endpoint name>"``
(litellm/llms/sagemaker/chat/transformation.py); the container serves its own model
whatever that says. ``sagemaker_base_url`` is LiteLLM's own override of the runtime URL.
"""

from __future__ import annotations

from typing import Any

import litellm
import pytest
from conftest import CHAT_ENDPOINT
from sagemaker_standin import SageMakerRuntimeStandIn
from scripted import (
    CHAT_COMPLETION_TOKENS,
    CHAT_CONTENT,
    CHAT_REASONING,
    CHAT_REASONING_TOKENS,
    MESSAGES,
)

pytestmark = pytest.mark.engine
AWS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_region_name": "us-east-1",
}


def url(standin: SageMakerRuntimeStandIn, stream: bool) -> str:
    op = "invocations-response-stream" if stream else "invocations"
    return f"{standin.url}/endpoints/{CHAT_ENDPOINT}/{op}"


def test_sagemaker_chat(standin: SageMakerRuntimeStandIn) -> None:
    r: Any = litellm.completion(
        model=f"sagemaker_chat/{CHAT_ENDPOINT}",
        messages=MESSAGES,
        max_tokens=64,
        temperature=0,
        sagemaker_base_url=url(standin, stream=False),
        **AWS,
    )
    message = r.choices[0].message
    assert message.content == CHAT_CONTENT
    assert message.reasoning_content == CHAT_REASONING
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == CHAT_COMPLETION_TOKENS
    assert r.usage.completion_tokens_details.reasoning_tokens == CHAT_REASONING_TOKENS
    assert r.usage.total_tokens == r.usage.prompt_tokens + CHAT_COMPLETION_TOKENS


def test_sagemaker_chat_streaming(standin: SageMakerRuntimeStandIn) -> None:
    stream: Any = litellm.completion(
        model=f"sagemaker_chat/{CHAT_ENDPOINT}",
        messages=MESSAGES,
        max_tokens=64,
        stream=True,
        stream_options={"include_usage": True},
        sagemaker_base_url=url(standin, stream=True),
        **AWS,
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert (content, reasoning) == (CHAT_CONTENT, CHAT_REASONING)
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage, "no usage in the stream"
    assert usage[-1].completion_tokens == CHAT_COMPLETION_TOKENS

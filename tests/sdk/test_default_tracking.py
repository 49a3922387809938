"""Clients track costs by default: Bedrock and SageMaker calls land in the default ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from gptoss_aws import GptOss, open_ledger

META = {"RequestId": "req-1", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
ANSWER: dict[str, Any] = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "Say hi."}}},
                {"text": "Hi!"},
            ],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1_000, "outputTokens": 2_000, "totalTokens": 3_000},
    "metrics": {"latencyMs": 420},
    "ResponseMetadata": META,
}


def test_a_bedrock_call_is_priced_and_lands_in_the_default_ledger_without_setup() -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(runtime) as stub:
        stub.add_response(
            "converse",
            ANSWER,
            {
                "modelId": "openai.gpt-oss-120b-1:0",
                "messages": ANY,
                "inferenceConfig": ANY,
                # The call's tags reach Bedrock's invocation logs too.
                "requestMetadata": {"team": "search"},
            },
        )
        client = GptOss.bedrock(
            "gpt-oss-120b", region="us-east-1", runtime_client=runtime, tags={"team": "search"}
        )
        answer = client.chat.completions.create(
            messages=[{"role": "user", "content": "Hi"}], max_tokens=2_048
        )
    # Bundled us-east-1 price: $0.15 / $0.60 per 1M tokens in / out.
    expected = Decimal("1000") * Decimal("0.15") / 10**6 + Decimal("2000") * Decimal("0.60") / 10**6
    assert answer.cost is not None
    assert answer.cost.usd == expected
    [row] = open_ledger().query()
    assert (row.id, row.cost_usd, row.tags, row.status) == (
        answer.call_id,
        expected,
        {"team": "search"},
        "ok",
    )


def test_an_unpriced_openai_compatible_server_and_tracker_none_are_not_tracked() -> None:
    assert GptOss.openai_compatible("http://127.0.0.1:9").tracker is None
    runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
    assert GptOss.bedrock("gpt-oss-20b", runtime_client=runtime, tracker=None).tracker is None
    assert GptOss.bedrock("gpt-oss-20b", runtime_client=runtime).tracker is not None

"""Clients track costs by default: Bedrock and SageMaker calls land in the default ledger."""

from __future__ import annotations

from typing import Any

import boto3
import stated_prices
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


def test_a_bedrock_call_lands_in_the_default_ledger_without_setup_and_is_priced_later() -> None:
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
    # No Bedrock price is bundled (no AWS primary source states one offline): the call goes
    # ahead and its row keeps the tokens with the cost pending, never $0.
    assert answer.cost is not None
    assert (answer.cost.usd, answer.cost.basis) == (None, "pending")
    assert answer.cost.fix == "gptoss-aws prices refresh --region us-east-1"
    ledger = open_ledger()
    [row] = ledger.query()
    assert (row.id, row.cost_usd, row.tags, row.status, row.prompt_tokens) == (
        answer.call_id,
        None,
        {"team": "search"},
        "ok",
        1_000,
    )
    # Once a price exists (here one the test states), the row is priced retroactively.
    ledger.price_pending(stated_prices.book("us-east-1"))
    [row] = ledger.query()
    expected = (1_000 * stated_prices.INPUT_120B + 2_000 * stated_prices.OUTPUT_120B) / 10**6
    assert (row.cost_basis, row.cost_usd) == ("per_token", expected)


def test_an_unpriced_openai_compatible_server_and_tracker_none_are_not_tracked() -> None:
    assert GptOss.openai_compatible("http://127.0.0.1:9").tracker is None
    runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
    assert GptOss.bedrock("gpt-oss-20b", runtime_client=runtime, tracker=None).tracker is None
    assert GptOss.bedrock("gpt-oss-20b", runtime_client=runtime).tracker is not None

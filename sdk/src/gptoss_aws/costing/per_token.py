"""Per-token cost (Bedrock, or a per-token price a user sets for any server).

cost = prompt_tokens x input price + completion_tokens x output price, per 1M tokens, exact
in Decimal. ``completion_tokens`` already holds the reasoning (analysis channel) tokens:
OpenAI's ``completion_tokens_details.reasoning_tokens`` and Bedrock's ``outputTokens`` both
count reasoning inside the output, and Bedrock bills it as output. Reasoning is never added
a second time and never dropped (LiteLLM #13300 showed gpt-oss reasoning as 0).

Nothing here rounds: round only to display (``usd_text``), or use the allocation module's
largest-remainder rounding when cents must add up.
"""

from __future__ import annotations

from decimal import Decimal

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing.records import TOKENS_PER_MILLION, TokenPrice
from gptoss_aws.types import CallRecord, Cost, Usage
from gptoss_facts.text import usd

CENT = Decimal("0.01")


def _check(usage: Usage) -> None:
    for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
        if getattr(usage, name) < 0:
            raise ConfigurationError(f"usage.{name} is negative ({getattr(usage, name)})")
    if usage.reasoning_tokens > usage.completion_tokens:
        # Reasoning is part of the completion; more reasoning than completion means the
        # backend counted them apart, and we would under-bill by guessing either way.
        raise ConfigurationError(
            f"usage has reasoning_tokens={usage.reasoning_tokens} > completion_tokens="
            f"{usage.completion_tokens}; completion_tokens must include reasoning"
        )


def token_cost(usage: Usage, price: TokenPrice) -> Cost:
    """The exact cost of one call's tokens."""
    _check(usage)
    input_usd = Decimal(usage.prompt_tokens) * price.input_per_1m / TOKENS_PER_MILLION
    output_usd = Decimal(usage.completion_tokens) * price.output_per_1m / TOKENS_PER_MILLION
    return Cost(
        usd=input_usd + output_usd,
        basis="per_token",
        price_source=price.describe(),
        input_usd=input_usd,
        output_usd=output_usd,
    )


def usage_of(record: CallRecord) -> Usage:
    return Usage(
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        reasoning_tokens=record.reasoning_tokens,
    )


# Display only (never "$0.00" for an unknown amount): the one dollar formatter all
# components share.
usd_text = usd

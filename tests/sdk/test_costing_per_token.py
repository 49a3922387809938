"""Per-token cost: exact Decimal, and reasoning billed as output (LiteLLM #13300)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import stated_prices
from hypothesis import given
from hypothesis import strategies as st

from gptoss_aws.costing import token_cost, usage_of, usd_text
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing import TokenPrice
from gptoss_aws.types import CallRecord, Usage

PRICE = TokenPrice(
    input_per_1m=Decimal("0.15"),
    output_per_1m=Decimal("0.60"),
    source="test price",
    as_of=date(2026, 11, 27),
)


def test_cost_is_input_times_input_price_plus_output_times_output_price() -> None:
    cost = token_cost(Usage(prompt_tokens=1_000, completion_tokens=500), PRICE)
    assert cost.input_usd == Decimal("0.00015")
    assert cost.output_usd == Decimal("0.0003")
    assert cost.usd == Decimal("0.00045")
    assert cost.basis == "per_token"
    assert cost.price_source == "test price (as of 2026-11-27)"


def test_reasoning_tokens_are_billed_as_output_and_not_twice() -> None:
    # 900 of the 1,000 completion tokens were reasoning (the analysis channel). Bedrock bills
    # all 1,000 as output; LiteLLM showed this reasoning as 0.
    with_reasoning = token_cost(
        Usage(prompt_tokens=0, completion_tokens=1_000, reasoning_tokens=900), PRICE
    )
    assert with_reasoning.output_usd == Decimal("0.0006")
    assert with_reasoning.usd == Decimal("0.0006")
    # A reply that is all reasoning still costs its tokens.
    all_reasoning = token_cost(Usage(completion_tokens=50, reasoning_tokens=50), PRICE)
    assert all_reasoning.usd == Decimal("0.00003")
    assert all_reasoning.usd > 0


def test_a_catalog_price_costs_a_real_call() -> None:
    price = stated_prices.book().token_price("openai.gpt-oss-120b-1:0", "us-east-1")
    cost = token_cost(
        Usage(prompt_tokens=1_234, completion_tokens=5_678, reasoning_tokens=4_000), price
    )
    assert cost.usd == Decimal("0.0001851") + Decimal("0.0034068")


@given(
    prompt=st.integers(min_value=0, max_value=10**9),
    completion=st.integers(min_value=0, max_value=10**9),
)
def test_cost_is_exact_for_any_token_counts(prompt: int, completion: int) -> None:
    cost = token_cost(Usage(prompt_tokens=prompt, completion_tokens=completion), PRICE)
    # Integer arithmetic in micro-dollars per token x 1M: no float anywhere.
    expected = Decimal(prompt * 15 + completion * 60) / Decimal(100_000_000)
    assert cost.usd == expected
    assert cost.input_usd is not None
    assert cost.output_usd is not None
    assert cost.input_usd + cost.output_usd == cost.usd


def test_negative_counts_and_reasoning_beyond_the_completion_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="negative"):
        token_cost(Usage(prompt_tokens=-1), PRICE)
    with pytest.raises(ConfigurationError, match="must include reasoning"):
        token_cost(Usage(completion_tokens=10, reasoning_tokens=11), PRICE)


def test_usage_of_a_ledger_row() -> None:
    record = CallRecord(
        backend="bedrock",
        model="gpt-oss-120b",
        prompt_tokens=3,
        completion_tokens=7,
        reasoning_tokens=5,
    )
    assert usage_of(record) == Usage(prompt_tokens=3, completion_tokens=7, reasoning_tokens=5)


def test_display_rounds_only_for_display_and_unknown_is_not_zero() -> None:
    assert usd_text(Decimal("0.00045")) == "$0.00"
    assert usd_text(Decimal("0.00045"), places=5) == "$0.00045"
    assert usd_text(Decimal("1234.565")) == "$1,234.57"
    assert usd_text(None) == "unpriced"

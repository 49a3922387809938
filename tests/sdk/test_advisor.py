"""The advisor: the same traffic on Bedrock and on an endpoint, and the break-even."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import stated_prices

from gptoss_aws.costing import THROUGHPUT_ANCHORS, InstanceTimeline, Throughput, advise
from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.types import CallRecord

T0 = datetime(2026, 11, 2, tzinfo=UTC)
DAY = timedelta(days=1)

# The bundled catalog holds only primary-source prices (no Bedrock price, no ml.p5.4xlarge
# hosting price): the advisor's arithmetic is tested on stated figures on top of it.
BOOK = stated_prices.book().with_override(
    {"sagemaker": {"ml.p5.4xlarge": {"us-east-1": {"usd_per_hour": "7.912", "source": "test"}}}}
)


def _calls(
    n: int,
    *,
    prompt: int = 2_600,
    completion: int = 1_000,
    model: str = "gpt-oss-120b",
    backend: str = "bedrock",
    endpoint: str | None = None,
    spacing: timedelta = timedelta(seconds=60),
    latency_ms: float = 10_000,
) -> list[CallRecord]:
    return [
        CallRecord.model_validate(
            {
                "backend": backend,
                "model": model,
                "endpoint": endpoint,
                "started_at": T0 + i * spacing,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "reasoning_tokens": completion // 2,
                "latency_ms": latency_ms,
                "status": "ok",
            }
        )
        for i in range(n)
    ]


def test_light_traffic_is_cheaper_on_bedrock_and_the_break_even_is_computed() -> None:
    calls = _calls(1_000)
    advice = advise(
        calls,
        window_start=T0,
        window_end=T0 + DAY,
        prices=BOOK,
        bedrock_region="us-east-1",
    )
    # 1,000 x (2,600 x $0.15 + 1,000 x $0.60) / 1M
    assert advice.bedrock_usd == Decimal("0.99")
    assert advice.endpoint_basis == "hypothetical"
    assert advice.instance_type == "ml.p5.4xlarge"
    assert advice.mean_instances == 1
    assert advice.endpoint_usd == Decimal("7.912") * 24
    assert advice.input_per_output == Decimal("2.6")
    # $7.912/hour / ((0.60 + 2.6 x 0.15) / 1M) output tokens/hour
    assert advice.break_even_output_tokens_per_hour == Decimal("7.912") * 1_000_000 / Decimal(
        "0.99"
    )
    assert advice.break_even_total_tokens_per_hour == (
        advice.break_even_output_tokens_per_hour * Decimal("3.6")
    )
    assert advice.throughput == THROUGHPUT_ANCHORS[("gpt-oss-120b", "ml.p5.4xlarge")]
    assert advice.capacity_output_tokens_per_hour == Decimal(2943 * 3600)
    assert advice.endpoint_can_break_even is True
    assert advice.cheaper == "Bedrock"

    text = advice.summary()
    assert "1,000 gpt-oss-120b calls" in text
    assert "they would have cost $0.99" in text
    assert "$189.89" in text
    assert "above 8.0M output tokens/hour" in text
    assert "28.8M tokens/hour in all" in text
    assert "10.6M output tokens/hour" in text
    assert "gpustack" in text
    assert "Assumptions:" in text
    assert "no savings plans" in text


def test_heavy_traffic_is_cheaper_on_the_endpoint_it_ran_on() -> None:
    # 3 calls/s of 1,000 output tokens for an hour on one declared instance.
    calls = _calls(
        10_800,
        backend="sagemaker",
        endpoint="ep",
        spacing=timedelta(seconds=1 / 3),
        latency_ms=2_000,
    )
    timeline = InstanceTimeline.declared(
        "ep", "us-east-1", [(T0, T0 + timedelta(hours=1), 1, "ml.p5.4xlarge")]
    )
    advice = advise(
        calls,
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
        prices=BOOK,
        bedrock_region="us-east-1",
        timelines=timeline,
    )
    assert advice.endpoint_basis == "measured"
    assert advice.endpoint_usd == Decimal("7.912")
    assert advice.bedrock_usd == Decimal("10.692")
    assert advice.cheaper == "the endpoint"
    measured = advice.measured_throughput
    assert measured is not None
    # Calls overlap back to back: the endpoint was busy the whole hour (plus the tail of
    # the last call), so ~10.8M tokens over ~3,600 s.
    assert Decimal(2990) < measured.output_tokens_per_s < Decimal(3001)
    assert "measured" in measured.source
    assert "own calls show" in advice.summary()
    assert "the endpoint was cheaper" in advice.summary().lower()


def test_a_slow_instance_never_breaks_even_and_the_summary_says_so() -> None:
    advice = advise(
        _calls(100),
        window_start=T0,
        window_end=T0 + DAY,
        prices=BOOK,
        bedrock_region="us-east-1",
        throughput=100,
    )
    assert advice.throughput == Throughput(Decimal(100), "given by you")
    assert advice.endpoint_can_break_even is False
    assert "never beats Bedrock" in advice.summary()


def test_hypothetical_endpoint_is_sized_for_the_average_rate() -> None:
    # 20M output tokens in one hour needs two instances at 2,943 tok/s (10.6M/hour each).
    calls = _calls(20, completion=1_000_000, prompt=0, spacing=timedelta(minutes=2))
    advice = advise(
        calls,
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
        prices=BOOK,
        bedrock_region="us-east-1",
    )
    assert advice.mean_instances == 2
    assert advice.endpoint_usd == Decimal("15.824")
    assert any("2 instances" in a for a in advice.assumptions)


def test_an_unbenchmarked_instance_uses_the_given_throughput_or_says_it_has_none() -> None:
    prices = BOOK
    advice = advise(
        _calls(10),
        window_start=T0,
        window_end=T0 + DAY,
        prices=prices,
        bedrock_region="us-east-1",
        instance_type="ml.g6e.2xlarge",
    )
    assert advice.throughput is None
    assert advice.endpoint_can_break_even is None
    assert "No throughput figure" in advice.summary()


def test_model_must_be_named_when_the_window_mixes_models() -> None:
    calls = _calls(3) + _calls(3, model="gpt-oss-20b")
    with pytest.raises(ConfigurationError, match="say which model"):
        advise(
            calls,
            window_start=T0,
            window_end=T0 + DAY,
            prices=BOOK,
            bedrock_region="us-east-1",
        )
    small = advise(
        calls,
        window_start=T0,
        window_end=T0 + DAY,
        prices=BOOK,
        bedrock_region="us-east-1",
        model="openai.gpt-oss-20b-1:0",
    )
    assert (small.model, small.calls) == ("gpt-oss-20b", 3)
    assert small.bedrock_usd == 3 * (Decimal("2600") * Decimal("0.07") + 1000 * Decimal("0.30")) / (
        1_000_000
    )


def test_calls_outside_the_window_and_reservations_do_not_count() -> None:
    calls = _calls(5)
    calls[0].started_at = T0 - timedelta(seconds=1)
    calls[1].status = "reserved"
    advice = advise(
        calls,
        window_start=T0,
        window_end=T0 + DAY,
        prices=BOOK,
        bedrock_region="us-east-1",
    )
    assert advice.calls == 3


def test_no_price_in_the_region_is_an_unpriced_error_not_zero() -> None:
    with pytest.raises(UnpricedError, match="us-west-2"):
        advise(
            _calls(1),
            window_start=T0,
            window_end=T0 + DAY,
            prices=BOOK,
            bedrock_region="us-west-2",
        )


def test_no_output_tokens_means_no_break_even() -> None:
    advice = advise(
        _calls(2, completion=0),
        window_start=T0,
        window_end=T0 + DAY,
        prices=BOOK,
        bedrock_region="us-east-1",
    )
    assert advice.break_even_output_tokens_per_hour is None
    assert "no break-even" in advice.summary()


def test_bad_windows_and_throughputs_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="after"):
        advise(
            [],
            window_start=T0,
            window_end=T0,
            prices=BOOK,
            bedrock_region="us-east-1",
            model="gpt-oss-120b",
        )
    with pytest.raises(ConfigurationError, match="> 0"):
        advise(
            [],
            window_start=T0,
            window_end=T0 + DAY,
            prices=BOOK,
            bedrock_region="us-east-1",
            model="gpt-oss-120b",
            throughput=0,
        )

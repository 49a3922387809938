"""Bedrock service tiers end to end: sent as Converse serviceTier, recorded as AWS reports
it, priced at that tier (or pending), reserved at the tier's price, grouped in reports.

Bedrock user guide, "Service tiers for optimizing performance and cost": "You can set the
'service_tier' optional parameter to 'reserved', 'priority', 'default', or 'flex'"; the
API reference's ServiceTier type: "Valid Values: priority | default | flex | reserved". The
response carries the tier used (ConverseResponse.serviceTier in botocore's model)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from gptoss_aws import GptOss
from gptoss_aws.budgets import Budget
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.models import MODELS
from gptoss_aws.pricing import PriceBook
from gptoss_aws.pricing.catalog import fill_command
from gptoss_aws.pricing.records import TOKENS_PER_MILLION
from gptoss_aws.pricing.regions import BEDROCK_GPT_OSS_REGIONS, SERVICE_TIERS
from gptoss_aws.reports.summary import summarize
from gptoss_aws.tracking import CallIntent, Tracker
from gptoss_aws.types import Usage

META = {"RequestId": "req-1", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
HI = [{"role": "user", "content": "Hi"}]
# Test prices (not AWS's): a flex discount and a priority premium over standard.
TIERED = {
    "bedrock": {
        "gpt-oss-120b": {
            "us-west-2": {
                "input_per_1m": "0.15", "output_per_1m": "0.60",
                "tiers": {
                    "flex": {"input_per_1m": "0.075", "output_per_1m": "0.30"},
                    "priority": {"input_per_1m": "0.2625", "output_per_1m": "1.05"},
                },
            }
        }
    }
}  # fmt: skip


def answer(tier: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hi!"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1_000, "outputTokens": 2_000, "totalTokens": 3_000},
        "metrics": {"latencyMs": 420},
        "ResponseMetadata": META,
    }
    if tier is not None:
        response["serviceTier"] = {"type": tier}
    return response


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SQLiteLedger]:
    with SQLiteLedger(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def client(ledger: SQLiteLedger, runtime: Any, **tracker: Any) -> GptOss:
    book = PriceBook(()).with_override(TIERED)
    return GptOss.bedrock(
        "gpt-oss-120b",
        region="us-west-2",
        runtime_client=runtime,
        tracker=Tracker(ledger, prices=book, **tracker),
        tags={"team": "search", "feature": "chat"},
    )


def cost(tokens_in: int, tokens_out: int, price_in: str, price_out: str) -> Decimal:
    return (tokens_in * Decimal(price_in) + tokens_out * Decimal(price_out)) / TOKENS_PER_MILLION


def test_the_tier_goes_out_as_converse_service_tier_with_tags_and_project(
    ledger: SQLiteLedger,
) -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    with Stubber(runtime) as stub:
        stub.add_response(
            "converse",
            answer("flex"),
            {
                "modelId": "openai.gpt-oss-120b-1:0",
                "messages": ANY,
                "serviceTier": {"type": "flex"},
                "requestMetadata": {"feature": "chat", "team": "search"},
                "projectIdentifier": "proj-search",
            },
        )
        reply = client(ledger, runtime).chat.completions.create(
            messages=HI, service_tier="flex", project="proj-search"
        )
    assert reply.service_tier == "flex"
    [row] = ledger.query()
    assert (row.service_tier_requested, row.service_tier, row.project) == (
        "flex", "flex", "proj-search",
    )  # fmt: skip
    assert row.cost_usd == cost(1_000, 2_000, "0.075", "0.30")
    assert reply.cost is not None
    assert reply.cost.usd == row.cost_usd


def test_the_tier_aws_reports_is_the_one_priced(ledger: SQLiteLedger) -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    with Stubber(runtime) as stub:
        # Asked for priority, served at standard ("default"): priced at standard.
        stub.add_response("converse", answer("default"))
        client(ledger, runtime).chat.completions.create(messages=HI, service_tier="priority")
    [row] = ledger.query()
    assert (row.service_tier_requested, row.service_tier) == ("priority", "standard")
    assert row.cost_usd == cost(1_000, 2_000, "0.15", "0.60")


def test_a_tier_without_a_price_is_pending_with_its_fix(ledger: SQLiteLedger) -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    with Stubber(runtime) as stub:
        stub.add_response("converse", answer("reserved"))
        reply = client(ledger, runtime).chat.completions.create(messages=HI)
    [row] = ledger.query()
    assert (row.service_tier, row.cost_basis, row.cost_usd) == ("reserved", "pending", None)
    assert reply.cost is not None
    assert reply.cost.fix == fill_command("us-west-2")


def test_streams_record_the_tier_from_the_metadata_event(ledger: SQLiteLedger) -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    stub = Stubber(runtime)
    vars(stub)["_validate_operation_response"] = lambda operation_name, response: None
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi!"}}},
        {"messageStop": {"stopReason": "end_turn"}},
        {
            "metadata": {
                "usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 30},
                "metrics": {"latencyMs": 5},
                "serviceTier": {"type": "priority"},
            }
        },
    ]
    with stub:
        stub.add_response("converse_stream", {"stream": events, "ResponseMetadata": META})
        chunks = list(
            client(ledger, runtime).chat.completions.create(
                messages=HI, stream=True, service_tier="priority"
            )
        )
    assert chunks[-1].service_tier == "priority"
    [row] = ledger.query()
    assert (row.service_tier, row.cost_usd) == ("priority", cost(10, 20, "0.2625", "1.05"))


def test_a_hard_budget_reserves_at_the_dearer_of_the_tier_and_standard(
    ledger: SQLiteLedger,
) -> None:
    book = PriceBook(()).with_override(TIERED)
    tracker = Tracker(ledger, prices=book, budgets=[Budget(name="cap", limit=Decimal(10))])

    def reserved(tier: str | None) -> Decimal | None:
        intent = CallIntent(
            backend="bedrock", model="gpt-oss-120b", region="us-west-2", max_tokens=1_000,
            prompt_tokens_estimate=100, service_tier=tier,
        )  # fmt: skip
        call = tracker.begin(intent)
        call.finish(Usage())
        return call.record.reserved_usd

    assert reserved("priority") == cost(100, 1_000, "0.2625", "1.05")
    # Flex may be served at standard: the reservation covers standard.
    assert reserved("flex") == cost(100, 1_000, "0.15", "0.60")
    assert reserved(None) == cost(100, 1_000, "0.15", "0.60")


def test_reports_group_by_tier(ledger: SQLiteLedger) -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    with Stubber(runtime) as stub:
        for tier in ("flex", "default", "priority"):
            stub.add_response("converse", answer(tier))
        gpt = client(ledger, runtime)
        for tier in ("flex", "standard", "priority"):
            gpt.chat.completions.create(messages=HI, service_tier=tier)
    report = summarize(ledger.query(), by=["service_tier"])
    assert {r.key[0]: r.cost_usd for r in report.rows} == {
        "flex": cost(1_000, 2_000, "0.075", "0.30"),
        "priority": cost(1_000, 2_000, "0.2625", "1.05"),
        "standard": cost(1_000, 2_000, "0.15", "0.60"),
    }


def test_an_unknown_tier_is_a_configuration_error_before_anything_is_sent(
    ledger: SQLiteLedger,
) -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    with Stubber(runtime), pytest.raises(ConfigurationError, match="not a Bedrock service tier"):
        client(ledger, runtime).chat.completions.create(messages=HI, service_tier="scale")
    assert ledger.query() == []


_TRACKERS: list[Tracker] = []


def _shared_tracker() -> Tracker:
    """One ledger for the property tests' many examples (a file per example is slow)."""
    if not _TRACKERS:
        path = Path(tempfile.mkdtemp(prefix="gptoss-tiers-")) / "ledger.sqlite3"
        _TRACKERS.append(Tracker(SQLiteLedger(path), prices=PriceBook.load()))
    return _TRACKERS[0]


@settings(max_examples=60, deadline=None)
@given(
    tier=st.sampled_from(["standard", "flex", "priority"]),
    prompt=st.integers(0, 2_000_000),
    completion=st.integers(0, 2_000_000),
    prices=st.tuples(*[st.decimals("0.000001", "100", places=6)] * 6),
)
def test_a_tiered_call_costs_its_tokens_times_that_tiers_price(
    tier: str,
    prompt: int,
    completion: int,
    prices: tuple[Decimal, ...],
) -> None:
    by_tier = {
        "standard": prices[0:2],
        "flex": prices[2:4],
        "priority": prices[4:6],
    }
    entry: dict[str, Any] = {
        "input_per_1m": str(by_tier["standard"][0]),
        "output_per_1m": str(by_tier["standard"][1]),
        "tiers": {
            t: {"input_per_1m": str(p[0]), "output_per_1m": str(p[1])}
            for t, p in by_tier.items()
            if t != "standard"
        },
    }
    book = PriceBook(()).with_override({"bedrock": {"gpt-oss-20b": {"eu-north-1": entry}}})
    intent = CallIntent(
        backend="bedrock", model="gpt-oss-20b", region="eu-north-1", max_tokens=1,
        service_tier=None if tier == "standard" else tier,
    )  # fmt: skip
    tracker = Tracker(_shared_tracker().ledger, prices=book)
    charged = tracker.begin(intent).finish(
        Usage(prompt_tokens=prompt, completion_tokens=completion), service_tier=tier
    )
    price_in, price_out = by_tier[tier]
    assert charged.usd == (prompt * price_in + completion * price_out) / TOKENS_PER_MILLION


@settings(max_examples=200, deadline=None)
@given(
    tier=st.sampled_from(list(SERVICE_TIERS)),
    region=st.sampled_from(sorted(BEDROCK_GPT_OSS_REGIONS)),
    model=st.sampled_from(sorted(MODELS)),
)
def test_every_tier_and_region_has_a_sourced_price_or_is_pending_with_its_fix(
    tier: str, region: str, model: str
) -> None:
    from gptoss_aws.pricing.provenance import primary_urls

    tracker_pricing = _shared_tracker().token_pricing(model, region, tier)
    if tracker_pricing.token_price is not None:
        price = tracker_pricing.token_price
        assert price.source
        assert price.as_of
        assert "third-party" not in price.source
        if price.layer == "bundled":  # bundled: an AWS primary document, cited by URL
            assert primary_urls(price.source)
        assert price.input_per_1m > 0
        assert price.output_per_1m > 0
    else:
        assert tracker_pricing.basis == "pending"
        assert tracker_pricing.missing is not None
        assert tracker_pricing.missing.fix == f"gptoss-aws prices refresh --region {region}"
        assert f"gptoss-aws prices refresh --region {region}" in str(tracker_pricing.missing)


def test_the_advisor_compares_flex_standard_and_priority_with_an_endpoint() -> None:
    from datetime import UTC, datetime, timedelta

    from gptoss_aws.costing.advisor import advise
    from gptoss_aws.types import CallRecord

    start = datetime(2026, 11, 2, tzinfo=UTC)
    calls = [
        CallRecord(
            backend="bedrock",
            model="gpt-oss-120b",
            region="us-west-2",
            status="ok",
            started_at=start + timedelta(minutes=m),
            ended_at=start + timedelta(minutes=m, seconds=2),
            prompt_tokens=1_000,
            completion_tokens=2_000,
            cost_basis="per_token",
            cost_usd=Decimal("0.00135"),
        )
        for m in range(10)
    ]
    book = (
        PriceBook(())
        .with_override(TIERED)
        .with_override(
            {"sagemaker": {"ml.p5.4xlarge": {"us-west-2": {"usd_per_hour": "8", "source": "test"}}}}
        )
    )
    advice = advise(
        calls, window_start=start, window_end=start + timedelta(hours=1), prices=book,
        bedrock_region="us-west-2",
    )  # fmt: skip
    assert dict(advice.tiers) == {
        "flex": 10 * cost(1_000, 2_000, "0.075", "0.30"),
        "standard": 10 * cost(1_000, 2_000, "0.15", "0.60"),
        "priority": 10 * cost(1_000, 2_000, "0.2625", "1.05"),
    }
    assert "By Bedrock tier: Flex $0.0068, Standard $0.0135, Priority $0.0236" in advice.summary()
    # A tier with no price is pending, with the command that fills it.
    standard_only = {"input_per_1m": "0.15", "output_per_1m": "0.6"}
    untiered = PriceBook(()).with_override(
        {
            "bedrock": {"gpt-oss-120b": {"us-west-2": standard_only}},
            "sagemaker": {"ml.p5.4xlarge": {"us-west-2": {"usd_per_hour": "8"}}},
        }
    )
    partial = advise(
        calls, window_start=start, window_end=start + timedelta(hours=1), prices=untiered,
        bedrock_region="us-west-2",
    )  # fmt: skip
    assert dict(partial.tiers)["flex"] is None
    assert "Flex pending" in partial.summary()
    assert "`gptoss-aws prices refresh --region us-west-2`" in partial.summary()


def test_a_calls_team_tag_sends_it_through_the_teams_inference_profile(
    ledger: SQLiteLedger,
) -> None:
    profile = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/search01"
    model_arn = "arn:aws:bedrock:us-west-2::foundation-model/openai.gpt-oss-120b-1:0"
    control = boto3.client("bedrock", region_name="us-west-2")
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    with Stubber(control) as control_stub, Stubber(runtime) as stub:
        # The stack's per-team profiles: ListInferenceProfiles, then each profile's tags.
        summary = {
            "inferenceProfileName": "search", "inferenceProfileArn": profile,
            "inferenceProfileId": "search01", "status": "ACTIVE", "type": "APPLICATION",
            "models": [{"modelArn": model_arn}],
        }  # fmt: skip
        control_stub.add_response(
            "list_inference_profiles",
            {"inferenceProfileSummaries": [summary]},
            {"typeEquals": "APPLICATION"},
        )
        control_stub.add_response(
            "list_tags_for_resource",
            {"tags": [{"key": "gptoss:team", "value": "search"}]},
            {"resourceARN": profile},
        )
        stub.add_response("converse", answer("default"), {"modelId": profile, "messages": ANY,
                          "requestMetadata": ANY})  # fmt: skip
        stub.add_response(
            "converse", answer("default"),
            {"modelId": "openai.gpt-oss-120b-1:0", "messages": ANY, "requestMetadata": ANY},
        )  # fmt: skip
        gpt = GptOss.bedrock(
            "gpt-oss-120b", region="us-west-2", runtime_client=runtime, bedrock_client=control,
            tracker=Tracker(ledger, prices=PriceBook(()).with_override(TIERED)),
            team_profiles="discover",
        )  # fmt: skip
        gpt.chat.completions.create(messages=HI, tags={"team": "search"})
        gpt.chat.completions.create(messages=HI, tags={"team": "ads"})  # no profile: the model
    assert [r.tags["team"] for r in ledger.query()] == ["search", "ads"]


def test_the_async_client_sends_and_records_the_tier_too(ledger: SQLiteLedger) -> None:
    import anyio

    from gptoss_aws import AsyncGptOss

    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    with Stubber(runtime) as stub:
        stub.add_response(
            "converse",
            answer("flex"),
            {
                "modelId": "openai.gpt-oss-120b-1:0",
                "messages": ANY,
                "serviceTier": {"type": "flex"},
            },
        )
        gpt = AsyncGptOss.bedrock(
            "gpt-oss-120b", region="us-west-2", runtime_client=runtime,
            tracker=Tracker(ledger, prices=PriceBook(()).with_override(TIERED)),
        )  # fmt: skip
        reply = anyio.run(lambda: gpt.chat.completions.create(messages=HI, service_tier="flex"))
    assert reply.service_tier == "flex"
    [row] = ledger.query()
    assert (row.service_tier, row.cost_usd) == ("flex", cost(1_000, 2_000, "0.075", "0.30"))


def test_the_openai_compatible_body_carries_service_tier_in_aws_names() -> None:
    from gptoss_aws.backends._request import build_request

    def body(tier: str | None) -> dict[str, Any]:
        request = build_request(
            messages=HI, stream=False, model=None, reasoning_effort=None, tools=None,
            tool_choice=None, max_tokens=None, temperature=None, extra_body=None,
            service_tier=tier,
        )  # fmt: skip
        return request.openai_body("openai.gpt-oss-120b")

    assert body("standard")["service_tier"] == "default"
    assert body("priority")["service_tier"] == "priority"
    assert "service_tier" not in body(None)

"""Cost reports: grouping, exact totals, SageMaker allocation with its idle line, honest
notes, and the DataFrame, text, HTML and plot views."""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import matplotlib
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from matplotlib.patches import Rectangle
from moto import mock_aws

from gptoss_aws.costing.capacity import InstanceTimeline
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.pricing.records import InstancePrice
from gptoss_aws.reports.plot import plot_spend
from gptoss_aws.reports.summary import IDLE, aws_allocator, summarize, timeline_allocator
from gptoss_aws.types import CallRecord

matplotlib.use("Agg")

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def row(**changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "backend": "bedrock",
        "model": "gpt-oss-120b",
        "region": "us-east-1",
        "started_at": T0,
        "tags": {"team": "search"},
        "status": "ok",
        "cost_basis": "per_token",
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "reasoning_tokens": 20,
        "cost_usd": Decimal("0.10"),
    }
    fields.update(changes)
    return CallRecord.model_validate(fields)


def sagemaker_row(**changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "backend": "sagemaker",
        "endpoint": "ep",
        "instance_type": "ml.p5.4xlarge",
        "cost_basis": "instance_hours",
        "cost_usd": None,
        "tags": {"team": "ads"},
        "latency_ms": 60_000.0,
    }
    fields.update(changes)
    return row(**fields)


CALLS = [
    row(),
    row(cost_usd=Decimal("0.25"), started_at=T0 + timedelta(days=1)),
    row(model="gpt-oss-20b", tags={"team": "ads"}, cost_usd=Decimal("0.05")),
    row(model="gpt-oss-20b", tags={}, cost_basis="unpriced", cost_usd=None),
    row(status="aborted", error_kind="reconciled:process_gone", usage_source="estimated",
        prompt_tokens=0, completion_tokens=0, reasoning_tokens=0, cost_usd=Decimal("0.70"),
        reserved_usd=Decimal("0.70")),
    row(status="reserved", cost_usd=None, prompt_tokens=0, completion_tokens=0,
        reasoning_tokens=0, reserved_usd=Decimal("1")),
    sagemaker_row(prompt_tokens=300, completion_tokens=100, reasoning_tokens=0),
    sagemaker_row(prompt_tokens=100, completion_tokens=100, reasoning_tokens=0,
                  started_at=T0 + timedelta(minutes=30)),
]  # fmt: skip


def test_groups_and_exact_totals() -> None:
    report = summarize(CALLS, by=["model"])
    rows = {r.key: r for r in report.rows}
    big = rows[("gpt-oss-120b",)]
    assert big.calls == 5  # the reserved one is in flight, not a finished call
    assert big.in_flight_calls == 1
    assert big.cost_usd == Decimal("1.05")  # 0.10 + 0.25 + 0.70 (reconciled worst case)
    assert big.pending_allocation_calls == 2
    assert big.estimated_calls == 1
    small = rows[("gpt-oss-20b",)]
    assert (small.calls, small.unpriced_calls, small.cost_usd) == (2, 1, Decimal("0.05"))
    assert report.total.cost_usd == Decimal("1.10")
    assert report.total.prompt_tokens == 100 * 4 + 300 + 100
    assert report.total.reasoning_tokens == 20 * 4


def test_notes_always_count_unpriced_and_estimated_calls() -> None:
    notes = summarize(CALLS).notes
    assert notes[0].startswith("Unpriced calls: 1")
    assert notes[1].startswith("Calls with estimated usage: 1 (1 reconciled")
    assert any(n.startswith("SageMaker calls pending allocation: 2") for n in notes)
    assert any("still in flight" in n for n in notes)
    clean = summarize([row()]).notes
    assert clean == [
        "Unpriced calls: 0",
        "Calls with estimated usage: 0",
        "Calls with their price pending: 0",
    ]


def test_group_by_tags_and_time_buckets() -> None:
    report = summarize(CALLS, by=("tags.team", "day"))
    keys = [r.key for r in report.rows]
    assert ("(none)", "2026-11-02") in keys
    assert ("search", "2026-11-03") in keys
    assert ("ads", "2026-11-02") in keys
    week = summarize([row()], by=["week", "month"]).rows[0].key
    assert week == ("2026-11-02", "2026-11")  # Nov 2 2026 is a Monday
    with pytest.raises(ConfigurationError, match="cannot group by 'colour'"):
        summarize(CALLS, by=["colour"])


def test_only_calls_in_the_window_are_reported() -> None:
    report = summarize(CALLS, by=["model"], since=T0 + timedelta(hours=12))
    assert report.total.calls == 1
    assert report.total.cost_usd == Decimal("0.25")


def prices(instance_type: str, region: str) -> InstancePrice:
    return InstancePrice(Decimal("7.912"), "test table", date(2026, 11, 1))


def test_sagemaker_calls_share_the_endpoint_cost_with_an_idle_line() -> None:
    timeline = InstanceTimeline.declared(
        "ep", "us-east-1", [(T0, T0 + timedelta(hours=2), 1, "ml.p5.4xlarge")]
    )
    allocator = timeline_allocator([timeline], prices, idle_basis="no_call_in_flight")
    report = summarize(
        [c for c in CALLS if c.backend == "sagemaker"],
        by=["backend", "tags.team"],
        since=T0,
        until=T0 + timedelta(hours=2),
        allocator=allocator,
    )
    rows = {r.key: r for r in report.rows}
    calls = rows[("sagemaker", "ads")]
    idle = rows[("sagemaker", IDLE)]
    assert idle.idle
    assert calls.pending_allocation_calls == 0
    assert calls.cost_usd is not None
    assert idle.cost_usd is not None
    # Busy 2 of 120 minutes: 1/60 of the cost goes to the calls, the rest is idle.
    assert calls.cost_usd == Decimal("0.263733")
    # Two hours of one ml.p5.4xlarge at 7.912/h, exactly, calls + idle.
    assert calls.cost_usd + idle.cost_usd == Decimal("15.824")
    assert report.total.cost_usd == Decimal("15.824")
    assert any(n.startswith("SageMaker ep: $15.82") for n in report.notes)


def test_frame_text_csv_json_and_html_views() -> None:
    report = summarize(CALLS, by=["model"])
    frame = report.to_frame()
    assert list(frame.columns) == [
        "model", "calls", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cost_usd",
        "unpriced_calls", "estimated_calls", "pending_allocation_calls", "in_flight_calls",
        "pending_price_calls", "pending_price_tokens",
    ]  # fmt: skip
    assert frame["cost_usd"].sum() == pytest.approx(1.10)
    assert frame.attrs["total_cost_usd"] == "1.10"
    assert frame.attrs["unpriced_calls"] == 1
    assert frame.attrs["notes"] == report.notes

    text = str(report)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("model"))
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert header.index("cost") + len("cost") == total.index("$1.1000") + len("$1.1000")
    assert "* Unpriced calls: 1" in text

    csv_lines = report.to_csv().splitlines()
    assert csv_lines[0].startswith("model,calls,prompt_tokens")
    assert len(csv_lines) == 3

    html = report._repr_html_()
    assert "<table>" in html
    assert "<tfoot>" in html
    assert "Unpriced calls: 1" in html


def test_unknown_costs_are_never_shown_as_zero() -> None:
    report = summarize([CALLS[3], CALLS[6]], by=["backend"])
    frame = report.to_frame()
    assert frame["cost_usd"].isna().all()
    text = str(report)
    assert "$0.0000" not in text
    assert "pending" in text
    assert "unpriced" in text


def test_html_escapes_user_values() -> None:
    report = summarize([row(tags={"team": "<script>alert(1)</script>"})], by=["tags.team"])
    html = report._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_ledger_summary_and_report(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    for record in CALLS:
        if record.status == "reserved":
            ledger.reserve(record)
        else:
            ledger.record(record)
    frame = ledger.summary(by=("model", "tags.team"))
    assert set(frame["model"]) == {"gpt-oss-120b", "gpt-oss-20b"}
    assert frame["calls"].sum() == 7
    report = ledger.report(by=["backend"], since=T0 + timedelta(hours=12))
    assert report.total.cost_usd == Decimal("0.25")


def test_plot_spend_draws_one_bar_per_day(tmp_path: Path) -> None:
    calls = [
        row(started_at=T0, cost_usd=Decimal("1")),
        row(started_at=T0 + timedelta(hours=3), cost_usd=Decimal("2")),
        row(started_at=T0 + timedelta(days=2), cost_usd=Decimal("0.5")),
        row(started_at=T0 + timedelta(days=2), cost_basis="unpriced", cost_usd=None),
    ]
    figure = plot_spend(calls, freq="D")
    [ax] = figure.axes
    heights = [patch.get_height() for patch in ax.patches if isinstance(patch, Rectangle)]
    assert len(heights) == len(ax.patches)
    assert heights == pytest.approx([3.0, 0.0, 0.5])  # the empty middle day is shown
    assert "3 call(s) costed" in ax.get_title()
    assert "1 unpriced" in ax.get_title()
    png = tmp_path / "spend.png"
    figure.savefig(png)
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_spend_stacks_groups_from_a_ledger(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    for record in CALLS:
        if record.status != "reserved":
            ledger.record(record)
    figure = plot_spend(ledger, freq="D", by="model")
    [ax] = figure.axes
    # Two days x two models.
    assert len(ax.patches) == 4
    legend = ax.get_legend()
    assert legend is not None
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["gpt-oss-120b", "gpt-oss-20b"]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getbuffer().nbytes > 1000


class QuietCloudWatchSession:
    """Real (moto) SageMaker; a CloudWatch with no traffic data. moto's GetMetricData
    refuses a window shorter than its period, and a test endpoint is seconds old."""

    def client(self, service: str, region_name: str | None = None) -> Any:
        client = boto3.client(service, region_name=region_name)  # type: ignore[call-overload]
        if service == "cloudwatch":
            # Answer every GetMetricData (and its pages) before moto sees it, as Stubber does.
            client.meta.events.register_first(
                "before-call.cloudwatch.GetMetricData",
                lambda **_: (AWSResponse("", 200, HTTPHeaders(), None), {"MetricDataResults": []}),
            )
        return client


def test_aws_allocator_reads_instance_counts_from_the_endpoint() -> None:
    with mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        sm.create_model(
            ModelName="m",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest"},
        )
        # moto's instance-type list lacks the GPU types gpt-oss runs on; the type only
        # selects the price here.
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m",
                                 "InitialInstanceCount": 2, "InstanceType": "ml.g4dn.12xlarge"}],
        )  # fmt: skip
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
        created = sm.describe_endpoint(EndpointName="ep")["CreationTime"]
        calls = [
            sagemaker_row(started_at=created + timedelta(milliseconds=1), variant="AllTraffic"),
            sagemaker_row(started_at=created + timedelta(milliseconds=2), variant="AllTraffic",
                          prompt_tokens=300),
        ]  # fmt: skip
        seen: list[tuple[str, str]] = []

        def price(instance_type: str, region: str) -> InstancePrice:
            seen.append((instance_type, region))
            # $36,000/h = $10 per instance-second, so a test-length window is worth cents.
            return InstancePrice(Decimal(36000), "test", date(2026, 11, 1))

        time.sleep(0.05)
        report = summarize(
            calls,
            by=["endpoint"],
            since=created - timedelta(hours=1),
            allocator=aws_allocator(price, session=QuietCloudWatchSession()),
        )
    assert seen[0] == ("ml.g4dn.12xlarge", "us-east-1")
    assert report.allocation is not None
    [window] = report.allocation.endpoints
    rows = {r.key: r for r in report.rows}
    shared, idle = rows[("ep",)], rows[("ep (idle)",)]
    assert shared.pending_allocation_calls == 0
    assert shared.cost_usd is not None
    assert shared.cost_usd > 0
    assert shared.cost_usd + (idle.cost_usd or 0) == window.usd
    # No CloudWatch traffic in moto: the current count (2) is assumed, and the report says so.
    assert any("assumed the current count (2)" in note for note in report.notes)
    # Time before the endpoint existed is free: the window is billed from its creation.
    assert window.instance_seconds["ml.g4dn.12xlarge"] < 2 * 60

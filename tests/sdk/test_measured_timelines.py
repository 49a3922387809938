"""Instance timelines measured from the sources that report capacity: the endpoint config's
initial count from CreationTime, Application Auto Scaling activities, DescribeEndpoint's
counts now; the CloudWatch derivation only as a labelled fallback.

moto holds the SageMaker endpoint (its instance-type list lacks p5/g6e: ml.g4dn.xlarge, priced
by an override); moto has no DescribeScalingActivities, so Application Auto Scaling answers
through botocore's Stubber, in the documented shape: "Setting desired instance count to N."
with a StatusCode of Successful (Application Auto Scaling API reference, ScalingActivity)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from gptoss_aws.costing import allocate
from gptoss_aws.costing.capacity import (
    ESTIMATED_SOURCE,
    MEASURED_SOURCE,
    VARIANT_DIMENSION,
    timelines_from_endpoint,
)
from gptoss_aws.pricing import PriceBook
from gptoss_aws.reports.summary import summarize, timeline_allocator
from gptoss_aws.types import CallRecord

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss:1"
HOURLY = Decimal("0.736")
BOOK = PriceBook(()).with_override(
    {"sagemaker": {"ml.g4dn.xlarge": {"us-east-1": {"usd_per_hour": str(HOURLY)}}}}
)
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[Any, datetime]]:
    with mock_aws():
        sagemaker: Any = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model(
            ModelName="gpt-oss", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="cfg",
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": "gpt-oss",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.g4dn.xlarge",
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
        created = sagemaker.describe_endpoint(EndpointName="ep")["CreationTime"]
        yield sagemaker, created.astimezone(UTC)


def activity(at: datetime, count: int, status: str = "Successful") -> dict[str, Any]:
    return {
        "ActivityId": f"a-{at.timestamp()}-{count}",
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/ep/variant/main",
        "ScalableDimension": VARIANT_DIMENSION,
        "Description": f"Setting desired instance count to {count}.",
        "Cause": "monitor alarm TargetTracking-endpoint/ep/variant/main-AlarmHigh in state ALARM",
        "StartTime": at - timedelta(minutes=4),
        "EndTime": at,
        "StatusCode": status,
    }


def autoscaling(activities: list[dict[str, Any]]) -> Any:
    client = boto3.client("application-autoscaling", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response(
        "describe_scaling_activities",
        {"ScalingActivities": activities},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceId": "endpoint/ep/variant/main",
            "ScalableDimension": VARIANT_DIMENSION,
        },
    )
    stub.activate()
    return client


def test_counts_are_measured_from_creation_and_scaling_activities(
    endpoint: tuple[Any, datetime],
) -> None:
    sagemaker, created = endpoint
    end = created + timedelta(hours=3)
    client = autoscaling(
        [
            activity(created + timedelta(minutes=90), 1),
            activity(created + timedelta(minutes=60), 5, status="Failed"),  # nothing changed
            activity(created + timedelta(minutes=30), 3),
        ]
    )
    [timeline] = timelines_from_endpoint(
        "ep", created - timedelta(hours=1), end, sagemaker_client=sagemaker,
        autoscaling_client=client, now=end,
    )  # fmt: skip
    assert timeline.source == MEASURED_SOURCE
    assert [(s.start - created, s.end - created, s.count) for s in timeline.segments] == [
        (timedelta(0), timedelta(minutes=30), 1),
        (timedelta(minutes=30), timedelta(minutes=90), 3),
        (timedelta(minutes=90), timedelta(hours=3), 1),
    ]
    # 0.5 h x 1 + 1 h x 3 + 1.5 h x 1 = 5 instance-hours.
    assert timeline.instance_seconds(created, end) == {"ml.g4dn.xlarge": Decimal(5 * 3600)}


def test_a_window_with_no_calls_is_all_idle_and_still_costs_its_instances(
    endpoint: tuple[Any, datetime],
) -> None:
    sagemaker, created = endpoint
    start, end = created + timedelta(hours=1), created + timedelta(hours=2)
    client = autoscaling([activity(created + timedelta(minutes=90), 2)])
    timelines = timelines_from_endpoint(
        "ep", start, end, sagemaker_client=sagemaker, autoscaling_client=client,
        now=created + timedelta(hours=5),
    )  # fmt: skip
    # DescribeEndpoint says 1 instance now, the history ends at 2: trusted for the present,
    # and said so.
    assert any("reports 1 instance(s) now" in note for note in timelines[0].notes)
    report = summarize(
        [], since=start, until=end, allocator=timeline_allocator(timelines, BOOK.instance_price)
    )
    [idle] = [row for row in report.rows if row.idle]
    assert idle.cost_usd == report.total.cost_usd == HOURLY  # the whole hour, 1 instance
    assert report.total.calls == 0


def test_without_scaling_history_the_cloudwatch_derivation_is_a_labelled_fallback(
    endpoint: tuple[Any, datetime],
) -> None:
    sagemaker, created = endpoint
    client = boto3.client("application-autoscaling", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error(
        "describe_scaling_activities", "AccessDeniedException", "not authorized", 400
    )
    stub.activate()
    [timeline] = timelines_from_endpoint(
        "ep", created, created + timedelta(hours=1), sagemaker_client=sagemaker,
        autoscaling_client=client, now=created + timedelta(hours=1),
    )  # fmt: skip
    assert timeline.source == ESTIMATED_SOURCE
    assert timeline.notes[0].startswith("Fallback, estimated")


steps = st.lists(
    st.tuples(st.integers(1, 240), st.integers(0, 4)), min_size=0, max_size=6
)  # (minutes after the previous change, new count)
calls = st.lists(
    st.tuples(st.integers(0, 359), st.integers(0, 5_000), st.integers(0, 5_000)), max_size=8
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=steps, raw_calls=calls, window=st.tuples(st.integers(0, 200), st.integers(1, 400)))
def test_allocations_plus_idle_equal_the_billed_cost_of_any_measured_timeline(
    endpoint: tuple[Any, datetime],
    changes: list[tuple[int, int]],
    raw_calls: list[tuple[int, int, int]],
    window: tuple[int, int],
) -> None:
    sagemaker, created = endpoint
    # The true history: 1 instance from creation, then each change; it ends at 1 again,
    # which is what DescribeEndpoint (moto) reports now.
    points = [(created, 1)]
    for gap, count in [*changes, (1, 1)]:
        points.append((points[-1][0] + timedelta(minutes=gap), count))
    now = points[-1][0] + timedelta(hours=1)
    start = created + timedelta(minutes=window[0])
    end = min(start + timedelta(minutes=window[1]), now)
    if end <= start:
        return
    client = autoscaling([activity(at, count) for at, count in points[1:]])
    [timeline] = timelines_from_endpoint(
        "ep", start, end, sagemaker_client=sagemaker, autoscaling_client=client, now=now
    )

    # What AWS bills for the window: each instance-second of the true history.
    billed_seconds = Decimal(0)
    for (t0, count), (t1, _) in zip(points, [*points[1:], (now, 0)], strict=True):
        lo, hi = max(t0, start), min(t1, end)
        if hi > lo:
            billed_seconds += Decimal((hi - lo) // timedelta(microseconds=1)) / 10**6 * count
    billed = billed_seconds * HOURLY / 3600

    def sagemaker_call(minute: int, prompt: int, completion: int) -> CallRecord:
        return CallRecord(
            backend="sagemaker", model="gpt-oss-120b", endpoint="ep", variant="main",
            region="us-east-1", status="ok", cost_basis="instance_hours",
            started_at=start + (end - start) * minute / 360, prompt_tokens=prompt,
            completion_tokens=completion,
        )  # fmt: skip

    records = [sagemaker_call(*raw) for raw in raw_calls]
    result = allocate(start, end, [timeline], BOOK.instance_price, records)
    [window_cost] = result.endpoints
    assert window_cost.exact_usd == billed
    lines = result.lines
    assert sum(line.usd for line in lines) == window_cost.usd
    total = sum((line.usd for line in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    assert total == billed.quantize(CENT, ROUND_HALF_UP)  # to the cent
    idle = [line for line in lines if line.kind == "idle"]
    if all(r.prompt_tokens + r.completion_tokens == 0 for r in records):
        assert idle[0].usd == window_cost.usd  # no calls (or no weight): all of it is idle


def test_scaling_activities_are_read_from_every_page() -> None:
    from gptoss_aws.costing.capacity import scaling_changes

    t0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
    request = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/ep/variant/main",
        "ScalableDimension": VARIANT_DIMENSION,
    }
    client = boto3.client("application-autoscaling", region_name="us-east-1")
    with Stubber(client) as stub:
        # DescribeScalingActivities answers newest first, in pages.
        stub.add_response(
            "describe_scaling_activities",
            {"ScalingActivities": [activity(t0 + timedelta(hours=2), 4)], "NextToken": "p2"},
            request,
        )
        stub.add_response(
            "describe_scaling_activities",
            {"ScalingActivities": [activity(t0 + timedelta(hours=1), 2)]},
            {**request, "NextToken": "p2"},
        )
        changes = scaling_changes(client, "ep", "main", t0 + timedelta(hours=3))
        stub.assert_no_pending_responses()
    assert changes == [(t0 + timedelta(hours=1), 2), (t0 + timedelta(hours=2), 4)]

"""Instance timelines read from a live endpoint: DescribeEndpoint + CloudWatch, under moto.

moto's instance-type list lacks p5/g6e, so the endpoint runs ml.g4dn.xlarge and its price
comes from an override.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from gptoss_aws.costing import allocate, timelines_from_endpoint
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing import PriceBook
from gptoss_aws.types import CallRecord

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss:1"
G4DN = {"sagemaker": {"ml.g4dn.xlarge": {"us-east-1": {"usd_per_hour": "0.736", "source": "t"}}}}


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        yield (
            boto3.client("sagemaker", region_name="us-east-1"),
            boto3.client("cloudwatch", region_name="us-east-1"),
        )


def _endpoint(sagemaker: Any, variants: dict[str, int]) -> datetime:
    sagemaker.create_model(
        ModelName="gpt-oss", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg",
        ProductionVariants=[
            {
                "VariantName": name,
                "ModelName": "gpt-oss",
                "InitialInstanceCount": count,
                "InstanceType": "ml.g4dn.xlarge",
            }
            for name, count in variants.items()
        ],
    )
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    created: datetime = sagemaker.describe_endpoint(EndpointName="ep")["CreationTime"]
    # Whole minutes after creation, as CloudWatch periods are.
    return created.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)


def _traffic(cloudwatch: Any, at: datetime, invocations: int, instances: int) -> None:
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "main"}]
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": dims,
                "Timestamp": at,
                "Value": invocations,
            },
            # Each request counts 1/instances here (ScalingPolicyMetric docs).
            {
                "MetricName": "InvocationsPerInstance",
                "Dimensions": dims,
                "Timestamp": at,
                "Value": invocations / instances,
            },
        ],
    )


def test_counts_follow_the_traffic_metrics_and_carry_forward_when_idle(
    aws: tuple[Any, Any],
) -> None:
    sagemaker, cloudwatch = aws
    t0 = _endpoint(sagemaker, {"main": 2})
    for minute, invocations, instances in [(10, 6, 2), (30, 9, 3), (50, 4, 1)]:
        _traffic(cloudwatch, t0 + timedelta(minutes=minute), invocations, instances)
    (timeline,) = timelines_from_endpoint(
        "ep",
        t0,
        t0 + timedelta(hours=1),
        sagemaker_client=sagemaker,
        cloudwatch_client=cloudwatch,
        now=t0 + timedelta(hours=2),
    )
    assert (timeline.endpoint, timeline.variant, timeline.region) == ("ep", "main", "us-east-1")
    minutes = [
        ((s.start - t0) // timedelta(minutes=1), (s.end - t0) // timedelta(minutes=1), s.count)
        for s in timeline.segments
    ]
    # Before the first observation: its count; then each count until the next one.
    assert minutes == [(0, 30, 2), (30, 50, 3), (50, 60, 1)]
    assert all(s.instance_type == "ml.g4dn.xlarge" for s in timeline.segments)
    assert any("carry the last observed count" in note for note in timeline.notes)

    book = PriceBook.load(overrides=G4DN)
    result = allocate(t0, t0 + timedelta(hours=1), timeline, book.instance_price, [])
    # (30 x 2 + 20 x 3 + 10 x 1) instance-minutes = 130 -> 130/60 h x $0.736
    assert result.endpoints[0].exact_usd == Decimal(130) * Decimal("0.736") / 60
    assert result.window_usd == Decimal("1.594667")


def test_no_traffic_means_the_current_count_for_the_whole_window(aws: tuple[Any, Any]) -> None:
    sagemaker, cloudwatch = aws
    t0 = _endpoint(sagemaker, {"main": 2})
    (timeline,) = timelines_from_endpoint(
        "ep",
        t0,
        t0 + timedelta(hours=1),
        sagemaker_client=sagemaker,
        cloudwatch_client=cloudwatch,
        now=t0 + timedelta(hours=2),
    )
    assert [(s.count, s.end - s.start) for s in timeline.segments] == [(2, timedelta(hours=1))]
    assert any("assumed the current count (2)" in note for note in timeline.notes)


def test_time_before_creation_and_in_the_future_is_not_billed(aws: tuple[Any, Any]) -> None:
    sagemaker, _ = aws
    t0 = _endpoint(sagemaker, {"main": 1})
    created = sagemaker.describe_endpoint(EndpointName="ep")["CreationTime"].astimezone(UTC)
    (timeline,) = timelines_from_endpoint(
        "ep",
        t0 - timedelta(days=1),
        t0 + timedelta(days=1),
        sagemaker_client=sagemaker,
        now=t0 + timedelta(minutes=30),
    )
    (segment,) = timeline.segments
    assert segment.start == created
    assert segment.end == t0 + timedelta(minutes=30)
    assert any("before the endpoint's creation" in note for note in timeline.notes)


def test_one_timeline_per_variant_and_calls_allocated_to_theirs(aws: tuple[Any, Any]) -> None:
    sagemaker, cloudwatch = aws
    t0 = _endpoint(sagemaker, {"main": 1, "canary": 1})
    timelines = timelines_from_endpoint(
        "ep",
        t0,
        t0 + timedelta(hours=1),
        sagemaker_client=sagemaker,
        cloudwatch_client=cloudwatch,
        now=t0 + timedelta(hours=1),
    )
    assert sorted(t.variant or "" for t in timelines) == ["canary", "main"]
    calls = [
        CallRecord(
            backend="sagemaker",
            model="gpt-oss-120b",
            endpoint="ep",
            variant="canary",
            started_at=t0 + timedelta(minutes=1),
            prompt_tokens=10,
            completion_tokens=10,
        )
    ]
    book = PriceBook.load(overrides=G4DN)
    result = allocate(t0, t0 + timedelta(hours=1), timelines, book.instance_price, calls)
    canary = [ln for ln in result.lines if ln.variant == "canary"]
    assert [(ln.kind, ln.usd) for ln in canary] == [("call", Decimal("0.736")), ("idle", 0)]
    only = timelines_from_endpoint(
        "ep",
        t0,
        t0 + timedelta(hours=1),
        sagemaker_client=sagemaker,
        variant="canary",
        now=t0 + timedelta(hours=1),
    )
    assert [t.variant for t in only] == ["canary"]
    with pytest.raises(ConfigurationError, match="no variant 'blue'"):
        timelines_from_endpoint(
            "ep", t0, t0 + timedelta(hours=1), sagemaker_client=sagemaker, variant="blue"
        )


def test_a_window_inside_one_period_still_asks_cloudwatch_for_a_whole_period() -> None:
    from datetime import UTC, datetime

    from gptoss_aws.costing.capacity import _metric_sums

    seen: dict[str, Any] = {}

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.update(params)

    client = boto3.client("cloudwatch", region_name="us-east-1")
    client.meta.events.register("provide-client-params.cloudwatch.GetMetricData", record)
    moment = datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)
    with Stubber(client) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": []})
        _metric_sums(client, "ep", "AllTraffic", moment, moment, 60)
    assert seen["StartTime"] == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert seen["EndTime"] == datetime(2026, 11, 27, 12, 1, tzinfo=UTC)


def test_invocation_sums_are_read_from_every_page_of_get_metric_data() -> None:
    from gptoss_aws.costing.capacity import _metric_sums

    t0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
    t1, t2 = t0 + timedelta(minutes=1), t0 + timedelta(minutes=2)
    dims = [
        {"Name": "EndpointName", "Value": "ep"},
        {"Name": "VariantName", "Value": "main"},
    ]

    def query(query_id: str, metric: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dims},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }

    request = {
        "MetricDataQueries": [
            query("invocations", "Invocations"),
            query("per_instance", "InvocationsPerInstance"),
        ],
        "StartTime": t0,
        "EndTime": t2 + timedelta(minutes=1),
        "ScanBy": "TimestampAscending",
    }

    def result(query_id: str, stamps: list[datetime], values: list[float]) -> dict[str, Any]:
        return {"Id": query_id, "Timestamps": stamps, "Values": values, "StatusCode": "Complete"}

    client = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(client) as stub:
        # CloudWatch pages a long window: each page holds part of each query's points.
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    result("invocations", [t0, t1], [40.0, 60.0]),
                    result("per_instance", [t0, t1], [20.0, 30.0]),
                ],
                "NextToken": "page-2",
            },
            request,
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    result("invocations", [t2], [90.0]),
                    result("per_instance", [t2], [30.0]),
                ]
            },
            {**request, "NextToken": "page-2"},
        )
        sums = _metric_sums(client, "ep", "main", t0, t2 + timedelta(seconds=30), 60)
        stub.assert_no_pending_responses()
    assert sums == {t0: (40.0, 20.0), t1: (60.0, 30.0), t2: (90.0, 30.0)}

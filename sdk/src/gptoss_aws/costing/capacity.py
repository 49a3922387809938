"""How many instances an endpoint ran, over time: the quantity SageMaker bills.

A timeline is a list of segments (start, end, instance count, instance type). It comes from
the user (who knows what they ran), or from the endpoint itself, measured from the sources
that report capacity (``timelines_from_endpoint``):

- DescribeEndpointConfig: each variant's InitialInstanceCount (the count from the
  endpoint's CreationTime) and instance type;
- Application Auto Scaling DescribeScalingActivities for the variant (resource
  ``endpoint/<name>/variant/<variant>``, dimension ``sagemaker:variant:DesiredInstanceCount``):
  each successful activity's "Setting desired instance count to N" takes effect at its
  EndTime (when the new count was reached);
- DescribeEndpoint: CurrentInstanceCount and DesiredInstanceCount now (a count that differs
  from the last activity's is trusted for the present, and said so), CreationTime (nothing is
  billed before), and the deletion time when the caller knows it (``deleted_at``: a deleted
  endpoint can no longer be described, so it comes from CloudTrail or the caller);
- inference components (ListInferenceComponents / DescribeInferenceComponent): current and
  desired copy counts, reported in the notes (instances are what is billed; managed instance
  scaling shows in the variant's counts).

So a window with no traffic at all is measured like any other: its whole cost is idle.
Application Auto Scaling describes "the scaling activities ... from the previous six weeks"
(API reference, DescribeScalingActivities); older windows, and callers
without ``application-autoscaling:DescribeScalingActivities``, fall back to the CloudWatch
derivation below, and the timeline says so (``source`` and ``notes``).

Fallback (labelled "estimated"): SageMaker publishes no instance-count metric for real-time
endpoints in CloudWatch, but AWS/SageMaker ``InvocationsPerInstance`` counts each request as
1/numberOfInstances (SageMaker API reference, ScalingPolicyMetric), so in a period with
traffic, Sum(Invocations) / Sum(InvocationsPerInstance) is the instance count. Periods with
no traffic carry the last observed count forward; with no traffic at all the current count
is assumed for the whole window; the instance type is the current endpoint config's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gptoss_aws.costing.timeline import InstanceTimeline, Segment, aware, exact_seconds
from gptoss_aws.errors import ConfigurationError


def _period_for(start: datetime, now: datetime) -> int:
    # CloudWatch keeps 60-second points for 15 days, 300-second for 63 days and hourly for
    # 455 days (CloudWatch user guide, "Metrics retention"); ask for what still exists.
    age = now - start
    if age <= timedelta(days=15):
        return 60
    if age <= timedelta(days=63):
        return 300
    return 3600


def _metric_sums(
    cloudwatch: Any,
    endpoint: str,
    variant: str,
    start: datetime,
    end: datetime,
    period: int,
) -> dict[datetime, tuple[float, float]]:
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]

    def query(query_id: str, metric: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dims},
                "Period": period,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }

    # CloudWatch wants StartTime < EndTime and answers in whole periods: widen the window to
    # period boundaries, so a window inside one period (a new endpoint) is still a query.
    step = timedelta(seconds=period)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = epoch + ((start - epoch) // step) * step
    end = max(epoch - ((epoch - end) // step) * step, start + step)
    request: dict[str, Any] = {
        "MetricDataQueries": [
            query("invocations", "Invocations"),
            query("per_instance", "InvocationsPerInstance"),
        ],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    series: dict[str, dict[datetime, float]] = {"invocations": {}, "per_instance": {}}
    # A long window comes in pages (NextToken), each holding part of every query's points.
    for response in cloudwatch.get_paginator("get_metric_data").paginate(**request):
        for result in response.get("MetricDataResults", []):
            points = series.setdefault(result["Id"], {})
            for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                points[stamp.astimezone(UTC)] = points.get(stamp.astimezone(UTC), 0.0) + value
    return {
        stamp: (total, series["per_instance"][stamp])
        for stamp, total in series["invocations"].items()
        if stamp in series["per_instance"]
    }


def _observed_counts(sums: dict[datetime, tuple[float, float]]) -> list[tuple[datetime, int]]:
    observed = []
    for stamp, (invocations, per_instance) in sorted(sums.items()):
        if invocations > 0 and per_instance > 0:
            observed.append((stamp, max(1, round(invocations / per_instance))))
    return observed


def _segments_from_observations(
    observed: Sequence[tuple[datetime, int]],
    start: datetime,
    end: datetime,
    instance_type: str,
) -> list[Segment]:
    """Step function through the observations; merged where the count does not change."""
    # The count at `start` is the latest observation at or before it, else the first one.
    before = [c for t, c in observed if t <= start]
    first = before[-1] if before else observed[0][1]
    points = [(start, first)] + [(t, c) for t, c in observed if start < t < end]
    segments: list[Segment] = []
    for (t0, count), (t1, _) in zip(points, [*points[1:], (end, 0)], strict=True):
        if segments and segments[-1].count == count:
            last = segments.pop()
            t0 = last.start
        segments.append(Segment(t0, t1, count, instance_type))
    return segments


MEASURED_SOURCE = (
    "measured: DescribeEndpoint(Config) + Application Auto Scaling DescribeScalingActivities"
)
ESTIMATED_SOURCE = (
    "estimated (fallback): DescribeEndpoint + CloudWatch AWS/SageMaker Invocations / "
    "InvocationsPerInstance"
)
# Application Auto Scaling activity descriptions: "Setting desired instance count to 2."
# (and "... desired copy count to N" for inference components).
_DESIRED = re.compile(r"desired (?:instance |copy )?count to (\d+)", re.IGNORECASE)
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def scaling_changes(
    autoscaling_client: Any, endpoint: str, variant: str, until: datetime
) -> list[tuple[datetime, int]]:
    """(time it took effect, new instance count) of each successful scaling activity of the
    variant, oldest first, up to ``until`` (now: the whole history is needed to check it
    against the count DescribeEndpoint reports)."""
    pages = autoscaling_client.get_paginator("describe_scaling_activities").paginate(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{endpoint}/variant/{variant}",
        ScalableDimension=VARIANT_DIMENSION,
    )
    changes: list[tuple[datetime, int]] = []
    for page in pages:
        for activity in page.get("ScalingActivities", []):
            if activity.get("StatusCode") != "Successful":
                continue  # failed, cancelled or still running: the count did not change
            match = _DESIRED.search(activity.get("Description", ""))
            if match is None:
                continue
            at = activity.get("EndTime") or activity["StartTime"]
            if at <= until:
                changes.append((at.astimezone(UTC), int(match.group(1))))
    return sorted(changes)


def _measured_segments(
    points: Sequence[tuple[datetime, int]], start: datetime, end: datetime, instance_type: str
) -> list[Segment]:
    """The step function through (time, count) points, clipped to [start, end)."""
    segments: list[Segment] = []
    for (t0, count), (t1, _) in zip(points, [*points[1:], (end, 0)], strict=True):
        lo, hi = max(t0, start), min(t1, end)
        if hi <= lo or count == 0:  # scaled to zero: nothing billed
            continue
        if segments and segments[-1].count == count and segments[-1].end == lo:
            lo = segments.pop().start
        segments.append(Segment(lo, hi, count, instance_type))
    return segments


def _modified_note(
    modified: datetime, start: datetime, end: datetime, instance_type: str
) -> list[str]:
    # DescribeEndpoint shows only today's config, so a change inside the window is priced at
    # today's instance type; say so rather than hide it.
    if not start <= modified < end:
        return []
    return [
        f"The endpoint was modified at {modified.isoformat()}, inside the window; "
        f"all of it is priced as {instance_type} (today's config)."
    ]


def _component_notes(sagemaker_client: Any, endpoint: str) -> list[str]:
    notes: list[str] = []
    try:
        listed = sagemaker_client.list_inference_components(EndpointNameEquals=endpoint)
    except Exception:
        return notes
    for item in listed.get("InferenceComponents", []):
        name = item.get("InferenceComponentName")
        try:
            described = sagemaker_client.describe_inference_component(InferenceComponentName=name)
        except Exception as exc:
            notes.append(f"inference component {name}: not described ({exc})")
            continue
        runtime = described.get("RuntimeConfig", {})
        notes.append(
            f"inference component {name}: {runtime.get('CurrentCopyCount', '?')} copies "
            f"(desired {runtime.get('DesiredCopyCount', '?')}); instances, not copies, are "
            "billed"
        )
    return notes


def timelines_from_endpoint(
    endpoint: str,
    window_start: datetime,
    window_end: datetime,
    *,
    sagemaker_client: Any,
    cloudwatch_client: Any | None = None,
    autoscaling_client: Any | None = None,
    variant: str | None = None,
    now: datetime | None = None,
    deleted_at: datetime | None = None,
) -> list[InstanceTimeline]:
    """One timeline per production variant (or only ``variant``) of an endpoint: measured
    from its scaling history when ``autoscaling_client`` is given and answers, else estimated
    from CloudWatch traffic (the labelled fallback; see the module doc)."""
    aware(window_start, "window_start")
    aware(window_end, "window_end")
    now = now or datetime.now(UTC)
    described = sagemaker_client.describe_endpoint(EndpointName=endpoint)
    config = sagemaker_client.describe_endpoint_config(
        EndpointConfigName=described["EndpointConfigName"]
    )
    region: str = sagemaker_client.meta.region_name
    created: datetime = described["CreationTime"]
    modified: datetime = described.get("LastModifiedTime", created)
    stop = min(window_end, now) if deleted_at is None else min(window_end, now, deleted_at)
    start, end = max(window_start, created), stop
    component_notes = _component_notes(sagemaker_client, endpoint)
    timelines = []
    for current, instance_type, initial_count in _variants(endpoint, described, config, variant):
        name = current["VariantName"]
        measured = None
        if autoscaling_client is not None:
            measured = _measured(
                autoscaling_client, endpoint, name, current, initial_count,
                created, start, end, instance_type, now,
            )  # fmt: skip
        if measured is not None:
            segments, notes = measured
            notes += _modified_note(modified, start, end, instance_type)
            if deleted_at is not None and deleted_at < window_end:
                notes.append(f"The endpoint was deleted at {deleted_at.isoformat()}.")
            timelines.append(
                InstanceTimeline(
                    endpoint=endpoint,
                    region=region,
                    segments=tuple(segments),
                    variant=name,
                    source=MEASURED_SOURCE,
                    notes=tuple(notes + component_notes),
                )
            )
            continue
        segments, notes = _estimated(
            cloudwatch_client, endpoint, name, current, start, end, instance_type, now
        )
        notes += _modified_note(modified, start, end, instance_type)
        if window_start < created:
            notes.append(f"Time before the endpoint's creation ({created.isoformat()}) is free.")
        timelines.append(
            InstanceTimeline(
                endpoint=endpoint,
                region=region,
                segments=tuple(segments),
                variant=name,
                source=ESTIMATED_SOURCE,
                notes=tuple(notes + component_notes),
            )
        )
    return timelines


def _variants(
    endpoint: str, described: Mapping[str, Any], config: Mapping[str, Any], variant: str | None
) -> list[tuple[Mapping[str, Any], str, int | None]]:
    """(DescribeEndpoint variant, instance type, initial count) of each variant asked for."""
    configured = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
    variants = described.get("ProductionVariants", [])
    if variant is not None:
        variants = [v for v in variants if v["VariantName"] == variant]
        if not variants:
            raise ConfigurationError(f"endpoint {endpoint} has no variant {variant!r}")
    found = []
    for current in variants:
        name = current["VariantName"]
        instance_type = configured.get(name, {}).get("InstanceType")
        if not instance_type:
            raise ConfigurationError(
                f"variant {name} of {endpoint} has no instance type (serverless?): it is not "
                "billed by instance-hour, so it cannot be allocated here"
            )
        found.append((current, instance_type, configured[name].get("InitialInstanceCount")))
    return found


def _estimated(
    cloudwatch_client: Any | None,
    endpoint: str,
    variant: str,
    current: Mapping[str, Any],
    start: datetime,
    end: datetime,
    instance_type: str,
    now: datetime,
) -> tuple[list[Segment], list[str]]:
    """The labelled fallback: instance counts from CloudWatch traffic, else the current one."""
    notes = [
        "Fallback, estimated: instance counts come from CloudWatch AWS/SageMaker "
        "Invocations / InvocationsPerInstance in periods with traffic; idle periods carry "
        "the last observed count forward (give an Application Auto Scaling client to "
        "measure them)."
    ]
    if end <= start:
        return [], notes
    observed: list[tuple[datetime, int]] = []
    if cloudwatch_client is not None:
        period = _period_for(start, now)
        sums = _metric_sums(cloudwatch_client, endpoint, variant, start, end, period)
        observed = _observed_counts(sums)
    if observed:
        return _segments_from_observations(observed, start, end, instance_type), notes
    count = int(current.get("CurrentInstanceCount", 0))
    notes.append(
        f"No traffic metrics in the window: assumed the current count ({count}) throughout."
    )
    return ([Segment(start, end, count, instance_type)] if count else []), notes


def _measured(
    autoscaling_client: Any,
    endpoint: str,
    variant: str,
    current: Mapping[str, Any],
    initial: int | None,
    created: datetime,
    start: datetime,
    end: datetime,
    instance_type: str,
    now: datetime,
) -> tuple[list[Segment], list[str]] | None:
    """Segments from the scaling history, or None when it cannot be read (fallback)."""
    try:
        changes = scaling_changes(autoscaling_client, endpoint, variant, now)
    except Exception:
        return None
    now_count = int(current.get("CurrentInstanceCount", 0))
    notes = [
        "Instance counts measured: the endpoint config's InitialInstanceCount from creation, "
        "then each successful Application Auto Scaling activity from its end time."
    ]
    first = initial if initial is not None else (changes[0][1] if changes else now_count)
    points: list[tuple[datetime, int]] = [(created.astimezone(UTC), int(first))]
    points += [(at, count) for at, count in changes if at > points[0][0]]
    if points[-1][1] != now_count:
        # A change with no activity (a manual UpdateEndpointWeightsAndCapacities, or older
        # than the six weeks of history): DescribeEndpoint is the truth for the present.
        notes.append(
            f"DescribeEndpoint reports {now_count} instance(s) now, but the scaling history "
            f"ends at {points[-1][1]}: the current count is assumed from "
            f"{points[-1][0].isoformat()} on."
        )
        points[-1] = (points[-1][0], now_count)
    desired = current.get("DesiredInstanceCount")
    if desired is not None and int(desired) != now_count:
        notes.append(f"Scaling in progress: {now_count} instance(s), desired {desired}.")
    if end <= start:
        return [], notes
    return _measured_segments(points, start, end, instance_type), notes


# The timeline types, importable from here as before they had their own module.
__all__ = [
    "ESTIMATED_SOURCE",
    "MEASURED_SOURCE",
    "VARIANT_DIMENSION",
    "InstanceTimeline",
    "Segment",
    "exact_seconds",
    "scaling_changes",
    "timelines_from_endpoint",
]

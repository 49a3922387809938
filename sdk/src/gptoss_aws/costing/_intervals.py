"""When calls were in flight: the time arithmetic allocation and the advisor share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gptoss_aws.types import CallRecord


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are read as UTC: the ledger stores UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def in_flight(call: CallRecord) -> tuple[datetime, datetime] | None:
    """[started_at, ended_at), or started_at + latency; None if the call has neither."""
    start = as_utc(call.started_at)
    if call.ended_at is not None:
        end = as_utc(call.ended_at)
    elif call.latency_ms is not None:
        end = start + timedelta(milliseconds=call.latency_ms)
    else:
        return None
    return (start, end) if end > start else None


def merge_intervals(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The union of intervals as disjoint, sorted intervals."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged

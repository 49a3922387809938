"""An endpoint's instance timeline: segments of (start, end, instance count, instance
type), the quantity SageMaker bills, and exact instance-seconds over a window.

Timelines are declared by the user or read from AWS (``gptoss_aws.costing.capacity``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from gptoss_aws.errors import ConfigurationError

_MICROSECONDS = Decimal(1_000_000)


def aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ConfigurationError(f"{what} must be a timezone-aware datetime, got {moment!r}")
    return moment


def exact_seconds(start: datetime, end: datetime) -> Decimal:
    """Seconds between two instants, exact to the microsecond (no float)."""
    return Decimal((end - start) // timedelta(microseconds=1)) / _MICROSECONDS


@dataclass(frozen=True)
class Segment:
    """``count`` instances of ``instance_type`` ran from ``start`` (inclusive) to ``end``."""

    start: datetime
    end: datetime
    count: int
    instance_type: str

    def __post_init__(self) -> None:
        aware(self.start, "segment start")
        aware(self.end, "segment end")
        if self.end <= self.start:
            raise ConfigurationError(f"segment ends ({self.end}) before it starts ({self.start})")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise ConfigurationError(f"instance count must be an integer >= 0, got {self.count!r}")
        if not self.instance_type:
            raise ConfigurationError("segment needs an instance type")


@dataclass(frozen=True)
class InstanceTimeline:
    """Instances behind one endpoint (and variant) over time.

    Segments add up: overlapping segments mean that many more instances (e.g. two instance
    types behind one endpoint during a blue/green update).
    """

    endpoint: str
    region: str
    segments: tuple[Segment, ...]
    variant: str | None = None
    source: str = "declared by the user"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def declared(
        cls,
        endpoint: str,
        region: str,
        segments: Iterable[tuple[datetime, datetime, int, str] | Segment],
        *,
        variant: str | None = None,
    ) -> InstanceTimeline:
        """From (start, end, count, instance_type) tuples the user states."""
        parsed = tuple(s if isinstance(s, Segment) else Segment(*s) for s in segments)
        return cls(endpoint=endpoint, region=region, segments=parsed, variant=variant)

    def clipped(self, start: datetime, end: datetime) -> list[Segment]:
        """The segments' parts inside [start, end)."""
        out = []
        for seg in self.segments:
            lo, hi = max(seg.start, start), min(seg.end, end)
            if hi > lo:
                out.append(Segment(lo, hi, seg.count, seg.instance_type))
        return out

    def instance_seconds(self, start: datetime, end: datetime) -> dict[str, Decimal]:
        """Instance-seconds per instance type inside [start, end)."""
        totals: dict[str, Decimal] = {}
        for seg in self.clipped(start, end):
            seconds = exact_seconds(seg.start, seg.end) * seg.count
            totals[seg.instance_type] = totals.get(seg.instance_type, Decimal(0)) + seconds
        return totals

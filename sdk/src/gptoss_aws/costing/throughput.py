"""Output tokens per second one instance sustains: published anchors, the user's figure,
or what an endpoint's own calls show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from gptoss_aws.backends.registry import billed_by_instance_hours
from gptoss_aws.costing._display import number
from gptoss_aws.costing._intervals import in_flight, merge_intervals
from gptoss_aws.costing.timeline import exact_seconds
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.types import CallRecord
from gptoss_facts.throughput import THROUGHPUT_ANCHORS as FACT_ANCHORS
from gptoss_facts.throughput import ThroughputAnchor


@dataclass(frozen=True)
class Throughput:
    """Output tokens per second one instance sustains, and where that figure comes from."""

    output_tokens_per_s: Decimal
    source: str


def _throughput(anchor: ThroughputAnchor) -> Throughput:
    value = Decimal(str(anchor.output_tok_s))
    if value == value.to_integral_value():
        value = value.to_integral_value()
    return Throughput(value, f"{anchor.source}: {anchor.hardware}, {anchor.conditions}")


# The published figures for a model on one SageMaker instance type (gptoss_facts.throughput
# holds them with their pages): batched throughput at high concurrency, an upper anchor.
THROUGHPUT_ANCHORS: dict[tuple[str, str], Throughput] = {
    (anchor.model, anchor.instance_type): _throughput(anchor)
    for anchor in FACT_ANCHORS
    if anchor.instance_type is not None
}


def throughput_from_calls(
    calls: Sequence[CallRecord], mean_instances: Decimal
) -> Throughput | None:
    """Output tokens / seconds with at least one call in flight / mean instance count."""
    timed = [c for c in calls if billed_by_instance_hours(c.backend) and in_flight(c) is not None]
    busy = merge_intervals([iv for iv in (in_flight(c) for c in timed) if iv is not None])
    seconds = sum((exact_seconds(lo, hi) for lo, hi in busy), Decimal(0))
    tokens = sum(c.completion_tokens for c in timed)
    if not timed or seconds == 0 or tokens == 0 or mean_instances == 0:
        return None
    return Throughput(
        Decimal(tokens) / seconds / mean_instances,
        f"measured: {tokens:,} output tokens over {number(seconds)} busy seconds in "
        f"{len(timed):,} calls, at the concurrency your traffic had",
    )


def given_throughput(throughput: Throughput | Decimal | int | None) -> Throughput | None:
    if throughput is None or isinstance(throughput, Throughput):
        given = throughput
    else:
        given = Throughput(Decimal(throughput), "given by you")
    if given is not None and given.output_tokens_per_s <= 0:
        raise ConfigurationError("throughput must be > 0 output tokens per second")
    return given

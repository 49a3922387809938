"""Share a SageMaker endpoint's instance-hours over the calls it served in a window.

SageMaker bills instance-seconds, whether the instances were busy or not. So a call's cost
is a share of what the endpoint cost in a window:

    window cost = sum over timeline segments of count x seconds x hourly price / 3600

split over the window's calls by weight (total tokens, output tokens, or latency), plus an
explicit idle line. Two idle conventions:

- ``"unattributed"`` (default, for chargeback): all of the window cost goes to the calls by
  weight; idle holds what nothing can carry (no calls, or all weights zero).
- ``"no_call_in_flight"`` (to see utilisation): instance time during which no call was in
  flight (from started_at to ended_at, or + latency) is idle; the rest goes to the calls.

Invariant: per endpoint, call lines + idle == window cost, to the cent. Each endpoint's
window cost is rounded to cents once, then split with largest-remainder rounding, so the
cents add up exactly and no line goes negative. (LiteLLM instead prices SageMaker as $/s x
latency, ignoring idle time and concurrency; llmeter charges ceil(test seconds) x count x
price with no per-call split.)

An endpoint whose instance price is missing raises UnpricedError, or with
``missing_price="pending"`` (what reports use) becomes a *pending window*: its calls and its
idle time stay out of the totals, and the window names the command that fills the price.

Naive datetimes on call records are read as UTC (the ledger stores UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal

from gptoss_aws.backends.registry import billed_by_instance_hours
from gptoss_aws.costing._intervals import as_utc, in_flight, merge_intervals
from gptoss_aws.costing.capacity import InstanceTimeline, exact_seconds
from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.pricing.records import InstancePrice
from gptoss_aws.types import CallRecord, Cost

Weight = Literal["tokens", "output_tokens", "latency"]
IdleBasis = Literal["unattributed", "no_call_in_flight"]
# (instance_type, region) -> price; PriceBook.instance_price fits.
InstancePriceLookup = Callable[[str, str], InstancePrice]

# Shares are rounded to a millionth of a dollar, not to the cent: a call on a busy
# endpoint costs a fraction of a cent, and rounding each to whole cents would show most calls
# as $0.00. Allocations plus idle still add up exactly (to the micro-dollar, so to the cent).
QUANTUM = Decimal("0.000001")
CENT = Decimal("0.01")
SECONDS_PER_HOUR = Decimal(3600)


@dataclass(frozen=True)
class AllocationLine:
    endpoint: str
    variant: str | None
    kind: Literal["call", "idle"]
    usd: Decimal  # rounded to the cent: these are the figures that add up
    exact_usd: Decimal
    call_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    weight: Decimal = Decimal(0)


@dataclass(frozen=True)
class EndpointWindow:
    """What one endpoint (variant) cost in the window."""

    endpoint: str
    variant: str | None
    region: str
    usd: Decimal  # rounded to the cent
    exact_usd: Decimal
    instance_seconds: Mapping[str, Decimal]
    prices: Mapping[str, InstancePrice]
    calls: int
    notes: tuple[str, ...] = ()

    @property
    def price_source(self) -> str:
        return "; ".join(f"{t}: {p.describe()}" for t, p in sorted(self.prices.items()))


@dataclass(frozen=True)
class PendingWindow:
    """An endpoint whose window could not be costed: its instance price is missing."""

    endpoint: str
    variant: str | None
    region: str
    calls: int
    reason: str
    fix: str


@dataclass(frozen=True)
class Allocation:
    window_start: datetime
    window_end: datetime
    weight: Weight
    idle_basis: IdleBasis
    endpoints: tuple[EndpointWindow, ...]
    lines: tuple[AllocationLine, ...]
    # SageMaker calls inside the window whose endpoint/variant had no timeline: reported,
    # never silently dropped or silently charged.
    unmatched_call_ids: tuple[str, ...] = ()
    pending_windows: tuple[PendingWindow, ...] = ()

    @property
    def window_usd(self) -> Decimal:
        return sum((e.usd for e in self.endpoints), Decimal(0))

    @property
    def idle_usd(self) -> Decimal:
        return sum((line.usd for line in self.lines if line.kind == "idle"), Decimal(0))

    def cost_of(self, call_id: str) -> Cost:
        """The call's share as a ``Cost`` (basis instance_hours)."""
        for line in self.lines:
            if line.kind == "call" and line.call_id == call_id:
                window = next(
                    e
                    for e in self.endpoints
                    if (e.endpoint, e.variant) == (line.endpoint, line.variant)
                )
                return Cost(usd=line.usd, basis="instance_hours", price_source=window.price_source)
        raise KeyError(f"call {call_id} is not in this allocation")


def largest_remainder(
    amounts: Sequence[Decimal], total: Decimal, quantum: Decimal = QUANTUM
) -> list[Decimal]:
    """Round ``amounts`` to ``quantum`` so they sum to ``total`` (a whole number of quanta).

    Each amount is floored to the quantum; the quanta still missing go one each to the
    amounts that lost the most (ties: the earlier one). An amount of exactly 0 gets none.
    """
    floors = [a.quantize(quantum, rounding=ROUND_FLOOR) for a in amounts]
    missing = int((total - sum(floors, Decimal(0))) / quantum)
    if missing < 0 or missing > len(amounts):
        raise ValueError(f"cannot round {list(amounts)} to a total of {total}")
    order = sorted(range(len(amounts)), key=lambda i: (-(amounts[i] - floors[i]), i))
    for i in order[:missing]:
        floors[i] += quantum
    return floors


def _weight_of(call: CallRecord, weight: Weight) -> Decimal:
    if weight == "tokens":
        value = Decimal(call.prompt_tokens + call.completion_tokens)
    elif weight == "output_tokens":
        value = Decimal(call.completion_tokens)
    elif weight == "latency":
        value = Decimal(str(call.latency_ms)) if call.latency_ms is not None else Decimal(0)
    else:
        raise ConfigurationError(f"weight must be tokens, output_tokens or latency: {weight!r}")
    if value < 0:
        raise ConfigurationError(f"call {call.id} has a negative {weight} ({value})")
    return value


def _idle_cost(
    timeline: InstanceTimeline,
    start: datetime,
    end: datetime,
    calls: Sequence[CallRecord],
    hourly: Mapping[str, Decimal],
) -> Decimal:
    """Cost of the instance time during which none of ``calls`` was in flight."""
    busy = merge_intervals([iv for iv in (in_flight(c) for c in calls) if iv is not None])
    idle_usd_seconds = Decimal(0)  # divided by 3600 once, at the end, to stay exact
    for seg in timeline.clipped(start, end):
        if seg.count == 0:
            continue
        covered = Decimal(0)
        for lo, hi in busy:
            a, b = max(lo, seg.start), min(hi, seg.end)
            if b > a:
                covered += exact_seconds(a, b)
        uncovered = exact_seconds(seg.start, seg.end) - covered
        idle_usd_seconds += uncovered * seg.count * hourly[seg.instance_type]
    return idle_usd_seconds / SECONDS_PER_HOUR


def _match(
    calls: Sequence[CallRecord], timelines: Sequence[InstanceTimeline]
) -> tuple[dict[int, list[CallRecord]], list[str]]:
    by_endpoint: dict[str, list[int]] = {}
    for index, timeline in enumerate(timelines):
        by_endpoint.setdefault(timeline.endpoint, []).append(index)
    matched: dict[int, list[CallRecord]] = {i: [] for i in range(len(timelines))}
    unmatched: list[str] = []
    for call in calls:
        candidates = by_endpoint.get(call.endpoint or "", [])
        exact = [i for i in candidates if timelines[i].variant == call.variant]
        if len(exact) == 1:
            matched[exact[0]].append(call)
        elif len(candidates) == 1 and None in (timelines[candidates[0]].variant, call.variant):
            matched[candidates[0]].append(call)
        else:
            unmatched.append(call.id)
    return matched, unmatched


def allocate(
    window_start: datetime,
    window_end: datetime,
    timeline: InstanceTimeline | Sequence[InstanceTimeline],
    price_lookup: InstancePriceLookup,
    calls: Sequence[CallRecord],
    weight: Weight = "tokens",
    *,
    idle_basis: IdleBasis = "unattributed",
    missing_price: Literal["raise", "pending"] = "raise",
) -> Allocation:
    """Allocate each endpoint's window cost to its SageMaker calls started in
    [window_start, window_end), plus an idle line per endpoint."""
    for moment, what in ((window_start, "window_start"), (window_end, "window_end")):
        if moment.tzinfo is None:
            raise ConfigurationError(f"{what} must be timezone-aware")
    if window_end <= window_start:
        raise ConfigurationError("window_end must be after window_start")
    if idle_basis not in ("unattributed", "no_call_in_flight"):
        raise ConfigurationError("idle_basis must be unattributed or no_call_in_flight")
    timelines = [timeline] if isinstance(timeline, InstanceTimeline) else list(timeline)
    keys = [(t.endpoint, t.variant) for t in timelines]
    if len(set(keys)) != len(keys):
        raise ConfigurationError(f"two timelines for the same endpoint/variant: {keys}")
    in_window = [
        c
        for c in calls
        if billed_by_instance_hours(c.backend) and window_start <= as_utc(c.started_at) < window_end
    ]
    in_window.sort(key=lambda c: (as_utc(c.started_at), c.id))
    matched, unmatched = _match(in_window, timelines)

    windows: list[EndpointWindow] = []
    lines: list[AllocationLine] = []
    pending: list[PendingWindow] = []
    for index, tl in enumerate(timelines):
        seconds = tl.instance_seconds(window_start, window_end)
        try:
            prices = {itype: price_lookup(itype, tl.region) for itype, s in seconds.items() if s}
        except UnpricedError as missing:
            if missing_price == "raise":
                raise
            fix = missing.fix or f"gptoss-aws prices refresh --region {tl.region}"
            reason = str(missing).split(". ")[0]
            calls_here = len(matched[index])
            pending.append(
                PendingWindow(tl.endpoint, tl.variant, tl.region, calls_here, reason, fix)
            )
            continue
        window, window_lines = _allocate_window(
            tl, (window_start, window_end), seconds, prices, matched[index], weight, idle_basis
        )
        windows.append(window)
        lines += window_lines
    return Allocation(
        window_start=window_start,
        window_end=window_end,
        weight=weight,
        idle_basis=idle_basis,
        endpoints=tuple(windows),
        lines=tuple(lines),
        unmatched_call_ids=tuple(unmatched),
        pending_windows=tuple(pending),
    )


def _allocate_window(
    tl: InstanceTimeline,
    window: tuple[datetime, datetime],
    seconds: dict[str, Decimal],
    prices: dict[str, InstancePrice],
    own: Sequence[CallRecord],
    weight: Weight,
    idle_basis: IdleBasis,
) -> tuple[EndpointWindow, list[AllocationLine]]:
    """One endpoint's window cost shared over its calls by weight, plus its idle line."""
    hourly = {itype: p.usd_per_hour for itype, p in prices.items()}
    # One division at the end: summing per-type quotients would round each of them.
    usd_seconds = sum((s * hourly[t] for t, s in seconds.items() if s), Decimal(0))
    exact = usd_seconds / SECONDS_PER_HOUR
    weights = [_weight_of(c, weight) for c in own]
    total_weight = sum(weights, Decimal(0))
    if total_weight == 0:
        idle_exact = exact
    elif idle_basis == "no_call_in_flight":
        idle_exact = min(exact, _idle_cost(tl, window[0], window[1], own, hourly))
    else:
        idle_exact = Decimal(0)
    shared = exact - idle_exact
    shares = [shared * w / total_weight if total_weight else Decimal(0) for w in weights]
    rounded_total = exact.quantize(QUANTUM, rounding=ROUND_HALF_UP)
    rounded = largest_remainder([*shares, idle_exact], rounded_total)
    lines = []
    for call, w, share, usd in zip(own, weights, shares, rounded, strict=False):
        line = AllocationLine(tl.endpoint, tl.variant, "call", usd, share, call.id)
        lines.append(replace(line, tags=dict(call.tags), weight=w))
    lines.append(AllocationLine(tl.endpoint, tl.variant, "idle", rounded[-1], idle_exact))
    endpoint_window = EndpointWindow(
        endpoint=tl.endpoint,
        variant=tl.variant,
        region=tl.region,
        usd=rounded_total,
        exact_usd=exact,
        instance_seconds=seconds,
        prices=prices,
        calls=len(own),
        notes=tl.notes,
    )
    return endpoint_window, lines


def true_up(allocation: Allocation, billed: Mapping[tuple[str, str | None], Decimal]) -> Allocation:
    """The allocation with each endpoint's lines scaled so that they add up to the billed
    amount (``billed[(endpoint, variant)]``, USD): every call keeps its share, idle keeps its
    share, and allocations + idle equal the bill to the micro-dollar (so to the cent).
    Endpoints without a billed figure are left as they are."""
    lines: list[AllocationLine] = []
    windows = []
    for window in allocation.endpoints:
        own = [
            ln
            for ln in allocation.lines
            if (ln.endpoint, ln.variant) == (window.endpoint, window.variant)
        ]
        amount = billed.get((window.endpoint, window.variant))
        if amount is None or window.exact_usd == 0:
            lines += own
            windows.append(window)
            continue
        total = amount.quantize(QUANTUM, ROUND_HALF_UP)
        scale = amount / window.exact_usd
        exact = [ln.exact_usd * scale for ln in own]
        rounded = largest_remainder(exact, total)
        lines += [
            replace(ln, exact_usd=e, usd=r) for ln, e, r in zip(own, exact, rounded, strict=True)
        ]
        windows.append(
            replace(
                window,
                usd=total,
                exact_usd=amount,
                notes=(*window.notes, f"trued up to the billed ${total} (x{scale:.6f})"),
            )
        )
    return replace(allocation, endpoints=tuple(windows), lines=tuple(lines))


def allocation_rows(allocation: Allocation) -> list[dict[str, Any]]:
    """Rows for reports and DataFrames: one per call line and one idle line per endpoint."""
    return [
        {
            "endpoint": line.endpoint,
            "variant": line.variant,
            "call_id": line.call_id,
            "tags": dict(line.tags),
            "usd": line.usd,
            "kind": line.kind,
            "window_start": allocation.window_start,
            "window_end": allocation.window_end,
        }
        for line in allocation.lines
    ]

"""Bedrock or an endpoint? Price the ledger's real traffic both ways, and find the break-even.

For the calls of one model in a window:

- on Bedrock: each call's input and output tokens at the on-demand per-token price;
- on the endpoint: the instance-hours of the window (a measured or declared timeline), or,
  with no endpoint, the hours of the instances that traffic would have needed;
- break-even: an instance costs P $/hour whatever it does; on Bedrock one output token costs
  (output price + r x input price) / 1M, where r is the traffic's input tokens per output
  token. So the endpoint is cheaper above P x 1M / (output price + r x input price) output
  tokens per hour, per instance, provided one instance can produce that many: its
  throughput (output tokens/s) x 3600. If it cannot, the endpoint never wins at this price.

Throughput is the user's figure if given, else a published benchmark for that model and
instance (THROUGHPUT_ANCHORS), else what the endpoint's own calls show (which understates
capacity when traffic was light: a server batches more under load).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from gptoss_aws.costing._display import number, percent, tokens_short, usd_short, when
from gptoss_aws.costing._intervals import as_utc
from gptoss_aws.costing.allocation import SECONDS_PER_HOUR
from gptoss_aws.costing.capacity import InstanceTimeline, exact_seconds
from gptoss_aws.costing.per_token import token_cost, usage_of
from gptoss_aws.costing.throughput import (
    THROUGHPUT_ANCHORS,
    Throughput,
    given_throughput,
    throughput_from_calls,
)
from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.pricing._model_names import canonical_model
from gptoss_aws.pricing.catalog import PriceBook
from gptoss_aws.pricing.records import (
    TOKENS_PER_MILLION,
    InstancePrice,
    TokenPrice,
    decimal_text,
)
from gptoss_aws.types import CallRecord

# With no endpoint to measure, price the smallest instance a published benchmark covers:
# one H100 (ml.p5.4xlarge, a valid endpoint type per the SageMaker API enum).
DEFAULT_INSTANCE_TYPE = "ml.p5.4xlarge"


@dataclass(frozen=True)
class Advice:
    model: str
    window_start: datetime
    window_end: datetime
    calls: int
    input_tokens: int
    output_tokens: int
    bedrock_region: str
    bedrock_price: TokenPrice
    bedrock_usd: Decimal
    endpoint_basis: str  # "measured" (timelines) or "hypothetical" (sized from the traffic)
    endpoint_region: str
    instance_type: str
    instance_price: InstancePrice
    mean_instances: Decimal
    endpoint_usd: Decimal
    throughput: Throughput | None  # used for the capacity check
    measured_throughput: Throughput | None  # from the endpoint's own calls, if any
    input_per_output: Decimal | None  # r: input tokens per output token in this traffic
    break_even_output_tokens_per_hour: Decimal | None  # per instance
    capacity_output_tokens_per_hour: Decimal | None  # per instance
    assumptions: tuple[str, ...]
    # The same traffic on each on-demand Bedrock tier (flex, standard, priority): its cost,
    # or None when that tier has no price yet (``tier_fixes`` holds the command).
    tiers: tuple[tuple[str, Decimal | None], ...] = ()
    tier_fixes: tuple[str, ...] = ()

    @property
    def hours(self) -> Decimal:
        return exact_seconds(self.window_start, self.window_end) / SECONDS_PER_HOUR

    @property
    def output_tokens_per_hour(self) -> Decimal:
        return Decimal(self.output_tokens) / self.hours

    @property
    def break_even_total_tokens_per_hour(self) -> Decimal | None:
        if self.break_even_output_tokens_per_hour is None or self.input_per_output is None:
            return None
        return self.break_even_output_tokens_per_hour * (1 + self.input_per_output)

    @property
    def endpoint_can_break_even(self) -> bool | None:
        if self.break_even_output_tokens_per_hour is None:
            return None
        if self.capacity_output_tokens_per_hour is None:
            return None
        return self.break_even_output_tokens_per_hour <= self.capacity_output_tokens_per_hour

    @property
    def cheaper(self) -> str:
        return "Bedrock" if self.bedrock_usd < self.endpoint_usd else "the endpoint"

    def summary(self) -> str:
        price_in = decimal_text(self.bedrock_price.input_per_1m)
        price_out = decimal_text(self.bedrock_price.output_per_1m)
        lines = [
            f"{self.calls:,} {self.model} calls from {when(self.window_start)} to "
            f"{when(self.window_end)} ({number(self.hours)} h): {tokens_short(self.input_tokens)} "
            f"input and {tokens_short(self.output_tokens)} output tokens "
            f"({tokens_short(self.output_tokens_per_hour)} output tokens/hour).",
            f"On Bedrock ({self.bedrock_region}, ${price_in} in / ${price_out} out per 1M "
            f"tokens) they would have cost {usd_short(self.bedrock_usd)}.",
        ]
        instances = f"{number(self.mean_instances)} x {self.instance_type}"
        rate = f"${decimal_text(self.instance_price.usd_per_hour)}/hour each"
        if self.endpoint_basis == "measured":
            lines.append(
                f"The endpoint ({instances} on average, {rate}) cost "
                f"{usd_short(self.endpoint_usd)} over the window, busy or idle."
            )
        else:
            lines.append(
                f"On an endpoint ({instances}, {rate}, running the whole window) they would "
                f"have cost {usd_short(self.endpoint_usd)}."
            )
        if self.tiers:
            parts = [
                f"{tier.title()} {usd_short(usd) if usd is not None else 'pending'}"
                for tier, usd in self.tiers
            ]
            line = (
                f"By Bedrock tier: {', '.join(parts)}; the endpoint {usd_short(self.endpoint_usd)}."
            )
            if self.tier_fixes:
                line += (
                    " Fill the pending tier prices with "
                    + " or ".join(f"`{fix}`" for fix in self.tier_fixes)
                    + " (or an override)."
                )
            lines.append(line)
        cheaper = self.cheaper
        lines.append(f"{cheaper[0].upper()}{cheaper[1:]} was cheaper for this traffic.")
        be = self.break_even_output_tokens_per_hour
        if be is None:
            lines.append("No output tokens in the window, so no break-even could be measured.")
        else:
            ratio = self.input_per_output or Decimal(0)
            total = self.break_even_total_tokens_per_hour or be
            lines.append(
                f"Break-even: with {number(ratio)} input tokens per output token, one "
                f"{self.instance_type} is cheaper than Bedrock above {tokens_short(be)} output "
                f"tokens/hour ({tokens_short(total)} tokens/hour in all). Your traffic averaged "
                f"{tokens_short(self.output_tokens_per_hour)} output tokens/hour, "
                f"{percent(self.output_tokens_per_hour, be)} of that."
            )
            cap = self.capacity_output_tokens_per_hour
            if cap is not None and self.throughput is not None:
                verdict = (
                    "so an instance kept busy enough pays for itself"
                    if be <= cap
                    else "below the break-even, so at this price the endpoint never beats "
                    "Bedrock, however busy"
                )
                lines.append(
                    f"One instance sustains about {tokens_short(cap)} output tokens/hour "
                    f"({number(self.throughput.output_tokens_per_s)} tok/s; "
                    f"{self.throughput.source}), {verdict}."
                )
            else:
                lines.append(
                    "No throughput figure for this model and instance type: pass one "
                    "(--throughput) to check an instance can reach the break-even."
                )
        if self.measured_throughput is not None and self.measured_throughput != self.throughput:
            lines.append(
                f"Your endpoint's own calls show "
                f"{number(self.measured_throughput.output_tokens_per_s)} output tok/s per "
                f"instance ({self.measured_throughput.source})."
            )
        lines.append("Assumptions: " + " ".join(self.assumptions))
        return "\n".join(lines)


def advise(
    calls: Sequence[CallRecord],
    *,
    window_start: datetime,
    window_end: datetime,
    prices: PriceBook,
    bedrock_region: str,
    model: str | None = None,
    timelines: InstanceTimeline | Sequence[InstanceTimeline] | None = None,
    instance_type: str | None = None,
    endpoint_region: str | None = None,
    throughput: Throughput | Decimal | int | None = None,
) -> Advice:
    """Compare Bedrock and an endpoint for the calls of ``model`` started in the window.

    ``timelines``: the endpoint that served the traffic (measured cost). Without them the
    endpoint side is hypothetical: ``instance_type`` (default ml.p5.4xlarge) in
    ``endpoint_region`` (default ``bedrock_region``), as many instances as the window's
    average output rate needs at the throughput used, for the whole window.
    """
    model, own = _calls_of_model(calls, window_start, window_end, model)
    assumptions = [
        "On-demand list prices; no savings plans, discounts or free tier.",
        "Bedrock would bill the same input and output tokens (reasoning counted as output).",
    ]
    bedrock_price = prices.token_price(model, bedrock_region)
    bedrock_usd = _bedrockusd_short(own, bedrock_price)
    input_tokens = sum(c.prompt_tokens for c in own)
    output_tokens = sum(c.completion_tokens for c in own)
    hours = exact_seconds(window_start, window_end) / SECONDS_PER_HOUR
    tiers, tier_fixes = _bedrock_tiers(own, prices, model, bedrock_region)
    given = given_throughput(throughput)

    tl_list = [timelines] if isinstance(timelines, InstanceTimeline) else list(timelines or [])
    if tl_list:
        endpoint = _measured_endpoint(tl_list, own, prices, window_start, window_end)
    else:
        endpoint = _Endpoint(
            basis="hypothetical",
            instance_type=instance_type or DEFAULT_INSTANCE_TYPE,
            region=endpoint_region or bedrock_region,
        )
    assumptions += endpoint.notes
    instance_price = prices.instance_price(endpoint.instance_type, endpoint.region)
    used = given or THROUGHPUT_ANCHORS.get((model, endpoint.instance_type)) or endpoint.measured
    capacity = used.output_tokens_per_s * SECONDS_PER_HOUR if used is not None else None
    if endpoint.basis == "hypothetical":
        endpoint.mean_instances = _size_endpoint(output_tokens, hours, capacity, assumptions)
        endpoint.usd = hours * endpoint.mean_instances * instance_price.usd_per_hour

    ratio = Decimal(input_tokens) / Decimal(output_tokens) if output_tokens else None
    assumptions.append(
        "Break-even assumes the traffic's input/output mix stays the same and an instance "
        "stays up all hour (SageMaker bills idle time)."
    )
    return Advice(
        model=model,
        window_start=window_start,
        window_end=window_end,
        calls=len(own),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        bedrock_region=bedrock_region,
        bedrock_price=bedrock_price,
        bedrock_usd=bedrock_usd,
        endpoint_basis=endpoint.basis,
        endpoint_region=endpoint.region,
        instance_type=endpoint.instance_type,
        instance_price=instance_price,
        mean_instances=endpoint.mean_instances,
        endpoint_usd=endpoint.usd,
        throughput=used,
        measured_throughput=endpoint.measured,
        input_per_output=ratio,
        break_even_output_tokens_per_hour=_break_even(ratio, bedrock_price, instance_price),
        capacity_output_tokens_per_hour=capacity,
        assumptions=tuple(assumptions),
        tiers=tuple(tiers),
        tier_fixes=tuple(sorted(tier_fixes)),
    )


def _calls_of_model(
    calls: Sequence[CallRecord], window_start: datetime, window_end: datetime, model: str | None
) -> tuple[str, list[CallRecord]]:
    """The model advised on (the only one in the window unless named) and its settled calls."""
    for moment, what in ((window_start, "window_start"), (window_end, "window_end")):
        if moment.tzinfo is None:
            raise ConfigurationError(f"{what} must be timezone-aware")
    if window_end <= window_start:
        raise ConfigurationError("window_end must be after window_start")
    in_window = [
        c
        for c in calls
        if window_start <= as_utc(c.started_at) < window_end and c.status != "reserved"
    ]
    models = sorted({canonical_model(c.model) for c in in_window})
    if model is None:
        if len(models) != 1:
            raise ConfigurationError(
                f"the window holds calls of {models or 'no model'}; say which model to advise on"
            )
        model = models[0]
    model = canonical_model(model)
    return model, [c for c in in_window if canonical_model(c.model) == model]


def _bedrockusd_short(calls: Sequence[CallRecord], price: TokenPrice) -> Decimal:
    return sum((token_cost(usage_of(c), price).usd or Decimal(0) for c in calls), Decimal(0))


def _bedrock_tiers(
    calls: Sequence[CallRecord], prices: PriceBook, model: str, region: str
) -> tuple[list[tuple[str, Decimal | None]], set[str]]:
    """The traffic on each on-demand tier, None where the tier has no price (and its fix)."""
    tiers: list[tuple[str, Decimal | None]] = []
    fixes: set[str] = set()
    for tier in ("flex", "standard", "priority"):
        try:
            tier_price = prices.token_price(model, region, tier)
        except UnpricedError as missing:
            tiers.append((tier, None))
            fixes.add(missing.fix or f"gptoss-aws prices refresh --region {region}")
            continue
        tiers.append((tier, _bedrockusd_short(calls, tier_price)))
    return tiers, fixes


@dataclass
class _Endpoint:
    """The endpoint side: what ran (measured) or what the traffic would need (hypothetical)."""

    basis: str
    instance_type: str
    region: str
    mean_instances: Decimal = Decimal(0)  # hypothetical: set once the throughput is known
    usd: Decimal = Decimal(0)
    measured: Throughput | None = None
    notes: list[str] = field(default_factory=list)


def _measured_endpoint(
    timelines: Sequence[InstanceTimeline],
    calls: Sequence[CallRecord],
    prices: PriceBook,
    window_start: datetime,
    window_end: datetime,
) -> _Endpoint:
    seconds_by_type: dict[tuple[str, str], Decimal] = {}
    for tl in timelines:
        for itype, secs in tl.instance_seconds(window_start, window_end).items():
            key = (itype, tl.region)
            seconds_by_type[key] = seconds_by_type.get(key, Decimal(0)) + secs
    if not seconds_by_type:
        raise ConfigurationError("the endpoint timelines hold no instance time in the window")
    usd = Decimal(0)
    for (itype, reg), secs in seconds_by_type.items():
        usd += secs * prices.instance_price(itype, reg).usd_per_hour / SECONDS_PER_HOUR
    (instance_type, region), _ = max(seconds_by_type.items(), key=lambda kv: kv[1])
    hours = exact_seconds(window_start, window_end) / SECONDS_PER_HOUR
    mean_instances = sum(seconds_by_type.values(), Decimal(0)) / (hours * SECONDS_PER_HOUR)
    endpoint_names = {tl.endpoint for tl in timelines}
    served = [c for c in calls if c.endpoint in endpoint_names]
    notes = []
    if len(seconds_by_type) > 1:
        notes.append(
            f"The endpoint ran several instance types; break-even uses {instance_type}, "
            "the one with the most instance-hours."
        )
    for tl in timelines:
        notes.extend(tl.notes)
    return _Endpoint(
        basis="measured",
        instance_type=instance_type,
        region=region,
        mean_instances=mean_instances,
        usd=usd,
        measured=throughput_from_calls(served, mean_instances),
        notes=notes,
    )


def _size_endpoint(
    output_tokens: int, hours: Decimal, capacity: Decimal | None, assumptions: list[str]
) -> Decimal:
    """Instances the window's average output rate needs (one without a throughput figure)."""
    if not capacity:
        assumptions.append("No throughput figure: priced one instance.")
        return Decimal(1)
    needed = max(1, math.ceil(Decimal(output_tokens) / hours / capacity))
    assumptions.append(
        f"Endpoint sized for the window's average output rate ({needed} instance"
        f"{'s' if needed > 1 else ''}); bursts above it would need more."
    )
    return Decimal(needed)


def _break_even(
    ratio: Decimal | None, bedrock_price: TokenPrice, instance_price: InstancePrice
) -> Decimal | None:
    """Output tokens per hour per instance above which the endpoint is cheaper."""
    if ratio is None:
        return None
    per_output = bedrock_price.output_per_1m + ratio * bedrock_price.input_per_1m
    if per_output <= 0:
        return None
    return instance_price.usd_per_hour * TOKENS_PER_MILLION / per_output


__all__ = ["DEFAULT_INSTANCE_TYPE", "THROUGHPUT_ANCHORS", "Advice", "Throughput", "advise"]

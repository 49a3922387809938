"""The bill as the final word: compare the ledger with what AWS charged (Cost Explorer).

What is read (Cost Explorer GetCostAndUsage, cached): ``gptoss_aws.costing.bill``.

What is compared:

- Bedrock, per team profile: billed tokens and dollars against the ledger's calls carrying
  that team (ledger tag ``team`` by default);
- SageMaker, per region and instance type: billed instance-hours and dollars against the
  endpoints' instance timelines (measured or estimated) priced by the price book.

Each comparison gives the drift (billed - ledger) in dollars and percent and the likely
causes: rows with no price yet, usage AWS still marks as estimated, calls made outside the
SDK (AWS billed tokens the ledger never saw), or a price that has changed (same usage,
different dollars). ``true_up`` scales a window's SageMaker allocation to the billed amount,
keeping allocations + idle equal to it to the micro-dollar (so to the cent).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from gptoss_aws.backends.registry import BackendCostBasis, cost_basis_of
from gptoss_aws.costing.allocation import Allocation, true_up
from gptoss_aws.costing.bill import (
    CE_REGION,
    DEFAULT_MAX_AGE,
    DEFAULT_TEAM_TAG,
    SAGEMAKER_SERVICE,
    Bill,
    BillRow,
    fetch_bill,
)
from gptoss_aws.costing.capacity import ESTIMATED_SOURCE, InstanceTimeline
from gptoss_aws.errors import UnpricedError
from gptoss_aws.pricing.records import InstancePrice
from gptoss_aws.types import CallRecord
from gptoss_facts.text import usd

DEFAULT_LEDGER_TEAM_TAG = "team"
UNTAGGED = "(untagged)"
# Drift under this share of the bill is rounding, not a finding.
TOLERANCE = Decimal("0.005")

_HOST = re.compile(r"^(?:(?P<prefix>[A-Z0-9]+)-)?Host:(?P<itype>ml\.[a-z0-9.\-]+)$")
_TOKENS = re.compile(r"(input|output)[-_]?tokens?", re.IGNORECASE)
# Usage-type region prefixes (AWS Billing user guide, "Understanding your usage types"):
# only the ones this project's regions use, so a prefix we do not know stays unmatched
# rather than guessed.
USAGE_PREFIX_REGIONS = {
    "USE1": "us-east-1",
    "USE2": "us-east-2",
    "USW1": "us-west-1",
    "USW2": "us-west-2",
    "EUW1": "eu-west-1",
    "EUW2": "eu-west-2",
    "EUC1": "eu-central-1",
    "EUN1": "eu-north-1",
    "EUS1": "eu-south-1",
    "APN1": "ap-northeast-1",
    "SAE1": "sa-east-1",
    "UGW1": "us-gov-west-1",
}
# Tokens per unit of the quantity Cost Explorer reports; a unit not listed leaves the billed
# tokens uncompared (the reconciliation says so) rather than guessed.
_TOKEN_UNITS = {
    "tokens": Decimal(1),
    "token": Decimal(1),
    "1k tokens": Decimal(1000),
    "thousand tokens": Decimal(1000),
    "1m tokens": Decimal(1_000_000),
    "million tokens": Decimal(1_000_000),
    "1 million tokens": Decimal(1_000_000),
}


# ---- comparing --------------------------------------------------------------------------


@dataclass
class Drift:
    """One comparison: the bill against the ledger for one team or one instance type."""

    service: Literal["bedrock", "sagemaker"]
    name: str  # team, or "<instance type> in <region>"
    billed_usd: Decimal
    ledger_usd: Decimal
    billed_quantity: Decimal  # tokens, or instance-hours
    ledger_quantity: Decimal
    unit: str  # "tokens" or "instance-hours"
    causes: list[str] = field(default_factory=list)
    # SageMaker: the endpoints (variants) whose timelines hold this instance type and region.
    # Cost Explorer bills per usage type (region and instance type), not per endpoint, so
    # with one endpoint per type and region this line is that endpoint's reconciliation.
    endpoints: tuple[str, ...] = ()

    @property
    def drift_usd(self) -> Decimal:
        return self.billed_usd - self.ledger_usd

    @property
    def drift_pct(self) -> Decimal | None:
        if self.billed_usd == 0:
            return None
        return (self.drift_usd / self.billed_usd * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def line(self) -> str:
        pct = f"{self.drift_pct:+}%" if self.drift_pct is not None else "n/a"
        where = f" (endpoint {', '.join(self.endpoints)})" if self.endpoints else ""
        head = (
            f"{self.service} {self.name}{where}: billed {usd(self.billed_usd, 4)} "
            f"({_qty(self.billed_quantity)} {self.unit}), ledger {usd(self.ledger_usd, 4)} "
            f"({_qty(self.ledger_quantity)} {self.unit}); drift {usd(self.drift_usd, 4)} ({pct})"
        )
        return head + "".join(f"\n    likely cause: {cause}" for cause in self.causes)


def _qty(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP).normalize():,f}"


@dataclass
class Reconciliation:
    since: date
    until: date
    drifts: list[Drift]
    bill: Bill
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"Reconciliation with the AWS bill, {self.since} to {self.until} (UTC days)",
            f"* {self.bill.freshness()}",
        ]
        lines += [f"* {note}" for note in self.notes]
        lines += [drift.line() for drift in self.drifts] or ["nothing billed, nothing recorded"]
        return "\n".join(lines)


def _tokens(row: BillRow) -> tuple[str, Decimal] | None:
    match = _TOKENS.search(row.usage_type)
    if match is None:
        return None
    factor = _TOKEN_UNITS.get(row.unit.strip().lower())
    if factor is None:
        return None
    return match.group(1).lower(), row.quantity * factor


def _bedrock_drifts(
    calls: Sequence[CallRecord], bill: Bill, ledger_team_tag: str, estimated_days: set[date]
) -> list[Drift]:
    billed: dict[str, dict[str, Decimal]] = {}
    for row in bill.team_rows:
        team = row.team or UNTAGGED
        entry = billed.setdefault(team, {"usd": Decimal(0), "tokens": Decimal(0)})
        entry["usd"] += row.usd
        tokens = _tokens(row)
        if tokens is not None:
            entry["tokens"] += tokens[1]
    ours: dict[str, list[CallRecord]] = {}
    for call in calls:
        # Every per-token backend is billed by Bedrock (Converse, Mantle, the OpenAI chat path).
        if cost_basis_of(call.backend) is BackendCostBasis.PER_TOKEN and call.status != "reserved":
            ours.setdefault(call.tags.get(ledger_team_tag) or UNTAGGED, []).append(call)
    drifts = []
    for team in sorted(set(billed) | set(ours)):
        own = ours.get(team, [])
        got = billed.get(team, {"usd": Decimal(0), "tokens": Decimal(0)})
        drift = Drift(
            service="bedrock",
            name=f"team {team}",
            billed_usd=got["usd"],
            ledger_usd=sum((c.cost_usd or Decimal(0) for c in own), Decimal(0)),
            billed_quantity=got["tokens"],
            ledger_quantity=Decimal(sum(c.prompt_tokens + c.completion_tokens for c in own)),
            unit="tokens",
        )
        drift.causes = _bedrock_causes(drift, own, estimated_days)
        drifts.append(drift)
    return drifts


def _off(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) > max(abs(a), abs(b)) * TOLERANCE


def _bedrock_causes(drift: Drift, own: Sequence[CallRecord], estimated: set[date]) -> list[str]:
    if not _off(drift.billed_usd, drift.ledger_usd):
        return []
    causes = []
    unpriced = [c for c in own if c.cost_basis in ("pending", "unpriced")]
    if unpriced:
        regions = sorted({c.region or "REGION" for c in unpriced})
        fills = " / ".join(f"`gptoss-aws prices refresh --region {r}`" for r in regions)
        tokens = sum(c.prompt_tokens + c.completion_tokens for c in unpriced)
        causes.append(
            f"unpriced rows: {len(unpriced)} call(s), {tokens:,} tokens, have no price in the "
            f"ledger yet ({fills})"
        )
    if estimated:
        causes.append(
            "estimated usage: AWS still marks some of these days as estimated; the bill may change"
        )
    if drift.billed_quantity > drift.ledger_quantity and _off(
        drift.billed_quantity, drift.ledger_quantity
    ):
        extra = drift.billed_quantity - drift.ledger_quantity
        causes.append(
            f"calls outside the SDK: AWS billed {_qty(extra)} tokens the ledger never recorded "
            "(another client, the console, or a batch job using this profile)"
        )
    elif drift.ledger_quantity > drift.billed_quantity and _off(
        drift.billed_quantity, drift.ledger_quantity
    ):
        causes.append(
            "the ledger holds tokens AWS has not billed (yet): Cost Explorer lags up to a day, "
            "or the calls went through another profile or account"
        )
    elif not unpriced:
        sources = sorted({c.price_source or "?" for c in own})
        causes.append(
            "a price that has changed: the same tokens were billed at other rates than the "
            f"ledger's ({'; '.join(sources)}); run `gptoss-aws prices refresh`"
        )
    return causes


def _host_rows(bill: Bill) -> dict[tuple[str | None, str], dict[str, Any]]:
    found: dict[tuple[str | None, str], dict[str, Any]] = {}
    for row in bill.rows:
        if row.service != SAGEMAKER_SERVICE:
            continue
        match = _HOST.match(row.usage_type)
        if match is None:
            continue
        prefix = match.group("prefix")
        region = USAGE_PREFIX_REGIONS.get(prefix) if prefix else "us-east-1"
        entry = found.setdefault(
            (region, match.group("itype")), {"usd": Decimal(0), "hours": Decimal(0), "est": False}
        )
        entry["usd"] += row.usd
        entry["hours"] += row.quantity
        entry["est"] = entry["est"] or row.estimated
    return found


def _sagemaker_drifts(
    timelines: Sequence[InstanceTimeline],
    bill: Bill,
    start: datetime,
    end: datetime,
    price_lookup: Any,
) -> tuple[list[Drift], list[str]]:
    ours: dict[tuple[str | None, str], dict[str, Any]] = {}
    notes: list[str] = []
    for tl in timelines:
        for itype, seconds in tl.instance_seconds(start, end).items():
            entry = ours.setdefault(
                (tl.region, itype),
                {"usd": Decimal(0), "hours": Decimal(0), "estimated": False, "missing": None},
            )
            name = tl.endpoint + (f"/{tl.variant}" if tl.variant else "")
            entry.setdefault("endpoints", []).append(name)
            entry["hours"] += seconds / 3600
            entry["estimated"] = entry["estimated"] or tl.source == ESTIMATED_SOURCE
            try:
                price: InstancePrice = price_lookup(itype, tl.region)
            except UnpricedError as missing:
                entry["missing"] = missing
                continue
            entry["usd"] += seconds * price.usd_per_hour / 3600
            entry["source"] = price.describe()
    billed = _host_rows(bill)
    drifts = []
    for key in sorted(set(billed) | set(ours), key=str):
        region, itype = key
        got = billed.get(key, {"usd": Decimal(0), "hours": Decimal(0), "est": False})
        own = ours.get(key, {"usd": Decimal(0), "hours": Decimal(0), "estimated": False})
        endpoints = own.get("endpoints", [])
        drift = Drift(
            service="sagemaker",
            name=f"{itype} in {region or 'an unknown region'}",
            endpoints=tuple(sorted(endpoints)),
            billed_usd=got["usd"],
            ledger_usd=own["usd"],
            billed_quantity=got["hours"],
            ledger_quantity=own["hours"],
            unit="instance-hours",
        )
        if _off(drift.billed_usd, drift.ledger_usd):
            if own.get("missing") is not None:
                fix = own["missing"].fix or f"gptoss-aws prices refresh --region {region}"
                drift.causes.append(f"unpriced rows: no {itype} price in the ledger (`{fix}`)")
            if got["est"]:
                drift.causes.append("estimated usage: AWS still marks some days as estimated")
            if own["estimated"]:
                drift.causes.append(
                    "estimated usage: the instance timeline is the CloudWatch fallback, not "
                    "measured (give the reconciliation application-autoscaling access)"
                )
            if _off(drift.billed_quantity, drift.ledger_quantity):
                drift.causes.append(
                    "instances outside the timelines: AWS billed "
                    f"{_qty(drift.billed_quantity)} instance-hours, the timelines hold "
                    f"{_qty(drift.ledger_quantity)} (an endpoint the ledger does not know, or "
                    "a deleted one)"
                )
            elif own.get("missing") is None and drift.billed_quantity:
                rate = drift.billed_usd / drift.billed_quantity
                drift.causes.append(
                    f"a price that has changed: AWS billed {usd(rate, 4)}/hour, the ledger "
                    f"prices {own.get('source', '?')}"
                )
        drifts.append(drift)
    return drifts, notes


def reconcile(
    calls: Sequence[CallRecord],
    bill: Bill,
    *,
    since: date,
    until: date,
    timelines: Sequence[InstanceTimeline] = (),
    price_lookup: Any = None,
    ledger_team_tag: str = DEFAULT_LEDGER_TEAM_TAG,
) -> Reconciliation:
    """Compare ``calls`` (the ledger's, any window) and ``timelines`` with ``bill`` over the
    UTC days [since, until)."""
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC)
    in_window = [c for c in calls if start <= c.started_at.astimezone(UTC) < end]
    estimated = {r.day for r in bill.team_rows if r.estimated}
    drifts = _bedrock_drifts(in_window, bill, ledger_team_tag, estimated)
    unknown_units = sorted(
        {r.unit for r in bill.team_rows if _TOKENS.search(r.usage_type) and _tokens(r) is None}
    )
    if price_lookup is None:
        from gptoss_aws.pricing import PriceBook

        price_lookup = PriceBook.load().instance_price
    sm_drifts, notes = _sagemaker_drifts(timelines, bill, start, end, price_lookup)
    if unknown_units:
        notes.append(
            f"Bedrock token usage billed in unit(s) {unknown_units} is not compared as tokens "
            "(dollars still are)"
        )
    return Reconciliation(since, until, drifts + sm_drifts, bill, notes)


def billed_by_endpoint(
    allocation: Allocation, reconciliation: Reconciliation
) -> dict[tuple[str, str | None], Decimal]:
    """Split each billed (region, instance type) amount over the allocation's endpoints of
    that type in proportion to their own window cost."""
    billed = {d.name: d.billed_usd for d in reconciliation.drifts if d.service == "sagemaker"}
    groups: dict[str, list[Any]] = {}
    for window in allocation.endpoints:
        for itype in window.instance_seconds:
            groups.setdefault(f"{itype} in {window.region}", []).append(window)
    out: dict[tuple[str, str | None], Decimal] = {}
    for name, members in groups.items():
        amount = billed.get(name)
        if amount is None:
            continue
        ours = sum((w.exact_usd for w in members), Decimal(0))
        for window in members:
            share = amount * window.exact_usd / ours if ours else amount / len(members)
            key = (window.endpoint, window.variant)
            out[key] = out.get(key, Decimal(0)) + share
    return out


def reconcile_ledger(
    ledger: Any,
    since: date,
    until: date,
    *,
    ce_client: Any = None,
    tags: Mapping[str, str] | None = None,
    team_tag: str = DEFAULT_TEAM_TAG,
    ledger_team_tag: str = DEFAULT_LEDGER_TEAM_TAG,
    timelines: Sequence[InstanceTimeline] = (),
    price_lookup: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    now: datetime | None = None,
) -> Reconciliation:
    """The API behind ``gptoss-aws costs reconcile``: fetch (or reuse) the bill for the UTC
    days [since, until) and compare it with the ledger's calls and the given timelines."""
    bill = fetch_bill(
        ce_client, since, until, tags=tags, team_tag=team_tag, cache_dir=cache_dir,
        max_age=max_age, now=now,
    )  # fmt: skip
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC)
    calls = ledger.query(since=start, until=end)
    return reconcile(
        calls, bill, since=since, until=until, timelines=timelines, price_lookup=price_lookup,
        ledger_team_tag=ledger_team_tag,
    )  # fmt: skip


__all__ = [
    "CE_REGION",
    "Bill",
    "BillRow",
    "Drift",
    "Reconciliation",
    "billed_by_endpoint",
    "fetch_bill",
    "reconcile",
    "reconcile_ledger",
    "true_up",
]

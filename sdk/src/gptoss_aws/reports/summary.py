"""Cost reports: the ledger's calls grouped and summed, with exact totals and honest notes.

A report needs no pandas (the CLI prints it as it is); ``to_frame()`` gives a DataFrame when
the ``reports`` extra is installed. Costs:

- per-token calls (Bedrock, priced OpenAI-compatible servers): the cost settled at finish;
- SageMaker calls: their share of the endpoint's instance-hours over the report's window,
  from ``gptoss_aws.costing.allocation`` when an ``allocator`` is given (see
  ``timeline_allocator``), with one idle line per endpoint; without one they are counted as
  *pending allocation* and have no cost yet (never $0);
- calls whose price is *pending* (their AWS price was not known when they ran) have their
  tokens counted and no cost; the notes give the pending tokens and the one command that
  fills each missing price (``gptoss-aws prices refresh --region R``), which also prices the
  rows retroactively;
- unpriced calls have no cost; reconciled calls (their process died) carry their
  reservation's worst case and count as estimated.

Every report states how many calls were unpriced, estimated and pending, even when zero.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.reports._notes import fill_commands, report_notes
from gptoss_aws.reports.allocators import AllocateBy, Allocator, aws_allocator, timeline_allocator
from gptoss_aws.types import CallRecord
from gptoss_facts.text import render_table, usd

if TYPE_CHECKING:
    import pandas as pd

    from gptoss_aws.costing.allocation import Allocation

logger = logging.getLogger(__name__)

IDLE = "(idle)"
NONE = "(none)"
_RECORD_KEYS = (
    "backend", "model", "model_id", "endpoint", "variant", "inference_component",
    "instance_type", "region", "status", "cost_basis", "usage_source", "error_kind",
    "service_tier", "project",
)  # fmt: skip
_TIME_KEYS = ("hour", "day", "week", "month")
GROUP_KEYS_HELP = ", ".join((*_RECORD_KEYS, *_TIME_KEYS, "tags.<key>"))


def group_value(record: CallRecord, key: str) -> str:
    """The value of one ``by`` key for a call: a field, a tag, or a UTC time bucket."""
    if key.startswith("tags."):
        return record.tags.get(key[5:], NONE)
    if key in _TIME_KEYS:
        at = record.started_at.astimezone(UTC)
        if key == "hour":
            return f"{at:%Y-%m-%dT%H}:00Z"
        if key == "day":
            return f"{at:%Y-%m-%d}"
        if key == "week":  # the Monday it starts on, as budget weeks do
            return f"{(at - timedelta(days=at.weekday())):%Y-%m-%d}"
        return f"{at:%Y-%m}"
    value = getattr(record, key)
    return NONE if value is None else str(value)


def check_group_keys(by: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(by)
    for key in keys:
        if key in _RECORD_KEYS or key in _TIME_KEYS or (key.startswith("tags.") and key[5:]):
            continue
        raise ConfigurationError(f"cannot group by {key!r}: use {GROUP_KEYS_HELP}")
    return keys


@dataclass
class ReportRow:
    """One group. ``cost_usd`` sums the calls with a cost and is None when no call in the
    group has one (all unpriced, pending or in flight), so an unknown is never shown as $0."""

    key: tuple[str, ...]
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal | None = None
    unpriced_calls: int = 0
    estimated_calls: int = 0
    pending_allocation_calls: int = 0
    in_flight_calls: int = 0
    pending_price_calls: int = 0
    pending_price_tokens: int = 0
    idle: bool = False

    def add_cost(self, usd: Decimal) -> None:
        self.cost_usd = usd if self.cost_usd is None else self.cost_usd + usd

    def merge(self, other: ReportRow) -> None:
        for name in (
            "calls", "prompt_tokens", "completion_tokens", "reasoning_tokens", "unpriced_calls",
            "estimated_calls", "pending_allocation_calls", "in_flight_calls",
            "pending_price_calls", "pending_price_tokens",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.cost_usd is not None:
            self.add_cost(other.cost_usd)


COUNT_COLUMNS = (
    "calls", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cost_usd",
    "unpriced_calls", "estimated_calls", "pending_allocation_calls", "in_flight_calls",
    "pending_price_calls", "pending_price_tokens",
)  # fmt: skip


@dataclass
class CostReport:
    """A grouped cost report. ``str()`` is an aligned text table with a totals row and
    notes; notebooks show ``_repr_html_``; ``to_frame``/``to_csv``/``to_json`` export it."""

    by: tuple[str, ...]
    rows: list[ReportRow]
    total: ReportRow
    since: datetime | None
    until: datetime | None
    notes: list[str] = field(default_factory=list)
    allocation: Allocation | None = None
    # The commands that would fill every missing price behind a pending figure.
    fill_commands: tuple[str, ...] = ()

    def records(self) -> list[dict[str, Any]]:
        """Plain rows: group keys, then counts; cost_usd as exact text (or None)."""
        out = []
        for row in self.rows:
            item: dict[str, Any] = dict(zip(self.by, row.key, strict=True))
            for name in COUNT_COLUMNS:
                value = getattr(row, name)
                item[name] = (
                    None if value is None else (str(value) if name == "cost_usd" else value)
                )
            out.append(item)
        return out

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame with one row per group (cost_usd float, NaN when unknown);
        ``attrs`` holds the notes and the exact total."""
        try:
            import pandas as pd
        except ImportError as exc:  # the optional extra
            raise ImportError("DataFrames need pandas: pip install 'gptoss-aws[reports]'") from exc
        rows = self.records()
        for item in rows:
            item["cost_usd"] = float(item["cost_usd"]) if item["cost_usd"] is not None else None
        frame = pd.DataFrame(rows, columns=[*self.by, *COUNT_COLUMNS])
        frame["cost_usd"] = frame["cost_usd"].astype("float64")
        frame.attrs["notes"] = list(self.notes)
        frame.attrs["total_cost_usd"] = (
            None if self.total.cost_usd is None else str(self.total.cost_usd)
        )
        frame.attrs["unpriced_calls"] = self.total.unpriced_calls
        frame.attrs["estimated_calls"] = self.total.estimated_calls
        frame.attrs["pending_allocation_calls"] = self.total.pending_allocation_calls
        frame.attrs["pending_price_calls"] = self.total.pending_price_calls
        frame.attrs["fill_commands"] = list(self.fill_commands)
        return frame

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[*self.by, *COUNT_COLUMNS], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records())
        return buffer.getvalue()

    def to_json(self) -> str:
        document = {
            "by": list(self.by),
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "rows": self.records(),
            "total": {
                name: (
                    None
                    if getattr(self.total, name) is None
                    else str(getattr(self.total, name))
                    if name == "cost_usd"
                    else getattr(self.total, name)
                )
                for name in COUNT_COLUMNS
            },
            "notes": self.notes,
        }
        return json.dumps(document, indent=2)

    def table(self) -> tuple[list[str], list[list[str]], list[str]]:
        """Header, body cells and totals cells, formatted for display."""
        header = [*self.by, "calls", "prompt", "completion", "reasoning", "cost", "unpriced",
                  "estimated", "pending"]  # fmt: skip
        body = [self._cells(row, list(row.key)) for row in self.rows]
        totals = self._cells(self.total, ["TOTAL", *[""] * (len(self.by) - 1)] if self.by else [])
        return header, body, totals

    @staticmethod
    def _cells(row: ReportRow, keys: list[str]) -> list[str]:
        if row.cost_usd is not None:
            cost = usd_display(row.cost_usd)
        elif row.pending_allocation_calls or row.pending_price_calls:
            cost = "pending"
        elif row.unpriced_calls:
            cost = "unpriced"
        else:
            cost = "-"
        return [
            *keys,
            f"{row.calls:,}",
            f"{row.prompt_tokens:,}",
            f"{row.completion_tokens:,}",
            f"{row.reasoning_tokens:,}",
            cost,
            f"{row.unpriced_calls:,}",
            f"{row.estimated_calls:,}",
            f"{row.pending_allocation_calls + row.pending_price_calls:,}",
        ]

    def __str__(self) -> str:
        header, body, totals = self.table()
        rows = [header, *body, totals]
        rule = ["-" * max(len(r[i]) for r in rows) for i in range(len(header))]
        # Group keys read left to right; the counts and the cost line up on the right.
        numbers = range(len(self.by), len(header))
        table = render_table([header, rule, *body, rule, totals], right=numbers)
        lines = [self.title(), "", table, ""]
        lines += [f"* {note}" for note in self.notes]
        return "\n".join(lines)

    def title(self) -> str:
        since = self.since.isoformat() if self.since else "the first call"
        until = self.until.isoformat() if self.until else "now"
        grouped = f" by {', '.join(self.by)}" if self.by else ""
        return f"gpt-oss costs{grouped}, from {since} to {until} (UTC)"

    def _repr_html_(self) -> str:
        from gptoss_aws.reports._html import render_html

        return render_html(self)


def usd_display(amount: Decimal) -> str:
    """Four decimals (per-call costs are fractions of a cent); tiny non-zero amounts say so
    rather than round to $0.0000."""
    return usd(amount, 4, tiny=True)


def summarize(
    records: Iterable[CallRecord],
    by: Sequence[str] = ("model",),
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    allocate: AllocateBy = "tokens",
    allocator: Allocator | None = None,
) -> CostReport:
    """Group ``records`` by ``by`` and sum calls, tokens and costs (see the module doc)."""
    keys = check_group_keys(by)
    if allocate not in ("tokens", "output_tokens", "latency"):
        raise ConfigurationError(f"allocate must be tokens, output_tokens or latency: {allocate!r}")
    calls = [
        r
        for r in records
        if (since is None or r.started_at >= since) and (until is None or r.started_at < until)
    ]
    allocation, shares = allocate_shares(calls, since, until, allocate, allocator)
    groups: dict[tuple[str, ...], ReportRow] = {}
    for record in calls:
        key = tuple(group_value(record, k) for k in keys)
        row = groups.setdefault(key, ReportRow(key))
        _add_call(row, record, shares)
    rows = sorted(groups.values(), key=lambda r: r.key)
    if allocation is not None:
        rows += _idle_rows(allocation, keys)
    total = ReportRow(("TOTAL",))
    for row in rows:
        total.merge(row)
    report = CostReport(keys, rows, total, since, until, allocation=allocation)
    report.fill_commands = tuple(fill_commands(calls, allocation))
    report.notes = report_notes(report, calls)
    return report


def call_costs(
    calls: Sequence[CallRecord], shares: Mapping[str, Decimal] | None = None
) -> list[tuple[CallRecord, Decimal | None]]:
    """Each call with its cost: settled, allocated share, or None (unknown / in flight)."""
    out: list[tuple[CallRecord, Decimal | None]] = []
    for record in calls:
        if record.status == "reserved":
            out.append((record, None))
        elif record.cost_basis == "instance_hours":
            out.append((record, (shares or {}).get(record.id)))
        else:
            out.append((record, record.cost_usd))
    return out


def _add_call(row: ReportRow, record: CallRecord, shares: Mapping[str, Decimal]) -> None:
    if record.status == "reserved":
        row.in_flight_calls += 1  # not finished: no usage or cost yet
        return
    row.calls += 1
    row.prompt_tokens += record.prompt_tokens
    row.completion_tokens += record.completion_tokens
    row.reasoning_tokens += record.reasoning_tokens
    if record.usage_source == "estimated":
        row.estimated_calls += 1
    if record.cost_basis == "unpriced":
        row.unpriced_calls += 1
    elif record.cost_basis == "pending":
        row.pending_price_calls += 1
        row.pending_price_tokens += record.prompt_tokens + record.completion_tokens
    elif record.cost_basis == "instance_hours":
        share = shares.get(record.id)
        if share is None:
            row.pending_allocation_calls += 1
        else:
            row.add_cost(share)
    elif record.cost_usd is not None:
        row.add_cost(record.cost_usd)


def allocate_shares(
    calls: Sequence[CallRecord],
    since: datetime | None,
    until: datetime | None,
    weight: AllocateBy,
    allocator: Allocator | None,
) -> tuple[Allocation | None, dict[str, Decimal]]:
    sagemaker = [c for c in calls if c.cost_basis == "instance_hours" and c.status != "reserved"]
    # A window with no SageMaker call still costs what its endpoints ran: with a stated
    # window the allocator runs anyway, and those endpoints' whole cost is the idle line.
    if allocator is None or (not sagemaker and since is None):
        return None, {}
    start = since or min(c.started_at for c in sagemaker)
    end = until or datetime.now(UTC)
    if end <= start:
        return None, {}
    allocation = allocator(sagemaker, start, end, weight)
    shares = {
        line.call_id: line.usd
        for line in allocation.lines
        if line.kind == "call" and line.call_id is not None
    }
    return allocation, shares


def _idle_rows(allocation: Allocation, keys: Sequence[str]) -> list[ReportRow]:
    rows = []
    for line in allocation.lines:
        if line.kind != "idle":
            continue
        key = []
        for k in keys:
            if k == "endpoint":
                key.append(f"{line.endpoint} {IDLE}")
            elif k == "variant":
                key.append(line.variant or NONE)
            elif k == "backend":
                key.append("sagemaker")
            elif k == "cost_basis":
                key.append("instance_hours")
            else:
                key.append(IDLE)
        # The idle line must never read like a group of calls.
        if not key:
            key.append(IDLE)
        elif not any(IDLE in value for value in key):
            key[-1] = f"{key[-1]} {IDLE}"
        rows.append(ReportRow(tuple(key), cost_usd=line.usd, idle=True))
    return rows


__all__ = [
    "IDLE",
    "AllocateBy",
    "Allocator",
    "CostReport",
    "ReportRow",
    "aws_allocator",
    "call_costs",
    "check_group_keys",
    "group_value",
    "summarize",
    "timeline_allocator",
    "usd_display",
]

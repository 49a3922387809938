"""The ``Ledger`` protocol both backends implement, and the rules they share.

Life of a row: ``reserve`` inserts it with status ``reserved`` before the call is sent
(after checking hard budgets against everything charged in their period, atomically);
``settle`` replaces it by the final row (``ok``, ``error`` or ``aborted``) when the call
ends. ``record`` writes a final row with no reservation (imports, back-fills).

Reconciliation: a reservation whose process died (SIGKILL, OOM, power) is never settled.
``reconcile(stale_after)`` turns such rows into status ``aborted`` with
``error_kind="reconciled:process_gone"`` (its process id no longer runs on this host) or
``"reconciled:stale"`` (older than ``stale_after``; the only test possible for another
host's calls). The row keeps its reservation and keeps charging budgets with it: the call
may have been answered and billed up to its worst case before the process died, so the
reservation is the only safe figure. Its ``cost_usd`` is that worst case too (for
per-token calls), flagged ``usage_source="estimated"``; reports count it among the
estimated calls. The row is updated in place: it never vanishes, and since a row charges
either its reservation or its settled figure, never both, nothing is counted twice. If
the call does finish later (a slow stream reconciled as stale), its ``settle`` replaces
the aborted row with the real one.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, get_args, runtime_checkable

from gptoss_aws.backends.registry import backend_names
from gptoss_aws.budgets import Budget
from gptoss_aws.errors import (
    BudgetExceededError,
    BudgetWarning,
    ConfigurationError,
    InvalidRecordError,
)
from gptoss_aws.pricing.regions import SERVICE_TIERS
from gptoss_aws.types import CallRecord, CallStatus, CostBasis

if TYPE_CHECKING:
    import pandas as pd

    from gptoss_aws.ledger._pending import PendingFill, PendingPrices
    from gptoss_aws.reports.summary import Allocator, CostReport

# Soft-budget warnings are logged under the budgets module's name, where users look for them.
logger = logging.getLogger("gptoss_aws.budgets")

AllocateBy = Literal["tokens", "output_tokens", "latency"]

RECONCILED_PREFIX = "reconciled:"
FINAL_STATUSES: frozenset[str] = frozenset({"ok", "error", "aborted"})

# Budget sums in SQLite are integers of nano-USD, each row's charge rounded *up*: integer
# sums are exact and fast, and rounding up keeps "never over the limit" true of the exact
# figures. 1e-9 USD is finer than any per-token price (gpt-oss-20b on Bedrock is 7e-8 USD
# per input token), and an int64 of nano-USD holds 9.2 billion USD.
NANO = Decimal(10) ** 9


@dataclass(frozen=True)
class Charge:
    """What one row counts against budgets: USD (None when the call has no per-call price:
    SageMaker or unpriced) and tokens."""

    usd: Decimal | None
    tokens: int


def is_reconciled(record: CallRecord) -> bool:
    return record.status == "aborted" and (record.error_kind or "").startswith(RECONCILED_PREFIX)


def charge_of(record: CallRecord) -> Charge:
    """A reservation (or a reconciled one) charges its worst case; a settled row, its
    actual cost and tokens (completion tokens include reasoning tokens)."""
    if record.status == "reserved" or is_reconciled(record):
        return Charge(record.reserved_usd, record.reserved_tokens or 0)
    usd = record.cost_usd if record.cost_basis == "per_token" else None
    return Charge(usd, record.prompt_tokens + record.completion_tokens)


def usd_to_nano(amount: Decimal) -> int:
    return int((amount * NANO).to_integral_value(rounding=ROUND_CEILING))


def limit_in_units(budget: Budget) -> int:
    """A budget's limit in the integer unit its sums use (nano-USD or tokens), rounded down."""
    if budget.unit == "tokens":
        return int(budget.limit)
    return int((budget.limit * NANO).to_integral_value(rounding=ROUND_FLOOR))


def requested_units(budget: Budget, record: CallRecord) -> int | None:
    """What a reservation asks of a budget, in its integer unit; None if it has no figure
    in that unit (a USD budget and a SageMaker or unpriced call)."""
    charge = charge_of(record)
    if budget.unit == "tokens":
        return charge.tokens
    return None if charge.usd is None else usd_to_nano(charge.usd)


def to_budget_amount(budget: Budget, units: int) -> Decimal:
    return Decimal(units) if budget.unit == "tokens" else Decimal(units) / NANO


def utcnow() -> datetime:
    return datetime.now(UTC)


def reconciled_record(record: CallRecord, reason: str, now: datetime) -> CallRecord:
    """The aborted row that replaces a dead or stale reservation (see the module doc)."""
    return record.model_copy(
        update={
            "status": "aborted",
            "ended_at": now,
            "error_kind": RECONCILED_PREFIX + reason,
            "usage_source": "estimated",
            "cost_usd": record.reserved_usd if record.cost_basis == "per_token" else None,
        }
    )


@dataclass(frozen=True)
class BudgetUsage:
    """A budget's standing in the period holding ``at``."""

    budget: Budget
    period_start: datetime | None
    period_end: datetime | None
    settled: Decimal  # charged by settled and reconciled rows
    reserved: Decimal  # held by calls in flight

    @property
    def charged(self) -> Decimal:
        return self.settled + self.reserved

    @property
    def remaining(self) -> Decimal:
        return self.budget.limit - self.charged


@dataclass
class BudgetCheck:
    """Soft-budget warnings to emit once the reservation is committed (a hard budget later
    in the list may still refuse the call, and then nothing happened to warn about)."""

    warnings: list[str]

    def emit(self) -> None:
        for message in self.warnings:
            logger.warning(message)
            warnings.warn(message, BudgetWarning, stacklevel=4)


def check_budgets(
    record: CallRecord,
    budgets: Sequence[Budget],
    charged: Callable[[Budget], int],
    *,
    hard_checked_elsewhere: bool = False,
) -> BudgetCheck:
    """Raise BudgetExceededError for the first hard budget the reservation would take over
    its limit; collect warnings for soft ones. ``charged(budget)`` is what the budget's
    period already holds (settled + reserved) in integer units; the caller runs this inside
    the transaction that inserts the row, which is what makes it atomic."""
    soft: list[str] = []
    for budget in budgets:
        if not budget.applies_to(record):
            continue
        requested = requested_units(budget, record)
        if requested is None:
            if budget.mode == "hard":
                raise ConfigurationError(
                    f"{budget.describe()} covers this {record.backend} call, which has no "
                    f"per-call USD price (cost basis {record.cost_basis}); a hard USD budget "
                    "cannot bound it. Narrow the budget (backend='bedrock'), use unit='tokens', "
                    "or make it soft."
                )
            continue
        if budget.mode == "hard" and hard_checked_elsewhere:
            continue
        current = charged(budget)
        if current + requested <= limit_in_units(budget):
            continue
        message = exceeded_message(budget, record, current, requested)
        if budget.mode == "hard":
            raise BudgetExceededError(
                message,
                budget=budget.name,
                limit=float(budget.limit),
                spent=float(to_budget_amount(budget, current)),
            )
        soft.append(message)
    return BudgetCheck(soft)


def exceeded_message(budget: Budget, record: CallRecord, current: int, requested: int) -> str:
    start, _ = budget.period_bounds(record.started_at)
    since = f" since {start:%Y-%m-%d} UTC" if start else ""

    def fmt(units: int) -> str:
        amount = to_budget_amount(budget, units)
        return f"${amount.normalize():f}" if budget.unit == "usd" else f"{amount} tokens"

    verb = "refused" if budget.mode == "hard" else "over budget (soft, call allowed)"
    return (
        f"{verb}: {budget.describe()}: spent {fmt(current)}{since} (settled and in flight) "
        f"+ requested {fmt(requested)} (this call's worst case) "
        f"> limit {fmt(limit_in_units(budget))}"
    )


def validate_record(record: CallRecord, *, final: bool | None = None) -> CallRecord:
    """Check a row before any write; raise InvalidRecordError listing every problem.

    ``final``: True for settle/record (status must be ok, error or aborted), False for
    reserve. Returns the record with amounts normalised to Decimal.
    """
    problems: list[str] = []

    def check_choice(field: str, value: object, allowed: tuple[object, ...]) -> None:
        if value not in allowed:
            problems.append(f"{field} must be one of {list(allowed)}, got {value!r}")

    check_choice("backend", record.backend, backend_names())
    check_choice("status", record.status, get_args(CallStatus))
    check_choice("cost_basis", record.cost_basis, get_args(CostBasis))
    check_choice("usage_source", record.usage_source, ("reported", "estimated"))
    if not isinstance(record.id, str) or not record.id:
        problems.append("id must be a non-empty string")
    if not isinstance(record.model, str) or not record.model:
        problems.append("model must be a non-empty string")
    for field in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
        _check_count(problems, field, getattr(record, field), optional=False)
    _check_count(problems, "reserved_tokens", record.reserved_tokens, optional=True)
    if (
        isinstance(record.reasoning_tokens, int)
        and isinstance(record.completion_tokens, int)
        and record.reasoning_tokens > record.completion_tokens
    ):
        problems.append(
            f"reasoning_tokens ({record.reasoning_tokens}) cannot exceed completion_tokens "
            f"({record.completion_tokens}), which include them"
        )
    if record.process_id is not None and (
        not isinstance(record.process_id, int) or record.process_id <= 0
    ):
        problems.append(f"process_id must be a positive integer, got {record.process_id!r}")
    amounts: dict[str, Decimal | None] = {}
    for field in ("cost_usd", "reserved_usd"):
        amounts[field] = _check_amount(problems, field, getattr(record, field))
    _check_times(problems, record)
    if not isinstance(record.tags, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in record.tags.items()
    ):
        problems.append(f"tags must map non-empty strings to strings, got {record.tags!r}")
    _check_cost_and_status(problems, record, final)
    if problems:
        raise InvalidRecordError(
            f"call record {record.id!r} refused, nothing written: " + "; ".join(problems)
        )
    return record.model_copy(update={k: v for k, v in amounts.items() if v is not None})


def _check_times(problems: list[str], record: CallRecord) -> None:
    for field in ("latency_ms", "ttft_ms"):
        value = getattr(record, field)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            problems.append(f"{field} must be a finite number >= 0, got {value!r}")
    for field in ("started_at", "ended_at"):
        value = getattr(record, field)
        if field == "ended_at" and value is None:
            continue
        if not isinstance(value, datetime) or value.tzinfo is None:
            problems.append(f"{field} must be a timezone-aware datetime, got {value!r}")


def _check_cost_and_status(problems: list[str], record: CallRecord, final: bool | None) -> None:
    if record.cost_basis == "unpriced" and record.cost_usd is not None:
        problems.append("an unpriced call cannot carry cost_usd (unpriced is never a silent $0)")
    if record.cost_basis == "pending" and record.cost_usd is not None:
        problems.append("a call whose price is pending cannot carry cost_usd")
    for field in ("service_tier", "service_tier_requested"):
        value = getattr(record, field)
        if value is not None and value not in SERVICE_TIERS:
            problems.append(f"{field} must be one of {list(SERVICE_TIERS)} or None, got {value!r}")
    if (
        record.cost_basis == "per_token"
        and record.status in FINAL_STATUSES
        and record.cost_usd is None
    ):
        problems.append("a settled per-token call needs cost_usd")
    if final is True and record.status not in FINAL_STATUSES:
        problems.append(f"a settled row needs status ok, error or aborted, not {record.status!r}")
    if final is False and record.status != "reserved":
        problems.append(f"a reservation needs status 'reserved', not {record.status!r}")


def _check_count(problems: list[str], field: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{field} must be an integer >= 0, got {value!r}")


def _check_amount(problems: list[str], field: str, value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        problems.append(f"{field} must be a Decimal, got {value!r}")
        return None
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    if not amount.is_finite() or amount < 0:
        problems.append(f"{field} must be a finite amount >= 0, got {value!r}")
        return None
    return amount


@runtime_checkable
class Ledger(Protocol):
    """Where calls are recorded: ``SQLiteLedger`` (default) or ``DynamoDBLedger``."""

    def reserve(self, record: CallRecord, budgets: Sequence[Budget] = ()) -> CallRecord:
        """Atomically check every applicable hard budget against settled spend + open
        reservations in its period and insert ``record`` as a reservation, or raise
        BudgetExceededError (and write nothing). Soft budgets only warn."""
        ...

    def settle(self, record: CallRecord) -> None:
        """Replace the reservation with the final row, in one transaction; idempotent."""
        ...

    def record(self, record: CallRecord) -> None:
        """Write a final row that had no reservation."""
        ...

    def query(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        backend: str | None = None,
        model: str | None = None,
        endpoint: str | None = None,
        tags: Mapping[str, str] | None = None,
        status: str | Sequence[str] | None = None,
    ) -> list[CallRecord]:
        """Rows that started in [since, until) and match every filter, oldest first."""
        ...

    def reconcile(self, stale_after: timedelta) -> list[CallRecord]:
        """Turn dead or stale reservations into aborted rows (see the module doc)."""
        ...

    def pending_rows(self) -> list[CallRecord]:
        """Settled rows whose price is pending (cost basis "pending"), oldest first."""
        ...

    def fill_pending(self, record: CallRecord) -> bool:
        """Replace a pending row by its priced version, in one transaction, only if it is
        still pending (False if someone priced it meanwhile)."""
        ...

    def price_pending(self, prices: PendingPrices) -> PendingFill:
        """Price every pending row at the price in force when it ran (see ``pending``)."""
        ...

    def budget_usage(self, budget: Budget, at: datetime | None = None) -> BudgetUsage:
        """What the budget's period holding ``at`` (default now) has charged so far."""
        ...

    def summary(
        self,
        by: Sequence[str] = ("model",),
        since: datetime | None = None,
        until: datetime | None = None,
        allocate: AllocateBy = "tokens",
        allocator: Allocator | None = None,
    ) -> pd.DataFrame: ...

    def report(
        self,
        by: Sequence[str] = ("model",),
        since: datetime | None = None,
        until: datetime | None = None,
        allocate: AllocateBy = "tokens",
        allocator: Allocator | None = None,
    ) -> CostReport: ...

    def close(self) -> None: ...


class ReportsMixin:
    """``summary``, ``report`` and ``price_pending`` for any ledger, built on its ``query``,
    ``pending_rows`` and ``fill_pending``."""

    def query(self, *args: Any, **kwargs: Any) -> list[CallRecord]:
        raise NotImplementedError

    def pending_rows(self) -> list[CallRecord]:
        raise NotImplementedError

    def fill_pending(self, record: CallRecord) -> bool:
        raise NotImplementedError

    def price_pending(self, prices: PendingPrices) -> PendingFill:
        from gptoss_aws.ledger._pending import price_pending

        return price_pending(cast("Ledger", self), prices)

    def report(
        self,
        by: Sequence[str] = ("model",),
        since: datetime | None = None,
        until: datetime | None = None,
        allocate: AllocateBy = "tokens",
        allocator: Allocator | None = None,
    ) -> CostReport:
        """The cost report as an object: ``str()`` is a text table, notebooks render it as
        HTML, ``to_frame()`` gives the DataFrame. Needs no pandas."""
        from gptoss_aws.reports.summary import summarize

        records = self.query(since=since, until=until)
        return summarize(
            records, by=by, since=since, until=until, allocate=allocate, allocator=allocator
        )

    def summary(
        self,
        by: Sequence[str] = ("model",),
        since: datetime | None = None,
        until: datetime | None = None,
        allocate: AllocateBy = "tokens",
        allocator: Allocator | None = None,
    ) -> pd.DataFrame:
        """Calls, tokens and cost grouped by ``by`` (fields such as ``model``, ``backend``,
        ``endpoint``, ``status``, ``day``/``week``/``month``, or ``tags.<key>``), as a
        pandas DataFrame (the ``reports`` extra). ``df.attrs["notes"]`` says how many calls
        were unpriced, estimated or awaiting SageMaker allocation."""
        return self.report(
            by=by, since=since, until=until, allocate=allocate, allocator=allocator
        ).to_frame()

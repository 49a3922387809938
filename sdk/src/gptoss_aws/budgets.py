"""Spending limits: in USD or tokens, per tag scope and calendar period, hard or soft.

A *hard* budget refuses a call before it is made: the tracker reserves the call's worst
case (prompt estimate at the input price + ``max_tokens`` at the output price, or the same
counts in tokens) in the ledger, atomically with the check against everything already
charged in the period, and settles the actual figure when the call ends. A *soft* budget
never refuses; it warns (``BudgetWarning`` and a log line) when a call takes it over.

What a row charges against a budget (see ``ledger.base.charge_of``): the reservation's
worst case while the call is in flight; the actual cost or tokens once settled; the worst
case again if the call was reconciled as aborted (its process died, so the real usage is
unknown and could be as large as the reservation).

Periods are UTC calendar periods, whatever the local time zone, so that every process and
machine sharing a ledger agrees on them: ``day`` starts at 00:00 UTC, ``week`` on Monday
00:00 UTC (ISO 8601 weeks), ``month`` on the 1st at 00:00 UTC; ``total`` never resets. A
call belongs to the period in which it started.

USD budgets and SageMaker: a SageMaker call has no per-call price (the endpoint is billed
by instance-hour, and a call's share is only known once a report allocates a window), so
a USD budget never counts SageMaker calls. A *hard* USD budget that would cover a
SageMaker call is refused with ``ConfigurationError`` (here if the budget names the
sagemaker backend, otherwise at ``Tracker.begin`` before anything is sent or written);
token budgets cover SageMaker calls like any other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gptoss_aws.backends.registry import BackendCostBasis, backend_names, cost_basis_of, title_of
from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.types import Backend, CallRecord

logger = logging.getLogger(__name__)

BudgetUnit = Literal["usd", "tokens"]
BudgetPeriod = Literal["day", "week", "month", "total"]
BudgetMode = Literal["hard", "soft"]


class Budget(BaseModel):
    """One limit. ``scope`` holds tags that must all match a call's tags (empty: every call);
    ``backend`` and ``model`` narrow it further when set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    limit: Decimal
    unit: BudgetUnit = "usd"
    period: BudgetPeriod = "month"
    scope: dict[str, str] = Field(default_factory=dict)
    backend: Backend | None = None  # a registered backend's name
    model: str | None = None
    mode: BudgetMode = "hard"

    def __init__(self, **data: Any) -> None:
        # Budgets are configuration: refuse bad ones with the package's ConfigurationError
        # (a ValueError) rather than pydantic's, naming the budget and each bad field.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = "; ".join(
                (".".join(str(p) for p in err["loc"]) + ": " if err["loc"] else "") + err["msg"]
                for err in exc.errors()
            )
            raise ConfigurationError(f"bad budget {data.get('name')!r}: {problems}") from None

    @field_validator("limit", mode="before")
    @classmethod
    def _exact_limit(cls, value: Any) -> Any:
        # TOML and JSON give floats: go through str so 0.1 stays 0.1, not 0.1000000000000000055.
        if isinstance(value, float):
            return Decimal(str(value))
        return value

    @model_validator(mode="after")
    def _check(self) -> Budget:
        if not self.limit.is_finite() or self.limit < 0:
            raise ValueError(f"budget {self.name!r}: limit must be a finite number >= 0")
        if self.unit == "tokens" and self.limit != self.limit.to_integral_value():
            raise ValueError(f"budget {self.name!r}: a token limit must be a whole number")
        if self.unit == "usd" and self.mode == "hard" and self._instance_hours():
            title = title_of(str(self.backend))
            raise ValueError(
                f"budget {self.name!r}: a hard USD budget cannot cover {title} calls: an "
                "endpoint is billed by instance-hour and a call's share is only known when a "
                "report allocates a window, so there is no per-call price to reserve. Use a "
                "token budget (unit='tokens') or mode='soft'."
            )
        return self

    def _instance_hours(self) -> bool:
        return (
            self.backend is not None
            and cost_basis_of(self.backend) is BackendCostBasis.INSTANCE_HOURS
        )

    def applies_to(self, record: CallRecord) -> bool:
        """Whether a call falls under this budget's scope and filters (not its period)."""
        if self.backend is not None and record.backend != self.backend:
            return False
        if self.model is not None and record.model != self.model:
            return False
        return all(record.tags.get(k) == v for k, v in self.scope.items())

    def period_bounds(self, at: datetime) -> tuple[datetime | None, datetime | None]:
        """The UTC calendar period holding ``at``: [start, end), None for unbounded."""
        if at.tzinfo is None:
            raise ConfigurationError("budget periods need timezone-aware times")
        at = at.astimezone(UTC)
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "day":
            return day, day + timedelta(days=1)
        if self.period == "week":
            start = day - timedelta(days=day.weekday())  # Monday, as in ISO 8601
            return start, start + timedelta(days=7)
        if self.period == "month":
            start = day.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1)
            return start, end
        return None, None

    def fingerprint(self) -> str:
        """Identity of what the budget counts (not its limit or mode): raising a limit keeps
        the spend already counted; changing the scope starts a new count."""
        key = {
            "name": self.name,
            "unit": self.unit,
            "period": self.period,
            "scope": dict(sorted(self.scope.items())),
            "backend": self.backend,
            "model": self.model,
        }
        return json.dumps(key, sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        amount = f"${self.limit}" if self.unit == "usd" else f"{self.limit} tokens"
        parts = [f"{amount} per {self.period}" if self.period != "total" else f"{amount} in total"]
        if self.scope:
            parts.append("tags " + ", ".join(f"{k}={v}" for k, v in sorted(self.scope.items())))
        if self.backend:
            parts.append(f"backend {self.backend}")
        if self.model:
            parts.append(f"model {self.model}")
        return f"{self.mode} budget {self.name!r} ({'; '.join(parts)})"


def make_budgets(items: Iterable[Mapping[str, Any] | Budget]) -> list[Budget]:
    """Budgets from dicts (or Budgets), with a ConfigurationError naming the bad one."""
    budgets: list[Budget] = []
    for index, item in enumerate(items):
        if isinstance(item, Budget):
            budgets.append(item)
            continue
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"budget #{index + 1} is not a table/object: {item!r}")
        try:
            budgets.append(Budget(**{str(k): v for k, v in item.items()}))
        except (InvalidOperation, TypeError) as exc:
            raise ConfigurationError(f"bad budget #{index + 1}: {exc}") from exc
    names = [b.name for b in budgets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"budget names must be unique; repeated: {duplicates}")
    return budgets


def load_budgets(path: str | Path) -> list[Budget]:
    """Read budgets from a TOML file (``[[budget]]`` tables) or a JSON file (a list, or
    ``{"budgets": [...]}``)::

        [[budget]]
        name = "team-a"
        limit = "50.00"        # a string keeps the figure exact
        unit = "usd"
        period = "month"
        mode = "hard"
        scope = { team = "a" }
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read budgets file {path}: {exc}") from exc
    data: Any
    if path.suffix.lower() == ".toml":
        import tomllib  # Python 3.11+; the SDK's own environment is 3.11

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: invalid TOML: {exc}") from exc
        items = data.get("budget", data.get("budgets", []))
    else:
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path}: invalid JSON: {exc}") from exc
        items = data.get("budgets", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ConfigurationError(f"{path}: expected a list of budgets")
    return make_budgets(items)


def check_hard_usd_budgets(
    budgets: Iterable[Budget], record: CallRecord, missing: UnpricedError | None
) -> None:
    """Refuse, before anything is sent or written, a call a hard USD budget covers but
    cannot reserve: its price is pending (``missing`` says why), it has none, or it is
    billed by instance-hour (no per-call price)."""
    for budget in budgets:
        if budget.unit != "usd" or budget.mode != "hard" or not budget.applies_to(record):
            continue
        if record.cost_basis == "pending":
            fix = (missing.fix if missing is not None else None) or (
                f"gptoss-aws prices refresh --region {record.region}"
            )
            error = UnpricedError(
                f"{budget.describe()} covers this call and must reserve its worst case, "
                f"but its price is not known ({missing}). Fill it with `{fix}` (or a price "
                "override), or narrow the budget; without a hard USD budget the call "
                "would go ahead with its cost pending."
            )
            error.fix, error.region = fix, record.region
            raise error
        if record.cost_basis == "unpriced":
            raise UnpricedError(
                f"{budget.describe()} covers this call, which has no price: a hard USD "
                "budget cannot bound an unpriced call. Add a price, or narrow the budget."
            )
        if record.cost_basis == "instance_hours":
            title = title_of(record.backend)
            others = " or ".join(
                repr(name)
                for name in backend_names()
                if cost_basis_of(name) is not BackendCostBasis.INSTANCE_HOURS
            )
            raise ConfigurationError(
                f"{budget.describe()} covers this {title} call, but a {title} call has "
                "no per-call price (the endpoint is billed by instance-hour and a call's "
                "share is only known when a report allocates a window), so a hard USD "
                f"budget cannot reserve it. Give the budget backend={others}, "
                "use unit='tokens', or make it soft."
            )

"""Budgets: definitions, UTC periods, files, and hard/soft enforcement through the ledger."""

from __future__ import annotations

import json
import random
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gptoss_aws.budgets import Budget, load_budgets, make_budgets
from gptoss_aws.errors import BudgetExceededError, BudgetWarning, ConfigurationError
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.ledger._schema import iso
from gptoss_aws.types import CallRecord


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def call(usd: str | None = "0.40", tokens: int = 1000, **changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "backend": "bedrock",
        "model": "gpt-oss-120b",
        "region": "us-east-1",
        "tags": {"team": "a"},
        "status": "reserved",
        "cost_basis": "per_token",
        "reserved_usd": None if usd is None else Decimal(usd),
        "reserved_tokens": tokens,
    }
    fields.update(changes)
    return CallRecord.model_validate(fields)


def settle(record: CallRecord, usd: str, prompt: int = 100, completion: int = 50) -> CallRecord:
    return record.model_copy(
        update={
            "status": "ok",
            "cost_usd": Decimal(usd),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
        }
    )


@pytest.mark.parametrize(
    ("period", "moment", "start", "end"),
    [
        ("day", "2026-11-01T23:59:59", "2026-11-01T00:00:00", "2026-11-02T00:00:00"),
        ("week", "2026-11-01T10:00:00", "2026-10-26T00:00:00", "2026-11-02T00:00:00"),  # Sunday
        ("week", "2026-11-02T00:00:00", "2026-11-02T00:00:00", "2026-11-09T00:00:00"),  # Monday
        ("month", "2026-12-31T23:00:00", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("month", "2028-02-29T12:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
    ],
)
def test_periods_are_utc_calendar_periods(period: str, moment: str, start: str, end: str) -> None:
    budget = Budget(name="b", limit=Decimal(1), period=period)
    assert budget.period_bounds(at(moment)) == (at(start), at(end))


def test_a_local_time_falls_in_its_utc_period() -> None:
    budget = Budget(name="b", limit=Decimal(1), period="day")
    tokyo = datetime(2026, 11, 2, 8, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Tokyo")
    )  # 17:00 on Nov 2 in Tokyo, 08:00 UTC
    assert budget.period_bounds(tokyo)[0] == at("2026-11-02T00:00:00")
    assert Budget(name="t", limit=Decimal(1), period="total").period_bounds(tokyo) == (None, None)


def test_scope_backend_and_model_filters() -> None:
    budget = Budget(name="b", limit=Decimal(1), scope={"team": "a"}, model="gpt-oss-120b")
    assert budget.applies_to(call())
    assert not budget.applies_to(call(tags={"team": "b"}))
    assert not budget.applies_to(call(model="gpt-oss-20b"))
    assert Budget(name="all", limit=Decimal(1)).applies_to(call(tags={}))
    assert not Budget(name="s", limit=Decimal(1), backend="openai").applies_to(call())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit": "-1"}, "limit must be"),
        ({"limit": "NaN"}, "limit.*finite"),
        ({"limit": "10.5", "unit": "tokens"}, "whole number"),
        ({"period": "year"}, "period"),
        ({"backend": "sagemaker"}, "hard USD budget cannot cover SageMaker"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_budgets_are_configuration_errors(fields: dict[str, object], message: str) -> None:
    definition: dict[str, object] = {"name": "b", "limit": "1"}
    definition.update(fields)
    with pytest.raises(ConfigurationError, match=message):
        Budget(**definition)


def test_soft_usd_and_token_budgets_may_cover_sagemaker() -> None:
    Budget(name="s", limit=Decimal(1), backend="sagemaker", mode="soft")
    Budget(name="t", limit=Decimal(1000), backend="sagemaker", unit="tokens")


def test_budgets_load_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "budgets.toml"
    toml.write_text(
        '[[budget]]\nname = "team-a"\nlimit = "50.00"\nscope = { team = "a" }\n\n'
        '[[budget]]\nname = "tokens"\nlimit = 1000000\nunit = "tokens"\nperiod = "day"\n'
        'mode = "soft"\n\n'
        '[[budget]]\nname = "float"\nlimit = 0.1\n',
        encoding="utf-8",
    )
    team, tokens, floaty = load_budgets(toml)
    assert team.limit == Decimal("50.00")
    assert team.scope == {"team": "a"}
    assert (team.unit, team.period, team.mode) == ("usd", "month", "hard")
    assert (tokens.unit, tokens.period, tokens.mode) == ("tokens", "day", "soft")
    assert floaty.limit == Decimal("0.1")  # not 0.1000000000000000055511151231257827
    as_json = tmp_path / "budgets.json"
    as_json.write_text(json.dumps({"budgets": [{"name": "j", "limit": 0.3}]}), encoding="utf-8")
    assert load_budgets(as_json)[0].limit == Decimal("0.3")
    as_json.write_text(json.dumps([{"name": "j", "limit": 2}]), encoding="utf-8")
    assert load_budgets(as_json)[0].limit == 2


def test_bad_budget_files_say_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "b.toml"
    bad.write_text("[[budget]]\nname = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"'x'.*limit"):
        load_budgets(bad)
    bad.write_text("not toml [", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        load_budgets(bad)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_budgets(tmp_path / "missing.toml")
    with pytest.raises(ConfigurationError, match="unique"):
        make_budgets([{"name": "a", "limit": 1}, {"name": "a", "limit": 2}])


@pytest.fixture
def ledger(tmp_path: Path) -> SQLiteLedger:
    return SQLiteLedger(tmp_path / "ledger.sqlite3")


def test_a_hard_budget_counts_settled_and_in_flight_and_refuses_past_its_limit(
    ledger: SQLiteLedger,
) -> None:
    budget = Budget(name="team-a", limit=Decimal("1.00"), scope={"team": "a"})
    first = ledger.reserve(call("0.40"), [budget])
    ledger.settle(settle(first, "0.30"))  # the actual is less than the worst case
    ledger.reserve(call("0.50"), [budget])  # in flight: 0.30 + 0.50 held
    with pytest.raises(BudgetExceededError) as refused:
        ledger.reserve(call("0.25"), [budget])
    error = refused.value
    assert error.budget == "team-a"
    assert error.limit == 1.0
    assert error.spent == pytest.approx(0.80)
    assert "requested $0.25" in str(error)
    assert "limit $1" in str(error)
    # The refused call wrote nothing; a call that fits still goes through.
    assert len(ledger.query()) == 2
    ledger.reserve(call("0.20"), [budget])
    usage = ledger.budget_usage(budget)
    assert usage.settled == Decimal("0.30")
    assert usage.reserved == Decimal("0.70")
    assert usage.remaining == 0
    # Other teams and other periods are not charged to it.
    ledger.reserve(call("5", tags={"team": "b"}), [budget])
    last_month = datetime.now(UTC) - timedelta(days=40)
    ledger.reserve(call("0.9", started_at=last_month), [budget])
    assert ledger.budget_usage(budget).charged == Decimal("1.00")


def test_the_first_hard_budget_that_fails_refuses_and_nothing_is_written(
    ledger: SQLiteLedger,
) -> None:
    budgets = [
        Budget(name="roomy", limit=Decimal(100)),
        Budget(name="tokens", limit=Decimal(1500), unit="tokens", period="day"),
    ]
    ledger.reserve(call("0.1", tokens=1000), budgets)
    with pytest.raises(BudgetExceededError, match=r"'tokens'.*1000 tokens.*requested 600 tokens"):
        ledger.reserve(call("0.1", tokens=600), budgets)
    assert len(ledger.query()) == 1


def test_a_soft_budget_warns_and_lets_the_call_through(ledger: SQLiteLedger) -> None:
    budget = Budget(name="watch", limit=Decimal("0.50"), mode="soft")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ledger.reserve(call("0.40"), [budget])
    with pytest.warns(BudgetWarning, match="over budget.*'watch'"):
        ledger.reserve(call("0.40"), [budget])
    assert len(ledger.query()) == 2


def test_no_warning_for_a_call_a_hard_budget_then_refused(ledger: SQLiteLedger) -> None:
    budgets = [
        Budget(name="soft", limit=Decimal("0.1"), mode="soft"),
        Budget(name="hard", limit=Decimal("0.2")),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BudgetExceededError):
            ledger.reserve(call("0.3"), budgets)


def test_a_hard_usd_budget_cannot_cover_a_call_without_a_per_call_price(
    ledger: SQLiteLedger,
) -> None:
    budget = Budget(name="usd", limit=Decimal(10))
    sagemaker = call(None, backend="sagemaker", endpoint="ep", cost_basis="instance_hours")
    with pytest.raises(ConfigurationError, match="hard USD budget cannot bound it"):
        ledger.reserve(sagemaker, [budget])
    assert ledger.query() == []
    # Token budgets count it; soft USD budgets skip it.
    ledger.reserve(
        sagemaker,
        [
            Budget(name="t", limit=Decimal(5000), unit="tokens"),
            Budget(name="s", limit=Decimal(0), mode="soft"),
        ],
    )
    assert len(ledger.query()) == 1


def test_raising_a_limit_keeps_the_spend_counted(ledger: SQLiteLedger) -> None:
    small = Budget(name="b", limit=Decimal("0.5"))
    ledger.settle(settle(ledger.reserve(call("0.4"), [small]), "0.4"))
    bigger = small.model_copy(update={"limit": Decimal("0.9")})
    assert bigger.fingerprint() == small.fingerprint()
    ledger.reserve(call("0.5"), [bigger])
    with pytest.raises(BudgetExceededError):
        ledger.reserve(call("0.01"), [bigger])


@pytest.mark.parametrize("seed", range(4))
def test_running_totals_always_equal_a_sum_over_the_rows(tmp_path: Path, seed: int) -> None:
    """Budget checks read running totals; whatever the mix of writes (reservations,
    settles, back-filled records, reconciles, writers that pass no budgets, a budget added
    late), each total equals the sum of its period's rows."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix of writes, not a secret
    path = tmp_path / "ledger.sqlite3"
    with_budgets, without_budgets = SQLiteLedger(path), SQLiteLedger(path)
    budgets = [
        Budget(name="team-a", limit=Decimal(10**6), scope={"team": "a"}),
        Budget(name="tokens", limit=Decimal(10**12), unit="tokens", period="day"),
        Budget(name="small-model", limit=Decimal(10**6), model="gpt-oss-20b", period="total"),
        Budget(name="soft", limit=Decimal("0.001"), period="week", mode="soft"),
    ]
    late = Budget(name="late", limit=Decimal(10**6), scope={"team": "b"}, period="day")
    now = datetime.now(UTC)
    open_calls: list[CallRecord] = []
    for step in range(150):
        started = now - timedelta(hours=rng.choice([0, 5, 30, 24 * 9, 24 * 40]))
        fresh = call(
            f"{rng.randint(1, 900) / 1000}",
            tokens=rng.randint(1, 5000),
            started_at=started,
            tags={"team": rng.choice("ab")},
            model=rng.choice(["gpt-oss-120b", "gpt-oss-20b"]),
        )
        action = rng.random()
        if action < 0.45:
            chosen = budgets + ([late] if step > 75 else [])
            ledger = with_budgets if rng.random() < 0.7 else without_budgets
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BudgetWarning)
                open_calls.append(ledger.reserve(fresh, chosen if ledger is with_budgets else []))
        elif action < 0.75 and open_calls:
            reserved = open_calls.pop(rng.randrange(len(open_calls)))
            rng.choice([with_budgets, without_budgets]).settle(
                settle(reserved, f"{rng.randint(0, 900) / 1000}", rng.randint(0, 900), 7)
            )
        elif action < 0.9:
            rng.choice([with_budgets, without_budgets]).record(
                settle(fresh.model_copy(update={"reserved_usd": None}), "0.123")
            )
        else:
            reconciled = with_budgets.reconcile(stale_after=timedelta(hours=4))
            gone = {r.id for r in reconciled}
            open_calls = [c for c in open_calls if c.id not in gone]

    conn = with_budgets._conn()
    moments = {now - timedelta(hours=h) for h in (0, 5, 30, 24 * 9, 24 * 40)}
    checked = 0
    for budget in [*budgets, late]:
        for moment in moments:
            start, _ = budget.period_bounds(moment)
            stored = conn.execute(
                "SELECT charged, held FROM budget_totals "
                "WHERE fingerprint = ? AND period_start = ?",
                (budget.fingerprint(), "" if start is None else iso(start)),
            ).fetchone()
            if stored is None:
                continue
            assert tuple(stored) == with_budgets._sum_rows(conn, budget, moment), budget.name
            checked += 1
    assert checked >= 5

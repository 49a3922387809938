"""The SQLite ledger: exact round trips, versioned schema, refusal of bad rows with nothing
written, many threads, and reconciliation of reservations whose process died."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gptoss_aws.budgets import Budget
from gptoss_aws.ledger import (
    InvalidRecordError,
    Ledger,
    LedgerError,
    SQLiteLedger,
    charge_of,
    default_ledger_path,
    open_ledger,
)
from gptoss_aws.ledger._schema import MIGRATIONS, SCHEMA_VERSION, migrate
from gptoss_aws.ledger.sqlite import pid_alive
from gptoss_aws.types import CallRecord


def reservation(**changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "backend": "bedrock",
        "model": "gpt-oss-120b",
        "model_id": "openai.gpt-oss-120b-1:0",
        "region": "us-east-1",
        "tags": {"team": "search", "feature": "qa"},
        "cost_basis": "per_token",
        "price_source": "test (as of 2026-11-01)",
        "reserved_usd": Decimal("0.000675"),
        "reserved_tokens": 1500,
        "status": "reserved",
    }
    fields.update(changes)
    return CallRecord.model_validate(fields)


def settled(record: CallRecord, **changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "status": "ok",
        "ended_at": record.started_at + timedelta(seconds=2),
        "prompt_tokens": 400,
        "completion_tokens": 300,
        "reasoning_tokens": 120,
        "latency_ms": 2000.5,
        "cost_usd": Decimal("0.00024"),
    }
    fields.update(changes)
    return record.model_copy(update=fields)


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def ledger(tmp_path: Path) -> SQLiteLedger:
    return SQLiteLedger(tmp_path / "ledger.sqlite3")


def test_reserve_then_settle_round_trips_every_field_exactly(ledger: SQLiteLedger) -> None:
    assert isinstance(ledger, Ledger)
    reserved = ledger.reserve(reservation(stream=True, variant="AllTraffic"))
    assert reserved.process_id == os.getpid()
    [row] = ledger.query()
    assert row == reserved
    final = settled(reserved, ttft_ms=150.25, error_kind=None)
    ledger.settle(final)
    [row] = ledger.query()
    assert row == final
    assert row.cost_usd == Decimal("0.00024")
    assert isinstance(row.cost_usd, Decimal)
    assert row.started_at.tzinfo is not None


def test_extra_fields_on_a_record_are_kept(ledger: SQLiteLedger) -> None:
    record = reservation(request_id="req-123", note={"k": 1})
    ledger.reserve(record)
    [row] = ledger.query()
    assert row.model_extra == {"request_id": "req-123", "note": {"k": 1}}


def test_settle_is_idempotent_and_replaces_the_reservation(ledger: SQLiteLedger) -> None:
    final = settled(ledger.reserve(reservation()))
    ledger.settle(final)
    ledger.settle(final)
    rows = ledger.query()
    assert rows == [final]
    assert charge_of(rows[0]).usd == Decimal("0.00024")


def test_record_writes_a_final_row_and_refuses_a_duplicate(ledger: SQLiteLedger) -> None:
    row = settled(reservation(reserved_usd=None, reserved_tokens=None))
    ledger.record(row)
    with pytest.raises(InvalidRecordError, match="refused, nothing written"):
        ledger.record(row)
    assert ledger.query() == [row]


def test_default_location_is_the_data_directory(tmp_path: Path) -> None:
    # conftest points GPTOSS_AWS_HOME at a temporary directory.
    expected = Path(os.environ["GPTOSS_AWS_HOME"]) / "ledger.sqlite3"
    assert default_ledger_path() == expected
    ledger = open_ledger()
    assert isinstance(ledger, SQLiteLedger)
    assert ledger.path == expected
    ledger.close()


def test_open_ledger_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for location in (tmp_path / "a.db", str(tmp_path / "b.db"), f"sqlite://{tmp_path}/c.db"):
        ledger = open_ledger(location)
        assert isinstance(ledger, SQLiteLedger)
        ledger.close()
    assert {p.name for p in tmp_path.glob("*.db")} == {"a.db", "b.db", "c.db"}
    monkeypatch.setenv("GPTOSS_AWS_LEDGER", str(tmp_path / "env.db"))
    ledger = open_ledger()
    assert isinstance(ledger, SQLiteLedger)
    assert ledger.path.name == "env.db"
    ledger.close()
    with pytest.raises(ValueError, match="unknown ledger"):
        open_ledger("postgres://db")
    with pytest.raises(LedgerError, match="in-memory"):
        open_ledger(":memory:")


def test_file_is_wal_versioned_and_waits_for_locks(ledger: SQLiteLedger) -> None:
    conn = sqlite3.connect(ledger.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    conn.close()
    assert ledger._conn().execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_an_old_file_is_migrated_forward_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO calls (id, started_at, backend, model, prompt_tokens, completion_tokens, "
        "reasoning_tokens, usage_source, stream, status, cost_basis, cost_usd, charge_tokens) "
        "VALUES ('old1', '2026-10-01T00:00:00.000000Z', 'bedrock', 'gpt-oss-20b', 10, 5, 0, "
        "'reported', 0, 'ok', 'per_token', '0.0000022', 15)"
    )
    conn.close()
    ledger = SQLiteLedger(path)
    [row] = ledger.query()
    assert row.id == "old1"
    assert row.cost_usd == Decimal("0.0000022")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"calls_started_at", "calls_reserved", "budgets", "budget_totals"} <= names
    conn.close()
    assert migrate(ledger._conn()) == SCHEMA_VERSION  # nothing left to do
    ledger.close()


def test_a_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerError, match="newer than this gptoss-aws"):
        SQLiteLedger(path)


BAD_RECORDS: dict[str, dict[str, object]] = {
    "negative prompt tokens": {"prompt_tokens": -1},
    "NaN cost": {"cost_usd": Decimal("NaN")},
    "infinite cost": {"cost_usd": Decimal("Infinity")},
    "negative cost": {"cost_usd": Decimal("-0.01")},
    "float NaN latency": {"latency_ms": float("nan")},
    "reasoning beyond completion": {"reasoning_tokens": 301},
    "naive time": {"started_at": datetime(2026, 11, 1, 12, 0)},
    "unpriced with a cost": {"cost_basis": "unpriced"},
    "per-token without a cost": {"cost_usd": None},
    "unknown status": {"status": "done"},
    "bool tokens": {"completion_tokens": True},
    "non-string tag": {"tags": {"team": 7}},
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_a_bad_record_is_refused_and_the_file_is_unchanged(ledger: SQLiteLedger, case: str) -> None:
    ledger.reserve(reservation(id="keep"))
    before = dump(ledger.path)
    good = settled(reservation(id="bad"))
    # pydantic refuses some of these at construction; assignment bypasses it, as a caller's
    # bug would.
    bad = good.model_copy()
    for name, value in BAD_RECORDS[case].items():
        setattr(bad, name, value)
    with pytest.raises(InvalidRecordError, match="refused, nothing written"):
        ledger.settle(bad)
    with pytest.raises(InvalidRecordError):
        ledger.record(bad)
    assert dump(ledger.path) == before


def test_reserve_refuses_a_final_status_and_settle_a_reservation(ledger: SQLiteLedger) -> None:
    with pytest.raises(InvalidRecordError, match="needs status 'reserved'"):
        ledger.reserve(settled(reservation()))
    with pytest.raises(InvalidRecordError, match="needs status ok, error or aborted"):
        ledger.settle(reservation())
    assert ledger.query() == []


def test_query_filters(ledger: SQLiteLedger) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    odd_key = {'we"ird.key': "x y", "team": "ads"}
    rows = [
        settled(reservation(id="a", started_at=base)),
        settled(reservation(id="b", started_at=base + timedelta(hours=1), model="gpt-oss-20b")),
        settled(
            reservation(
                id="c",
                started_at=base + timedelta(days=1),
                backend="sagemaker",
                endpoint="ep-1",
                cost_basis="instance_hours",
                reserved_usd=None,
                tags=odd_key,
            ),
            cost_usd=None,
        ),
        reservation(id="d", started_at=base + timedelta(days=2)),
    ]
    for row in rows:
        if row.status == "reserved":
            ledger.reserve(row)
        else:
            ledger.record(row)

    def ids(**filters: object) -> list[str]:
        return [r.id for r in ledger.query(**filters)]  # type: ignore[arg-type]

    assert ids() == ["a", "b", "c", "d"]
    assert ids(since=base + timedelta(minutes=1)) == ["b", "c", "d"]
    assert ids(until=base + timedelta(hours=1)) == ["a"]  # until is exclusive
    assert ids(model="gpt-oss-20b") == ["b"]
    assert ids(backend="sagemaker", endpoint="ep-1") == ["c"]
    assert ids(tags={"team": "search"}) == ["a", "b", "d"]
    assert ids(tags={'we"ird.key': "x y"}) == ["c"]
    assert ids(tags={"team": "search", "feature": "other"}) == []
    assert ids(status="reserved") == ["d"]
    assert ids(status=["ok", "reserved"]) == ["a", "b", "c", "d"]


def test_many_threads_write_through_one_ledger(ledger: SQLiteLedger) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                ledger.settle(settled(ledger.reserve(reservation(id=f"t{n}-{i}"))))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    rows = ledger.query()
    assert len(rows) == 400
    assert {r.status for r in rows} == {"ok"}
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.query()


def test_pid_alive_sees_dead_and_zombie_processes() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 20
    # Not reaped yet: a zombie, which will never settle anything.
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pid_alive(child.pid)
    child.wait(timeout=10)
    assert not pid_alive(child.pid)


def test_reconcile_aborts_dead_and_stale_reservations_only(ledger: SQLiteLedger) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=20)
    now = datetime.now(UTC)
    ledger.reserve(reservation(id="dead", process_id=child.pid))
    ledger.reserve(reservation(id="mine"))  # this process: alive
    ledger.reserve(reservation(id="old", started_at=now - timedelta(hours=7)))
    ledger.settle(settled(ledger.reserve(reservation(id="done"))))
    budget = Budget(name="all", limit=Decimal(1), period="total")
    before = ledger.budget_usage(budget)

    done = ledger.reconcile(stale_after=timedelta(hours=6))

    assert {r.id: r.error_kind for r in done} == {
        "dead": "reconciled:process_gone",
        "old": "reconciled:stale",
    }
    rows = {r.id: r for r in ledger.query()}
    assert rows["mine"].status == "reserved"
    assert rows["done"].status == "ok"
    for call_id in ("dead", "old"):
        row = rows[call_id]
        assert row.status == "aborted"
        assert row.usage_source == "estimated"
        assert row.cost_usd == row.reserved_usd == Decimal("0.000675")  # the worst case
        assert row.ended_at is not None
    after = ledger.budget_usage(budget)
    # Nothing vanished and nothing was counted twice: the total charge is unchanged, and
    # only "mine" is still held in flight.
    assert after.charged == before.charged
    assert after.reserved == Decimal("0.000675")
    assert ledger.reconcile(stale_after=timedelta(hours=6)) == []


def test_a_late_settle_replaces_a_stale_reconciled_row(ledger: SQLiteLedger) -> None:
    slow = ledger.reserve(reservation(started_at=datetime.now(UTC) - timedelta(hours=8)))
    [aborted] = ledger.reconcile(stale_after=timedelta(hours=6))
    assert aborted.id == slow.id
    final = settled(slow)
    ledger.settle(final)
    assert ledger.query() == [final]


KILLED_WORKER = """
import sys, time
from decimal import Decimal
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.types import CallRecord
ledger = SQLiteLedger(sys.argv[1])
record = ledger.reserve(CallRecord(
    backend="bedrock", model="gpt-oss-120b", region="us-east-1", status="reserved",
    cost_basis="per_token", reserved_usd=Decimal("0.5"), reserved_tokens=2000,
    tags={"job": "killed"},
))
print(record.id, flush=True)
time.sleep(60)  # "waiting for the model": SIGKILLed here, before any settle
"""


def test_a_process_killed_mid_call_leaves_a_reservation_that_reconciles(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        call_id = child.stdout.readline().strip()
        assert call_id, "the worker did not reserve"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=20)
    assert child.returncode == -signal.SIGKILL
    ledger = SQLiteLedger(path)
    [row] = ledger.query()
    assert row.id == call_id
    assert row.status == "reserved"
    assert row.process_id == child.pid
    # A long stale_after: it is the dead process that gets it reconciled, not its age.
    [aborted] = ledger.reconcile(stale_after=timedelta(days=1))
    assert aborted.id == call_id
    assert aborted.error_kind == "reconciled:process_gone"
    [row] = ledger.query()
    assert row.status == "aborted"
    assert row.cost_usd == Decimal("0.5")
    assert row.tags == {"job": "killed"}
    usage = ledger.budget_usage(Budget(name="t", limit=Decimal(10), unit="tokens", period="day"))
    assert usage.settled == 2000
    assert usage.reserved == 0


def test_charge_columns_follow_the_row(ledger: SQLiteLedger) -> None:
    record = ledger.reserve(reservation())
    conn = sqlite3.connect(ledger.path)
    query = "SELECT charge_nusd, charge_tokens FROM calls"
    assert conn.execute(query).fetchone() == (675_000, 1500)
    ledger.settle(settled(record))
    assert conn.execute(query).fetchone() == (240_000, 700)
    conn.close()

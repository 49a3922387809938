"""The default ledger: one SQLite file, safe for many threads and processes on one machine.

Concurrency: each thread (and each forked child) gets its own connection; every write is
one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock before reading, so a
budget check and the insert it allows cannot interleave with another writer's (the race
LiteLLM has, #34732 / #40095). WAL lets readers run while a writer holds the lock; writers
queue for up to ``busy_timeout`` (default 30 s) before a LedgerError. ``synchronous=NORMAL``
in WAL mode keeps every committed row through a process crash (SIGKILL); only a power loss
can drop the last transactions, which we accept for the speed (SQLite docs, "WAL mode").
WAL needs a local file system: do not put the ledger on NFS or SMB.

Budget checks read running totals kept in the same transactions (schema migration 3), so
they cost the same with ten rows in the period or ten million. Every write adjusts the
totals of every budget this file has ever checked, including writes from processes that
pass no budgets, so a total always equals the sum of its period's rows.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gptoss_aws.budgets import Budget
from gptoss_aws.errors import InvalidRecordError, LedgerError
from gptoss_aws.ledger._schema import COLUMNS, iso, migrate, record_to_row, row_to_record
from gptoss_aws.ledger.base import (
    NANO,
    BudgetUsage,
    ReportsMixin,
    check_budgets,
    reconciled_record,
    requested_units,
    utcnow,
    validate_record,
)
from gptoss_aws.types import CallRecord

LEDGER_FILENAME = "ledger.sqlite3"
# How long a writer waits for the lock before giving up. Writes hold it for well under a
# millisecond, so 30 s only runs out if something holds a transaction open by mistake.
DEFAULT_BUSY_TIMEOUT_S = 30.0

# SQL below is built from our own column names, never from user input (hence the S608 noqa).
_PLACEHOLDERS = ", ".join(":" + c for c in COLUMNS)
_INSERT = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
_UPSERT = (
    _INSERT
    + " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("id", "host"))
    + ", host = COALESCE(calls.host, excluded.host)"
)


def default_data_dir() -> Path:
    """$GPTOSS_AWS_HOME if set, else the platform's user data directory for gptoss-aws."""
    home = os.environ.get("GPTOSS_AWS_HOME")
    if home:
        return Path(home)
    import platformdirs

    return Path(platformdirs.user_data_dir("gptoss-aws"))


def default_ledger_path() -> Path:
    return default_data_dir() / LEDGER_FILENAME


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a running process on this host. A zombie (killed, not yet
    reaped by its parent) is dead for our purpose: it will never settle."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # "pid (comm) state ...": comm may hold spaces and parentheses; state follows
            # the last ')'.
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill()


class SQLiteLedger(ReportsMixin):
    """The ledger in one SQLite file (default: ``ledger.sqlite3`` in the data directory)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path) if path is not None else default_ledger_path()
        if str(self.path) == ":memory:":
            # Each connection would get its own private database: threads would not share.
            raise LedgerError("an in-memory SQLite ledger cannot be shared; give a file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout_s = busy_timeout_s
        self.host = socket.gethostname()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._known: dict[str, Budget] = {}
        migrate(self._conn())

    # -- connections -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise LedgerError(f"ledger {self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A connection must not cross a fork: the child opens its own.
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # only so close() can close every thread's one
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000):d}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from exc
        self._local.conn = conn
        self._local.pid = os.getpid()
        with self._lock:
            self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands, or none of it."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LedgerError(f"ledger {self.path} is busy: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise LedgerError(f"cannot commit to ledger {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
            self._closed = True
        for conn in connections:
            conn.close()

    def __enter__(self) -> SQLiteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteLedger({str(self.path)!r})"

    # -- writes ------------------------------------------------------------------------

    def reserve(self, record: CallRecord, budgets: Sequence[Budget] = ()) -> CallRecord:
        if record.process_id is None:
            record = record.model_copy(update={"process_id": os.getpid()})
        record = validate_record(record, final=False)
        row = record_to_row(record, host=self.host)
        with self._write() as conn:
            for budget in budgets:
                conn.execute(
                    "INSERT OR IGNORE INTO budgets (fingerprint) VALUES (?)",
                    (budget.fingerprint(),),
                )
            check = check_budgets(
                record, budgets, lambda b: self._totals(conn, b, record.started_at)[0]
            )
            self._execute(conn, _INSERT, row, record)
            self._move_totals(conn, None, record)
        check.emit()
        return record

    def settle(self, record: CallRecord) -> None:
        self._replace(validate_record(record, final=True), upsert=True)

    def record(self, record: CallRecord) -> None:
        self._replace(validate_record(record, final=True), upsert=False)

    def _replace(self, record: CallRecord, *, upsert: bool) -> None:
        row = record_to_row(record, host=self.host)
        with self._write() as conn:
            old = None
            if self._registered(conn):  # the old row only matters to running totals
                found = conn.execute("SELECT * FROM calls WHERE id = ?", (record.id,)).fetchone()
                old = row_to_record(found) if found is not None else None
            self._execute(conn, _UPSERT if upsert else _INSERT, row, record)
            self._move_totals(conn, old, record)

    @staticmethod
    def _execute(
        conn: sqlite3.Connection, sql: str, row: Mapping[str, Any], record: CallRecord
    ) -> None:
        try:
            conn.execute(sql, row)
        except sqlite3.IntegrityError as exc:
            raise InvalidRecordError(
                f"call record {record.id!r} refused, nothing written: {exc}"
            ) from exc

    def reconcile(self, stale_after: timedelta) -> list[CallRecord]:
        now = utcnow()
        cutoff = iso(now - stale_after)
        done: list[CallRecord] = []
        with self._write() as conn:
            rows = conn.execute(
                "SELECT * FROM calls WHERE status = 'reserved' ORDER BY started_at"
            ).fetchall()
            for row in rows:
                pid, host = row["process_id"], row["host"]
                if host == self.host and pid is not None and not pid_alive(pid):
                    reason = "process_gone"
                elif row["started_at"] < cutoff:
                    reason = "stale"
                else:
                    continue
                old = row_to_record(row)
                aborted = reconciled_record(old, reason, now)
                conn.execute(
                    "UPDATE calls SET status = :status, ended_at = :ended_at, "
                    "error_kind = :error_kind, usage_source = :usage_source, "
                    "cost_usd = :cost_usd WHERE id = :id AND status = 'reserved'",
                    record_to_row(aborted, host=host),
                )
                self._move_totals(conn, old, aborted)
                done.append(aborted)
        return done

    def fill_pending(self, record: CallRecord) -> bool:
        record = validate_record(record, final=True)
        row = record_to_row(record, host=self.host)
        with self._write() as conn:
            found = conn.execute(
                "SELECT * FROM calls WHERE id = ? AND cost_basis = 'pending'", (record.id,)
            ).fetchone()
            if found is None:
                return False  # priced (or never pending) meanwhile
            self._execute(conn, _UPSERT, row, record)
            self._move_totals(conn, row_to_record(found), record)
        return True

    def pending_rows(self) -> list[CallRecord]:
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM calls WHERE cost_basis = 'pending' AND status != 'reserved' "
                "ORDER BY started_at, id"
            )
            .fetchall()
        )
        return [row_to_record(row) for row in rows]

    # -- budget totals -----------------------------------------------------------------

    def _registered(self, conn: sqlite3.Connection) -> list[tuple[str, Budget]]:
        """Every budget ever checked against this file, as (fingerprint, a Budget that
        counts the same calls)."""
        found = []
        for (fingerprint,) in conn.execute("SELECT fingerprint FROM budgets"):
            budget = self._known.get(fingerprint)
            if budget is None:
                # The fingerprint holds what the budget counts; limit and mode do not matter
                # for counting (soft, so no configuration rule applies).
                budget = Budget(**json.loads(fingerprint), limit=Decimal(0), mode="soft")
                self._known[fingerprint] = budget
            found.append((fingerprint, budget))
        return found

    def _totals(self, conn: sqlite3.Connection, budget: Budget, at: datetime) -> tuple[int, int]:
        """(charged, held) for the budget's period holding ``at``, from the running total;
        computed from the rows (and stored) the first time. Inside a write transaction."""
        start, _ = budget.period_bounds(at)
        key = (budget.fingerprint(), "" if start is None else iso(start))
        found = conn.execute(
            "SELECT charged, held FROM budget_totals WHERE fingerprint = ? AND period_start = ?",
            key,
        ).fetchone()
        if found is not None:
            return int(found[0]), int(found[1])
        charged, held = self._sum_rows(conn, budget, at)
        conn.execute("INSERT INTO budget_totals VALUES (?, ?, ?, ?)", (*key, charged, held))
        return charged, held

    def _move_totals(
        self, conn: sqlite3.Connection, old: CallRecord | None, new: CallRecord
    ) -> None:
        """Replace ``old``'s charge (if any) by ``new``'s in every registered budget's
        running total that exists; a total not yet created will be summed from the rows."""
        for fingerprint, budget in self._registered(conn):
            for record, sign in ((old, -1), (new, 1)):
                if record is None or not budget.applies_to(record):
                    continue
                units = requested_units(budget, record)
                if not units:
                    continue
                start, _ = budget.period_bounds(record.started_at)
                held = units if record.status == "reserved" else 0
                conn.execute(
                    "UPDATE budget_totals SET charged = charged + ?, held = held + ? "
                    "WHERE fingerprint = ? AND period_start = ?",
                    (sign * units, sign * held, fingerprint, "" if start is None else iso(start)),
                )

    # -- reads -------------------------------------------------------------------------

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
        where, params = _filters(
            since=since, until=until, backend=backend, model=model, endpoint=endpoint, tags=tags
        )
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        sql = "SELECT * FROM calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at, id"
        try:
            rows = self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger {self.path}: {exc}") from exc
        return [row_to_record(row) for row in rows]

    def budget_usage(self, budget: Budget, at: datetime | None = None) -> BudgetUsage:
        at = at or utcnow()
        start, end = budget.period_bounds(at)
        conn = self._conn()
        start_key = "" if start is None else iso(start)
        found = conn.execute(
            "SELECT charged, held FROM budget_totals WHERE fingerprint = ? AND period_start = ?",
            (budget.fingerprint(), start_key),
        ).fetchone()
        total, reserved = (
            (int(found[0]), int(found[1])) if found else self._sum_rows(conn, budget, at)
        )
        scale = Decimal(1) if budget.unit == "tokens" else NANO
        return BudgetUsage(
            budget=budget,
            period_start=start,
            period_end=end,
            settled=Decimal(total - reserved) / scale,
            reserved=Decimal(reserved) / scale,
        )

    def _sum_rows(self, conn: sqlite3.Connection, budget: Budget, at: datetime) -> tuple[int, int]:
        """(everything charged, of which held by open reservations) in the budget's period,
        in its integer unit."""
        start, end = budget.period_bounds(at)
        where, params = _filters(
            since=start, until=end, backend=budget.backend, model=budget.model, tags=budget.scope
        )
        column = "charge_tokens" if budget.unit == "tokens" else "charge_nusd"
        sql = (
            f"SELECT COALESCE(SUM({column}), 0), "  # noqa: S608
            f"COALESCE(SUM(CASE WHEN status = 'reserved' THEN {column} END), 0) FROM calls"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        total, reserved = conn.execute(sql, params).fetchone()
        return int(total), int(reserved)


def _filters(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    backend: str | None = None,
    model: str | None = None,
    endpoint: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append("started_at >= ?")
        params.append(iso(since))
    if until is not None:
        where.append("started_at < ?")
        params.append(iso(until))
    for column, value in (("backend", backend), ("model", model), ("endpoint", endpoint)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    for key, value in (tags or {}).items():
        # json_each takes the key as a bound value: no JSON-path quoting of user keys.
        where.append(
            "EXISTS (SELECT 1 FROM json_each(calls.tags) AS t WHERE t.key = ? AND t.value = ?)"
        )
        params.extend([key, value])
    return where, params

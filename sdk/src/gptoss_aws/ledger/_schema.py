"""The SQLite ledger's table, its versioned migrations, and row <-> CallRecord conversion.

Storage choices: amounts are TEXT holding the exact Decimal (a REAL would round); tags are
a JSON object; times are ISO 8601 UTC with a fixed width (``2026-11-01T09:30:00.000000Z``)
so that comparing the text compares the times and the started_at index serves ranges.
``charge_nusd`` / ``charge_tokens`` hold what the row counts against budgets (see
``base.charge_of``); ``budget_totals`` keeps their running sums per budget and period, and
a period's first total is one indexed integer SUM over those columns. Fields a future
CallRecord grows, and any extra fields a caller sets, go to the ``extra`` JSON column, so
nothing is dropped before a migration gives them a column.

Versioning: ``PRAGMA user_version`` is the number of migrations applied. Opening a ledger
applies the missing ones in one write transaction (re-reading the version inside it, so
two processes opening an old file at once migrate it once). A file from a newer version of
this package is refused rather than written with an older layout.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gptoss_aws.errors import LedgerError
from gptoss_aws.ledger.base import charge_of, usd_to_nano
from gptoss_aws.types import CallRecord

_CREATE_CALLS = """
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    model_id TEXT,
    endpoint TEXT,
    variant TEXT,
    inference_component TEXT,
    instance_type TEXT,
    region TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    prompt_tokens INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0),
    usage_source TEXT NOT NULL,
    latency_ms REAL,
    ttft_ms REAL,
    stream INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'ok', 'error', 'aborted')),
    error_kind TEXT,
    cost_usd TEXT,
    cost_basis TEXT NOT NULL CHECK (cost_basis IN ('per_token', 'instance_hours', 'unpriced')),
    price_source TEXT,
    reserved_usd TEXT,
    reserved_tokens INTEGER CHECK (reserved_tokens >= 0),
    process_id INTEGER,
    host TEXT,
    charge_nusd INTEGER CHECK (charge_nusd >= 0),
    charge_tokens INTEGER NOT NULL CHECK (charge_tokens >= 0),
    extra TEXT
)
"""

# Each entry is one migration; user_version = how many have run. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the calls table.
    (_CREATE_CALLS,),
    # 2: time ranges (queries, budget periods) and the open reservations reconcile scans.
    (
        "CREATE INDEX calls_started_at ON calls (started_at)",
        "CREATE INDEX calls_reserved ON calls (started_at) WHERE status = 'reserved'",
    ),
    # 3: running budget totals, so a budget check stays O(1) however many calls its period
    # holds. `budgets` registers every budget ever checked against this file (its
    # fingerprint: what it counts, not its limit); each write then adjusts the totals of
    # every registered budget the row falls under. A period's total is first computed
    # from the rows, inside the write transaction that needs it.
    (
        "CREATE TABLE budgets (fingerprint TEXT PRIMARY KEY)",
        "CREATE TABLE budget_totals ("
        " fingerprint TEXT NOT NULL,"
        " period_start TEXT NOT NULL,"  # ISO UTC, '' for a total budget
        " charged INTEGER NOT NULL,"  # nano-USD or tokens, settled + held
        " held INTEGER NOT NULL,"  # of which held by open reservations
        " PRIMARY KEY (fingerprint, period_start))",
    ),
    # 4: cost basis "pending" (a call recorded with its tokens while its price is unknown,
    # priced later) and the Bedrock service tier and project of each call. SQLite cannot
    # change a CHECK constraint in place, so the table is rebuilt (SQLite docs, "ALTER TABLE",
    # section 7: create the new table, copy, drop, rename, recreate the indexes), inside the
    # migration's one transaction: a file is either at version 3 or at 4, never in between.
    (
        _CREATE_CALLS.replace("CREATE TABLE calls (", "CREATE TABLE calls_v4 (")
        .replace(
            "CHECK (cost_basis IN ('per_token', 'instance_hours', 'unpriced'))",
            "CHECK (cost_basis IN ('per_token', 'instance_hours', 'unpriced', 'pending'))",
        )
        .replace(
            "    extra TEXT\n)",
            "    extra TEXT,\n    service_tier TEXT,\n    service_tier_requested TEXT,\n"
            "    project TEXT\n)",
        ),
        "INSERT INTO calls_v4 SELECT *, NULL, NULL, NULL FROM calls",
        "DROP TABLE calls",
        "ALTER TABLE calls_v4 RENAME TO calls",
        "CREATE INDEX calls_started_at ON calls (started_at)",
        "CREATE INDEX calls_reserved ON calls (started_at) WHERE status = 'reserved'",
        "CREATE INDEX calls_pending ON calls (started_at) WHERE cost_basis = 'pending'",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# CallRecord fields with a column of their own; others go to `extra`.
RECORD_COLUMNS: tuple[str, ...] = (
    "id", "started_at", "ended_at", "backend", "model", "model_id", "endpoint", "variant",
    "inference_component", "instance_type", "region", "tags", "prompt_tokens",
    "completion_tokens", "reasoning_tokens", "usage_source", "latency_ms", "ttft_ms", "stream",
    "status", "error_kind", "cost_usd", "cost_basis", "price_source", "reserved_usd",
    "reserved_tokens", "process_id", "service_tier", "service_tier_requested", "project",
)  # fmt: skip
COLUMNS: tuple[str, ...] = (*RECORD_COLUMNS, "host", "charge_nusd", "charge_tokens", "extra")
_DECIMALS = ("cost_usd", "reserved_usd")
_TIMES = ("started_at", "ended_at")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to SCHEMA_VERSION; return the version found before."""
    found = _user_version(conn)
    if found > SCHEMA_VERSION:
        raise LedgerError(_too_new(found))
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _user_version(conn)  # another process may have migrated meanwhile
        if found > SCHEMA_VERSION:
            raise LedgerError(_too_new(found))
        for statements in MIGRATIONS[found:]:
            for statement in statements:
                conn.execute(statement)
        # PRAGMA takes no parameters; SCHEMA_VERSION is our own integer.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _too_new(found: int) -> str:
    return (
        f"this ledger has schema version {found}, newer than this gptoss-aws understands "
        f"({SCHEMA_VERSION}); upgrade gptoss-aws to use it"
    )


def record_to_row(record: CallRecord, *, host: str | None) -> dict[str, Any]:
    """The column values for a (validated) record."""
    data = record.model_dump()
    row: dict[str, Any] = {}
    for column in RECORD_COLUMNS:
        value = data.pop(column)
        if column in _DECIMALS:
            value = None if value is None else str(value)
        elif column in _TIMES:
            value = None if value is None else iso(value)
        elif column == "tags":
            value = json.dumps(value, sort_keys=True, ensure_ascii=False)
        elif column == "stream":
            value = int(bool(value))
        row[column] = value
    charge = charge_of(record)
    row["host"] = host
    row["charge_nusd"] = None if charge.usd is None else usd_to_nano(charge.usd)
    row["charge_tokens"] = charge.tokens
    row["extra"] = json.dumps(data, sort_keys=True, default=str) if data else None
    return row


def row_to_record(row: sqlite3.Row) -> CallRecord:
    data: dict[str, Any] = {}
    if row["extra"]:
        data.update(json.loads(row["extra"]))
    for column in RECORD_COLUMNS:
        value = row[column]
        if value is not None:
            if column in _DECIMALS:
                value = Decimal(value)
            elif column in _TIMES:
                value = parse_iso(value)
            elif column == "tags":
                value = json.loads(value)
            elif column == "stream":
                value = bool(value)
        data[column] = value
    return CallRecord.model_validate(data)

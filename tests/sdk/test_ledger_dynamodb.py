"""The DynamoDB ledger against moto: rows, time queries, budget counters held by
conditional transactions, and reconciliation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from gptoss_aws.budgets import Budget
from gptoss_aws.errors import BudgetExceededError, ConfigurationError
from gptoss_aws.ledger import InvalidRecordError, Ledger, open_ledger
from gptoss_aws.ledger.dynamodb import DynamoDBLedger, counter_key, create_table
from gptoss_aws.types import CallRecord

TABLE = "gptoss-ledger"


@pytest.fixture
def ledger() -> Iterator[DynamoDBLedger]:
    with mock_aws():
        create_table(TABLE, region="us-east-1")
        yield DynamoDBLedger(TABLE, region="us-east-1")


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


def settle(record: CallRecord, usd: str = "0.1", **changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "status": "ok",
        "cost_usd": Decimal(usd),
        "prompt_tokens": 300,
        "completion_tokens": 200,
        "reasoning_tokens": 50,
        "latency_ms": 1234.5,
        "ended_at": record.started_at + timedelta(seconds=1),
    }
    fields.update(changes)
    return record.model_copy(update=fields)


def test_table_layout_matches_the_documented_key_schema(ledger: DynamoDBLedger) -> None:
    table = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=TABLE)
    description = table["Table"]
    assert [k["AttributeName"] for k in description["KeySchema"]] == ["pk", "sk"]
    indexes = {i["IndexName"]: i for i in description["GlobalSecondaryIndexes"]}
    assert [k["AttributeName"] for k in indexes["by_day"]["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    assert [k["AttributeName"] for k in indexes["open"]["KeySchema"]] == ["open_pk", "open_sk"]


def test_round_trip_and_settle(ledger: DynamoDBLedger) -> None:
    assert isinstance(ledger, Ledger)
    reserved = ledger.reserve(call(stream=True, ttft_ms=12.5, endpoint=None, note="extra"))
    assert ledger.query() == [reserved]
    final = settle(reserved)
    ledger.settle(final)
    ledger.settle(final)  # idempotent
    [row] = ledger.query()
    assert row == final
    assert row.cost_usd == Decimal("0.1")
    assert row.latency_ms == 1234.5
    assert row.model_extra == {"note": "extra"}


def test_open_ledger_url(ledger: DynamoDBLedger) -> None:
    opened = open_ledger(f"dynamodb://{TABLE}?region=us-east-1")
    assert isinstance(opened, DynamoDBLedger)
    assert opened.table_name == TABLE
    with pytest.raises(ConfigurationError, match="no table name"):
        open_ledger("dynamodb://?region=us-east-1")
    with pytest.raises(ConfigurationError, match="unknown option"):
        open_ledger(f"dynamodb://{TABLE}?colour=red")


def test_bad_and_duplicate_records_are_refused(ledger: DynamoDBLedger) -> None:
    record = call()
    ledger.reserve(record)
    with pytest.raises(InvalidRecordError, match="the id exists"):
        ledger.reserve(record)
    bad = settle(call())
    bad.prompt_tokens = -5
    with pytest.raises(InvalidRecordError, match="prompt_tokens"):
        ledger.settle(bad)
    assert len(ledger.query()) == 1


def test_query_by_time_uses_days_and_filters(ledger: DynamoDBLedger) -> None:
    base = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)
    for i, (offset, model, team) in enumerate(
        [(0, "gpt-oss-120b", "a"), (1, "gpt-oss-20b", "a"), (25, "gpt-oss-120b", "b")]
    ):
        ledger.record(
            settle(call(id=f"c{i}", started_at=base + timedelta(hours=offset), model=model,
                        tags={"team": team}))
        )  # fmt: skip
    ids = [r.id for r in ledger.query(since=base)]
    assert ids == ["c0", "c1", "c2"]
    assert [r.id for r in ledger.query(since=base, until=base + timedelta(hours=1))] == ["c0"]
    assert [r.id for r in ledger.query(since=base, model="gpt-oss-20b")] == ["c1"]
    assert [r.id for r in ledger.query(tags={"team": "b"})] == ["c2"]  # no since: a scan
    assert [r.id for r in ledger.query(status="reserved")] == []


def test_a_hard_budget_holds_across_ledger_instances(ledger: DynamoDBLedger) -> None:
    other_machine = DynamoDBLedger(TABLE, region="us-east-1")
    budget = Budget(name="team-a", limit=Decimal("1.00"), scope={"team": "a"})
    first = ledger.reserve(call("0.40"), [budget])
    other_machine.reserve(call("0.50"), [budget])
    with pytest.raises(BudgetExceededError, match=r"spent \$0.9.*requested \$0.2") as refused:
        ledger.reserve(call("0.20"), [budget])
    assert refused.value.budget == "team-a"
    assert len(ledger.query()) == 2
    # Settling for less than the worst case gives the headroom back.
    ledger.settle(settle(first, "0.10"))
    usage = other_machine.budget_usage(budget)
    assert usage.settled == Decimal("0.10")
    assert usage.reserved == Decimal("0.50")
    other_machine.reserve(call("0.40"), [budget])
    with pytest.raises(BudgetExceededError):
        other_machine.reserve(call("0.01"), [budget])
    # A call that alone exceeds the limit is refused without a transaction.
    with pytest.raises(BudgetExceededError, match="requested \\$2"):
        ledger.reserve(call("2"), [budget])


def test_counter_items_use_the_documented_keys(ledger: DynamoDBLedger) -> None:
    budget = Budget(name="team-a", limit=Decimal(10), period="month")
    moment = datetime(2026, 11, 15, tzinfo=UTC)
    key = counter_key(budget, moment)
    assert key["pk"].startswith("BUDGET#team-a#")
    assert key["sk"] == "PERIOD#2026-11-01"
    assert counter_key(budget.model_copy(update={"limit": Decimal(99)}), moment) == key
    assert counter_key(budget.model_copy(update={"scope": {"t": "x"}}), moment) != key
    total = Budget(name="t", limit=Decimal(1), period="total")
    assert counter_key(total, moment)["sk"] == "PERIOD#total"


def test_a_new_counter_starts_from_the_periods_existing_calls(ledger: DynamoDBLedger) -> None:
    for _ in range(3):
        ledger.record(settle(call(reserved_usd=None), "0.25"))
    budget = Budget(name="late", limit=Decimal("1.00"), period="day")
    usage = ledger.budget_usage(budget)
    assert usage.settled == Decimal("0.75")
    ledger.reserve(call("0.25"), [budget])
    with pytest.raises(BudgetExceededError):
        ledger.reserve(call("0.01"), [budget])


def test_token_budgets_and_sagemaker(ledger: DynamoDBLedger) -> None:
    sagemaker = call(None, 900, backend="sagemaker", endpoint="ep", cost_basis="instance_hours")
    with pytest.raises(ConfigurationError, match="hard USD budget"):
        ledger.reserve(sagemaker, [Budget(name="usd", limit=Decimal(5))])
    tokens = Budget(name="tokens", limit=Decimal(1000), unit="tokens", period="day")
    reserved = ledger.reserve(sagemaker, [tokens])
    with pytest.raises(BudgetExceededError, match="900 tokens"):
        ledger.reserve(call(None, 200, backend="sagemaker", cost_basis="instance_hours"), [tokens])
    ledger.settle(
        reserved.model_copy(update={"status": "ok", "prompt_tokens": 100, "completion_tokens": 150})
    )
    assert ledger.budget_usage(tokens).charged == 250


def test_reconcile_turns_dead_reservations_into_aborted_rows(ledger: DynamoDBLedger) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=20)
    budget = Budget(name="b", limit=Decimal(10), period="day")
    ledger.reserve(call("0.5", id="dead", process_id=child.pid), [budget])
    ledger.reserve(call("0.5", id="alive"), [budget])
    old = datetime.now(UTC) - timedelta(hours=7)
    ledger.record(settle(call(id="old-done", started_at=old)))
    [aborted] = ledger.reconcile(stale_after=timedelta(hours=6))
    assert aborted.id == "dead"
    assert aborted.error_kind == "reconciled:process_gone"
    rows = {r.id: r for r in ledger.query()}
    assert rows["dead"].status == "aborted"
    assert rows["dead"].cost_usd == Decimal("0.5")
    assert rows["alive"].status == "reserved"
    usage = ledger.budget_usage(budget)
    assert usage.charged == Decimal("1.0")  # unchanged: nothing vanished, nothing doubled
    assert usage.reserved == Decimal("0.5")
    assert ledger.reconcile(stale_after=timedelta(hours=6)) == []

"""A ledger in one DynamoDB table, for teams whose calls run on many machines.

The table's layout, its creation and migration, and how a call becomes an item are in
``gptoss_aws.ledger.dynamodb_table``.

Hard budgets across machines: ``reserve`` is one TransactWriteItems holding the call item
(condition: the id is new) and, for each budget covering the call, an update of its
period's counter ``charged += worst case`` with the condition ``charged <= limit - worst
case``; DynamoDB applies all of it or none, so concurrent reservations from any number of
machines cannot take a counter over its limit. ``settle`` moves each counter by (actual -
reservation) in one transaction with the call item (condition: the version read).

A call whose price is pending charges no USD counter; the row remembers the USD counters of
the budgets that covered it, and pricing it later (``fill_pending``) moves them by its cost.

Unlike the SQLite ledger (where one transaction can update every budget the file has ever
seen), a counter only holds the calls reserved under its budget: every process sharing a
budget must pass it (load the same budgets file). A counter is created on first use from
the calls already in the table for its period, so a budget added mid-month starts from
that month's real spend.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gptoss_aws.budgets import Budget
from gptoss_aws.errors import BudgetExceededError, InvalidRecordError, LedgerError
from gptoss_aws.ledger._dynamodb_reads import DynamoDBReads
from gptoss_aws.ledger.base import (
    BudgetCheck,
    BudgetUsage,
    ReportsMixin,
    charge_of,
    check_budgets,
    exceeded_message,
    reconciled_record,
    utcnow,
    validate_record,
)
from gptoss_aws.ledger.dynamodb_table import (
    DAY_INDEX,
    DESERIALIZER,
    OPEN_INDEX,
    PENDING_INDEX,
    call_item,
    call_key,
    counter_key,
    counter_update,
    counter_values,
    create_table,
    migrate_table,
    record_from_item,
)
from gptoss_aws.ledger.sqlite import pid_alive
from gptoss_aws.types import CallRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Transactions that collide on a counter are cancelled with TransactionConflict; we retry
# with jittered backoff. 20 tries of up to ~0.5 s covers dozens of writers on one budget.
MAX_TRANSACTION_ATTEMPTS = 20


class DynamoDBLedger(DynamoDBReads, ReportsMixin):
    """The ledger in a DynamoDB table (see the module doc for its layout)."""

    def __init__(
        self,
        table_name: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: DynamoDBClient | None = None,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
        self.table_name = table_name
        self.client = client
        self.host = socket.gethostname()
        self._known_counters: set[tuple[str, str]] = set()

    def __repr__(self) -> str:
        return f"DynamoDBLedger({self.table_name!r})"

    def close(self) -> None:
        self._known_counters.clear()

    # -- items -------------------------------------------------------------------------

    def _item(
        self, record: CallRecord, *, version: int, counters: Sequence[Mapping[str, str]]
    ) -> dict[str, Any]:
        return call_item(record, version=version, counters=counters, host=self.host)

    def _get_call(self, call_id: str) -> dict[str, Any] | None:
        answer = self.client.get_item(
            TableName=self.table_name, Key=call_key(call_id), ConsistentRead=True
        )
        return answer.get("Item")

    # -- budget counters ---------------------------------------------------------------

    def _ensure_counter(self, budget: Budget, at: datetime) -> dict[str, str]:
        """The budget's counter for the period holding ``at``, created from the calls
        already in the table if it does not exist yet."""
        key = counter_key(budget, at)
        if (key["pk"], key["sk"]) in self._known_counters:
            return key
        if counter_values(self.client, self.table_name, key) is None:
            start, end = budget.period_bounds(at)
            charged = held = Decimal(0)
            for record in self.query(
                since=start, until=end, backend=budget.backend, model=budget.model,
                tags=budget.scope,
            ):  # fmt: skip
                charge = charge_of(record)
                amount = Decimal(charge.tokens) if budget.unit == "tokens" else charge.usd
                if amount is None:
                    continue
                charged += amount
                if record.status == "reserved":
                    held += amount
            update = counter_update(self.table_name, key, charged=charged, held=held, budget=budget)
            update["ConditionExpression"] = "attribute_not_exists(pk)"
            # If another process created it first, its figure stands.
            with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
                self.client.update_item(**update)
        self._known_counters.add((key["pk"], key["sk"]))
        return key

    def budget_usage(self, budget: Budget, at: datetime | None = None) -> BudgetUsage:
        at = at or utcnow()
        start, end = budget.period_bounds(at)
        key = self._ensure_counter(budget, at)
        charged, held = counter_values(self.client, self.table_name, key) or (
            Decimal(0),
            Decimal(0),
        )
        return BudgetUsage(budget, start, end, settled=charged - held, reserved=held)

    # -- writes ------------------------------------------------------------------------

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """Run a transaction, retrying only on conflicts with other transactions."""
        for attempt in range(MAX_TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                codes = [r.get("Code", "None") for r in reasons]
                if "ConditionalCheckFailed" in codes or attempt == MAX_TRANSACTION_ATTEMPTS - 1:
                    raise
                if not any(c in ("TransactionConflict", "ThrottlingError") for c in codes):
                    raise
            except self.client.exceptions.TransactionConflictException:
                if attempt == MAX_TRANSACTION_ATTEMPTS - 1:
                    raise
            # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
            time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))  # noqa: S311

    def reserve(self, record: CallRecord, budgets: Sequence[Budget] = ()) -> CallRecord:
        if record.process_id is None:
            record = record.model_copy(update={"process_id": os.getpid()})
        record = validate_record(record, final=False)
        charge = charge_of(record)
        # Hard limits are enforced by the transaction's conditions; this raises at once if
        # a reservation alone exceeds a limit, or for a USD budget over a call with no
        # per-call price, and collects soft warnings from the counters' current figures.
        applicable: list[tuple[Budget, dict[str, str], Decimal]] = []
        # USD budgets over a call whose price is pending: nothing to count yet, but the row
        # remembers their counters so that pricing it later (fill_pending) counts its cost.
        later: list[dict[str, str]] = []
        for budget in budgets:
            if not budget.applies_to(record):
                continue
            amount = Decimal(charge.tokens) if budget.unit == "tokens" else charge.usd
            if amount is not None:
                applicable.append((budget, self._ensure_counter(budget, record.started_at), amount))
            elif budget.unit == "usd" and record.cost_basis == "pending":
                later.append(dict(self._ensure_counter(budget, record.started_at), unit="usd"))
        check = self._soft_check(record, budgets)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": self._item(
                        record,
                        version=1,
                        counters=[dict(k, unit=b.unit) for b, k, _ in applicable] + later,
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        for budget, key, amount in applicable:
            headroom = budget.limit - amount if budget.mode == "hard" else None
            if headroom is not None and headroom < 0:
                self._refuse(budget, record, key, amount)
            update = counter_update(
                self.table_name, key, charged=amount, held=amount, budget=budget, headroom=headroom
            )
            items.append({"Update": update})
        try:
            self._transact(items)
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            for index, reason in enumerate(reasons):
                if reason.get("Code") != "ConditionalCheckFailed":
                    continue
                if index == 0:
                    raise InvalidRecordError(
                        f"call record {record.id!r} refused, nothing written: the id exists"
                    ) from exc
                budget, key, amount = applicable[index - 1]
                self._refuse(budget, record, key, amount)
            raise LedgerError(f"DynamoDB ledger {self.table_name}: {exc}") from exc
        check.emit()
        return record

    def _soft_check(self, record: CallRecord, budgets: Sequence[Budget]) -> BudgetCheck:
        def charged(budget: Budget) -> int:
            values = counter_values(
                self.client, self.table_name, counter_key(budget, record.started_at)
            )
            total = values[0] if values else Decimal(0)
            return int(total) if budget.unit == "tokens" else _nano(total)

        return check_budgets(record, budgets, charged, hard_checked_elsewhere=True)

    def _refuse(
        self, budget: Budget, record: CallRecord, key: Mapping[str, str], amount: Decimal
    ) -> None:
        charged = (counter_values(self.client, self.table_name, key) or (Decimal(0), Decimal(0)))[0]
        if budget.unit == "tokens":
            current, requested = int(charged), int(amount)
        else:
            current, requested = _nano(charged), _nano(amount)
        raise BudgetExceededError(
            exceeded_message(budget, record, current, requested),
            budget=budget.name,
            limit=float(budget.limit),
            spent=float(charged),
        )

    def settle(self, record: CallRecord) -> None:
        record = validate_record(record, final=True)
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            old = self._get_call(record.id)
            if old is None:
                self._put_new(record)
                return
            try:
                self._replace(old, record)
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if codes[:1] != ["ConditionalCheckFailed"]:
                    raise LedgerError(f"DynamoDB ledger {self.table_name}: {exc}") from exc
                # The row changed since we read it (reconciled meanwhile): read again.
        raise LedgerError(f"could not settle call {record.id!r}: the row kept changing")

    def _replace(self, old_item: Mapping[str, Any], new: CallRecord) -> None:
        old = record_from_item(old_item)
        version = int(DESERIALIZER.deserialize(old_item["version"]))
        counters = [
            {str(k): str(v) for k, v in c.items()}
            for c in DESERIALIZER.deserialize(old_item.get("counters", {"L": []}))
        ]
        before, after = charge_of(old), charge_of(new)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": self._item(new, version=version + 1, counters=counters),
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":v": {"N": str(version)}},
                }
            }
        ]
        for counter in counters:
            if counter.get("unit") == "tokens":
                old_amount, new_amount = Decimal(before.tokens), Decimal(after.tokens)
            else:
                old_amount, new_amount = before.usd or Decimal(0), after.usd or Decimal(0)
            held = -old_amount if old.status == "reserved" else Decimal(0)
            if new_amount == old_amount and held == 0:
                continue
            update = counter_update(
                self.table_name, counter, charged=new_amount - old_amount, held=held
            )
            items.append({"Update": update})
        self._transact(items)

    def _put_new(self, record: CallRecord) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=self._item(record, version=1, counters=()),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise InvalidRecordError(
                f"call record {record.id!r} refused, nothing written: the id exists"
            ) from exc

    def record(self, record: CallRecord) -> None:
        self._put_new(validate_record(record, final=True))

    def reconcile(self, stale_after: timedelta) -> list[CallRecord]:
        now = utcnow()
        cutoff = now - stale_after
        done: list[CallRecord] = []
        for item in self._paginate(
            "query",
            IndexName=OPEN_INDEX,
            KeyConditionExpression="open_pk = :open",
            ExpressionAttributeValues={":open": {"S": "OPEN"}},
        ):
            record = record_from_item(item)
            host = DESERIALIZER.deserialize(item["host"]) if "host" in item else None
            if host == self.host and record.process_id and not pid_alive(record.process_id):
                reason = "process_gone"
            elif record.started_at < cutoff:
                reason = "stale"
            else:
                continue
            fresh = self._get_call(record.id)  # the index is eventually consistent
            if fresh is None or DESERIALIZER.deserialize(fresh["status"]) != "reserved":
                continue
            aborted = reconciled_record(record_from_item(fresh), reason, now)
            try:
                self._replace(fresh, aborted)
            except self.client.exceptions.TransactionCanceledException:
                continue  # settled or reconciled by someone else meanwhile
            done.append(aborted)
        return done

    def fill_pending(self, record: CallRecord) -> bool:
        record = validate_record(record, final=True)
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            old = self._get_call(record.id)
            if (
                old is None
                or DESERIALIZER.deserialize(old.get("cost_basis", {"S": ""})) != "pending"
            ):
                return False
            try:
                # One transaction: the row (if its version is still the one read, so still
                # pending) and the USD counters it remembered move by its new cost; token
                # counters do not move (the tokens are the same).
                self._replace(old, record)
                return True
            except self.client.exceptions.TransactionCanceledException as exc:
                codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if codes[:1] != ["ConditionalCheckFailed"]:
                    raise LedgerError(f"DynamoDB ledger {self.table_name}: {exc}") from exc
                continue  # changed meanwhile: read again
        raise LedgerError(f"could not price call {record.id!r}: the row kept changing")


def _nano(amount: Decimal) -> int:
    from gptoss_aws.ledger.base import usd_to_nano

    return usd_to_nano(amount)


# The table's helpers, importable from here as before the layout had its own module.
__all__ = [
    "DAY_INDEX",
    "OPEN_INDEX",
    "PENDING_INDEX",
    "DynamoDBLedger",
    "counter_key",
    "create_table",
    "migrate_table",
]

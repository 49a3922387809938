"""The DynamoDB ledger's table: its layout, creating and migrating it, and the items.

Key schema (the infra stack creates the same table; ``create_table`` builds it for tests)::

    table      pk (S, partition key), sk (S, sort key); billing PAY_PER_REQUEST
    call       pk = "CALL#<call id>"                  sk = "CALL"
               every CallRecord field (None omitted), plus
               gsi1pk = "DAY#<YYYY-MM-DD of started_at, UTC>"
               gsi1sk = "<started_at ISO UTC>#<call id>"
               open_pk = "OPEN", open_sk = gsi1sk        (only while status = reserved)
               host, version (N, optimistic locking), charge_usd / charge_tokens (what the
               row charges budgets, see ledger.base.charge_of) and counters: the budget
               counters it charged, [{pk, sk, unit}]
    counter    pk = "BUDGET#<budget name>#<12 hex of the budget's fingerprint>"
               sk = "PERIOD#<period start YYYY-MM-DD UTC>" or "PERIOD#total"
               charged (N: USD exact, or tokens), held (N: part of charged held by open
               reservations), name, unit, period, limit (last seen), scope
    GSI "by_day"  gsi1pk / gsi1sk, projection ALL: time-range queries, one day per query
    GSI "open"    open_pk / open_sk, projection ALL, sparse: the reservations to reconcile
    GSI "pending" pending_pk / pending_sk, projection ALL, sparse: settled rows whose price
                  is pending (pending_pk = "PENDING" only while cost_basis = pending)

Schema versions: every call item carries ``schema_version`` (2 since service tiers and
pending prices). Version 1 items (no ``schema_version``) read as calls with no tier and no
project; nothing needs rewriting. ``migrate_table`` adds the "pending" index to a table made
before it existed (UpdateTable; DynamoDB backfills the index from the items, so version 1
items, which are never pending, simply stay out of it); until then pending rows are found
by a Scan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from gptoss_aws.budgets import Budget
from gptoss_aws.ledger._schema import iso, parse_iso
from gptoss_aws.ledger.base import charge_of
from gptoss_aws.types import CallRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DAY_INDEX = "by_day"
OPEN_INDEX = "open"
PENDING_INDEX = "pending"
ITEM_SCHEMA_VERSION = 2

_INT_FIELDS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "reserved_tokens",
               "process_id")  # fmt: skip
_FLOAT_FIELDS = ("latency_ms", "ttft_ms")
_TIME_FIELDS = ("started_at", "ended_at")
_INTERNAL = ("pk", "sk", "gsi1pk", "gsi1sk", "open_pk", "open_sk", "host", "version",
             "charge_usd", "charge_tokens", "counters", "pending_pk", "pending_sk",
             "schema_version")  # fmt: skip

SERIALIZER = TypeSerializer()
DESERIALIZER = TypeDeserializer()


def create_table(
    table_name: str, *, region: str | None = None, client: DynamoDBClient | None = None
) -> None:
    """Create the ledger table (the layout in the module doc) and wait until it is active."""
    if client is None:
        import boto3

        client = boto3.client("dynamodb", region_name=region)
    strings = ("pk", "sk", "gsi1pk", "gsi1sk", "open_pk", "open_sk", "pending_pk", "pending_sk")
    index = _index
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in strings],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            index(DAY_INDEX, "gsi1pk", "gsi1sk"),
            index(OPEN_INDEX, "open_pk", "open_sk"),
            index(PENDING_INDEX, "pending_pk", "pending_sk"),
        ],
    )
    client.get_waiter("table_exists").wait(TableName=table_name)


def _index(name: str, pk: str, sk: str) -> Any:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def migrate_table(table_name: str, *, client: DynamoDBClient) -> bool:
    """Bring a ledger table made by an older version to this layout: add the sparse
    "pending" index if it is missing. True if an index was added (DynamoDB builds it in the
    background; ``pending_rows`` scans until it is active). Needs dynamodb:UpdateTable."""
    table = client.describe_table(TableName=table_name)["Table"]
    names = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    if PENDING_INDEX in names:
        return False
    client.update_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pending_pk", "AttributeType": "S"},
            {"AttributeName": "pending_sk", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexUpdates=[{"Create": _index(PENDING_INDEX, "pending_pk", "pending_sk")}],
    )
    return True


def counter_key(budget: Budget, at: datetime) -> dict[str, str]:
    start, _ = budget.period_bounds(at)
    digest = hashlib.sha256(budget.fingerprint().encode()).hexdigest()[:12]
    period = "total" if start is None else f"{start:%Y-%m-%d}"
    return {"pk": f"BUDGET#{budget.name}#{digest}", "sk": f"PERIOD#{period}"}


def call_key(call_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALL#{call_id}"}, "sk": {"S": "CALL"}}


def call_item(
    record: CallRecord, *, version: int, counters: Sequence[Mapping[str, str]], host: str
) -> dict[str, Any]:
    data = record.model_dump()
    item: dict[str, Any] = {}
    for name, value in data.items():
        if value is None:
            continue
        if name in _TIME_FIELDS:
            value = iso(value)
        elif isinstance(value, float):
            value = Decimal(repr(value))
        item[name] = value
    started = iso(record.started_at)
    item.update(
        pk=f"CALL#{record.id}",
        sk="CALL",
        gsi1pk=f"DAY#{started[:10]}",
        gsi1sk=f"{started}#{record.id}",
        host=host,
        version=version,
        counters=[dict(c) for c in counters],
        schema_version=ITEM_SCHEMA_VERSION,
    )
    if record.cost_basis == "pending" and record.status != "reserved":
        item["pending_pk"] = "PENDING"
        item["pending_sk"] = item["gsi1sk"]
    charge = charge_of(record)
    item["charge_tokens"] = charge.tokens
    if charge.usd is not None:
        item["charge_usd"] = charge.usd
    if record.status == "reserved":
        item["open_pk"] = "OPEN"
        item["open_sk"] = item["gsi1sk"]
    return {k: SERIALIZER.serialize(v) for k, v in item.items()}


def record_from_item(item: Mapping[str, Any]) -> CallRecord:
    data = {k: DESERIALIZER.deserialize(v) for k, v in item.items() if k not in _INTERNAL}
    for name in _INT_FIELDS:
        if data.get(name) is not None:
            data[name] = int(data[name])
    for name in _FLOAT_FIELDS:
        if data.get(name) is not None:
            data[name] = float(data[name])
    for name in _TIME_FIELDS:
        if data.get(name) is not None:
            data[name] = parse_iso(data[name])
    return CallRecord.model_validate(data)


def counter_update(
    table_name: str,
    key: Mapping[str, str],
    *,
    charged: Decimal,
    held: Decimal,
    budget: Budget | None = None,
    headroom: Decimal | None = None,
) -> dict[str, Any]:
    names = {"#c": "charged", "#h": "held"}
    values: dict[str, Any] = {
        ":c": SERIALIZER.serialize(charged),
        ":h": SERIALIZER.serialize(held),
        ":zero": {"N": "0"},
    }
    sets = ["#c = if_not_exists(#c, :zero) + :c", "#h = if_not_exists(#h, :zero) + :h"]
    if budget is not None:
        names.update({"#n": "name", "#u": "unit", "#p": "period", "#l": "limit", "#s": "scope"})
        values.update(
            {
                ":n": {"S": budget.name},
                ":u": {"S": budget.unit},
                ":p": {"S": budget.period},
                ":l": SERIALIZER.serialize(budget.limit),
                ":s": {"S": json.dumps(budget.scope, sort_keys=True)},
            }
        )
        sets += ["#n = :n", "#u = :u", "#p = :p", "#l = :l", "#s = :s"]
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": {"pk": {"S": key["pk"]}, "sk": {"S": key["sk"]}},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if headroom is not None:
        update["ConditionExpression"] = "#c <= :room"
        values[":room"] = SERIALIZER.serialize(headroom)
    return update


def counter_values(
    client: DynamoDBClient, table_name: str, key: Mapping[str, str]
) -> tuple[Decimal, Decimal] | None:
    """(charged, held) of a budget counter, or None if it does not exist yet."""
    answer = client.get_item(
        TableName=table_name,
        Key={"pk": {"S": key["pk"]}, "sk": {"S": key["sk"]}},
        ConsistentRead=True,
    )
    item = answer.get("Item")
    if item is None:
        return None
    charged = DESERIALIZER.deserialize(item.get("charged", {"N": "0"}))
    held = DESERIALIZER.deserialize(item.get("held", {"N": "0"}))
    return Decimal(charged), Decimal(held)

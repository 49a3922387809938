"""The DynamoDB ledger's reads: calls by time range and filters, and the pending rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from gptoss_aws.ledger.base import utcnow
from gptoss_aws.ledger.dynamodb_table import DAY_INDEX, PENDING_INDEX, record_from_item
from gptoss_aws.types import CallRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A time range longer than this is read with a Scan rather than one Query per day.
MAX_DAYS_QUERIED = 92


class DynamoDBReads:
    """Mixed into ``DynamoDBLedger``: the reads, over its ``client`` and ``table_name``."""

    client: DynamoDBClient
    table_name: str

    def pending_rows(self) -> list[CallRecord]:
        try:
            items = list(
                self._paginate(
                    "query",
                    IndexName=PENDING_INDEX,
                    KeyConditionExpression="pending_pk = :p",
                    ExpressionAttributeValues={":p": {"S": "PENDING"}},
                )
            )
        except self.client.exceptions.ClientError as exc:
            # DynamoDB answers ValidationException for a missing index (moto:
            # ResourceNotFoundException); a missing table fails the scan below too.
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("ValidationException", "ResourceNotFoundException"):
                raise
            # A table from before the index (see migrate_table): read it all.
            items = list(
                self._paginate(
                    "scan",
                    FilterExpression="sk = :call AND cost_basis = :p AND #s <> :r",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":call": {"S": "CALL"},
                        ":p": {"S": "pending"},
                        ":r": {"S": "reserved"},
                    },
                )
            )
        found = [record_from_item(item) for item in items]
        # The index is eventually consistent: keep what is still pending.
        found = [r for r in found if r.cost_basis == "pending" and r.status != "reserved"]
        return sorted(found, key=lambda r: (r.started_at, r.id))

    def _paginate(
        self, operation: Literal["query", "scan"], **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        # botocore's paginator follows LastEvaluatedKey -> ExclusiveStartKey page by page.
        paginator: Any = self.client.get_paginator(operation)
        pages = paginator.paginate(TableName=self.table_name, **kwargs)
        for page in pages:
            yield from page.get("Items", [])

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
        statuses = (
            None if status is None else ({status} if isinstance(status, str) else set(status))
        )
        end = until or utcnow() + timedelta(days=1)
        if since is not None and (end - since).days <= MAX_DAYS_QUERIED:
            items: Iterator[dict[str, Any]] = self._query_days(since, end)
        else:
            items = self._paginate(
                "scan",
                FilterExpression="sk = :call",
                ExpressionAttributeValues={":call": {"S": "CALL"}},
            )
        found: list[CallRecord] = []
        for item in items:
            record = record_from_item(item)
            if (
                (since is not None and record.started_at < since)
                or (until is not None and record.started_at >= until)
                or (backend is not None and record.backend != backend)
                or (model is not None and record.model != model)
                or (endpoint is not None and record.endpoint != endpoint)
                or (statuses is not None and record.status not in statuses)
                or any(record.tags.get(k) != v for k, v in (tags or {}).items())
            ):
                continue
            found.append(record)
        found.sort(key=lambda r: (r.started_at, r.id))
        return found

    def _query_days(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        day = since.astimezone(UTC).date()
        last = until.astimezone(UTC).date()
        while day <= last:
            yield from self._paginate(
                "query",
                IndexName=DAY_INDEX,
                KeyConditionExpression="gsi1pk = :day",
                ExpressionAttributeValues={":day": {"S": f"DAY#{day:%Y-%m-%d}"}},
            )
            day += timedelta(days=1)

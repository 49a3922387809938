"""The AWS bill for a window, as Cost Explorer reports it, cached on disk.

What is read: Cost Explorer ``GetCostAndUsage``, DAILY, metrics UnblendedCost and
UsageQuantity, filtered to Amazon Bedrock and Amazon SageMaker and to the project's
cost-allocation tags (``tags``; they must be activated in the Billing console to appear),
in two queries because one query groups by at most two keys (Cost Explorer API reference,
GetCostAndUsage, GroupBy):

1. grouped by SERVICE and USAGE_TYPE: SageMaker hosting is ``<REGION>-Host:<instance type>``
   in hours, Bedrock tokens ``<REGION>-<model>-input-tokens`` / ``-output-tokens``;
2. Bedrock only, grouped by the team tag (default ``gptoss:team``, the tag the stack puts on
   each team's application inference profile) and USAGE_TYPE.

Cost Explorer data lags (AWS updates it at least once every 24 hours) and each request is
charged (USD 0.01, AWS Cost Explorer pricing), so answers are cached on disk
(``$GPTOSS_AWS_HOME/ce-cache``) and every reconciliation says when its data was fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gptoss_aws.errors import ConfigurationError

# Cost Explorer's endpoint is in us-east-1 (AWS General Reference, Cost Explorer endpoints).
CE_REGION = "us-east-1"
BEDROCK_SERVICE = "Amazon Bedrock"
SAGEMAKER_SERVICE = "Amazon SageMaker"
DEFAULT_TEAM_TAG = "gptoss:team"
DEFAULT_MAX_AGE = timedelta(hours=6)


@dataclass(frozen=True)
class BillRow:
    """One group of one day of the bill."""

    day: date
    service: str
    usage_type: str
    team: str | None  # the team tag's value, for the Bedrock-by-team query
    usd: Decimal
    quantity: Decimal
    unit: str
    estimated: bool


@dataclass(frozen=True)
class Bill:
    rows: tuple[BillRow, ...]  # by service and usage type
    team_rows: tuple[BillRow, ...]  # Bedrock by team and usage type
    fetched_at: datetime
    from_cache: bool

    def freshness(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        age = now - self.fetched_at
        hours = age.total_seconds() / 3600
        where = "from the local cache" if self.from_cache else "just fetched"
        estimated = sorted(
            {r.day.isoformat() for r in (*self.rows, *self.team_rows) if r.estimated}
        )
        line = (
            f"Cost Explorer data fetched {self.fetched_at:%Y-%m-%d %H:%M} UTC ({hours:.1f} h ago, "
            f"{where}); Cost Explorer itself lags up to a day"
        )
        if estimated:
            line += f"; AWS marks {', '.join(estimated)} as estimated"
        return line


def _request(
    since: date, until: date, services: Sequence[str], tags: Mapping[str, str], group: list[Any]
) -> dict[str, Any]:
    expressions: list[dict[str, Any]] = [
        {"Dimensions": {"Key": "SERVICE", "Values": list(services)}}
    ]
    expressions += [
        {"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}
        for key, value in sorted(tags.items())
    ]
    return {
        "TimePeriod": {"Start": since.isoformat(), "End": until.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost", "UsageQuantity"],
        "Filter": expressions[0] if len(expressions) == 1 else {"And": expressions},
        "GroupBy": group,
    }


def _cache_file(cache_dir: Path, requests: Sequence[Mapping[str, Any]]) -> Path:
    key = hashlib.sha256(json.dumps(list(requests), sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir / f"{key}.json"


def _default_cache_dir() -> Path:
    from gptoss_aws.pricing._cache import data_home

    return data_home() / "ce-cache"


def _call_all(ce_client: Any, request: Mapping[str, Any]) -> list[dict[str, Any]]:
    # botocore has no paginator for GetCostAndUsage (ce.can_paginate says False): follow
    # NextPageToken by hand.
    pages: list[dict[str, Any]] = []
    call = dict(request)
    while True:
        page = ce_client.get_cost_and_usage(**call)
        page.pop("ResponseMetadata", None)
        pages.append(page)
        token = page.get("NextPageToken")
        if not token:
            return pages
        call["NextPageToken"] = token


def _rows(pages: Iterable[Mapping[str, Any]], *, team_query: bool) -> list[BillRow]:
    rows: list[BillRow] = []
    for page in pages:
        for result in page.get("ResultsByTime", []):
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            estimated = bool(result.get("Estimated", False))
            for group in result.get("Groups", []):
                keys = group.get("Keys", [])
                metrics = group.get("Metrics", {})
                cost = metrics.get("UnblendedCost", {})
                usage = metrics.get("UsageQuantity", {})
                if team_query:
                    _, _, team_value = keys[0].partition("$")
                    service, team, usage_type = BEDROCK_SERVICE, team_value or None, keys[1]
                else:
                    service, team, usage_type = keys[0], None, keys[1]
                rows.append(
                    BillRow(
                        day=day,
                        service=service,
                        usage_type=usage_type,
                        team=team,
                        usd=Decimal(str(cost.get("Amount", "0"))),
                        quantity=Decimal(str(usage.get("Amount", "0"))),
                        unit=str(usage.get("Unit", "")),
                        estimated=estimated,
                    )
                )
    return rows


def fetch_bill(
    ce_client: Any,
    since: date,
    until: date,
    *,
    tags: Mapping[str, str] | None = None,
    team_tag: str = DEFAULT_TEAM_TAG,
    cache_dir: str | os.PathLike[str] | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    now: datetime | None = None,
) -> Bill:
    """The bill for [since, until) (dates, end exclusive, as Cost Explorer takes them),
    from the cache when an answer to the same requests is younger than ``max_age``."""
    if until <= since:
        raise ConfigurationError(f"until ({until}) must be after since ({since})")
    now = now or datetime.now(UTC)
    tags = dict(tags or {})
    requests = [
        _request(
            since, until, [BEDROCK_SERVICE, SAGEMAKER_SERVICE], tags,
            [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        ),
        _request(
            since, until, [BEDROCK_SERVICE], tags,
            [{"Type": "TAG", "Key": team_tag}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        ),
    ]  # fmt: skip
    directory = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = _cache_file(directory, requests)
    cached = _read_cache(path)
    if cached is not None and now - cached[0] < max_age:
        fetched_at, answers, from_cache = cached[0], cached[1], True
    else:
        if ce_client is None:
            import boto3

            ce_client = boto3.client("ce", region_name=CE_REGION)
        answers = [_call_all(ce_client, request) for request in requests]
        fetched_at, from_cache = now, False
        _write_cache(path, fetched_at, answers)
    return Bill(
        rows=tuple(_rows(answers[0], team_query=False)),
        team_rows=tuple(_rows(answers[1], team_query=True)),
        fetched_at=fetched_at,
        from_cache=from_cache,
    )


def _read_cache(path: Path) -> tuple[datetime, list[list[dict[str, Any]]]] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return datetime.fromisoformat(document["fetched_at"]), document["answers"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache, or a broken one: ask again


def _write_cache(path: Path, fetched_at: datetime, answers: list[list[dict[str, Any]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"fetched_at": fetched_at.isoformat(), "answers": answers}, default=str)
    fd, tmp = tempfile.mkstemp(prefix=".ce.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)

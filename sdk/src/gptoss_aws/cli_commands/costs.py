"""``gptoss-aws costs``: what the ledger's calls cost, grouped, as a table, CSV or JSON.

gptoss-aws costs --since 7d --by model,tags.team
gptoss-aws costs --since 2026-11-01 --ledger dynamodb://gptoss-ledger?region=us-east-1
gptoss-aws costs --by endpoint --sagemaker-from-aws --format csv
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.reports.summary import GROUP_KEYS_HELP, aws_allocator, summarize

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """``7d``/``24h``/``30m``/``2w`` ago, a date (00:00 UTC) or an ISO time (UTC if naive)."""
    now = now or datetime.now(UTC)
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"cannot read time {text!r}: use 7d, 24h, 30m, 2w, 2026-11-01 or 2026-11-01T09:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"tag filter {text!r} must look like key=value")
    return key, value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "costs",
        help="what your calls cost, grouped (table, csv or json)",
        description="Summarise the ledger: calls, tokens and cost per group, with totals "
        "and notes on unpriced, estimated and pending (SageMaker) calls.",
    )
    parser.add_argument("--since", help="7d, 24h, 2w, 2026-11-01 or an ISO time (default: all)")
    parser.add_argument("--until", help="same forms as --since (default: now)")
    parser.add_argument(
        "--by", default="model", help=f"comma-separated group keys: {GROUP_KEYS_HELP}"
    )
    parser.add_argument("--ledger", help="ledger file, sqlite:///PATH or dynamodb://TABLE?region=")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--model", help="only this model")
    parser.add_argument("--backend", choices=("sagemaker", "bedrock", "openai"))
    parser.add_argument("--endpoint", help="only this endpoint")
    parser.add_argument(
        "--tag", action="append", type=_tag, default=[], metavar="KEY=VALUE",
        help="only calls with this tag (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--allocate", choices=("tokens", "output_tokens", "latency"), default="tokens",
        help="how SageMaker instance-hours are shared between calls (default: tokens)",
    )  # fmt: skip
    parser.add_argument(
        "--sagemaker-from-aws", action="store_true",
        help="allocate SageMaker endpoints' instance-hours, reading their instance counts "
        "from AWS (DescribeEndpoint, CloudWatch); without it SageMaker calls are pending",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gptoss_aws.ledger import open_ledger

    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until) if args.until else None
    if since and until and until <= since:
        raise ConfigurationError(f"--until ({until}) must be after --since ({since})")
    by = [key.strip() for key in args.by.split(",") if key.strip()]
    ledger = open_ledger(args.ledger)
    try:
        records = ledger.query(
            since=since,
            until=until,
            backend=args.backend,
            model=args.model,
            endpoint=args.endpoint,
            tags=dict(args.tag) or None,
        )
    finally:
        ledger.close()
    report = summarize(
        records,
        by,
        since=since,
        until=until,
        allocate=args.allocate,
        allocator=aws_allocator() if args.sagemaker_from_aws else None,
    )
    if args.format == "csv":
        print(report.to_csv(), end="")
    elif args.format == "json":
        print(report.to_json())
    else:
        print(report)
    return 0

"""``gptoss-aws costs``: what the ledger's calls cost, grouped, as a table, CSV or JSON.

gptoss-aws costs --since 7d --by model,tags.team
gptoss-aws costs --since 2026-11-01 --ledger dynamodb://gptoss-ledger?region=us-east-1
gptoss-aws costs --by endpoint --sagemaker-from-aws --format csv
gptoss-aws costs --by model,service_tier
gptoss-aws costs reconcile --since 7d --tag project=gptoss [--true-up]
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from gptoss_aws.backends.registry import backend_names, billed_by_instance_hours
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
    parser.add_argument("--backend", choices=backend_names())
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
    sub = parser.add_subparsers(dest="costs_command", metavar="{reconcile}")
    rec = sub.add_parser(
        "reconcile",
        help="compare the ledger with the AWS bill (Cost Explorer): drift and likely causes",
        description="Reads Cost Explorer GetCostAndUsage (daily; cached) for whole UTC days "
        "and compares Bedrock per team profile (tokens, dollars) and SageMaker per instance "
        "type (instance-hours, dollars) with the ledger.",
    )
    rec.add_argument("--since", required=True, help="7d, 2026-11-01, ... (whole UTC days)")
    rec.add_argument("--until", help="same forms (default: today, exclusive)")
    rec.add_argument("--ledger", help="ledger file, sqlite:///PATH or dynamodb://TABLE?region=")
    rec.add_argument(
        "--tag", action="append", type=_tag, default=[], metavar="KEY=VALUE",
        help="cost-allocation tag the bill is filtered by (repeatable), e.g. project=gptoss",
    )  # fmt: skip
    rec.add_argument("--team-tag", default="gptoss:team", help="the profiles' team tag key")
    rec.add_argument("--ledger-team-tag", default="team", help="the ledger tag naming the team")
    rec.add_argument(
        "--endpoint", action="append", default=[], metavar="NAME@REGION",
        help="SageMaker endpoint to measure even if the window holds none of its calls",
    )  # fmt: skip
    rec.add_argument("--max-age", type=float, default=6.0, help="reuse cached answers (hours)")
    rec.add_argument("--prices-file", help="price overrides (TOML/JSON)")
    rec.add_argument(
        "--true-up", action="store_true",
        help="scale the window's SageMaker allocations to the billed amount",
    )  # fmt: skip
    rec.set_defaults(func=run_reconcile)


def _day(text: str) -> date:
    return parse_when(text).astimezone(UTC).date()


def run_reconcile(args: argparse.Namespace, *, session: Any = None) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from gptoss_aws.costing.allocation import allocate
    from gptoss_aws.costing.capacity import timelines_from_endpoint
    from gptoss_aws.costing.reconcile import (
        CE_REGION,
        billed_by_endpoint,
        reconcile_ledger,
        true_up,
    )
    from gptoss_aws.ledger import open_ledger
    from gptoss_aws.pricing import PriceBook

    since = _day(args.since)
    until = _day(args.until) if args.until else datetime.now(UTC).date()
    if until <= since:
        raise ConfigurationError(f"--until ({until}) must be after --since ({since})")
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC)
    factory = session or boto3.session.Session()
    book = PriceBook.load(overrides=args.prices_file) if args.prices_file else PriceBook.load()
    ledger = open_ledger(args.ledger)
    try:
        calls = ledger.query(since=start, until=end)
        endpoints = {(c.endpoint, c.region) for c in calls if billed_by_instance_hours(c.backend)}
        for named in args.endpoint:
            name, _, region = named.partition("@")
            endpoints.add((name, region or factory.region_name))
        timelines = []
        for name, region in sorted(endpoints, key=str):
            if not name or not region:
                continue
            try:
                timelines += timelines_from_endpoint(
                    name, start, end,
                    sagemaker_client=factory.client("sagemaker", region_name=region),
                    cloudwatch_client=factory.client("cloudwatch", region_name=region),
                    autoscaling_client=factory.client(
                        "application-autoscaling", region_name=region
                    ),
                )  # fmt: skip
            except (ClientError, BotoCoreError, ConfigurationError) as exc:
                # Deleted, or no permission: its billed hours then show as outside the
                # timelines, which the drift names.
                print(f"note: cannot read the instances of endpoint {name}: {exc}")
        result = reconcile_ledger(
            ledger, since, until, ce_client=factory.client("ce", region_name=CE_REGION),
            tags=dict(args.tag), team_tag=args.team_tag, ledger_team_tag=args.ledger_team_tag,
            timelines=timelines, price_lookup=book.instance_price,
            max_age=timedelta(hours=args.max_age),
        )  # fmt: skip
    finally:
        ledger.close()
    print(result)
    if args.true_up and timelines:
        sagemaker_calls = [
            c for c in calls if billed_by_instance_hours(c.backend) and c.status != "reserved"
        ]
        allocation = allocate(
            start, end, timelines, book.instance_price, sagemaker_calls, missing_price="pending"
        )
        trued = true_up(allocation, billed_by_endpoint(allocation, result))
        for window in trued.endpoints:
            own = [ln for ln in trued.lines if (ln.endpoint, ln.variant) == (window.endpoint,
                   window.variant)]  # fmt: skip
            calls_usd = sum((ln.usd for ln in own if ln.kind == "call"), Decimal(0))
            idle_usd = sum((ln.usd for ln in own if ln.kind == "idle"), Decimal(0))
            print(
                f"true-up {window.endpoint}/{window.variant}: allocations ${calls_usd} + idle "
                f"${idle_usd} = ${calls_usd + idle_usd} (billed ${window.usd})"
            )
    return 0


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

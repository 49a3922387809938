"""`gptoss-aws advise`: would the ledger's traffic have been cheaper on Bedrock or an endpoint?"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gptoss_aws.costing.advisor import advise
from gptoss_aws.costing.capacity import InstanceTimeline, timelines_from_endpoint
from gptoss_aws.errors import ConfigurationError, GptOssError
from gptoss_aws.pricing.catalog import PriceBook
from gptoss_aws.types import CallRecord

PRICES_FILE_ENV = "GPTOSS_AWS_PRICES"

CallLoader = Callable[[argparse.Namespace, datetime, datetime], Sequence[CallRecord]]
TimelineLoader = Callable[[argparse.Namespace, datetime, datetime], list[InstanceTimeline]]


def _moment(text: str) -> datetime:
    """The same forms as `costs --since`: 7d, 24h, a date or an ISO time (UTC if naive)."""
    from gptoss_aws._cli_commands.costs import parse_when

    try:
        return parse_when(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "advise",
        help="compare Bedrock and a SageMaker endpoint for your real traffic",
        description=(
            "Prices the ledger's calls of one model in a window on Bedrock (per token) and on "
            "an endpoint (instance-hours), and finds the traffic above which the endpoint is "
            "cheaper."
        ),
    )
    parser.add_argument(
        "--since",
        type=_moment,
        required=True,
        help="window start: 30d, 24h, 2026-11-01 or an ISO time (UTC)",
    )
    parser.add_argument("--until", type=_moment, help="window end (ISO, UTC; default: now)")
    parser.add_argument("--bedrock-region", required=True, help="price Bedrock in this region")
    parser.add_argument("--model", help="model to advise on (default: the only one in the window)")
    parser.add_argument("--endpoint", help="SageMaker endpoint that served the traffic")
    parser.add_argument("--variant", help="its production variant (default: all)")
    parser.add_argument(
        "--endpoint-region", help="region of the endpoint (default: --bedrock-region)"
    )
    parser.add_argument(
        "--instance-type",
        help="with no --endpoint: the instance type to price (default: ml.p5.4xlarge)",
    )
    parser.add_argument(
        "--throughput",
        type=_positive,
        help="output tokens/s one instance sustains (default: a published benchmark)",
    )
    parser.add_argument("--ledger", help="ledger path or URL (default: the local ledger)")
    parser.add_argument(
        "--prices-file",
        default=os.environ.get(PRICES_FILE_ENV),
        help=f"JSON/TOML price overrides (default: ${PRICES_FILE_ENV})",
    )
    parser.set_defaults(func=run_advise)


def _ledger_calls(args: argparse.Namespace, since: datetime, until: datetime) -> list[CallRecord]:
    from gptoss_aws.ledger import open_ledger

    return open_ledger(args.ledger).query(since=since, until=until)


def _endpoint_timelines(
    args: argparse.Namespace, since: datetime, until: datetime
) -> list[InstanceTimeline]:
    if not args.endpoint:
        return []
    import boto3

    region = args.endpoint_region or args.bedrock_region
    return timelines_from_endpoint(
        args.endpoint,
        since,
        until,
        sagemaker_client=boto3.client("sagemaker", region_name=region),
        cloudwatch_client=boto3.client("cloudwatch", region_name=region),
        variant=args.variant,
    )


def run_advise(
    args: argparse.Namespace,
    *,
    load_calls: CallLoader = _ledger_calls,
    load_timelines: TimelineLoader = _endpoint_timelines,
) -> int:
    until = args.until or datetime.now(UTC)
    if until <= args.since:
        print("error: --until must be after --since", file=sys.stderr)
        return 2
    try:
        prices = PriceBook.load(overrides=args.prices_file)
        calls = load_calls(args, args.since, until)
        timelines = load_timelines(args, args.since, until)
        advice = advise(
            calls,
            window_start=args.since,
            window_end=until,
            prices=prices,
            bedrock_region=args.bedrock_region,
            model=args.model,
            timelines=timelines or None,
            instance_type=args.instance_type,
            endpoint_region=args.endpoint_region,
            throughput=args.throughput,
        )
    except GptOssError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(advice.summary())
    return 0

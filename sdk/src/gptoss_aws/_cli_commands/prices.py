"""`gptoss-aws prices list`, `prices refresh` and `prices fill`.

``refresh`` fetches list prices from AWS into the cache, says where a refreshed price differs
from the bundled one, then prices the ledger's pending rows (calls that ran while their
price was unknown) at the price in force when they ran. ``fill`` does that last step alone,
e.g. after writing a price override.
"""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal
from typing import Any

from gptoss_aws.errors import GptOssError
from gptoss_aws.pricing.catalog import PriceBook
from gptoss_aws.pricing.records import InstancePrice, TokenPrice, decimal_text
from gptoss_facts.text import render_table

# A price overrides file the CLI reads when --prices-file is not given.
PRICES_FILE_ENV = "GPTOSS_AWS_PRICES"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "prices",
        help="list the prices costs are computed from, or refresh them from AWS",
        description="Prices: bundled catalog < refreshed cache < your overrides.",
    )
    sub = parser.add_subparsers(dest="prices_command", required=True, metavar="{list,refresh,fill}")

    listing = sub.add_parser("list", help="show every known price with its source and date")
    listing.add_argument("--region", help="only this region, e.g. us-east-1")
    _add_prices_file(listing)
    listing.set_defaults(func=run_list)

    refresh = sub.add_parser(
        "refresh",
        help="fetch current list prices from the AWS Price List API into the local cache",
        description="Needs pricing:GetProducts. Other regions already cached are kept.",
    )
    refresh.add_argument(
        "--region",
        action="append",
        dest="regions",
        help="region to refresh (repeatable; default: your AWS configured region)",
    )
    refresh.add_argument(
        "--instance-type",
        action="append",
        dest="instance_types",
        help="SageMaker instance type (repeatable; default: those in the bundled catalog)",
    )
    refresh.add_argument(
        "--model",
        action="append",
        dest="models",
        help="model short name (repeatable; default: gpt-oss-120b and gpt-oss-20b)",
    )
    refresh.add_argument("--ledger", help="ledger whose pending rows to price (default: yours)")
    _add_prices_file(refresh)
    refresh.set_defaults(func=run_refresh)

    fill = sub.add_parser(
        "fill",
        help="price the ledger's pending rows with the prices known now (after an override)",
        description="Each pending row is priced at the price in force when the call ran.",
    )
    fill.add_argument("--ledger", help="ledger file, sqlite:///PATH or dynamodb://TABLE?region=")
    _add_prices_file(fill)
    fill.set_defaults(func=run_fill)


def _add_prices_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prices-file",
        default=os.environ.get(PRICES_FILE_ENV),
        help=f"JSON/TOML price overrides (default: ${PRICES_FILE_ENV})",
    )


def _price_cells(price: TokenPrice | InstancePrice) -> tuple[str, str]:
    if isinstance(price, TokenPrice):
        text = f"{decimal_text(price.input_per_1m)} / {decimal_text(price.output_per_1m)}"
        return text, "USD per 1M tokens in / out"
    return decimal_text(price.usd_per_hour), "USD per instance-hour"


def run_list(args: argparse.Namespace) -> int:
    try:
        book = PriceBook.load(overrides=args.prices_file)
        prices = list(book.rows(region=args.region))
    except GptOssError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not prices:
        where = f" for {args.region}" if args.region else ""
        print(f"No prices known{where}. Run `gptoss-aws prices refresh --region <region>`.")
        return 1
    table = [["KIND", "NAME", "REGION", "TIER", "PRICE", "UNIT", "LAYER", "AS OF", "SOURCE"]]
    for row in prices:
        price, unit = _price_cells(row.price)
        source = row.price.source + (f" [{row.price.note}]" if row.price.note else "")
        as_of = row.price.as_of.isoformat()
        table.append(
            [row.kind, row.name, row.region, row.tier or "-", price, unit, row.price.layer,
             as_of, source]
        )  # fmt: skip
    print(render_table(table))
    return 0


def run_refresh(args: argparse.Namespace, pricing_client: Any = None) -> int:
    from gptoss_aws.pricing._refresh import refresh

    regions = args.regions
    if not regions:
        import boto3

        configured = boto3.session.Session().region_name
        if not configured:
            print("error: no --region given and no AWS region configured", file=sys.stderr)
            return 2
        regions = [configured]
    try:
        report = refresh(
            pricing_client,
            regions=regions,
            models=args.models,
            instance_types=args.instance_types,
        )
    except GptOssError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{report.priced} price(s) from {report.source} for {', '.join(regions)}.")
    if report.cache_file is not None:
        print(f"Written to {report.cache_file}.")
    for missing in report.missing:
        print(f"not found: {missing}")
    if report.skipped:
        print(f"{len(report.skipped)} product(s) read and set aside (batch, flex, ...).")
    for change in report.changes:
        print(f"CHANGED: {change}")
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    filled = _fill(args, PriceBook.load(overrides=args.prices_file)) if report.priced else 0
    # Problems mean a product we should have read was unreadable: fail loudly so a human
    # looks, even though everything readable was written.
    return 1 if report.problems or not report.priced or filled else 0


def _fill(args: argparse.Namespace, book: PriceBook) -> int:
    """Price the ledger's pending rows; print what was priced and what is still pending.
    Returns 1 if rows are still pending, else 0."""
    from gptoss_aws.costing.per_token import usd_text
    from gptoss_aws.ledger import open_ledger

    ledger = open_ledger(args.ledger)
    try:
        fill = ledger.price_pending(book)
    finally:
        ledger.close()
    total = sum((r.cost_usd for r in fill.priced if r.cost_usd is not None), Decimal(0))
    print(
        f"Priced {len(fill.priced)} pending call(s) at the price in force when they ran: "
        f"{usd_text(total, 6)}."
    )
    if fill.still_pending:
        tokens = sum(r.prompt_tokens + r.completion_tokens for r, _ in fill.still_pending)
        commands = " or ".join(f"`{c}`" for c in fill.fixes()) or "a price override"
        print(
            f"Still pending: {len(fill.still_pending)} call(s), {tokens:,} tokens; fill with "
            f"{commands}."
        )
        return 1
    return 0


def run_fill(args: argparse.Namespace) -> int:
    try:
        return _fill(args, PriceBook.load(overrides=args.prices_file))
    except GptOssError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

"""Read a synthesized cloud assembly and say what it deploys, how safe it is, and its cost.

    python -m gptoss_infra.summary cdk.out
    python -m gptoss_infra.summary --update-docs docs/infrastructure.md

Everything comes from the assembly itself (templates, manifest, metadata, cdk-nag's
validation report), not from the configuration, so the summary describes what would really
be deployed. Monthly estimates use the SDK's price catalog at 730 hours a month (the AWS
Pricing Calculator's convention: 24 x 365 / 12). A price the catalog lacks is printed as
"unpriced", never as $0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gptoss_aws.pricing.catalog import PriceBook

from .assembly import read_assembly
from .cost import bundled_price_book, estimate
from .docs import generated_sections, replace_sections, synthesize_presets
from .text import rehearsal_text, render


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gptoss_infra.summary", description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", help="cloud assembly directory")
    parser.add_argument(
        "--update-docs",
        metavar="MARKDOWN",
        help="synthesize every preset and rewrite the generated tables in this file",
    )
    parser.add_argument(
        "--prices-file", help="price overrides (TOML/JSON) on top of the SDK's catalog"
    )
    return parser


def update_docs(doc: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sections = generated_sections(synthesize_presets(Path(tmp)), bundled_price_book())
    doc.write_text(replace_sections(doc.read_text(encoding="utf-8"), sections), "utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.update_docs:
        update_docs(Path(args.update_docs))
        print(f"updated {args.update_docs}")
        return 0
    try:
        summary = read_assembly(args.assembly)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    book = PriceBook.load(overrides=args.prices_file) if args.prices_file else PriceBook.load()
    print(render(summary, estimate(summary, book)))
    print()
    print(rehearsal_text(args.assembly))
    from gptoss_infra.deploy_order import deploy_order_text

    print()
    print(deploy_order_text(args.assembly))
    return 1 if summary.findings else 0

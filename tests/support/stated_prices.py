"""Bedrock prices a test states for itself.

The bundled catalog holds no Bedrock gpt-oss price: no AWS primary source that states one
could be read offline (see docs/costs.md), so every Bedrock price is pending until
`gptoss-aws prices refresh` or an override fills it. A test whose subject is cost arithmetic
on a priced call states its figures here, as an override layer labelled as a test input. They
are not a claim about what AWS charges: the tests check tokens x the stated price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gptoss_aws.pricing import PriceBook

SOURCE = "stated by the test (not an AWS price)"
AS_OF = "2026-01-01"  # before every timestamp the tests use, so `at=` finds it in force

# (input, output) USD per 1M tokens
FIGURES: dict[str, tuple[str, str]] = {
    "gpt-oss-120b": ("0.15", "0.60"),
    "gpt-oss-20b": ("0.07", "0.30"),
}
INPUT_120B = Decimal(FIGURES["gpt-oss-120b"][0])
OUTPUT_120B = Decimal(FIGURES["gpt-oss-120b"][1])


def document(*regions: str) -> dict[str, Any]:
    """An override document pricing both models at the stated figures in ``regions``."""
    return {
        "bedrock": {
            model: {
                region: {
                    "input_per_1m": inp,
                    "output_per_1m": out,
                    "source": SOURCE,
                    "as_of": AS_OF,
                }
                for region in regions or ("us-east-1",)
            }
            for model, (inp, out) in FIGURES.items()
        }
    }


def toml(*regions: str) -> str:
    """The same figures as a TOML override file (for --prices-file)."""
    lines = []
    for model, (inp, out) in FIGURES.items():
        for region in regions or ("us-east-1",):
            lines += [
                f'[bedrock."{model}".{region}]',
                f'input_per_1m = "{inp}"',
                f'output_per_1m = "{out}"',
                f'source = "{SOURCE}"',
                f'as_of = "{AS_OF}"',
                "",
            ]
    return "\n".join(lines)


def book(*regions: str) -> PriceBook:
    """The default book (bundled + cache) with the stated Bedrock figures on top."""
    return PriceBook.load().with_override(document(*regions))

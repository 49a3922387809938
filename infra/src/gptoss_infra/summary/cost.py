"""The monthly hosting estimate of an assembly, from the SDK's price catalog.

730 hours a month is the AWS Pricing Calculator's convention (24 x 365 / 12). A price the
catalog lacks stays ``None`` ("unpriced"), never $0, and a partial sum is not a total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.pricing.catalog import PriceBook, load_bundled
from gptoss_aws.pricing.records import InstancePrice

from .assembly import AssemblySummary, Capacity

HOURS_PER_MONTH = Decimal(730)
CENT = Decimal("0.01")


def per_month(usd_per_hour: Decimal, instances: int = 1) -> Decimal:
    return (usd_per_hour * HOURS_PER_MONTH * instances).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class CostLine:
    """The monthly hosting cost of one capacity, or why it has none."""

    capacity: Capacity
    usd_per_hour: Decimal | None
    price_source: str | None
    unpriced_reason: str | None
    # For an unpriced line: the catalog's price of the same type in another region, shown
    # as a labelled reference, never used as this region's price.
    reference: tuple[str, Decimal] | None = None

    @property
    def priced(self) -> bool:
        return self.usd_per_hour is not None

    def monthly(self, instances: int) -> Decimal | None:
        if self.usd_per_hour is None:
            return None
        return per_month(self.usd_per_hour, instances)

    @property
    def monthly_min(self) -> Decimal | None:
        return self.monthly(self.capacity.min_instances)

    @property
    def monthly_max(self) -> Decimal | None:
        return self.monthly(self.capacity.max_instances)


@dataclass(frozen=True)
class TokenLine:
    model: str
    region: str
    input_per_1m: Decimal | None
    output_per_1m: Decimal | None
    unpriced_reason: str | None


@dataclass(frozen=True)
class Estimate:
    lines: list[CostLine]
    tokens: list[TokenLine]

    @property
    def complete(self) -> bool:
        return all(line.priced for line in self.lines)

    def total(self, which: str) -> Decimal | None:
        """Sum over priced lines; None when any line is unpriced (a partial sum is not a
        total)."""
        if not self.complete:
            return None
        values = [getattr(line, f"monthly_{which}") for line in self.lines]
        return sum(values, Decimal(0))


def bundled_price_book() -> PriceBook:
    """Only the prices shipped with the SDK: what docs/ is generated from, so the numbers in
    it do not depend on anyone's refresh cache or overrides."""
    return PriceBook((load_bundled(),))


def _reference(book: PriceBook, instance_type: str) -> tuple[str, Decimal] | None:
    for row in book.rows():
        if row.kind == "sagemaker" and row.name == instance_type:
            price = row.price
            if isinstance(price, InstancePrice):
                return row.region, price.usd_per_hour
    return None


def _reason(error: Exception) -> str:
    # The catalog's message ends with its own remedy; the summary states one remedy itself.
    return str(error).split(". Fix it")[0].split(". Fill it")[0]


def _cost_line(book: PriceBook, capacity: Capacity) -> CostLine:
    try:
        price = book.instance_price(capacity.instance_type, capacity.region)
    except (UnpricedError, ConfigurationError) as error:
        reference = _reference(book, capacity.instance_type)
        return CostLine(capacity, None, None, _reason(error), reference)
    return CostLine(capacity, price.usd_per_hour, price.describe(), None)


def _token_line(book: PriceBook, model: str, region: str) -> TokenLine:
    try:
        token = book.token_price(model, region)
    except (UnpricedError, ConfigurationError) as error:
        return TokenLine(model, region, None, None, _reason(error))
    return TokenLine(model, region, token.input_per_1m, token.output_per_1m, None)


def estimate(summary: AssemblySummary, book: PriceBook) -> Estimate:
    lines = [_cost_line(book, capacity) for capacity in summary.capacities]
    tokens = [
        _token_line(book, model, region)
        for region, models in sorted(summary.bedrock_models.items())
        for model in sorted(models)
    ]
    return Estimate(lines, tokens)

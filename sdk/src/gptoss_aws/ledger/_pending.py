"""Pricing pending rows after the fact: the calls that ran while their price was unknown.

A Bedrock call whose price the book lacked (a region or tier without a bundled price, on a
fresh install) is recorded with its tokens and cost basis "pending", never $0 and never
refused (only a hard USD budget needs the price up front). Once the price exists (``gptoss-aws
prices refresh --region R``, or an override), ``price_pending`` prices each such row at the
price *in force when it ran* (``PriceBook.token_price(..., at=started_at)``: a price applies
from its ``as_of`` date; a price first known after the call applies to it) and at the tier AWS
reported serving it at. Each row is rewritten in one transaction, and only if it is still
pending, so two fills racing price a row once; a row whose price is still missing stays
pending and is listed with its fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from gptoss_aws.costing.per_token import token_cost, usage_of
from gptoss_aws.errors import UnpricedError
from gptoss_aws.pricing.records import TokenPrice
from gptoss_aws.types import CallRecord

if TYPE_CHECKING:
    from gptoss_aws.ledger.base import Ledger


class PendingPrices(Protocol):
    """What filling needs from a price book (``PriceBook`` fits)."""

    def token_price(
        self,
        model: str,
        region: str,
        tier: str | None = None,
        *,
        at: datetime | date | None = None,
    ) -> TokenPrice: ...


@dataclass
class PendingFill:
    """What a fill did: rows priced, and rows still pending with the reason and fix."""

    priced: list[CallRecord] = field(default_factory=list)
    still_pending: list[tuple[CallRecord, UnpricedError]] = field(default_factory=list)

    def fixes(self) -> list[str]:
        """The distinct commands that would fill what is still pending."""
        return sorted({error.fix for _, error in self.still_pending if error.fix})


def priced_record(record: CallRecord, prices: PendingPrices) -> CallRecord:
    """The row priced at the price in force when it ran; UnpricedError if still unknown."""
    if record.region is None:
        raise UnpricedError(f"call {record.id} has no region, so no AWS price can apply")
    tier = record.service_tier or record.service_tier_requested
    price = prices.token_price(record.model, record.region, tier, at=record.started_at)
    cost = token_cost(usage_of(record), price)
    return record.model_copy(
        update={
            "cost_basis": "per_token",
            "cost_usd": cost.usd,
            "price_source": f"{price.describe()}; priced after the call",
        }
    )


def price_pending(ledger: Ledger, prices: PendingPrices) -> PendingFill:
    fill = PendingFill()
    for record in ledger.pending_rows():
        try:
            priced = priced_record(record, prices)
        except UnpricedError as missing:
            fill.still_pending.append((record, missing))
            continue
        if ledger.fill_pending(priced):
            fill.priced.append(priced)
    return fill

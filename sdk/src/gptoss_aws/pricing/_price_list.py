"""Reading AWS Price List products: the on-demand USD price of one product, in our units.

Each ``PriceList`` entry is a JSON string: ``{"product": {"sku", "attributes": {...}},
"serviceCode", "terms": {"OnDemand": {"<sku>.<offerTermCode>": {"priceDimensions":
{"<rateCode>": {"unit", "pricePerUnit": {"USD": "0.0001500000"}, "beginRange",
"endRange"}}}}}}`` (AWS Billing user guide, "Reading the service price list file").

Units are converted by an explicit table (per 1K / per 1M / per token): mixing them up is
LiteLLM #20615. A product that matches but cannot be read (unknown unit, no USD, tiers, two
prices for one thing) is reported as a problem, never skipped silently, and a price that two
products disagree on is not written at all: a wrong price is worse than none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gptoss_aws.errors import UnreadableProductError
from gptoss_aws.pricing.records import (
    to_decimal,
)

# USD per <unit> -> USD per 1M tokens. Only units seen on Bedrock token products; anything
# else is reported so a human looks at it (per-image, per-request, a new unit...).
_TOKEN_UNIT_TO_PER_1M: dict[str, Decimal] = {
    "1k tokens": Decimal(1000),
    "1m tokens": Decimal(1),
    "million tokens": Decimal(1),
    "1 million tokens": Decimal(1),
    "tokens": Decimal(1_000_000),
    "token": Decimal(1_000_000),
}
_HOUR_UNITS = {"hrs", "hr", "hours", "hour"}

# Usage-type words that mark a token product as something other than the standard
# on-demand rate; "flex" and "priority" alone mark those service tiers' rates (usage types
# like ``USE1-gpt-oss-120b-input-tokens-flex``), read as tier prices.
NOT_STANDARD = (
    "batch",
    "flex",
    "priority",
    "latency",
    "cache",
    "custom",
    "provisioned",
    "reserved",
    "global",
    "mantle",
)


@dataclass(frozen=True)
class Finding:
    """A product the refresh did not turn into a price, and why."""

    service_code: str
    sku: str
    reason: str

    def __str__(self) -> str:
        return f"{self.service_code} {self.sku}: {self.reason}"


def per_1m_tokens(usd: Decimal, unit: str) -> Decimal:
    """USD per ``unit`` -> USD per 1M tokens, exactly."""
    factor = _TOKEN_UNIT_TO_PER_1M.get(unit.strip().lower())
    if factor is None:
        raise UnreadableProductError(f"unit {unit!r} is not a token unit we know how to convert")
    return usd * factor


def per_hour(usd: Decimal, unit: str) -> Decimal:
    if unit.strip().lower() not in _HOUR_UNITS:
        raise UnreadableProductError(f"unit {unit!r} is not hours")
    return usd


def on_demand_price(document: Mapping[str, Any]) -> tuple[Decimal, str]:
    """The one OnDemand USD price of a product and its unit; anything else is unreadable."""
    terms = document.get("terms", {}).get("OnDemand")
    if not terms:
        raise UnreadableProductError("no OnDemand term")
    dimensions = [
        dim for term in terms.values() for dim in term.get("priceDimensions", {}).values()
    ]
    if len(dimensions) != 1:
        raise UnreadableProductError(
            f"{len(dimensions)} OnDemand price dimensions (tiered or empty); expected one"
        )
    (dim,) = dimensions
    if str(dim.get("beginRange", "0")) not in ("0", "0.0"):
        raise UnreadableProductError(f"price tier starts at {dim.get('beginRange')}, not 0")
    usd = dim.get("pricePerUnit", {}).get("USD")
    if usd is None:
        raise UnreadableProductError(
            f"no USD price (currencies: {sorted(dim.get('pricePerUnit', {}))})"
        )
    try:
        price = to_decimal(usd, "pricePerUnit.USD")
    except ValueError as exc:
        raise UnreadableProductError(str(exc)) from exc
    if price == 0:
        raise UnreadableProductError("price is 0; refused (never $0)")
    return price, str(dim.get("unit", ""))


def sku_of(document: Mapping[str, Any]) -> str:
    return str(document.get("product", {}).get("sku", "?"))


def attributes_of(document: Mapping[str, Any]) -> Mapping[str, str]:
    attrs = document.get("product", {}).get("attributes", {})
    return attrs if isinstance(attrs, Mapping) else {}


def get_products(
    client: Any, service_code: str, filters: Mapping[str, str], problems: list[Finding]
) -> Iterator[dict[str, Any]]:
    """Every product matching TERM_MATCH ``filters``, on every page."""
    pages = client.get_paginator("get_products").paginate(
        ServiceCode=service_code,
        Filters=[
            {"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in filters.items()
        ],
        FormatVersion="aws_v1",
        PaginationConfig={"PageSize": 100},
    )
    for response in pages:
        for index, text in enumerate(response.get("PriceList", [])):
            try:
                document = json.loads(text) if isinstance(text, str) else text
            except json.JSONDecodeError as exc:
                problems.append(Finding(service_code, f"PriceList[{index}]", f"not JSON: {exc}"))
                continue
            if not isinstance(document, dict):
                problems.append(Finding(service_code, f"PriceList[{index}]", "not an object"))
                continue
            yield document


def squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def direction_of(attrs: Mapping[str, str]) -> str | None:
    kind = attrs.get("inferenceType", "").strip().lower()
    if kind in ("input tokens", "text input tokens"):
        return "input"
    if kind in ("output tokens", "text output tokens"):
        return "output"
    if kind:
        return None
    # Foundation-model (Marketplace) products may name the direction only in the usage type.
    usage = attrs.get("usagetype", "").lower()
    if re.search(r"input[_-]?token", usage):
        return "input"
    if re.search(r"output[_-]?token", usage):
        return "output"
    return None


@dataclass
class TokenRates:
    input: dict[Decimal, list[str]] = field(default_factory=dict)  # price -> skus
    output: dict[Decimal, list[str]] = field(default_factory=dict)


def tier_of(usage: str) -> str | None:
    """standard, flex or priority for an on-demand token usage type; None for anything else
    (batch, cache, a flex *and* mantle rate, ...)."""
    words = [word for word in NOT_STANDARD if word in usage]
    if not words:
        return "standard"
    if words in (["flex"], ["priority"]):
        return words[0]
    return None


def read_token_products(
    documents: Iterable[Mapping[str, Any]],
    service_code: str,
    model: str,
    problems: list[Finding],
    skipped: list[Finding],
    tier: str = "standard",
) -> TokenRates:
    """On-demand input/output rates of ``model`` (short name) at ``tier`` in these
    products."""
    rates = TokenRates()
    wanted = squash(model)
    for document in documents:
        attrs = attributes_of(document)
        sku = sku_of(document)
        names = " ".join(attrs.get(k, "") for k in ("model", "servicename", "usagetype"))
        if wanted not in squash(names):
            continue  # another model's product (FM offers are queried by region only)
        usage = attrs.get("usagetype", "").lower()
        if tier_of(usage) != tier:
            not_standard = [word for word in NOT_STANDARD if word in usage] or ["standard"]
            if tier == "standard":  # report each set-aside product once, not once per tier
                skipped.append(Finding(service_code, sku, f"{not_standard[0]} rate ({usage})"))
            continue
        direction = direction_of(attrs)
        if direction is None:
            skipped.append(
                Finding(service_code, sku, f"not a token rate ({attrs.get('inferenceType')!r})")
            )
            continue
        try:
            usd, unit = on_demand_price(document)
            price = per_1m_tokens(usd, unit)
        except UnreadableProductError as exc:
            problems.append(Finding(service_code, sku, str(exc)))
            continue
        getattr(rates, direction).setdefault(price, []).append(sku)
    return rates

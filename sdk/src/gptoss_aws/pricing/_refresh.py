"""Refresh prices from the AWS Price List API into the local cache.

What is queried (Price List Query API, ``pricing`` client; it is served from us-east-1,
whatever region the prices are for):

- ``AmazonBedrock``, TERM_MATCH regionCode, model ("gpt-oss-120b") and feature
  "On-demand Inference": one product per token direction, ``inferenceType`` "Input tokens" /
  "Output tokens", usage type like ``USE1-gpt-oss-120b-input-tokens``, priced per "1K tokens".
- ``AmazonBedrockFoundationModels``, TERM_MATCH regionCode: the Marketplace-billed offer,
  priced per "1M tokens"; read as a second witness for the same model.
- ``AmazonSageMaker``, TERM_MATCH component=Hosting, instanceName, regionCode: the
  ``<REGION>-Host:<instance type>`` product, OnDemand term, unit "Hrs".

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import Any

from gptoss_aws.errors import UnreadableProductError
from gptoss_aws.models import MODELS
from gptoss_aws.pricing._cache import read_cache, write_cache
from gptoss_aws.pricing.catalog import load_bundled
from gptoss_aws.pricing.records import (
    InstancePrice,
    PriceTables,
    TokenPrice,
    check_region,
    decimal_text,
    to_decimal,
)

# The Price List Query API has endpoints in us-east-1, eu-central-1 and ap-south-1 only;
# us-east-1 answers for every region's prices.
PRICING_API_REGION = "us-east-1"
BEDROCK = "AmazonBedrock"
BEDROCK_FOUNDATION_MODELS = "AmazonBedrockFoundationModels"
SAGEMAKER = "AmazonSageMaker"

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
_NOT_STANDARD = (
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


@dataclass
class RefreshReport:
    tables: PriceTables
    source: str
    problems: list[Finding] = field(default_factory=list)  # must be looked at
    skipped: list[Finding] = field(default_factory=list)  # read, and not the price we want
    missing: list[str] = field(default_factory=list)  # asked for, found nothing
    cache_file: Path | None = None
    # Refreshed prices that differ from the bundled (or previously cached) figure.
    changes: list[str] = field(default_factory=list)

    @property
    def priced(self) -> int:
        tiers = sum(len(t) for r in self.tables.tiers.values() for t in r.values())
        return (
            sum(len(r) for r in self.tables.bedrock.values())
            + sum(len(r) for r in self.tables.sagemaker.values())
            + tiers
        )


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


def _sku(document: Mapping[str, Any]) -> str:
    return str(document.get("product", {}).get("sku", "?"))


def _attributes(document: Mapping[str, Any]) -> Mapping[str, str]:
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


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _direction(attrs: Mapping[str, str]) -> str | None:
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
class _TokenRates:
    input: dict[Decimal, list[str]] = field(default_factory=dict)  # price -> skus
    output: dict[Decimal, list[str]] = field(default_factory=dict)


def _tier_of(usage: str) -> str | None:
    """standard, flex or priority for an on-demand token usage type; None for anything else
    (batch, cache, a flex *and* mantle rate, ...)."""
    words = [word for word in _NOT_STANDARD if word in usage]
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
) -> _TokenRates:
    """On-demand input/output rates of ``model`` (short name) at ``tier`` in these
    products."""
    rates = _TokenRates()
    wanted = _squash(model)
    for document in documents:
        attrs = _attributes(document)
        sku = _sku(document)
        names = " ".join(attrs.get(k, "") for k in ("model", "servicename", "usagetype"))
        if wanted not in _squash(names):
            continue  # another model's product (FM offers are queried by region only)
        usage = attrs.get("usagetype", "").lower()
        if _tier_of(usage) != tier:
            not_standard = [word for word in _NOT_STANDARD if word in usage] or ["standard"]
            if tier == "standard":  # report each set-aside product once, not once per tier
                skipped.append(Finding(service_code, sku, f"{not_standard[0]} rate ({usage})"))
            continue
        direction = _direction(attrs)
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


def _one_price(
    found: dict[Decimal, list[str]], what: str, service_code: str, problems: list[Finding]
) -> tuple[Decimal, list[str]] | None:
    if len(found) > 1:
        listing = "; ".join(f"{decimal_text(p)} ({', '.join(s)})" for p, s in found.items())
        problems.append(Finding(service_code, "-", f"{what}: products disagree: {listing}"))
        return None
    return next(iter(found.items())) if found else None


def _bedrock_prices(
    client: Any, model: str, region: str, today: date, report: RefreshReport
) -> dict[str, TokenPrice]:
    """The model's price in the region at each tier the offers name (standard, flex,
    priority), read from one query per offer."""
    documents: dict[str, list[dict[str, Any]]] = {}
    for service_code, filters in (
        (BEDROCK, {"regionCode": region, "model": model, "feature": "On-demand Inference"}),
        (BEDROCK_FOUNDATION_MODELS, {"regionCode": region}),
    ):
        documents[service_code] = list(get_products(client, service_code, filters, report.problems))
    found: dict[str, TokenPrice] = {}
    for tier in ("standard", "flex", "priority"):
        price = _bedrock_price(documents, model, region, tier, today, report)
        if price is not None:
            found[tier] = price
    return found


def _bedrock_price(
    documents: Mapping[str, list[dict[str, Any]]],
    model: str,
    region: str,
    tier: str,
    today: date,
    report: RefreshReport,
) -> TokenPrice | None:
    witnesses: dict[str, tuple[Decimal, Decimal, list[str]]] = {}
    for service_code, products in documents.items():
        rates = read_token_products(
            products, service_code, model, report.problems, report.skipped, tier
        )
        what = f"{model} in {region}" + ("" if tier == "standard" else f" ({tier} tier)")
        got_in = _one_price(rates.input, f"{what} input", service_code, report.problems)
        got_out = _one_price(rates.output, f"{what} output", service_code, report.problems)
        if got_in and got_out:
            witnesses[service_code] = (got_in[0], got_out[0], got_in[1] + got_out[1])
        elif got_in or got_out:
            half = "input" if got_in else "output"
            problem = f"{what}: only the {half} rate was found; half a price prices nothing"
            report.problems.append(Finding(service_code, "-", problem))
    if not witnesses:
        if tier == "standard":
            report.missing.append(f"bedrock {model} {region}")
        return None
    distinct = {(i, o) for i, o, _ in witnesses.values()}
    if len(distinct) > 1:
        listing = "; ".join(
            f"{code}: {decimal_text(i)}/{decimal_text(o)}" for code, (i, o, _) in witnesses.items()
        )
        report.problems.append(
            Finding("-", "-", f"{what}: offers disagree ({listing}); not written")
        )
        return None
    ((input_per_1m, output_per_1m),) = distinct
    skus = [f"{code} {' '.join(s)}" for code, (_, _, s) in witnesses.items()]
    return TokenPrice(
        input_per_1m=input_per_1m,
        output_per_1m=output_per_1m,
        source=f"{report.source}: {'; '.join(skus)}",
        as_of=today,
        layer="cache",
    )


def _sagemaker_price(
    client: Any, instance_type: str, region: str, today: date, report: RefreshReport
) -> InstancePrice | None:
    filters = {"component": "Hosting", "instanceName": instance_type, "regionCode": region}
    found: dict[Decimal, list[str]] = {}
    host_usage = re.compile(rf"(^|-)Host:{re.escape(instance_type)}$")
    for document in get_products(client, SAGEMAKER, filters, report.problems):
        sku = _sku(document)
        usage = _attributes(document).get("usagetype", "")
        if not host_usage.search(usage):
            report.skipped.append(Finding(SAGEMAKER, sku, f"usage type {usage!r} is not hosting"))
            continue
        try:
            usd, unit = on_demand_price(document)
            found.setdefault(per_hour(usd, unit), []).append(sku)
        except UnreadableProductError as exc:
            report.problems.append(Finding(SAGEMAKER, sku, str(exc)))
    got = _one_price(found, f"{instance_type} in {region}", SAGEMAKER, report.problems)
    if got is None:
        if not found:
            report.missing.append(f"sagemaker {instance_type} {region}")
        return None
    usd_per_hour, skus = got
    return InstancePrice(
        usd_per_hour=usd_per_hour,
        source=f"{report.source}: {SAGEMAKER} {' '.join(skus)}",
        as_of=today,
        layer="cache",
    )


def default_instance_types() -> list[str]:
    """The instance types the bundled catalog knows; refresh prices these unless told."""
    return sorted(load_bundled().sagemaker)


def refresh(
    pricing_client: Any = None,
    *,
    regions: Sequence[str],
    models: Sequence[str] | None = None,
    instance_types: Sequence[str] | None = None,
    cache_dir: str | PathLike[str] | None = None,
    today: date | None = None,
    write: bool = True,
) -> RefreshReport:
    """Fetch current list prices for ``models`` (Bedrock) and ``instance_types`` (SageMaker
    hosting) in each region, and merge them into the cache (other regions' entries stay).

    ``pricing_client`` defaults to ``boto3.client("pricing", region_name="us-east-1")``;
    the caller needs ``pricing:GetProducts``.
    """
    for region in regions:
        check_region(region)
    if pricing_client is None:
        import boto3

        pricing_client = boto3.client("pricing", region_name=PRICING_API_REGION)
    today = today or datetime.now(UTC).date()
    report = RefreshReport(tables=PriceTables.empty(), source=f"AWS Price List API {today}")
    for region in regions:
        for model in models if models is not None else sorted(MODELS):
            for tier, token_price in _bedrock_prices(
                pricing_client, model, region, today, report
            ).items():
                if tier == "standard":
                    report.tables.bedrock.setdefault(model, {})[region] = token_price
                else:
                    tier_regions = report.tables.tiers.setdefault(model, {})
                    tier_regions.setdefault(region, {})[tier] = token_price
        types = instance_types if instance_types is not None else default_instance_types()
        for instance_type in types:
            instance_price = _sagemaker_price(pricing_client, instance_type, region, today, report)
            if instance_price is not None:
                report.tables.sagemaker.setdefault(instance_type, {})[region] = instance_price
    previous = read_cache(cache_dir)
    report.changes = _changes(report.tables, load_bundled(), previous)
    if write and report.priced:
        merged = previous
        for model, by_region in report.tables.bedrock.items():
            merged.bedrock.setdefault(model, {}).update(by_region)
        for itype, by_region_i in report.tables.sagemaker.items():
            merged.sagemaker.setdefault(itype, {}).update(by_region_i)
        for model, fresh_tiers in report.tables.tiers.items():
            for region, by_tier in fresh_tiers.items():
                merged.tiers.setdefault(model, {}).setdefault(region, {}).update(by_tier)
        report.cache_file = write_cache(merged, cache_dir)
    return report


def _changes(fresh: PriceTables, bundled: PriceTables, cached: PriceTables) -> list[str]:
    """One line per refreshed price that differs from what we had: the bundled figure, or
    the previously cached one."""

    def token_text(p: TokenPrice) -> str:
        return f"{decimal_text(p.input_per_1m)}/{decimal_text(p.output_per_1m)} per 1M in/out"

    out: list[str] = []
    for model, by_region in sorted(fresh.bedrock.items()):
        for region, price in sorted(by_region.items()):
            for label, layer in (("bundled", bundled), ("cached", cached)):
                old = layer.bedrock.get(model, {}).get(region)
                if old is not None and (old.input_per_1m, old.output_per_1m) != (
                    price.input_per_1m,
                    price.output_per_1m,
                ):
                    out.append(
                        f"bedrock {model} {region}: {token_text(price)} now, "
                        f"{label} {token_text(old)} ({old.describe()})"
                    )
    for itype, by_region_i in sorted(fresh.sagemaker.items()):
        for region, hourly in sorted(by_region_i.items()):
            for label, layer in (("bundled", bundled), ("cached", cached)):
                before = layer.sagemaker.get(itype, {}).get(region)
                if before is not None and before.usd_per_hour != hourly.usd_per_hour:
                    out.append(
                        f"sagemaker {itype} {region}: ${decimal_text(hourly.usd_per_hour)}/hour "
                        f"now, {label} ${decimal_text(before.usd_per_hour)}/hour "
                        f"({before.describe()})"
                    )
    return out

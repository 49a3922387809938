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

How one product is read: ``gptoss_aws.pricing._price_list``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import Any

from gptoss_aws.errors import UnreadableProductError
from gptoss_aws.models import MODELS
from gptoss_aws.pricing._cache import read_cache, write_cache
from gptoss_aws.pricing._price_list import (
    Finding,
    attributes_of,
    get_products,
    on_demand_price,
    per_hour,
    read_token_products,
    sku_of,
)
from gptoss_aws.pricing.catalog import load_bundled
from gptoss_aws.pricing.records import (
    InstancePrice,
    PriceTables,
    TokenPrice,
    check_region,
    decimal_text,
)

# The Price List Query API has endpoints in us-east-1, eu-central-1 and ap-south-1 only;
# us-east-1 answers for every region's prices.
PRICING_API_REGION = "us-east-1"
BEDROCK = "AmazonBedrock"
BEDROCK_FOUNDATION_MODELS = "AmazonBedrockFoundationModels"
SAGEMAKER = "AmazonSageMaker"


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
        sku = sku_of(document)
        usage = attributes_of(document).get("usagetype", "")
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

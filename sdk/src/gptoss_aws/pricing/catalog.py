"""PriceBook: every price the SDK knows, in three layers (later wins):

1. the bundled catalog, ``pricing/data/prices.json``, each entry with its AWS primary source
   (URL) and date (``pricing.provenance`` refuses anything else);
2. the refresh cache written by ``gptoss-aws prices refresh`` (AWS Price List API);
3. the user's overrides (file or dict), and ``with_override`` on top of those.

A missing model, instance type, region or service tier raises ``UnpricedError`` naming what
is missing and the one command that fills it (``gptoss-aws prices refresh --region R``), or
an override. There is no default region and no $0: a price we do not have is never guessed
(LiteLLM silently costed unknown models at $0). The tracker turns that error into a *pending*
cost (the call goes ahead, its tokens are recorded, and the row is priced once the price
exists); only a hard USD budget, which must reserve a price, refuses the call.

``at=`` asks for the price *in force* at a moment, for pricing a call after the fact: of every
layer's entry for that key, the one with the latest ``as_of`` on or before that day; when
every entry we know is dated later (a price found after the call), the earliest of them. A
price applies from its ``as_of`` date on, so an override meant for past calls says so with
its own ``as_of``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from os import PathLike
from typing import Any, TypeVar

from gptoss_aws.errors import UnpricedError
from gptoss_aws.pricing._cache import read_cache
from gptoss_aws.pricing._model_names import canonical_model
from gptoss_aws.pricing._overrides import OverrideSource, load_overrides
from gptoss_aws.pricing.inference_profiles import resolve_inference_profile
from gptoss_aws.pricing.provenance import check_primary_sources
from gptoss_aws.pricing.records import (
    InstancePrice,
    PriceTables,
    TokenPrice,
    check_region,
    parse_tables,
)
from gptoss_aws.pricing.regions import DEFAULT_TIER, canonical_tier
from gptoss_facts.models import SAFEGUARD_MODELS

BUNDLED_RESOURCE = "prices.json"

Dated = TypeVar("Dated", TokenPrice, InstancePrice)

# resolve_inference_profile lives in inference_profiles; it is importable from here too
# because callers look for it next to the prices it unlocks.
__all__ = [
    "PriceBook",
    "PriceRow",
    "fill_command",
    "load_bundled",
    "pending_fill_command",
    "resolve_inference_profile",
]


def fill_command(region: str) -> str:
    """The one command that fills a missing AWS price for ``region`` (and prices the ledger's
    pending rows with it)."""
    return f"gptoss-aws prices refresh --region {region}"


def _fixes(region: str) -> str:
    return (
        f"Fill it with `{fill_command(region)}` (AWS Price List API, needs "
        "pricing:GetProducts), or with a price override (`gptoss-aws prices fill "
        "--prices-file prices.toml`; format in gptoss_aws.pricing._overrides). Until then calls "
        "are recorded with their cost pending, never $0."
    )


def _missing(message: str, region: str) -> UnpricedError:
    error = UnpricedError(f"{message}. {_fixes(region)}")
    error.region = region
    error.fix = fill_command(region)
    return error


# gpt-oss-safeguard on Bedrock (Mantle and bedrock-runtime ids openai.gpt-oss-safeguard-120b /
# -20b): no AWS page stating its per-token price could be read, and whether the Price List API
# files it under these names is NOT CONFIRMED, so its price is PENDING until a user states it
# from AWS's pricing page (https://aws.amazon.com/bedrock/pricing/) in an override. Third-party
# price tables are never a source here.
SAFEGUARD_PRICE_SOURCE = "https://aws.amazon.com/bedrock/pricing/ (OpenAI gpt-oss-safeguard rows)"


def safeguard_fill_command(model: str, region: str) -> str:
    return (
        f'gptoss-aws prices fill --prices-file prices.toml  # with [bedrock."{model}".{region}] '
        'input_per_1m, output_per_1m, as_of and source = "' + SAFEGUARD_PRICE_SOURCE + '"'
    )


def pending_fill_command(model: str, region: str) -> str:
    """The command that prices a pending row of ``model`` in ``region``: the Price List
    refresh, or for gpt-oss-safeguard (which it does not look up) an override."""
    try:
        key = canonical_model(model)
    except UnpricedError:
        key = model
    if key in SAFEGUARD_MODELS:
        return "gptoss-aws prices fill --prices-file prices.toml"
    return fill_command(region)


def _safeguard_missing(model: str, region: str, tier: str) -> UnpricedError:
    error = UnpricedError(
        f"no Bedrock {tier}price for {model!r} in {region!r}: AWS's price for gpt-oss-safeguard "
        "is not in the bundled catalog (no AWS page stating it could be read) and the Price List "
        "refresh does not look it up. State it from AWS's pricing page in an override and fill "
        f"the pending rows: {safeguard_fill_command(model, region)}. Until then its calls are "
        "recorded with their cost pending, never $0; a hard USD budget refuses them."
    )
    error.region = region
    error.fix = "gptoss-aws prices fill --prices-file prices.toml"
    return error


def _in_force(entries: Sequence[tuple[int, Dated]], at: date) -> Dated:
    """Of (layer rank, price) entries for one key, the one in force on ``at`` (see module doc)."""
    before = [(p.as_of, rank, p) for rank, p in entries if p.as_of <= at]
    if before:
        return max(before, key=lambda e: (e[0], e[1]))[2]
    return min(((p.as_of, -rank, p) for rank, p in entries), key=lambda e: (e[0], e[1]))[2]


def load_bundled() -> PriceTables:
    text = (
        resources.files("gptoss_aws.pricing")
        .joinpath("data", BUNDLED_RESOURCE)
        .read_text(encoding="utf-8")
    )
    tables = parse_tables(json.loads(text), layer="bundled", origin="bundled prices.json")
    check_primary_sources(tables, today=datetime.now(UTC).date(), origin="bundled prices.json")
    return tables


def _canonical_keys(tables: PriceTables) -> PriceTables:
    """File override/cache entries under the same model key as lookups use, so an override
    for "openai.gpt-oss-120b-1:0" prices "gpt-oss-120b" too."""
    out = PriceTables.empty()
    for model, token_regions in tables.bedrock.items():
        out.bedrock.setdefault(canonical_model(model), {}).update(token_regions)
    for itype, instance_regions in tables.sagemaker.items():
        out.sagemaker.setdefault(itype, {}).update(instance_regions)
    for model, tier_regions in tables.tiers.items():
        merged = out.tiers.setdefault(canonical_model(model), {})
        for region, by_tier in tier_regions.items():
            merged.setdefault(region, {}).update(by_tier)
    return out


@dataclass(frozen=True)
class PriceRow:
    """One line of `gptoss-aws prices list`."""

    kind: str  # "bedrock" or "sagemaker"
    name: str
    region: str
    price: TokenPrice | InstancePrice
    tier: str | None = None  # Bedrock service tier; None for SageMaker


class PriceBook:
    """Look up prices. Immutable: ``with_override`` returns a new book."""

    def __init__(self, layers: tuple[PriceTables, ...]) -> None:
        # Lowest first. Kept whole (not merged) so `prices list` can show what each layer said.
        self._layers = tuple(_canonical_keys(layer) for layer in layers)

    @classmethod
    def load(
        cls,
        overrides: OverrideSource | None = None,
        cache_dir: str | PathLike[str] | None = None,
    ) -> PriceBook:
        """Bundled < cache (``cache_dir`` or GPTOSS_AWS_HOME) < ``overrides``."""
        layers = [load_bundled(), read_cache(cache_dir)]
        if overrides is not None:
            layers.append(load_overrides(overrides))
        return cls(tuple(layers))

    @classmethod
    def from_document(cls, document: Mapping[str, Any], *, origin: str = "prices") -> PriceBook:
        """A book holding only the given document (tests, or a fully user-managed catalog)."""
        return cls((parse_tables(document, layer="override", origin=origin, allow_zero=True),))

    def with_override(self, overrides: OverrideSource) -> PriceBook:
        return PriceBook((*self._layers, load_overrides(overrides)))

    def _tier_entries(self, key: str, region: str, tier: str) -> list[tuple[int, TokenPrice]]:
        found = []
        for rank, layer in enumerate(self._layers):
            if tier == DEFAULT_TIER:
                price = layer.bedrock.get(key, {}).get(region)
            else:
                price = layer.tiers.get(key, {}).get(region, {}).get(tier)
            if price is not None:
                found.append((rank, price))
        return found

    def token_price(
        self,
        model: str,
        region: str,
        tier: str | None = None,
        *,
        at: datetime | date | None = None,
    ) -> TokenPrice:
        """Bedrock on-demand price of ``model`` in ``region`` at service ``tier`` (default
        standard), USD per 1M tokens; ``at`` for the price in force then (module doc)."""
        check_region(region)
        tier = canonical_tier(tier)
        key = canonical_model(model)
        entries = self._tier_entries(key, region, tier)
        if entries:
            if at is None:
                return entries[-1][1]
            day = at.date() if isinstance(at, datetime) else at
            return _in_force(entries, day)
        known_regions: set[str] = set()
        for layer in self._layers:
            if tier == DEFAULT_TIER:
                known_regions.update(layer.bedrock.get(key, {}))
            else:
                regions = layer.tiers.get(key, {})
                known_regions.update(r for r, by_tier in regions.items() if tier in by_tier)
        what = f"{tier} tier " if tier != DEFAULT_TIER else ""
        if key in SAFEGUARD_MODELS:
            raise _safeguard_missing(key, region, what)
        if known_regions:
            where = f"it is priced only in {', '.join(sorted(known_regions))}"
            missing = f"no Bedrock {what}price for model {key!r} in region {region!r}"
        else:
            known = sorted({m for layer in self._layers for m in layer.bedrock})
            where = f"models with standard prices: {', '.join(known) or 'none'}"
            missing = f"no Bedrock {what}price for model {model!r} in any region"
        raise _missing(f"{missing} ({where})", region)

    def instance_price(
        self, instance_type: str, region: str, *, at: datetime | date | None = None
    ) -> InstancePrice:
        """SageMaker on-demand hosting price of ``instance_type`` in ``region`` (USD/hour);
        ``at`` for the price in force then (module doc)."""
        check_region(region)
        if at is not None:
            entries = [
                (rank, layer.sagemaker[instance_type][region])
                for rank, layer in enumerate(self._layers)
                if region in layer.sagemaker.get(instance_type, {})
            ]
            if entries:
                day = at.date() if isinstance(at, datetime) else at
                return _in_force(entries, day)
        known_regions: set[str] = set()
        for layer in reversed(self._layers):
            regions = layer.sagemaker.get(instance_type, {})
            if region in regions:
                return regions[region]
            known_regions.update(regions)
        if known_regions:
            missing = (
                f"no SageMaker hosting price for instance type {instance_type!r} in region "
                f"{region!r} (it is priced only in {', '.join(sorted(known_regions))})"
            )
        else:
            known = sorted({t for layer in self._layers for t in layer.sagemaker})
            missing = (
                f"no SageMaker hosting price for instance type {instance_type!r} in any region "
                f"(instance types with prices: {', '.join(known) or 'none'})"
            )
        raise _missing(missing, region)

    def rows(self, region: str | None = None) -> Iterator[PriceRow]:
        """Every effective price (the winning layer's), sorted, optionally for one region."""
        bedrock: dict[tuple[str, str, str], TokenPrice] = {}
        sagemaker: dict[tuple[str, str], InstancePrice] = {}
        for layer in self._layers:
            for model, token_regions in layer.bedrock.items():
                for reg, token_price in token_regions.items():
                    bedrock[(model, reg, DEFAULT_TIER)] = token_price
            for model, tier_regions in layer.tiers.items():
                for reg, by_tier in tier_regions.items():
                    for tier, token_price in by_tier.items():
                        bedrock[(model, reg, tier)] = token_price
            for itype, instance_regions in layer.sagemaker.items():
                for reg, instance_price in instance_regions.items():
                    sagemaker[(itype, reg)] = instance_price
        for (model, reg, tier), token_price in sorted(bedrock.items()):
            if region is None or reg == region:
                yield PriceRow("bedrock", model, reg, token_price, tier)
        for (itype, reg), instance_price in sorted(sagemaker.items()):
            if region is None or reg == region:
                yield PriceRow("sagemaker", itype, reg, instance_price)

"""PriceBook: every price the SDK knows, in three layers (later wins):

1. the bundled catalog, ``pricing/data/prices.json``, each entry with its source and date;
2. the refresh cache written by ``gptoss-aws prices refresh`` (AWS Price List API);
3. the user's overrides (file or dict), and ``with_override`` on top of those.

A missing model, instance type or region raises ``UnpricedError`` naming what is missing and
the three ways out. There is no default region and no $0: a price we do not have is never
guessed (LiteLLM silently costed unknown models at $0).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from typing import Any

from gptoss_aws.errors import UnpricedError
from gptoss_aws.pricing.cache import read_cache
from gptoss_aws.pricing.inference_profiles import resolve_inference_profile
from gptoss_aws.pricing.model_names import canonical_model
from gptoss_aws.pricing.overrides import OverrideSource, load_overrides
from gptoss_aws.pricing.records import (
    InstancePrice,
    PriceTables,
    TokenPrice,
    check_region,
    parse_tables,
)

BUNDLED_RESOURCE = "prices.json"

# resolve_inference_profile lives in inference_profiles; it is importable from here too
# because callers look for it next to the prices it unlocks.
__all__ = ["PriceBook", "PriceRow", "load_bundled", "resolve_inference_profile"]


def _fixes(region: str) -> str:
    return (
        "Fix it one of three ways: (1) add a price override, e.g. "
        "PriceBook.load(overrides='prices.toml') or `--prices-file prices.toml` "
        "(see gptoss_aws.pricing.overrides for the format); (2) run "
        f"`gptoss-aws prices refresh --region {region}` to fetch AWS's current list prices "
        "(needs pricing:GetProducts); (3) opt in to recording the call as unpriced "
        "(allow_unpriced=True on the client), and every report will say it is unpriced."
    )


def load_bundled() -> PriceTables:
    text = (
        resources.files("gptoss_aws.pricing")
        .joinpath("data", BUNDLED_RESOURCE)
        .read_text(encoding="utf-8")
    )
    return parse_tables(json.loads(text), layer="bundled", origin="bundled prices.json")


def _canonical_keys(tables: PriceTables) -> PriceTables:
    """File override/cache entries under the same model key as lookups use, so an override
    for "openai.gpt-oss-120b-1:0" prices "gpt-oss-120b" too."""
    out = PriceTables.empty()
    for model, token_regions in tables.bedrock.items():
        out.bedrock.setdefault(canonical_model(model), {}).update(token_regions)
    for itype, instance_regions in tables.sagemaker.items():
        out.sagemaker.setdefault(itype, {}).update(instance_regions)
    return out


@dataclass(frozen=True)
class PriceRow:
    """One line of `gptoss-aws prices list`."""

    kind: str  # "bedrock" or "sagemaker"
    name: str
    region: str
    price: TokenPrice | InstancePrice


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

    def token_price(self, model: str, region: str) -> TokenPrice:
        """Bedrock on-demand price of ``model`` in ``region`` (USD per 1M tokens)."""
        check_region(region)
        key = canonical_model(model)
        known_regions: set[str] = set()
        for layer in reversed(self._layers):
            regions = layer.bedrock.get(key, {})
            if region in regions:
                return regions[region]
            known_regions.update(regions)
        if known_regions:
            where = f"it is priced only in {', '.join(sorted(known_regions))}"
            missing = f"no Bedrock price for model {key!r} in region {region!r}"
        else:
            known = sorted({m for layer in self._layers for m in layer.bedrock})
            where = f"models with prices: {', '.join(known) or 'none'}"
            missing = f"no Bedrock price for model {model!r} in any region"
        raise UnpricedError(f"{missing} ({where}). {_fixes(region)}")

    def instance_price(self, instance_type: str, region: str) -> InstancePrice:
        """SageMaker on-demand hosting price of ``instance_type`` in ``region`` (USD/hour)."""
        check_region(region)
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
        raise UnpricedError(f"{missing}. {_fixes(region)}")

    def rows(self, region: str | None = None) -> Iterator[PriceRow]:
        """Every effective price (the winning layer's), sorted, optionally for one region."""
        bedrock: dict[tuple[str, str], TokenPrice] = {}
        sagemaker: dict[tuple[str, str], InstancePrice] = {}
        for layer in self._layers:
            for model, token_regions in layer.bedrock.items():
                for reg, token_price in token_regions.items():
                    bedrock[(model, reg)] = token_price
            for itype, instance_regions in layer.sagemaker.items():
                for reg, instance_price in instance_regions.items():
                    sagemaker[(itype, reg)] = instance_price
        for (model, reg), token_price in sorted(bedrock.items()):
            if region is None or reg == region:
                yield PriceRow("bedrock", model, reg, token_price)
        for (itype, reg), instance_price in sorted(sagemaker.items()):
            if region is None or reg == region:
                yield PriceRow("sagemaker", itype, reg, instance_price)

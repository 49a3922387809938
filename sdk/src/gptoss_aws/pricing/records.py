"""One price and where it came from, and the nested tables the catalog layers are made of.

Every layer (the bundled catalog, the refreshed cache, the user's overrides) uses the same
JSON shape, so one parser reads all three:

    {"schema": 1,
     "bedrock":   {"<model>": {"<region>": {"input_per_1m": "0.15", "output_per_1m": "0.60",
                                            "source": "...", "as_of": "2026-11-27",
                                            "tiers": {"flex": {"input_per_1m": ...,
                                                               "output_per_1m": ...,
                                                               "source": ..., "as_of": ...}}}}},
     "sagemaker": {"<instance type>": {"<region>": {"usd_per_hour": "7.912",
                                                    "source": "...", "as_of": "..."}}}}

The top-level figures of a Bedrock region entry are the Standard tier (AWS's "default"); other
service tiers (flex, priority, reserved) sit under ``tiers``, each with its own source, and a
region entry may carry tier prices only. A tier without a price is pending, never the
Standard price (LiteLLM prices every tier at Standard, BerriAI/litellm#21171).

Money is Decimal from the text on: a float never touches a price (0.1 + 0.2 != 0.3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from gptoss_aws.errors import ConfigurationError

SCHEMA_VERSION = 1
TOKENS_PER_MILLION = Decimal(1_000_000)

# Where a price came from, in the order the layers stack (later wins).
Layer = Literal["bundled", "cache", "override"]

# us-east-1, eu-west-3, ap-southeast-2, us-gov-west-1, ...: a typo such as "us-east1" is a
# configuration error, not a missing price.
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")


@dataclass(frozen=True)
class TokenPrice:
    """Per-token price of a model in one region, USD per 1M tokens."""

    input_per_1m: Decimal
    output_per_1m: Decimal
    source: str
    as_of: date
    layer: Layer = "bundled"
    note: str | None = None

    def describe(self) -> str:
        return f"{self.source} (as of {self.as_of.isoformat()})"


@dataclass(frozen=True)
class InstancePrice:
    """On-demand hosting price of one SageMaker instance type in one region, USD per hour."""

    usd_per_hour: Decimal
    source: str
    as_of: date
    layer: Layer = "bundled"
    note: str | None = None

    def describe(self) -> str:
        return f"{self.source} (as of {self.as_of.isoformat()})"


# kind -> name (model or instance type) -> region -> price
TokenTable = dict[str, dict[str, TokenPrice]]
InstanceTable = dict[str, dict[str, InstancePrice]]
# model -> region -> tier (flex, priority, reserved) -> price; Standard lives in TokenTable.
TierTable = dict[str, dict[str, dict[str, TokenPrice]]]


@dataclass
class PriceTables:
    """One layer of prices, as parsed from a catalog, cache or override document."""

    bedrock: TokenTable
    sagemaker: InstanceTable
    tiers: TierTable = field(default_factory=dict)

    @classmethod
    def empty(cls) -> PriceTables:
        return cls(bedrock={}, sagemaker={}, tiers={})

    def is_empty(self) -> bool:
        return not self.bedrock and not self.sagemaker and not self.tiers


def check_region(region: str) -> str:
    if not isinstance(region, str) or not _REGION.match(region):
        raise ConfigurationError(
            f"{region!r} is not an AWS region code (expected something like 'us-east-1')"
        )
    return region


def to_decimal(value: Any, what: str) -> Decimal:
    """Read a price from JSON/TOML text or a number; floats go through their shortest repr so
    0.6 stays 0.6 and does not become 0.59999999999999997779553950749686919152736663818359375."""
    if isinstance(value, bool) or value is None:
        raise ConfigurationError(f"{what}: expected a number, got {value!r}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ConfigurationError(f"{what}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ConfigurationError(f"{what}: {value!r} must be a finite number >= 0")
    return number


def decimal_text(number: Decimal) -> str:
    """Plain digits, no exponent and no trailing zeros: 0.1500000000000 -> '0.15'."""
    text = format(number.normalize(), "f")
    return text if text != "-0" else "0"


def _as_of(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(f"{what}: as_of {value!r} is not a YYYY-MM-DD date") from None


def _entry_meta(
    raw: Mapping[str, Any], what: str, default_source: str | None, default_as_of: date | None
) -> tuple[str, date, str | None]:
    source = raw.get("source", default_source)
    if not source or not isinstance(source, str):
        raise ConfigurationError(f"{what}: every price needs a 'source'")
    if "as_of" in raw:
        as_of = _as_of(raw["as_of"], what)
    elif default_as_of is not None:
        as_of = default_as_of
    else:
        raise ConfigurationError(f"{what}: every price needs an 'as_of' date")
    note = raw.get("note")
    return source, as_of, str(note) if note is not None else None


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{what}: expected a table/object, got {type(value).__name__}")
    return value


def parse_tables(
    document: Mapping[str, Any],
    *,
    layer: Layer,
    origin: str,
    default_source: str | None = None,
    default_as_of: date | None = None,
    allow_zero: bool = False,
) -> PriceTables:
    """Parse one layer. ``origin`` names the file or dict in error messages.

    A zero price is refused unless ``allow_zero`` (user overrides only): a catalog or cache
    that says $0 is far more likely broken than generous, and $0 is what we never guess.
    """
    document = _mapping(document, origin)
    schema = document.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise ConfigurationError(f"{origin}: schema {schema!r} is not {SCHEMA_VERSION}")
    unknown = set(document) - {"schema", "bedrock", "sagemaker", "comment"}
    if unknown:
        raise ConfigurationError(
            f"{origin}: unknown section(s) {sorted(unknown)}; use 'bedrock' and 'sagemaker'"
        )
    tables = PriceTables.empty()

    def positive(number: Decimal, what: str) -> Decimal:
        if number == 0 and not allow_zero:
            raise ConfigurationError(f"{what}: a price of 0 is refused here (never $0)")
        return number

    def token_price(
        raw: Mapping[str, Any], what: str, source: str | None, as_of: date | None
    ) -> TokenPrice:
        source, as_of, note = _entry_meta(raw, what, source, as_of)
        return TokenPrice(
            input_per_1m=positive(to_decimal(raw.get("input_per_1m"), what), what),
            output_per_1m=positive(to_decimal(raw.get("output_per_1m"), what), what),
            source=source,
            as_of=as_of,
            layer=layer,
            note=note,
        )

    for model, regions in _mapping(document.get("bedrock", {}), f"{origin} bedrock").items():
        for region, raw in _mapping(regions, f"{origin} bedrock.{model}").items():
            what = f"{origin} bedrock.{model}.{region}"
            check_region(region)
            raw = _mapping(raw, what)
            tiers = _mapping(raw.get("tiers", {}), f"{what}.tiers")
            has_standard = "input_per_1m" in raw or "output_per_1m" in raw or not tiers
            source = raw.get("source", default_source)
            as_of_default = _as_of(raw["as_of"], what) if "as_of" in raw else default_as_of
            if has_standard:
                standard = token_price(raw, what, default_source, default_as_of)
                tables.bedrock.setdefault(model, {})[region] = standard
            for tier, tier_raw in tiers.items():
                tier_what = f"{what}.tiers.{tier}"
                if tier not in ("flex", "priority", "reserved"):
                    raise ConfigurationError(
                        f"{tier_what}: unknown service tier; use flex, priority or reserved "
                        "(the entry's own figures are the standard tier)"
                    )
                tier_raw = _mapping(tier_raw, tier_what)
                price = token_price(tier_raw, tier_what, source, as_of_default)
                tables.tiers.setdefault(model, {}).setdefault(region, {})[tier] = price
    for itype, regions in _mapping(document.get("sagemaker", {}), f"{origin} sagemaker").items():
        for region, raw in _mapping(regions, f"{origin} sagemaker.{itype}").items():
            what = f"{origin} sagemaker.{itype}.{region}"
            check_region(region)
            raw = _mapping(raw, what)
            source, as_of, note = _entry_meta(raw, what, default_source, default_as_of)
            tables.sagemaker.setdefault(itype, {})[region] = InstancePrice(
                usd_per_hour=positive(to_decimal(raw.get("usd_per_hour"), what), what),
                source=source,
                as_of=as_of,
                layer=layer,
                note=note,
            )
    return tables


def tables_to_document(tables: PriceTables) -> dict[str, Any]:
    """The JSON document for a layer (used to write the refresh cache)."""

    def meta(price: TokenPrice | InstancePrice) -> dict[str, str]:
        out = {"source": price.source, "as_of": price.as_of.isoformat()}
        if price.note:
            out["note"] = price.note
        return out

    def token(p: TokenPrice) -> dict[str, str]:
        return {
            "input_per_1m": decimal_text(p.input_per_1m),
            "output_per_1m": decimal_text(p.output_per_1m),
            **meta(p),
        }

    bedrock: dict[str, dict[str, dict[str, Any]]] = {}
    for model, regions in sorted(tables.bedrock.items()):
        for region, p in sorted(regions.items()):
            bedrock.setdefault(model, {})[region] = token(p)
    for model, tier_regions in sorted(tables.tiers.items()):
        for region, by_tier in sorted(tier_regions.items()):
            entry = bedrock.setdefault(model, {}).setdefault(region, {})
            entry["tiers"] = {tier: token(p) for tier, p in sorted(by_tier.items())}
    return {
        "schema": SCHEMA_VERSION,
        "bedrock": bedrock,
        "sagemaker": {
            itype: {
                region: {"usd_per_hour": decimal_text(p.usd_per_hour), **meta(p)}
                for region, p in sorted(regions.items())
            }
            for itype, regions in sorted(tables.sagemaker.items())
        },
    }

"""User price overrides: a JSON or TOML file, or a dict, in the catalog's shape.

The user's word wins over the bundled catalog and the refresh cache. An override may leave
out ``source`` (it becomes "user override: <file>") and ``as_of`` (the file's modification
date, or today for a dict), and unlike the other layers it may say 0 on purpose, e.g. for a
server the user runs for free. TOML example:

    [bedrock."gpt-oss-120b".us-west-2]
    input_per_1m = "0.15"
    output_per_1m = "0.60"
    source = "AWS Bedrock pricing page, read 2026-11-27"

    [sagemaker."ml.g6e.2xlarge".us-east-1]
    usd_per_hour = "2.8026"
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from os import PathLike
from pathlib import Path
from typing import Any

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing.records import PriceTables, parse_tables

OverrideSource = str | PathLike[str] | Mapping[str, Any]


def _read_document(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read price overrides {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        document = json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"price overrides {path} do not parse: {exc}") from exc
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"price overrides {path}: the top level must be an object")
    return document


def load_overrides(overrides: OverrideSource) -> PriceTables:
    """Parse overrides from a file path (``.json`` or ``.toml``) or a mapping."""
    if isinstance(overrides, Mapping):
        return parse_tables(
            overrides,
            layer="override",
            origin="price overrides",
            default_source="user override (dict)",
            default_as_of=datetime.now(UTC).date(),
            allow_zero=True,
        )
    path = Path(overrides)
    document = _read_document(path)
    modified = date.fromtimestamp(path.stat().st_mtime)
    return parse_tables(
        document,
        layer="override",
        origin=str(path),
        default_source=f"user override: {path}",
        default_as_of=modified,
        allow_zero=True,
    )

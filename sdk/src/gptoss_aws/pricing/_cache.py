"""The refreshed-price cache: GPTOSS_AWS_HOME/prices-cache.json (default: the user data dir).

Written atomically (temp file + rename) so a reader never sees half a file, and two
refreshes racing leave one whole file, not a mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from os import PathLike
from pathlib import Path

import platformdirs

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing.records import PriceTables, parse_tables, tables_to_document

HOME_ENV = "GPTOSS_AWS_HOME"
CACHE_FILE = "prices-cache.json"


def data_home() -> Path:
    """Where gptoss-aws keeps its files: $GPTOSS_AWS_HOME, else the platform's user data
    directory for "gptoss-aws" (platformdirs)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("gptoss-aws", appauthor=False))


def cache_path(cache_dir: str | PathLike[str] | None = None) -> Path:
    return Path(cache_dir) / CACHE_FILE if cache_dir is not None else data_home() / CACHE_FILE


def read_cache(cache_dir: str | PathLike[str] | None = None) -> PriceTables:
    """The cached prices, or empty tables when no refresh has run yet."""
    path = cache_path(cache_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PriceTables.empty()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the price cache {path}: {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"the price cache {path} is corrupt ({exc}); delete it and run "
            "`gptoss-aws prices refresh`"
        ) from exc
    return parse_tables(document, layer="cache", origin=str(path))


def write_cache(tables: PriceTables, cache_dir: str | PathLike[str] | None = None) -> Path:
    path = cache_path(cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(tables_to_document(tables), indent=2, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".prices-cache.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

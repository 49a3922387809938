"""Where every call is recorded: SQLite on this machine by default, DynamoDB for teams.

``open_ledger()`` opens the default (``$GPTOSS_AWS_LEDGER`` if set, else ``ledger.sqlite3``
in the data directory: ``$GPTOSS_AWS_HOME`` or the platform's user data directory);
``open_ledger("path/to/file.sqlite3")`` or ``"sqlite:///abs/path"`` a given file;
``open_ledger("dynamodb://table-name?region=us-east-1")`` a DynamoDB table (``endpoint_url``
may be added to the query string, e.g. for DynamoDB Local).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from gptoss_aws.errors import ConfigurationError, InvalidRecordError, LedgerError
from gptoss_aws.ledger.base import BudgetUsage, Charge, Ledger, charge_of
from gptoss_aws.ledger.sqlite import SQLiteLedger, default_data_dir, default_ledger_path

LEDGER_ENV = "GPTOSS_AWS_LEDGER"


def open_ledger(location: str | os.PathLike[str] | None = None) -> Ledger:
    """Open the ledger at ``location`` (see the module doc for the forms it takes)."""
    if location is None:
        location = os.environ.get(LEDGER_ENV) or None
    if location is None:
        return SQLiteLedger(default_ledger_path())
    if isinstance(location, Path) or not isinstance(location, str):
        return SQLiteLedger(location)
    if location.startswith("dynamodb://"):
        from gptoss_aws.ledger.dynamodb import DynamoDBLedger

        url = urlsplit(location)
        if not url.netloc:
            raise ConfigurationError(
                f"no table name in {location!r}: use dynamodb://TABLE?region=REGION"
            )
        options = {k: v[-1] for k, v in parse_qs(url.query).items()}
        unknown = set(options) - {"region", "endpoint_url"}
        if unknown:
            raise ConfigurationError(
                f"unknown option(s) {sorted(unknown)} in {location!r}: use region, endpoint_url"
            )
        return DynamoDBLedger(
            url.netloc, region=options.get("region"), endpoint_url=options.get("endpoint_url")
        )
    if location.startswith("sqlite://"):
        path = location.removeprefix("sqlite://")
        if not path:
            raise ConfigurationError(f"no file in {location!r}: use sqlite:///path/to/ledger")
        return SQLiteLedger(path)
    if "://" in location:
        raise ConfigurationError(
            f"unknown ledger {location!r}: give a file path, sqlite:///PATH or dynamodb://TABLE"
        )
    return SQLiteLedger(location)


__all__ = [
    "LEDGER_ENV",
    "BudgetUsage",
    "Charge",
    "InvalidRecordError",
    "Ledger",
    "LedgerError",
    "SQLiteLedger",
    "charge_of",
    "default_data_dir",
    "default_ledger_path",
    "open_ledger",
]

"""Which documents may source a bundled price.

The bundled catalog is the one layer nobody refreshed or chose: its figures must come from a
document AWS itself publishes, so each entry's ``source`` names that document by its https
URL on an AWS host, and its ``as_of`` is the document's date. A third-party copy of an AWS
price (a gateway's price map, a blog's table, a pull request quoting an offer file) is not a
primary source, however accurate it looks: such a price stays pending until
``gptoss-aws prices refresh`` reads the AWS Price List, or the user overrides it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing.records import InstancePrice, PriceTables, TokenPrice

_URL = re.compile(r"https://[^\s)\"']+")

# AWS's own hosts for prices: its pricing and documentation pages (aws.amazon.com and its
# subdomains, e.g. docs.aws.amazon.com) and the Price List bulk API
# (pricing.<region>.amazonaws.com). Not *.amazonaws.com in general: anyone can publish under
# an S3 bucket's host.
_PRICE_LIST_HOST = re.compile(r"^pricing\.[a-z]{2}(-gov)?-[a-z]+-\d\.amazonaws\.com$")


def is_aws_primary_url(url: str) -> bool:
    """True for an https URL on a host where AWS publishes its own prices."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.username or parts.password or parts.port:
        return False
    host = (parts.hostname or "").lower()
    return (
        host == "aws.amazon.com"
        or host.endswith(".aws.amazon.com")
        or bool(_PRICE_LIST_HOST.match(host))
    )


def primary_urls(source: str) -> list[str]:
    """The AWS primary-source URLs a ``source`` text cites."""
    return [url for url in _URL.findall(source) if is_aws_primary_url(url.rstrip(".,;"))]


def _entries(tables: PriceTables) -> Iterator[tuple[str, TokenPrice | InstancePrice]]:
    for model, by_region in sorted(tables.bedrock.items()):
        for region, token in sorted(by_region.items()):
            yield f"bedrock.{model}.{region}", token
    for model, tier_regions in sorted(tables.tiers.items()):
        for region, by_tier in sorted(tier_regions.items()):
            for tier, tiered in sorted(by_tier.items()):
                yield f"bedrock.{model}.{region}.tiers.{tier}", tiered
    for itype, by_region_i in sorted(tables.sagemaker.items()):
        for region, hourly in sorted(by_region_i.items()):
            yield f"sagemaker.{itype}.{region}", hourly


def check_primary_sources(tables: PriceTables, *, today: date, origin: str) -> None:
    """Refuse a catalog with any entry that does not cite an AWS primary source by URL or is
    dated after ``today``; every offending entry is named in one error."""
    problems = []
    for where, price in _entries(tables):
        if not primary_urls(price.source):
            problems.append(
                f"{where}: source {price.source!r} cites no AWS primary document (an https URL "
                "on aws.amazon.com or the Price List at pricing.<region>.amazonaws.com)"
            )
        if price.as_of > today:
            problems.append(f"{where}: as_of {price.as_of.isoformat()} is after {today}")
    if problems:
        raise ConfigurationError(
            f"{origin}: a bundled price needs an AWS primary source and its date; leave the "
            "price out (it is then pending until `gptoss-aws prices refresh`) rather than cite "
            "anything else:\n  " + "\n  ".join(problems)
        )

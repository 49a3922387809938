"""Every bundled price cites an AWS primary source by URL, with its date; nothing else is
bundled. The rule is enforced when the catalog loads (gptoss_aws.pricing.provenance)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing.catalog import load_bundled
from gptoss_aws.pricing.provenance import check_primary_sources, is_aws_primary_url, primary_urls
from gptoss_aws.pricing.records import InstancePrice, TokenPrice, parse_tables

TODAY = date(2026, 12, 2)
OFFER_FILE = (
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/"
    "us-east-1/index.json"
)
# The Bedrock entries the catalog carried before: offer-file figures read through a
# third party's quotation of it. A quotation is not the document.
QUOTED = (
    "AWS Price List offer file AmazonBedrock us-east-1 (publication 2026-09-01), usage types "
    "USE1-<model>-input-tokens / -output-tokens, standard tier, per 1K tokens x 1000; figures "
    "as quoted from that offer file in BerriAI/litellm PR #39866"
)


def _check(document: dict[str, Any]) -> None:
    tables = parse_tables(document, layer="bundled", origin="catalog under test")
    check_primary_sources(tables, today=TODAY, origin="catalog under test")


def _token(source: str, as_of: str = "2026-09-01") -> dict[str, str]:
    return {"input_per_1m": "0.15", "output_per_1m": "0.60", "source": source, "as_of": as_of}


def test_every_bundled_price_cites_an_aws_document_and_its_date() -> None:
    tables = load_bundled()  # raises if any entry breaks the rule
    entries: list[TokenPrice | InstancePrice] = [
        p for r in tables.bedrock.values() for p in r.values()
    ]
    entries += [p for r in tables.sagemaker.values() for p in r.values()]
    entries += [p for m in tables.tiers.values() for r in m.values() for p in r.values()]
    assert entries
    for price in entries:
        assert all(is_aws_primary_url(url) for url in primary_urls(price.source))
        assert primary_urls(price.source)
        assert price.as_of <= datetime.now(UTC).date()


def test_the_previous_second_hand_bedrock_entries_are_refused_by_name() -> None:
    document = {
        "bedrock": {
            "gpt-oss-120b": {"us-east-1": _token(QUOTED)},
            "gpt-oss-20b": {"us-east-1": _token(QUOTED)},
        }
    }
    with pytest.raises(ConfigurationError) as caught:
        _check(document)
    message = str(caught.value)
    # Both offenders are reported together, with the way out.
    assert "bedrock.gpt-oss-120b.us-east-1" in message
    assert "bedrock.gpt-oss-20b.us-east-1" in message
    assert "gptoss-aws prices refresh" in message


def test_an_offer_file_or_pricing_page_url_is_accepted() -> None:
    _check(
        {
            "bedrock": {
                "gpt-oss-120b": {
                    "us-west-2": {
                        **_token(
                            "AWS Bedrock pricing page, https://aws.amazon.com/bedrock/pricing/"
                        ),
                        "tiers": {"flex": _token(f"Price List {OFFER_FILE}")},
                    }
                }
            },
            "sagemaker": {
                "ml.g6e.2xlarge": {
                    "us-east-1": {
                        "usd_per_hour": "2.8026",
                        "source": OFFER_FILE,
                        "as_of": "2026-09-20",
                    }
                }
            },
        }
    )


def test_a_tier_price_without_a_primary_source_is_named() -> None:
    entry = {**_token(f"offer file {OFFER_FILE}"), "tiers": {"priority": _token("vendor blog")}}
    with pytest.raises(
        ConfigurationError, match=r"bedrock\.gpt-oss-120b\.us-east-1\.tiers\.priority"
    ):
        _check({"bedrock": {"gpt-oss-120b": {"us-east-1": entry}}})


def test_a_price_dated_after_today_is_refused() -> None:
    future = _token(f"offer file {OFFER_FILE}", as_of="2027-01-01")
    with pytest.raises(ConfigurationError, match="as_of 2027-01-01 is after 2026-12-02"):
        _check({"bedrock": {"gpt-oss-120b": {"us-east-1": future}}})


def test_a_price_without_a_date_never_gets_that_far() -> None:
    undated = {"input_per_1m": "0.15", "output_per_1m": "0.60", "source": OFFER_FILE}
    with pytest.raises(ConfigurationError, match="as_of"):
        _check({"bedrock": {"gpt-oss-120b": {"us-east-1": undated}}})


@pytest.mark.parametrize(
    ("url", "primary"),
    [
        ("https://aws.amazon.com/bedrock/pricing/", True),
        ("https://aws.amazon.com/sagemaker/pricing/", True),
        ("https://docs.aws.amazon.com/bedrock/latest/userguide/service-tiers-inference.html", True),
        (OFFER_FILE, True),
        ("https://pricing.us-gov-west-1.amazonaws.com/offers/v1.0/aws/index.json", True),
        ("http://aws.amazon.com/bedrock/pricing/", False),  # not https
        ("https://github.com/BerriAI/litellm/pull/39866", False),
        ("https://aws.amazon.com.example.net/bedrock/pricing/", False),
        ("https://notaws.amazon.com/bedrock/pricing/", False),
        ("https://my-bucket.s3.amazonaws.com/prices.json", False),  # anyone's bucket
        ("https://pricing.evil.amazonaws.com.example/", False),
        ("https://user@aws.amazon.com/bedrock/pricing/", False),
    ],
)
def test_only_aws_hosts_count_as_primary(url: str, primary: bool) -> None:
    assert is_aws_primary_url(url) is primary
    assert bool(primary_urls(f"source: {url}, read 2026-11-27")) is primary

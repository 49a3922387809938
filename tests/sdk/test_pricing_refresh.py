"""Refresh from the AWS Price List API (moto has no `pricing`: botocore Stubber).

The PriceList documents follow the published schema (AWS Billing user guide, "Reading the
service price list file for a service"): product {sku, productFamily, attributes}, terms
{OnDemand: {"<sku>.<offerTermCode>": {priceDimensions: {"<rateCode>": {unit, pricePerUnit,
beginRange, endRange, ...}}}}}, with the attribute values the Bedrock and SageMaker offers use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from gptoss_aws.errors import UnreadableProductError
from gptoss_aws.pricing import PriceBook
from gptoss_aws.pricing._price_list import per_1m_tokens
from gptoss_aws.pricing._refresh import refresh

TODAY = date(2026, 11, 27)
TERM = "JRTCKXETXF"  # the OnDemand offer term code


def _product(
    service_code: str,
    sku: str,
    attributes: dict[str, str],
    usd: str,
    unit: str,
    *,
    family: str,
    dimensions: int = 1,
) -> str:
    price_dimensions = {
        f"{sku}.{TERM}.{rate}": {
            "unit": unit,
            "endRange": "Inf",
            "description": f"{attributes.get('usagetype', '')} {unit}",
            "appliesTo": [],
            "rateCode": f"{sku}.{TERM}.{rate}",
            "beginRange": "0",
            "pricePerUnit": {"USD": usd},
        }
        for rate in ["6YS6EN2CT7", "8EEUB22XNJ"][:dimensions]
    }
    document = {
        "product": {"productFamily": family, "attributes": attributes, "sku": sku},
        "serviceCode": service_code,
        "terms": {
            "OnDemand": {
                f"{sku}.{TERM}": {
                    "priceDimensions": price_dimensions,
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": TERM,
                    "termAttributes": {},
                }
            }
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
    }
    return json.dumps(document)


def bedrock_token(
    sku: str,
    direction: str,
    usd: str,
    *,
    model: str = "gpt-oss-120b",
    region: str = "us-east-1",
    prefix: str = "USE1",
    suffix: str = "",
    unit: str = "1K tokens",
) -> str:
    return _product(
        "AmazonBedrock",
        sku,
        {
            "regionCode": region,
            "servicecode": "AmazonBedrock",
            "usagetype": f"{prefix}-{model}-{direction}-tokens{suffix}",
            "locationType": "AWS Region",
            "location": "US East (N. Virginia)",
            "servicename": "Amazon Bedrock",
            "model": model,
            "provider": "OpenAI",
            "feature": "On-demand Inference",
            "inferenceType": f"{direction.title()} tokens",
        },
        usd,
        unit,
        family="Amazon Bedrock",
    )


def sagemaker_hosting(
    sku: str, instance: str, usd: str, *, usagetype: str | None = None, unit: str = "Hrs"
) -> str:
    return _product(
        "AmazonSageMaker",
        sku,
        {
            "regionCode": "us-east-1",
            "servicecode": "AmazonSageMaker",
            "usagetype": usagetype or f"USE1-Host:{instance}",
            "locationType": "AWS Region",
            "location": "US East (N. Virginia)",
            "component": "Hosting",
            "instanceName": instance,
            "instanceType": f"{instance}-hosting",
            "operation": "RunInstance",
        },
        usd,
        unit,
        family="ML Instance",
    )


def _page(products: list[str], token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": products}
    if token:
        page["NextToken"] = token
    return page


def _filters(**values: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in values.items()]


def bedrock_request(model: str = "gpt-oss-120b", region: str = "us-east-1") -> dict[str, Any]:
    return {
        "ServiceCode": "AmazonBedrock",
        "Filters": _filters(regionCode=region, model=model, feature="On-demand Inference"),
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }


def fm_request(region: str = "us-east-1") -> dict[str, Any]:
    return {
        "ServiceCode": "AmazonBedrockFoundationModels",
        "Filters": _filters(regionCode=region),
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }


def sagemaker_request(instance: str, region: str = "us-east-1") -> dict[str, Any]:
    return {
        "ServiceCode": "AmazonSageMaker",
        "Filters": _filters(component="Hosting", instanceName=instance, regionCode=region),
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }


@pytest.fixture
def pricing() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_bedrock_and_sagemaker_prices_are_read_converted_and_cached(
    pricing: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stub = pricing
    # Page 1 holds the input rate and a batch rate; page 2 (NextToken) the output rate.
    stub.add_response(
        "get_products",
        _page(
            [
                bedrock_token("IN1", "input", "0.0001500000"),
                bedrock_token("BATCH1", "input", "0.0000750000", suffix="-batch"),
            ],
            token="page-2",
        ),
        bedrock_request(),
    )
    stub.add_response(
        "get_products",
        _page([bedrock_token("OUT1", "output", "0.0006000000")]),
        {**bedrock_request(), "NextToken": "page-2"},
    )
    stub.add_response("get_products", _page([]), fm_request())
    stub.add_response(
        "get_products",
        _page([sagemaker_hosting("HOST1", "ml.g6e.2xlarge", "2.8026000000")]),
        sagemaker_request("ml.g6e.2xlarge"),
    )

    report = refresh(
        client,
        regions=["us-east-1"],
        models=["gpt-oss-120b"],
        instance_types=["ml.g6e.2xlarge"],
        cache_dir=tmp_path,
        today=TODAY,
    )

    assert report.problems == []
    assert [s.sku for s in report.skipped] == ["BATCH1"]
    assert report.priced == 2
    assert report.cache_file == tmp_path / "prices-cache.json"
    book = PriceBook.load(cache_dir=tmp_path)
    price = book.token_price("gpt-oss-120b", "us-east-1")
    # $0.00015 per 1K tokens is $0.15 per 1M, exactly.
    assert (price.input_per_1m, price.output_per_1m) == (Decimal("0.15"), Decimal("0.6"))
    assert price.source.startswith("AWS Price List API 2026-11-27")
    assert "IN1" in price.source
    assert "OUT1" in price.source
    assert price.as_of == TODAY
    assert price.layer == "cache"
    hosting = book.instance_price("ml.g6e.2xlarge", "us-east-1")
    assert hosting.usd_per_hour == Decimal("2.8026")
    assert "HOST1" in hosting.source


def test_the_foundation_models_offer_per_1m_agrees_and_is_a_second_witness(
    pricing: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stub = pricing
    stub.add_response(
        "get_products",
        _page(
            [bedrock_token("IN1", "input", "0.00015"), bedrock_token("OUT1", "output", "0.0006")]
        ),
    )
    fm_in = _product(
        "AmazonBedrockFoundationModels",
        "FMIN",
        {
            "regionCode": "us-east-1",
            "servicename": "gpt-oss-120b (Amazon Bedrock Edition)",
            "usagetype": "USE1-MP:USE1_InputTokenCount-Units",
        },
        "0.15",
        "1M tokens",
        family="Bedrock Foundation Models",
    )
    fm_out = _product(
        "AmazonBedrockFoundationModels",
        "FMOUT",
        {
            "regionCode": "us-east-1",
            "servicename": "gpt-oss-120b (Amazon Bedrock Edition)",
            "usagetype": "USE1-MP:USE1_OutputTokenCount-Units",
        },
        "0.60",
        "1M tokens",
        family="Bedrock Foundation Models",
    )
    unrelated = _product(
        "AmazonBedrockFoundationModels",
        "CLAUDE",
        {
            "regionCode": "us-east-1",
            "servicename": "Claude Sonnet",
            "usagetype": "USE1-MP:USE1_InputTokenCount-Units",
        },
        "3.00",
        "1M tokens",
        family="Bedrock Foundation Models",
    )
    stub.add_response("get_products", _page([fm_in, fm_out, unrelated]))
    report = refresh(
        client,
        regions=["us-east-1"],
        models=["gpt-oss-120b"],
        instance_types=[],
        cache_dir=tmp_path,
        today=TODAY,
    )
    assert report.problems == []
    price = report.tables.bedrock["gpt-oss-120b"]["us-east-1"]
    assert price.output_per_1m == Decimal("0.6")
    assert "AmazonBedrock IN1 OUT1" in price.source
    assert "AmazonBedrockFoundationModels FMIN FMOUT" in price.source


def test_offers_that_disagree_are_reported_and_nothing_is_written(
    pricing: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stub = pricing
    stub.add_response(
        "get_products",
        _page(
            [bedrock_token("IN1", "input", "0.00015"), bedrock_token("OUT1", "output", "0.0006")]
        ),
    )
    stub.add_response(
        "get_products",
        _page(
            [
                _product(
                    "AmazonBedrockFoundationModels",
                    "FMIN",
                    {
                        "servicename": "gpt-oss-120b",
                        "inferenceType": "Input tokens",
                        "usagetype": "USE1-gpt-oss-120b-input",
                    },
                    "0.0015",
                    "1K tokens",
                    family="x",
                ),
                _product(
                    "AmazonBedrockFoundationModels",
                    "FMOUT",
                    {
                        "servicename": "gpt-oss-120b",
                        "inferenceType": "Output tokens",
                        "usagetype": "USE1-gpt-oss-120b-output",
                    },
                    "0.0006",
                    "1K tokens",
                    family="x",
                ),
            ]
        ),
    )
    report = refresh(
        client,
        regions=["us-east-1"],
        models=["gpt-oss-120b"],
        instance_types=[],
        cache_dir=tmp_path,
        today=TODAY,
    )
    assert report.priced == 0
    assert any("offers disagree" in p.reason for p in report.problems)
    assert report.cache_file is None
    assert not (tmp_path / "prices-cache.json").exists()


def test_unreadable_products_are_reported_not_skipped(
    pricing: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stub = pricing
    stub.add_response(
        "get_products",
        _page(
            [
                bedrock_token("IN1", "input", "0.00015", unit="Requests"),  # unknown unit
                bedrock_token("OUT1", "output", "0.0006"),
                "{this is not json",
            ]
        ),
    )
    stub.add_response("get_products", _page([]))
    stub.add_response(
        "get_products",
        _page(
            [
                sagemaker_hosting("TIER", "ml.p5.4xlarge", "7.9", unit="Hrs"),
                sagemaker_hosting("DAYS", "ml.p5.4xlarge", "189.9", unit="Days"),
                sagemaker_hosting("ZERO", "ml.p5.4xlarge", "0.0000000000"),
                sagemaker_hosting("NOTE", "ml.p5.4xlarge", "7.9", usagetype="USE1-Notebk:ml.p5"),
            ]
        ),
    )
    report = refresh(
        client,
        regions=["us-east-1"],
        models=["gpt-oss-120b"],
        instance_types=["ml.p5.4xlarge"],
        cache_dir=tmp_path,
        today=TODAY,
    )
    reasons = {p.sku: p.reason for p in report.problems}
    assert "'Requests' is not a token unit" in reasons["IN1"]
    assert "not JSON" in reasons["PriceList[2]"]
    assert "'Days' is not hours" in reasons["DAYS"]
    assert "never $0" in reasons["ZERO"]
    assert any("only the output rate" in p.reason for p in report.problems)
    assert [s.sku for s in report.skipped] == ["NOTE"]
    # The one readable hosting price is still written.
    assert report.tables.sagemaker["ml.p5.4xlarge"]["us-east-1"].usd_per_hour == Decimal("7.9")
    assert report.tables.bedrock == {}


def test_two_hosting_prices_for_one_instance_are_a_problem(
    pricing: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stub = pricing
    stub.add_response(
        "get_products",
        _page(
            [
                sagemaker_hosting("A", "ml.g5.xlarge", "1.41"),
                sagemaker_hosting("B", "ml.g5.xlarge", "1.52"),
            ]
        ),
    )
    report = refresh(
        client,
        regions=["us-east-1"],
        models=[],
        instance_types=["ml.g5.xlarge"],
        cache_dir=tmp_path,
        today=TODAY,
    )
    assert report.priced == 0
    assert any("products disagree" in p.reason for p in report.problems)


def test_nothing_found_is_listed_as_missing(pricing: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = pricing
    stub.add_response("get_products", _page([]), bedrock_request(region="eu-west-3"))
    stub.add_response("get_products", _page([]), fm_request(region="eu-west-3"))
    stub.add_response("get_products", _page([]), sagemaker_request("ml.g5.xlarge", "eu-west-3"))
    report = refresh(
        client,
        regions=["eu-west-3"],
        models=["gpt-oss-120b"],
        instance_types=["ml.g5.xlarge"],
        cache_dir=tmp_path,
        today=TODAY,
    )
    assert report.missing == ["bedrock gpt-oss-120b eu-west-3", "sagemaker ml.g5.xlarge eu-west-3"]


def test_a_refresh_keeps_other_regions_already_cached(
    pricing: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stub = pricing
    stub.add_response("get_products", _page([sagemaker_hosting("A", "ml.g5.xlarge", "1.41")]))
    refresh(
        client,
        regions=["us-east-1"],
        models=[],
        instance_types=["ml.g5.xlarge"],
        cache_dir=tmp_path,
        today=TODAY,
    )
    west = sagemaker_hosting("W", "ml.g5.xlarge", "1.50", usagetype="USW2-Host:ml.g5.xlarge")
    stub.add_response("get_products", _page([west]), sagemaker_request("ml.g5.xlarge", "us-west-2"))
    refresh(
        client,
        regions=["us-west-2"],
        models=[],
        instance_types=["ml.g5.xlarge"],
        cache_dir=tmp_path,
        today=TODAY,
    )
    book = PriceBook.load(cache_dir=tmp_path)
    assert book.instance_price("ml.g5.xlarge", "us-east-1").usd_per_hour == Decimal("1.41")
    assert book.instance_price("ml.g5.xlarge", "us-west-2").usd_per_hour == Decimal("1.50")


@pytest.mark.parametrize(
    ("usd", "unit", "per_1m"),
    [
        ("0.00015", "1K tokens", "0.15"),
        ("0.15", "1M tokens", "0.15"),
        ("0.00000015", "tokens", "0.15"),
        ("0.0006", "1k Tokens", "0.6"),
    ],
)
def test_units_convert_exactly(usd: str, unit: str, per_1m: str) -> None:
    # LiteLLM #20615: a per-1K price read as per-1M is off by 1000x.
    assert per_1m_tokens(Decimal(usd), unit) == Decimal(per_1m)


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(UnreadableProductError, match="Images"):
        per_1m_tokens(Decimal("0.04"), "Images")


def test_a_tiered_price_is_unreadable(pricing: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, stub = pricing
    tiered = _product(
        "AmazonSageMaker",
        "T",
        {"usagetype": "USE1-Host:ml.g5.xlarge"},
        "1.4",
        "Hrs",
        family="ML Instance",
        dimensions=2,
    )
    stub.add_response("get_products", _page([tiered]))
    report = refresh(
        client,
        regions=["us-east-1"],
        models=[],
        instance_types=["ml.g5.xlarge"],
        cache_dir=tmp_path,
        today=TODAY,
    )
    assert "2 OnDemand price dimensions" in report.problems[0].reason

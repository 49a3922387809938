"""`gptoss-aws prices list|refresh`, through the argparse wiring the CLI uses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import boto3
import pytest
import stated_prices
from botocore.stub import Stubber
from test_pricing_refresh import bedrock_token, fm_request, sagemaker_hosting, sagemaker_request

from gptoss_aws._cli_commands import prices as prices_cmd
from gptoss_aws.pricing import PriceBook


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gptoss-aws")
    prices_cmd.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def test_list_prints_a_table_with_source_and_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse("prices", "list", "--region", "us-east-1")
    assert args.func(args) == 0
    bundled_only = capsys.readouterr().out
    # No Bedrock price is bundled (no primary source): only the offer-file hosting price.
    assert "gpt-oss" not in bundled_only
    stated = tmp_path / "stated.toml"
    stated.write_text(stated_prices.toml())
    args = _parse("prices", "list", "--region", "us-east-1", "--prices-file", str(stated))
    assert args.func(args) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split() == [
        "KIND",
        "NAME",
        "REGION",
        "TIER",
        "PRICE",
        "UNIT",
        "LAYER",
        "AS",
        "OF",
        "SOURCE",
    ]
    big = next(r for r in rows if "gpt-oss-120b" in r)
    assert "0.15 / 0.6" in big
    assert "USD per 1M tokens in / out" in big
    assert "override" in big
    assert stated_prices.AS_OF in big
    assert stated_prices.SOURCE in big
    g6e = next(r for r in rows if r.startswith("sagemaker  ml.g6e.2xlarge "))
    assert "2.8026" in g6e
    assert "USD per instance-hour" in g6e
    assert "bundled" in g6e
    assert "2026-09-20" in g6e
    assert "AWS Price List offer file AmazonSageMaker" in g6e
    assert not any("ml.p5.4xlarge" in r for r in rows)  # no primary source: not bundled


def test_list_shows_overrides_and_says_when_a_region_has_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[sagemaker."ml.g4dn.xlarge".eu-west-1]\nusd_per_hour = "0.8"\n')
    args = _parse("prices", "list", "--region", "eu-west-1", "--prices-file", str(path))
    assert args.func(args) == 0
    assert "override" in capsys.readouterr().out
    args = _parse("prices", "list", "--region", "ap-south-1")
    assert args.func(args) == 1
    assert "prices refresh" in capsys.readouterr().out


def test_list_reports_a_broken_overrides_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.json"
    path.write_text("[1, 2]")
    args = _parse("prices", "list", "--prices-file", str(path))
    assert args.func(args) == 2
    assert "top level must be an object" in capsys.readouterr().err


def _pricing() -> tuple[Any, Stubber]:
    client = boto3.client("pricing", region_name="us-east-1")
    return client, Stubber(client)


def test_refresh_writes_the_cache_the_price_book_reads(capsys: pytest.CaptureFixture[str]) -> None:
    client, stub = _pricing()
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                bedrock_token("I", "input", "0.00016"),
                bedrock_token("O", "output", "0.00065"),
            ]
        },
    )
    stub.add_response("get_products", {"PriceList": []}, fm_request())
    stub.add_response(
        "get_products",
        {"PriceList": [sagemaker_hosting("H", "ml.p5.4xlarge", "7.5")]},
        sagemaker_request("ml.p5.4xlarge"),
    )
    args = _parse(
        "prices",
        "refresh",
        "--region",
        "us-east-1",
        "--model",
        "gpt-oss-120b",
        "--instance-type",
        "ml.p5.4xlarge",
    )
    with stub:
        assert prices_cmd.run_refresh(args, pricing_client=client) == 0
    out = capsys.readouterr().out
    assert "2 price(s) from AWS Price List API" in out
    book = PriceBook.load()  # GPTOSS_AWS_HOME is the test's temp dir
    assert str(book.token_price("gpt-oss-120b", "us-east-1").output_per_1m) == "0.65"
    assert str(book.instance_price("ml.p5.4xlarge", "us-east-1").usd_per_hour) == "7.5"


def test_refresh_exits_non_zero_and_prints_problems(capsys: pytest.CaptureFixture[str]) -> None:
    client, stub = _pricing()
    stub.add_response(
        "get_products", {"PriceList": [sagemaker_hosting("H", "ml.p5.4xlarge", "7.5", unit="Qty")]}
    )
    args = _parse(
        "prices",
        "refresh",
        "--region",
        "us-east-1",
        "--model",
        "none",
        "--instance-type",
        "ml.p5.4xlarge",
    )
    args.models = []
    with stub:
        assert prices_cmd.run_refresh(args, pricing_client=client) == 1
    err = capsys.readouterr().err
    assert "PROBLEM: AmazonSageMaker H: unit 'Qty' is not hours" in err


def test_refresh_needs_a_region(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    args = _parse("prices", "refresh")
    assert args.func(args) == 2
    assert "no --region given" in capsys.readouterr().err
    bad = _parse("prices", "refresh", "--region", "useast1")
    assert prices_cmd.run_refresh(bad, pricing_client=object()) == 2
    assert "not an AWS region code" in capsys.readouterr().err


def test_prices_needs_a_subcommand() -> None:
    with pytest.raises(SystemExit):
        _parse("prices")

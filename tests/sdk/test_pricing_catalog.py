"""PriceBook: bundled catalog, cache and overrides, names, and errors that say how to fix."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import stated_prices

from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.pricing import PriceBook, canonical_model
from gptoss_aws.pricing._cache import cache_path, data_home, write_cache
from gptoss_aws.pricing.catalog import load_bundled
from gptoss_aws.pricing.provenance import primary_urls
from gptoss_aws.pricing.records import PriceTables, parse_tables


def _cache_doc(model_price: str = "0.20", hour_price: str = "8.00") -> dict[str, object]:
    return {
        "schema": 1,
        "bedrock": {
            "gpt-oss-120b": {
                "us-east-1": {
                    "input_per_1m": model_price,
                    "output_per_1m": "0.80",
                    "source": "AWS Price List API 2026-11-20: AmazonBedrock SKU1 SKU2",
                    "as_of": "2026-11-20",
                }
            }
        },
        "sagemaker": {
            "ml.p5.4xlarge": {
                "us-east-1": {
                    "usd_per_hour": hour_price,
                    "source": "AWS Price List API 2026-11-20: AmazonSageMaker SKU3",
                    "as_of": "2026-11-20",
                }
            }
        },
    }


def _write_cache(directory: Path, document: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prices-cache.json").write_text(json.dumps(document))


def test_every_bundled_price_has_a_source_a_date_and_is_not_zero() -> None:
    tables = load_bundled()
    entries = [p for r in tables.bedrock.values() for p in r.values()] + [
        p for r in tables.sagemaker.values() for p in r.values()
    ]
    assert entries
    for price in entries:
        # Bundled only with a primary AWS source (offer file / pricing page) cited by URL: no
        # third-party price tables or quotations (test_price_sources checks the rule itself).
        assert primary_urls(price.source), price.source
        assert "third-party" not in price.source
        assert date(2026, 1, 1) <= price.as_of <= date(2026, 12, 31)
        assert price.layer == "bundled"
    for by_region in tables.bedrock.values():
        for tp in by_region.values():
            assert tp.input_per_1m > 0
            assert tp.output_per_1m > 0
    for by_region_i in tables.sagemaker.values():
        for ip in by_region_i.values():
            assert ip.usd_per_hour > 0


def test_the_bundled_catalog_holds_only_primary_source_prices() -> None:
    book = PriceBook.load()
    g6e = book.instance_price("ml.g6e.2xlarge", "us-east-1")
    assert (g6e.usd_per_hour, g6e.as_of) == (Decimal("2.8026"), date(2026, 9, 20))
    assert primary_urls(g6e.source) == [
        "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/"
        "us-east-1/index.json"
    ]
    # No AWS primary document stating a Bedrock gpt-oss price could be read (the pricing page
    # renders its figures client-side); the one second-hand figure (a quotation of the offer
    # file in a LiteLLM pull request) is gone: Bedrock is pending until refreshed.
    for model in ("gpt-oss-120b", "gpt-oss-20b"):
        with pytest.raises(UnpricedError) as caught:
            book.token_price(model, "us-east-1")
        assert caught.value.fix == "gptoss-aws prices refresh --region us-east-1"
    # The third-party hosting table is gone too: those prices are pending until refreshed.
    with pytest.raises(UnpricedError) as caught:
        book.instance_price("ml.p5.4xlarge", "us-east-1")
    assert caught.value.fix == "gptoss-aws prices refresh --region us-east-1"


@pytest.mark.parametrize(
    "name",
    [
        "gpt-oss-120b",
        "openai/gpt-oss-120b",
        "openai.gpt-oss-120b-1:0",
        "us.openai.gpt-oss-120b-1:0",
        "eu.openai.gpt-oss-120b-1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/openai.gpt-oss-120b-1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.openai.gpt-oss-120b-1:0",
    ],
)
def test_every_name_of_a_model_finds_its_price(name: str) -> None:
    assert canonical_model(name) == "gpt-oss-120b"
    price = stated_prices.book().token_price(name, "us-east-1")
    assert price.output_per_1m == stated_prices.OUTPUT_120B


def test_global_profiles_are_not_assumed_to_cost_the_regional_price() -> None:
    with pytest.raises(UnpricedError, match=r"global\.openai\.gpt-oss-120b-1:0"):
        PriceBook.load().token_price("global.openai.gpt-oss-120b-1:0", "us-east-1")


def test_an_unresolved_application_profile_arn_says_to_resolve_it() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    with pytest.raises(UnpricedError, match="resolve_inference_profile"):
        PriceBook.load().token_price(arn, "us-east-1")


def test_a_missing_region_is_an_error_naming_the_region_and_the_fixes() -> None:
    with pytest.raises(UnpricedError) as caught:
        stated_prices.book("us-east-1").token_price("gpt-oss-120b", "ap-southeast-2")
    message = str(caught.value)
    assert "'ap-southeast-2'" in message
    assert "priced only in us-east-1" in message
    assert "override" in message
    assert "gptoss-aws prices refresh --region ap-southeast-2" in message
    assert "pending" in message
    assert caught.value.fix == "gptoss-aws prices refresh --region ap-southeast-2"


def test_a_missing_model_and_a_missing_instance_type_say_which() -> None:
    book = PriceBook.load()
    with pytest.raises(UnpricedError, match=r"model 'my-finetune' in any region"):
        book.token_price("my-finetune", "us-east-1")
    with pytest.raises(UnpricedError, match=r"instance type 'ml.g4dn.xlarge' in any region"):
        book.instance_price("ml.g4dn.xlarge", "us-east-1")
    with pytest.raises(UnpricedError, match=r"'ml.g6e.2xlarge' in region 'us-west-2'"):
        book.instance_price("ml.g6e.2xlarge", "us-west-2")


@pytest.mark.parametrize("region", ["us-east1", "US-EAST-1", "", "east"])
def test_a_malformed_region_is_a_configuration_error(region: str) -> None:
    with pytest.raises(ConfigurationError, match="not an AWS region code"):
        PriceBook.load().token_price("gpt-oss-120b", region)


def test_the_cache_beats_the_bundled_catalog(tmp_path: Path) -> None:
    _write_cache(tmp_path, _cache_doc())
    book = PriceBook.load(cache_dir=tmp_path)
    price = book.token_price("gpt-oss-120b", "us-east-1")
    assert price.input_per_1m == Decimal("0.20")
    assert price.layer == "cache"
    assert price.source.startswith("AWS Price List API 2026-11-20")
    # Entries the cache does not hold still come from the bundled catalog.
    assert book.instance_price("ml.g6e.2xlarge", "us-east-1").layer == "bundled"


def test_the_default_cache_lives_under_gptoss_aws_home() -> None:
    home = Path(os.environ["GPTOSS_AWS_HOME"])
    assert data_home() == home
    assert cache_path() == home / "prices-cache.json"
    _write_cache(home, _cache_doc(hour_price="9.50"))
    assert PriceBook.load().instance_price("ml.p5.4xlarge", "us-east-1").usd_per_hour == Decimal(
        "9.50"
    )


def test_overrides_beat_the_cache_and_may_name_models_any_way(tmp_path: Path) -> None:
    _write_cache(tmp_path, _cache_doc())
    overrides = {
        "bedrock": {
            "openai.gpt-oss-120b-1:0": {"us-east-1": {"input_per_1m": 0.1, "output_per_1m": 0.5}}
        }
    }
    book = PriceBook.load(overrides=overrides, cache_dir=tmp_path)
    price = book.token_price("gpt-oss-120b", "us-east-1")
    # 0.1 from a float is exactly one tenth, not 0.1000000000000000055511151231257827.
    assert price.input_per_1m == Decimal("0.1")
    assert price.layer == "override"
    assert price.source == "user override (dict)"


def test_with_override_stacks_on_top_and_leaves_the_original_alone() -> None:
    book = PriceBook.load()
    cheaper = book.with_override(
        {"sagemaker": {"ml.p5.4xlarge": {"us-east-1": {"usd_per_hour": "5", "source": "deal"}}}}
    )
    assert cheaper.instance_price("ml.p5.4xlarge", "us-east-1").usd_per_hour == Decimal(5)
    with pytest.raises(UnpricedError):
        book.instance_price("ml.p5.4xlarge", "us-east-1")


def test_toml_override_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[bedrock."gpt-oss-120b".us-west-2]\n'
        'input_per_1m = "0.15"\n'
        'output_per_1m = "0.60"\n'
        'source = "AWS Bedrock pricing page"\n'
        'as_of = "2026-11-01"\n'
        '[sagemaker."ml.g4dn.xlarge".us-east-1]\n'
        'usd_per_hour = "0.7364"\n'
    )
    book = PriceBook.load(overrides=path)
    west = book.token_price("gpt-oss-120b", "us-west-2")
    assert west.source == "AWS Bedrock pricing page"
    assert west.as_of == date(2026, 11, 1)
    small = book.instance_price("ml.g4dn.xlarge", "us-east-1")
    assert small.usd_per_hour == Decimal("0.7364")
    assert small.source == f"user override: {path}"


def test_json_override_file_and_a_broken_one(tmp_path: Path) -> None:
    good = tmp_path / "prices.json"
    good.write_text(json.dumps({"sagemaker": {"ml.m5.xlarge": {"us-east-1": {"usd_per_hour": 1}}}}))
    assert PriceBook.load(overrides=good).instance_price("ml.m5.xlarge", "us-east-1").usd_per_hour
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigurationError, match="do not parse"):
        PriceBook.load(overrides=broken)
    with pytest.raises(ConfigurationError, match="cannot read"):
        PriceBook.load(overrides=tmp_path / "absent.json")


def test_zero_is_refused_from_a_catalog_or_cache_but_a_user_may_say_it(tmp_path: Path) -> None:
    _write_cache(tmp_path, _cache_doc(model_price="0"))
    with pytest.raises(ConfigurationError, match="never \\$0"):
        PriceBook.load(cache_dir=tmp_path)
    free = {"sagemaker": {"ml.m5.xlarge": {"us-east-1": {"usd_per_hour": "0"}}}}
    assert PriceBook.load(overrides=free).instance_price(
        "ml.m5.xlarge", "us-east-1"
    ).usd_per_hour == Decimal(0)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"usd_per_hour": "-1"}, ">= 0"),
        ({"usd_per_hour": "abc"}, "not a number"),
        ({"usd_per_hour": True}, "expected a number"),
        ({"usd_per_hour": "NaN"}, "finite"),
        ({"usd_per_hour": "1", "as_of": "yesterday"}, "YYYY-MM-DD"),
    ],
)
def test_bad_override_entries_are_named(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PriceBook.load(overrides={"sagemaker": {"ml.m5.xlarge": {"us-east-1": entry}}})


def test_catalog_entries_need_source_and_date_and_known_sections() -> None:
    entry = {"usd_per_hour": "1"}
    with pytest.raises(ConfigurationError, match="needs a 'source'"):
        parse_tables(
            {"sagemaker": {"ml.m5.xlarge": {"us-east-1": entry}}}, layer="cache", origin="x"
        )
    with pytest.raises(ConfigurationError, match="unknown section"):
        parse_tables({"bedrok": {}}, layer="cache", origin="x")
    with pytest.raises(ConfigurationError, match="schema"):
        parse_tables({"schema": 2}, layer="cache", origin="x")


def test_a_corrupt_cache_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / "prices-cache.json").write_text("{")
    with pytest.raises(ConfigurationError, match="prices refresh"):
        PriceBook.load(cache_dir=tmp_path)


def test_write_cache_round_trips_exactly(tmp_path: Path) -> None:
    tables = parse_tables(_cache_doc("0.1500000000000"), layer="cache", origin="doc")
    path = write_cache(tables, tmp_path)
    text = path.read_text()
    assert '"input_per_1m": "0.15"' in text  # trailing zeros gone, no exponent
    again = PriceBook.load(cache_dir=tmp_path).token_price("gpt-oss-120b", "us-east-1")
    assert again.input_per_1m == Decimal("0.15")
    assert not list(tmp_path.glob("*.tmp"))
    assert PriceTables.empty().is_empty()


def test_rows_list_the_winning_price_per_region() -> None:
    book = stated_prices.book().with_override(
        {"sagemaker": {"ml.p5.4xlarge": {"us-east-1": {"usd_per_hour": "5"}}}}
    )
    rows = list(book.rows(region="us-east-1"))
    p5 = [r for r in rows if r.name == "ml.p5.4xlarge"]
    assert len(p5) == 1
    assert p5[0].price.layer == "override"
    assert {r.kind for r in rows} == {"bedrock", "sagemaker"}
    assert list(book.rows(region="eu-west-1")) == []

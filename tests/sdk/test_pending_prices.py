"""A missing price never blocks a call and never becomes $0: the row records its tokens with
the cost pending, every view says so with the one command that fills it, and the row is
priced after the fact at the price in force when it ran."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
import stated_prices
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from moto import mock_aws

from gptoss_aws import GptOss, open_ledger
from gptoss_aws.budgets import Budget
from gptoss_aws.cli import main
from gptoss_aws.costing.capacity import InstanceTimeline
from gptoss_aws.errors import UnpricedError
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.ledger._schema import MIGRATIONS, SCHEMA_VERSION
from gptoss_aws.ledger.dynamodb import DynamoDBLedger, create_table, migrate_table
from gptoss_aws.pricing import PriceBook
from gptoss_aws.reports.summary import summarize, timeline_allocator
from gptoss_aws.tracking import CallIntent, Tracker
from gptoss_aws.types import CallRecord, Usage
from gptoss_deploy.presets import PRESETS

HI = [{"role": "user", "content": "Hi"}]
META = {"RequestId": "req-1", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
CONVERSE: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hi!"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1_000, "outputTokens": 2_000, "totalTokens": 3_000},
    "metrics": {"latencyMs": 420},
    "ResponseMetadata": META,
}
OVERRIDE_120B_WEST = (
    '[bedrock."gpt-oss-120b".us-west-2]\n'
    'input_per_1m = "0.15"\noutput_per_1m = "0.60"\n'
    'source = "test override"\nas_of = "2026-01-01"\n'
)
COST_120B = Decimal(1000) * Decimal("0.15") / 10**6 + Decimal(2000) * Decimal("0.60") / 10**6


def bedrock_call(region: str = "us-west-2", **create: Any) -> Any:
    runtime = boto3.client("bedrock-runtime", region_name=region)
    with Stubber(runtime) as stub:
        stub.add_response(
            "converse", CONVERSE, {"modelId": "openai.gpt-oss-120b-1:0", "messages": ANY}
        )
        client = GptOss.bedrock("gpt-oss-120b", region=region, runtime_client=runtime)
        return client.chat.completions.create(messages=HI, **create)


def test_the_default_client_calls_an_unpriced_region_and_records_the_tokens_pending() -> None:
    # A fresh install: no refreshed prices, no overrides; us-west-2 has no bundled price.
    with pytest.raises(UnpricedError):
        PriceBook.load().token_price("gpt-oss-120b", "us-west-2")
    answer = bedrock_call()
    assert answer.choices[0].message.content == "Hi!"
    assert answer.cost is not None
    assert (answer.cost.usd, answer.cost.basis) == (None, "pending")
    assert answer.cost.fix == "gptoss-aws prices refresh --region us-west-2"
    [row] = open_ledger().query()
    assert (row.cost_basis, row.cost_usd, row.prompt_tokens, row.completion_tokens) == (
        "pending", None, 1_000, 2_000,
    )  # fmt: skip


def test_every_view_shows_the_pending_tokens_and_the_command_that_fills_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bedrock_call()
    report = open_ledger().report()
    assert report.total.pending_price_calls == 1
    assert report.total.pending_price_tokens == 3_000
    assert report.total.cost_usd is None  # never $0
    assert report.fill_commands == ("gptoss-aws prices refresh --region us-west-2",)
    note = next(n for n in report.notes if n.startswith("Calls with their price pending: 1"))
    assert "gpt-oss-120b in us-west-2 (standard): 3,000 tokens" in note
    assert "`gptoss-aws prices refresh --region us-west-2`" in note
    assert main(["costs"]) == 0
    out = capsys.readouterr().out
    assert "pending" in out
    assert "gptoss-aws prices refresh --region us-west-2" in out
    assert json.loads(report.to_json())["total"]["pending_price_calls"] == 1


def test_an_override_prices_the_pending_row_retroactively(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = bedrock_call()
    overrides = tmp_path / "prices.toml"
    overrides.write_text(OVERRIDE_120B_WEST)
    assert main(["prices", "fill", "--prices-file", str(overrides)]) == 0
    assert "Priced 1 pending call(s)" in capsys.readouterr().out
    [row] = open_ledger().query()
    assert (row.id, row.cost_basis, row.cost_usd) == (answer.call_id, "per_token", COST_120B)
    assert row.price_source == "test override (as of 2026-01-01); priced after the call"
    # Filling again is a no-op: nothing is pending, nothing is priced twice.
    assert main(["prices", "fill", "--prices-file", str(overrides)]) == 0
    assert "Priced 0 pending call(s)" in capsys.readouterr().out


def test_a_pending_row_is_priced_at_the_price_in_force_when_it_ran(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.sqlite3")
    tracker = Tracker(ledger, prices=PriceBook.load(cache_dir=tmp_path))
    intent = CallIntent(backend="bedrock", model="gpt-oss-120b", region="us-west-2", max_tokens=9)
    tracker.begin(intent).finish(Usage(prompt_tokens=1_000_000))
    ran = ledger.query()[0].started_at.date()

    def price(input_per_1m: str, as_of: date) -> dict[str, Any]:
        entry = {"input_per_1m": input_per_1m, "output_per_1m": "1", "as_of": as_of.isoformat()}
        return {"bedrock": {"gpt-oss-120b": {"us-west-2": entry}}}

    book = (
        PriceBook.load(cache_dir=tmp_path)
        .with_override(price("0.10", ran))
        .with_override(price("0.20", ran + timedelta(days=1)))
    )
    fill = ledger.price_pending(book)
    # The later (changed) price applies from the day after: the call pays 0.10, not 0.20.
    assert [r.cost_usd for r in fill.priced] == [Decimal("0.10")]
    assert ledger.query()[0].cost_usd == Decimal("0.10")


def test_a_row_whose_price_is_still_missing_stays_pending_with_its_fix(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.sqlite3")
    tracker = Tracker(ledger, prices=PriceBook.load(cache_dir=tmp_path))
    intent = CallIntent(backend="bedrock", model="gpt-oss-20b", region="eu-north-1", max_tokens=9)
    tracker.begin(intent).finish(Usage(prompt_tokens=5))
    fill = ledger.price_pending(PriceBook.load(cache_dir=tmp_path))
    assert fill.priced == []
    assert fill.fixes() == ["gptoss-aws prices refresh --region eu-north-1"]
    assert ledger.query()[0].cost_basis == "pending"


def test_only_a_hard_usd_budget_refuses_a_call_whose_price_is_missing() -> None:
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2")
    hard = Tracker(budgets=[Budget(name="cap", limit=Decimal(5))])
    client = GptOss.bedrock(
        "gpt-oss-120b", region="us-west-2", runtime_client=runtime, tracker=hard
    )
    # The Stubber has no queued answer: a request sent would fail the test.
    with Stubber(runtime), pytest.raises(UnpricedError, match="must reserve") as caught:
        client.chat.completions.create(messages=HI, max_tokens=10)
    assert caught.value.fix == "gptoss-aws prices refresh --region us-west-2"
    assert open_ledger().query() == []  # nothing sent, nothing written


# ---- SageMaker: the default preset's endpoint -------------------------------------------


def test_the_default_preset_endpoint_works_on_a_fresh_install_and_is_priced_after_an_override(
    tmp_path: Path,
) -> None:
    preset = PRESETS["gpt-oss-120b-p5-4xlarge"]
    assert preset.sagemaker is not None
    assert (preset.region, preset.sagemaker.instance_type) == ("us-west-2", "ml.p5.4xlarge")
    runtime = boto3.client("sagemaker-runtime", region_name=preset.region)
    body = json.dumps(
        {
            "id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-oss-120b",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
        }
    ).encode()  # fmt: skip
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
        )
        client = GptOss.sagemaker(
            "gptoss-endpoint", region=preset.region, instance_type="ml.p5.4xlarge",
            variant="AllTraffic", model="gpt-oss-120b", runtime_client=runtime,
        )  # fmt: skip
        answer = client.chat.completions.create(messages=HI)
    assert answer.choices[0].message.content == "Hi!"
    [row] = open_ledger().query()
    assert (row.cost_basis, row.completion_tokens) == ("instance_hours", 30)
    start = row.started_at.replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=1)
    timeline = InstanceTimeline.declared(
        "gptoss-endpoint", preset.region, [(start, end, 1, "ml.p5.4xlarge")], variant="AllTraffic"
    )
    # Fresh install: the window is pending, with the command that fills its price.
    report = summarize(
        [row], since=start, until=end,
        allocator=timeline_allocator([timeline], PriceBook.load().instance_price),
    )  # fmt: skip
    assert report.total.cost_usd is None
    assert report.fill_commands == ("gptoss-aws prices refresh --region us-west-2",)
    assert any(
        "gptoss-endpoint/AllTraffic: pending" in n and "prices refresh --region us-west-2" in n
        for n in report.notes
    )
    # After an override, the same report prices it: the call's share plus idle is the hour.
    book = PriceBook.load().with_override(
        {"sagemaker": {"ml.p5.4xlarge": {"us-west-2": {"usd_per_hour": "10", "source": "test"}}}}
    )
    priced = summarize(
        [row], since=start, until=end, allocator=timeline_allocator([timeline], book.instance_price)
    )
    assert priced.total.cost_usd == Decimal("10.000000")
    assert priced.fill_commands == ()


# ---- ledgers: the migration, and both backends ------------------------------------------


def test_a_version_3_sqlite_ledger_migrates_in_place_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute(
        "INSERT INTO calls (id, started_at, backend, model, tags, prompt_tokens, "
        "completion_tokens, reasoning_tokens, usage_source, stream, status, cost_usd, "
        "cost_basis, charge_tokens) VALUES ('old', '2026-11-01T09:30:00.000000Z', 'bedrock', "
        "'gpt-oss-120b', '{}', 10, 20, 0, 'reported', 0, 'ok', '0.0000135', 'per_token', 30)"
    )
    conn.commit()
    conn.close()
    ledger = SQLiteLedger(path)
    [old] = ledger.query()
    assert (old.id, old.cost_usd, old.service_tier) == ("old", Decimal("0.0000135"), None)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # The new constraint admits pending rows, and the pending index serves them.
    Tracker(ledger, prices=PriceBook.load()).begin(
        CallIntent(backend="bedrock", model="gpt-oss-120b", region="us-west-2", max_tokens=9)
    ).finish(Usage(prompt_tokens=1))
    assert [r.cost_basis for r in ledger.pending_rows()] == ["pending"]


def test_a_pending_call_cannot_carry_a_cost() -> None:
    from gptoss_aws.errors import InvalidRecordError
    from gptoss_aws.ledger.base import validate_record

    record = CallRecord(
        backend="bedrock", model="gpt-oss-120b", status="ok", cost_basis="pending",
        cost_usd=Decimal(0),
    )  # fmt: skip
    with pytest.raises(InvalidRecordError, match="pending cannot carry cost_usd"):
        validate_record(record, final=True)


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBLedger]:
    with mock_aws():
        create_table("ledger", region="us-east-1")
        yield DynamoDBLedger("ledger", region="us-east-1")


def test_dynamodb_pending_rows_are_indexed_and_priced_once(dynamodb: DynamoDBLedger) -> None:
    tracker = Tracker(dynamodb, prices=PriceBook.load())
    intent = CallIntent(backend="bedrock", model="gpt-oss-120b", region="us-west-2", max_tokens=9)
    tracker.begin(intent).finish(Usage(prompt_tokens=1_000, completion_tokens=2_000))
    [pending] = dynamodb.pending_rows()
    book = PriceBook.load().with_override(
        {"bedrock": {"gpt-oss-120b": {"us-west-2": {
            "input_per_1m": "0.15", "output_per_1m": "0.60", "as_of": "2026-01-01"}}}}
    )  # fmt: skip
    fill = dynamodb.price_pending(book)
    assert [r.id for r in fill.priced] == [pending.id]
    assert dynamodb.query()[0].cost_usd == COST_120B
    assert dynamodb.pending_rows() == []
    assert not dynamodb.fill_pending(fill.priced[0])  # already priced: not written twice


def test_a_dynamodb_table_from_before_the_pending_index_is_migrated() -> None:
    with mock_aws():
        client: Any = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="old",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": "S"}
                for a in ("pk", "sk", "gsi1pk", "gsi1sk", "open_pk", "open_sk")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": name,
                    "KeySchema": [
                        {"AttributeName": pk, "KeyType": "HASH"},
                        {"AttributeName": sk, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for name, pk, sk in (("by_day", "gsi1pk", "gsi1sk"), ("open", "open_pk", "open_sk"))
            ],
        )
        ledger = DynamoDBLedger("old", client=client)
        Tracker(ledger, prices=PriceBook.load()).begin(
            CallIntent(backend="bedrock", model="gpt-oss-120b", region="us-west-2", max_tokens=9)
        ).finish(Usage(prompt_tokens=3))
        # Before the migration the pending rows are found by a scan; after it, by the index.
        assert [r.prompt_tokens for r in ledger.pending_rows()] == [3]
        assert migrate_table("old", client=client) is True
        assert migrate_table("old", client=client) is False
        assert [r.prompt_tokens for r in ledger.pending_rows()] == [3]


def test_refresh_prices_pending_rows_and_says_what_changed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gptoss_aws._cli_commands import prices as prices_cmd

    # An earlier refresh cached a us-east-1 price (no Bedrock price is bundled): that call
    # is settled now, not pending; the us-west-2 one is pending.
    from gptoss_aws.pricing._cache import write_cache
    from gptoss_aws.pricing.records import parse_tables

    earlier = parse_tables(stated_prices.document("us-east-1"), layer="cache", origin="test")
    write_cache(earlier)
    bedrock_call(region="us-east-1")
    bedrock_call()

    class Pricing:
        """The Price List answers: us-west-2 at 0.16/0.64 per 1M (per 1K in the offer)."""

        def get_products(self, **request: Any) -> dict[str, Any]:
            filters = {f["Field"]: f["Value"] for f in request["Filters"]}
            if request["ServiceCode"] != "AmazonBedrock" or filters.get("model") != "gpt-oss-120b":
                return {"PriceList": []}
            region = filters["regionCode"]
            prefix = {"us-west-2": "USW2", "us-east-1": "USE1"}[region]
            rate = {"us-west-2": ("0.00016", "0.00064"), "us-east-1": ("0.00016", "0.00064")}
            # Standard rates, and the flex tier's (usage types ending "-flex") at half.
            flex = {"": Decimal(1), "-flex": Decimal("0.5")}
            return {"PriceList": [
                json.dumps({
                    "product": {"sku": f"{prefix}{d}{tier}", "attributes": {
                        "model": "gpt-oss-120b", "regionCode": region,
                        "inferenceType": f"{d.title()} tokens",
                        "usagetype": f"{prefix}-gpt-oss-120b-{d}-tokens{tier}"}},
                    "terms": {"OnDemand": {"t": {"priceDimensions": {"r": {
                        "unit": "1K tokens", "beginRange": "0",
                        "pricePerUnit": {"USD": str(Decimal(rate[region][i]) * share)}}}}}},
                })
                for i, d in enumerate(("input", "output"))
                for tier, share in flex.items()
            ]}  # fmt: skip

    parser = __import__("argparse").ArgumentParser()
    prices_cmd.register(parser.add_subparsers())
    args = parser.parse_args(
        ["prices", "refresh", "--region", "us-west-2", "--region", "us-east-1",
         "--model", "gpt-oss-120b", "--instance-type", "ml.p5.4xlarge"]
    )  # fmt: skip
    # A real Price List client (so its paginator runs), answered by Pricing before any
    # request is sent: botocore's before-call event, the hook Stubber itself uses.
    pricing = boto3.client("pricing", region_name="us-east-1")

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse("", 200, HTTPHeaders(), None)
        return response, Pricing().get_products(**json.loads(params["body"]))

    # The stubs type every handler as returning None; a before-call handler returns the answer.
    pricing.meta.events.register("before-call.pricing.GetProducts", cast(Any, answer))
    prices_cmd.run_refresh(args, pricing_client=pricing)
    out = capsys.readouterr().out
    assert (
        "CHANGED: bedrock gpt-oss-120b us-east-1: 0.16/0.64 per 1M in/out now, cached "
        "0.15/0.6 per 1M in/out" in out
    )
    assert "Priced 1 pending call(s)" in out
    west = next(r for r in open_ledger().query() if r.region == "us-west-2")
    expected = Decimal(1000) * Decimal("0.16") / 10**6 + Decimal(2000) * Decimal("0.64") / 10**6
    assert (west.cost_basis, west.cost_usd) == ("per_token", expected)
    # The flex tier's rates were read too, as a tier price of their own.
    flex = PriceBook.load().token_price("gpt-oss-120b", "us-west-2", "flex")
    assert (flex.input_per_1m, flex.output_per_1m) == (Decimal("0.08"), Decimal("0.32"))
    # The us-east-1 call was settled at the cached price in force then; it stays so.
    east = next(r for r in open_ledger().query() if r.region == "us-east-1")
    assert east.cost_usd == COST_120B


def test_sagemaker_windows_are_priced_at_the_hourly_price_in_force_when_they_ran(
    tmp_path: Path,
) -> None:
    def hourly(usd: str, as_of: str) -> dict[str, Any]:
        entry = {"usd_per_hour": usd, "source": "test", "as_of": as_of}
        return {"sagemaker": {"ml.p5.4xlarge": {"us-west-2": entry}}}

    book = PriceBook(()).with_override(hourly("10", "2026-10-01"))
    book = book.with_override(hourly("12", "2026-11-15"))
    in_october = datetime(2026, 10, 20, tzinfo=UTC)
    assert book.instance_price("ml.p5.4xlarge", "us-west-2", at=in_october).usd_per_hour == 10
    assert book.instance_price("ml.p5.4xlarge", "us-west-2").usd_per_hour == 12  # now
    # The default lookup of a report: the refreshed (cached) price, applied from its date.
    from gptoss_aws.pricing._cache import write_cache
    from gptoss_aws.pricing.records import parse_tables

    write_cache(parse_tables(hourly("10", "2026-10-01"), layer="cache", origin="test"), None)
    timeline = InstanceTimeline.declared(
        "ep", "us-west-2",
        [(in_october, in_october + timedelta(hours=2), 1, "ml.p5.4xlarge")], variant="v",
    )  # fmt: skip
    report = summarize(
        [], since=in_october, until=in_october + timedelta(hours=2),
        allocator=timeline_allocator([timeline]),
    )  # fmt: skip
    assert report.total.cost_usd == Decimal("20.000000")  # all idle: no calls in the window


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_a_soft_usd_budget_counts_a_pending_call_once_it_is_priced(
    backend: str, tmp_path: Path
) -> None:
    soft = Budget(name="watch", limit=Decimal(1), unit="usd", mode="soft")
    book = PriceBook.load().with_override(
        {"bedrock": {"gpt-oss-120b": {"us-west-2": {
            "input_per_1m": "0.15", "output_per_1m": "0.60", "as_of": "2026-01-01"}}}}
    )  # fmt: skip
    with mock_aws():
        ledger: Any
        if backend == "dynamodb":
            create_table("ledger", region="us-east-1")
            ledger = DynamoDBLedger("ledger", region="us-east-1")
        else:
            ledger = SQLiteLedger(tmp_path / "l.sqlite3")
        tracker = Tracker(ledger, prices=PriceBook.load(), budgets=[soft])
        intent = CallIntent(
            backend="bedrock", model="gpt-oss-120b", region="us-west-2", max_tokens=9
        )
        tracker.begin(intent).finish(Usage(prompt_tokens=1_000, completion_tokens=2_000))
        assert ledger.budget_usage(soft).charged == 0  # pending: nothing known to count
        ledger.price_pending(book)
        assert ledger.budget_usage(soft).charged == COST_120B

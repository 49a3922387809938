"""The tracker: prices before calling, reserves the worst case, settles the actual, and
refuses (unpriced, over budget, bad input) with nothing written."""

from __future__ import annotations

import gc
import io
import json
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import stated_prices
from hypothesis import given
from hypothesis import strategies as st

from gptoss_aws._token_estimates import HARMONY_PREAMBLE_TOKENS, estimate_prompt_tokens
from gptoss_aws.budgets import Budget
from gptoss_aws.errors import (
    BudgetExceededError,
    CallAlreadyFinishedError,
    ConfigurationError,
    UnpricedError,
)
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.pricing import PriceBook
from gptoss_aws.pricing.records import InstancePrice, TokenPrice
from gptoss_aws.telemetry import EmfExporter
from gptoss_aws.tracking import CallIntent, Tracker
from gptoss_aws.types import CallRecord, Usage

AS_OF = date(2026, 11, 1)


class FakePrices:
    """The two PriceBook methods the tracker uses, with prices we control."""

    def __init__(self) -> None:
        self.token = {("gpt-oss-120b", "us-east-1"): TokenPrice(
            Decimal("0.15"), Decimal("0.60"), "test table", AS_OF
        )}  # fmt: skip
        self.instance = {("ml.p5.4xlarge", "us-east-1"): InstancePrice(
            Decimal("7.912"), "test hosting table", AS_OF
        )}  # fmt: skip

    def token_price(self, model: str, region: str, tier: str | None = None) -> TokenPrice:
        if tier not in (None, "standard"):
            raise UnpricedError(f"no {tier} price for {model} in {region}")
        try:
            return self.token[(model, region)]
        except KeyError:
            raise UnpricedError(f"no price for {model} in {region}") from None

    def instance_price(self, instance_type: str, region: str) -> InstancePrice:
        try:
            return self.instance[(instance_type, region)]
        except KeyError:
            raise UnpricedError(f"no price for {instance_type} in {region}") from None


@pytest.fixture
def ledger(tmp_path: Path) -> SQLiteLedger:
    return SQLiteLedger(tmp_path / "ledger.sqlite3")


def bedrock(**changes: object) -> CallIntent:
    fields: dict[str, object] = {
        "backend": "bedrock",
        "model": "gpt-oss-120b",
        "model_id": "openai.gpt-oss-120b-1:0",
        "region": "us-east-1",
        "tags": {"team": "search"},
        "max_tokens": 1000,
        "prompt_tokens_estimate": 500,
    }
    fields.update(changes)
    return CallIntent(**fields)  # type: ignore[arg-type]


def sagemaker(**changes: object) -> CallIntent:
    fields: dict[str, object] = {
        "backend": "sagemaker",
        "model": "gpt-oss-120b",
        "endpoint": "gptoss-ep",
        "variant": "AllTraffic",
        "instance_type": "ml.p5.4xlarge",
        "region": "us-east-1",
        "max_tokens": 1000,
        "prompt_tokens_estimate": 500,
    }
    fields.update(changes)
    return CallIntent(**fields)  # type: ignore[arg-type]


def test_a_bedrock_call_reserves_its_worst_case_and_settles_its_exact_cost(
    ledger: SQLiteLedger,
) -> None:
    tracker = Tracker(ledger, prices=FakePrices())
    call = tracker.begin(bedrock())
    [reserved] = ledger.query()
    assert reserved.status == "reserved"
    # 500 x 0.15/1M + 1000 x 0.60/1M
    assert reserved.reserved_usd == Decimal("0.000675")
    assert reserved.reserved_tokens == 1500
    assert reserved.price_source == "test table (as of 2026-11-01)"
    cost = call.finish(
        Usage(prompt_tokens=420, completion_tokens=380, reasoning_tokens=200), ttft_ms=80.0
    )
    # 420 x 0.15/1M + 380 x 0.60/1M, reasoning inside the output and billed once.
    assert cost.usd == Decimal("0.000291")
    assert cost.basis == "per_token"
    [row] = ledger.query()
    assert row.status == "ok"
    assert row.cost_usd == cost.usd
    assert row.reasoning_tokens == 200
    assert row.ttft_ms == 80.0
    assert row.latency_ms is not None
    assert row.latency_ms >= 0
    assert row.tags == {"team": "search"}


def test_a_real_price_book_prices_bedrock(ledger: SQLiteLedger) -> None:
    tracker = Tracker(ledger, prices=stated_prices.book())
    cost = tracker.begin(bedrock()).finish(Usage(prompt_tokens=1_000_000, completion_tokens=0))
    assert cost.usd == stated_prices.INPUT_120B


def test_the_bundled_price_book_leaves_bedrock_pending(ledger: SQLiteLedger) -> None:
    # No Bedrock price is bundled (no primary source): the call's cost is pending, never $0.
    tracker = Tracker(ledger, prices=PriceBook.load())
    cost = tracker.begin(bedrock()).finish(Usage(prompt_tokens=1_000_000, completion_tokens=0))
    assert (cost.usd, cost.basis) == (None, "pending")


def test_a_server_with_no_price_is_refused_before_anything_is_written(
    ledger: SQLiteLedger,
) -> None:
    # An OpenAI-compatible server has no AWS price that could fill it later.
    tracker = Tracker(ledger, prices=FakePrices())
    with pytest.raises(UnpricedError, match="per-token price"):
        tracker.begin(CallIntent(backend="openai", model="gpt-oss-20b", endpoint="http://x"))
    assert ledger.query() == []


def test_a_missing_aws_price_never_blocks_a_call_and_never_becomes_zero(
    ledger: SQLiteLedger,
) -> None:
    tracker = Tracker(ledger, prices=FakePrices())
    cost = tracker.begin(bedrock(region="eu-west-1")).finish(Usage(prompt_tokens=10))
    assert (cost.usd, cost.basis) == (None, "pending")
    for intent in (sagemaker(instance_type=None), sagemaker(instance_type="ml.g6e.12xlarge")):
        assert tracker.begin(intent).finish(Usage(prompt_tokens=10)).basis == "instance_hours"
    bedrock_row, *sagemaker_rows = ledger.query()
    assert (bedrock_row.cost_basis, bedrock_row.cost_usd, bedrock_row.prompt_tokens) == (
        "pending", None, 10,
    )  # fmt: skip
    assert bedrock_row.reserved_usd is None
    assert [r.cost_usd for r in sagemaker_rows] == [None, None]


def test_allow_unpriced_records_an_unpriced_server_call_never_as_zero(
    ledger: SQLiteLedger,
) -> None:
    tracker = Tracker(ledger, prices=FakePrices(), allow_unpriced=True)
    intent = CallIntent(backend="openai", model="gpt-oss-20b", endpoint="http://x")
    cost = tracker.begin(intent).finish(Usage(prompt_tokens=10))
    assert cost.usd is None
    assert cost.basis == "unpriced"
    [row] = ledger.query()
    assert row.cost_basis == "unpriced"
    assert row.cost_usd is None
    assert row.reserved_usd is None


def test_an_openai_compatible_server_is_priced_by_the_callers_price(
    ledger: SQLiteLedger,
) -> None:
    price = TokenPrice(Decimal("1"), Decimal("2"), "our GPU box", AS_OF)
    tracker = Tracker(ledger, prices=FakePrices())
    intent = CallIntent(
        backend="openai", model="gpt-oss-20b", endpoint="http://localhost:8000/v1", price=price,
        max_tokens=10,
    )  # fmt: skip
    cost = tracker.begin(intent).finish(Usage(prompt_tokens=1000, completion_tokens=10))
    assert cost.usd == Decimal("0.00102")
    assert ledger.query()[0].price_source == "our GPU box (as of 2026-11-01)"


def test_a_sagemaker_call_is_costed_later_by_instance_hours(ledger: SQLiteLedger) -> None:
    tracker = Tracker(ledger, prices=FakePrices())
    cost = tracker.begin(sagemaker()).finish(Usage(prompt_tokens=450, completion_tokens=600))
    assert cost.usd is None
    assert cost.basis == "instance_hours"
    assert cost.price_source == "test hosting table (as of 2026-11-01)"
    [row] = ledger.query()
    assert row.cost_basis == "instance_hours"
    assert row.cost_usd is None
    assert row.instance_type == "ml.p5.4xlarge"
    assert row.reserved_tokens == 1500


def test_a_hard_usd_budget_over_sagemaker_calls_is_a_configuration_error(
    ledger: SQLiteLedger,
) -> None:
    tracker = Tracker(ledger, prices=FakePrices(), budgets=[Budget(name="all", limit=Decimal(5))])
    with pytest.raises(ConfigurationError, match="SageMaker call has no per-call price"):
        tracker.begin(sagemaker())
    assert ledger.query() == []
    # Narrowed to Bedrock, the same budget lets SageMaker calls through; a token budget
    # covers them.
    narrowed = Tracker(
        ledger,
        prices=FakePrices(),
        budgets=[
            Budget(name="bedrock", limit=Decimal(5), backend="bedrock"),
            Budget(name="tokens", limit=Decimal(2000), unit="tokens", period="day"),
        ],
    )
    narrowed.begin(sagemaker()).finish(Usage(prompt_tokens=500, completion_tokens=500))
    with pytest.raises(BudgetExceededError, match="'tokens'"):
        narrowed.begin(sagemaker())


def test_a_hard_usd_budget_over_an_unpriced_call_is_refused(ledger: SQLiteLedger) -> None:
    # The one case a missing price refuses a call: a hard USD budget must reserve it.
    tracker = Tracker(ledger, prices=FakePrices(), budgets=[Budget(name="b", limit=1)])
    with pytest.raises(UnpricedError, match="must reserve its worst case") as caught:
        tracker.begin(bedrock(region="eu-west-1"))
    assert caught.value.fix == "gptoss-aws prices refresh --region eu-west-1"
    assert "gptoss-aws prices refresh --region eu-west-1" in str(caught.value)
    server = CallIntent(backend="openai", model="gpt-oss-20b", endpoint="http://x", max_tokens=9)
    with pytest.raises(UnpricedError, match="hard USD budget cannot bound an unpriced call"):
        Tracker(
            ledger, prices=FakePrices(), allow_unpriced=True, budgets=[Budget(name="b", limit=1)]
        ).begin(server)
    assert ledger.query() == []
    # A soft USD budget does not need the price: the call goes ahead, pending.
    soft = Tracker(ledger, prices=FakePrices(), budgets=[Budget(name="b", limit=1, mode="soft")])
    assert soft.begin(bedrock(region="eu-west-1")).finish(Usage()).basis == "pending"


def test_a_hard_budget_refuses_before_the_call_and_frees_headroom_after(
    ledger: SQLiteLedger,
) -> None:
    budget = Budget(name="tiny", limit=Decimal("0.001"), period="day")
    tracker = Tracker(ledger, prices=FakePrices(), budgets=[budget])
    first = tracker.begin(bedrock())  # holds 0.000675
    with pytest.raises(BudgetExceededError):
        tracker.begin(bedrock())
    first.finish(Usage(prompt_tokens=100, completion_tokens=100))  # actual 0.000075
    tracker.begin(bedrock())  # fits now
    assert len(ledger.query()) == 2


def test_max_tokens_none_reserves_the_whole_context_window(ledger: SQLiteLedger) -> None:
    tracker = Tracker(ledger, prices=FakePrices())
    tracker.begin(bedrock(max_tokens=None, prompt_tokens_estimate=200_000))
    [row] = ledger.query()
    assert row.reserved_tokens == 131_072  # prompt + completion fit in the window
    # both bounded by the window: 131072 x 0.15/1M + 131072 x 0.60/1M
    assert row.reserved_usd == Decimal("0.098304")
    with pytest.raises(ConfigurationError, match="give max_tokens"):
        tracker.begin(CallIntent(backend="openai", model="my-finetune", price=FakePrices().token[
            ("gpt-oss-120b", "us-east-1")]))  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"prompt_tokens_estimate": -1}, "prompt_tokens_estimate"),
        ({"model": ""}, "model"),
        ({"backend": "vertex"}, "backend"),
        ({"tags": {"team": 1}}, "tags"),
    ],
)
def test_bad_intents_are_refused_with_a_clear_error(
    ledger: SQLiteLedger, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        bedrock(**changes)
    assert ledger.query() == []


def test_finish_only_once(ledger: SQLiteLedger) -> None:
    call = Tracker(ledger, prices=FakePrices()).begin(bedrock())
    call.finish(Usage(prompt_tokens=1, completion_tokens=1))
    with pytest.raises(CallAlreadyFinishedError):
        call.finish(Usage())
    assert [r.status for r in ledger.query()] == ["ok"]


def test_concurrent_finishes_settle_once(ledger: SQLiteLedger) -> None:
    call = Tracker(ledger, prices=FakePrices()).begin(bedrock())
    outcomes: list[str] = []

    def finish() -> None:
        try:
            call.finish(Usage(prompt_tokens=5))
            outcomes.append("ok")
        except CallAlreadyFinishedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=finish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7


def test_a_bad_usage_leaves_the_call_open(ledger: SQLiteLedger) -> None:
    call = Tracker(ledger, prices=FakePrices()).begin(bedrock())
    with pytest.raises(ConfigurationError, match="reasoning"):
        call.finish(Usage(prompt_tokens=1, completion_tokens=1, reasoning_tokens=5))
    assert ledger.query()[0].status == "reserved"
    call.finish(Usage(prompt_tokens=1, completion_tokens=5, reasoning_tokens=5))
    assert ledger.query()[0].status == "ok"


def test_error_and_aborted_calls_are_settled_with_what_they_used(ledger: SQLiteLedger) -> None:
    tracker = Tracker(ledger, prices=FakePrices())
    tracker.begin(bedrock()).finish(Usage(), status="error", error_kind="ThrottledError")
    tracker.begin(bedrock(stream=True)).finish(
        Usage(prompt_tokens=500, completion_tokens=40),
        status="aborted",
        usage_source="estimated",
    )
    error, aborted = ledger.query()
    assert error.status == "error"
    assert error.error_kind == "ThrottledError"
    assert error.cost_usd == Decimal(0)  # no tokens: a real zero, not a missing price
    assert (aborted.status, aborted.usage_source) == ("aborted", "estimated")
    assert aborted.cost_usd == Decimal("0.000099")


def test_a_dropped_call_stays_a_reservation_for_reconcile(ledger: SQLiteLedger) -> None:
    tracker = Tracker(ledger, prices=FakePrices())
    call = tracker.begin(bedrock())
    call_id = call.call_id
    del call
    gc.collect()
    [row] = ledger.query()
    assert row.id == call_id
    assert row.status == "reserved"
    # It belongs to this (live) process: only age gets it reconciled.
    assert ledger.reconcile(stale_after=timedelta(hours=1)) == []
    assert [r.id for r in ledger.reconcile(stale_after=timedelta(0))] == [call_id]


def test_the_first_begin_reconciles_dead_reservations(ledger: SQLiteLedger) -> None:
    ledger.reserve(
        CallRecord(backend="bedrock", model="gpt-oss-120b", status="reserved",
                   cost_basis="per_token", reserved_usd=Decimal(1), process_id=2**22 + 12345)
    )  # fmt: skip
    tracker = Tracker(ledger, prices=FakePrices())
    tracker.begin(bedrock())
    statuses = sorted(r.status for r in ledger.query())
    assert statuses == ["aborted", "reserved"]


def test_exporters_get_every_settled_call_and_cannot_break_it(ledger: SQLiteLedger) -> None:
    stream = io.StringIO()

    def broken(record: CallRecord) -> None:
        raise RuntimeError("collector down")

    tracker = Tracker(ledger, prices=FakePrices(), exporters=[broken, EmfExporter(stream)])
    cost = tracker.begin(bedrock()).finish(Usage(prompt_tokens=10, completion_tokens=10))
    assert cost.usd is not None
    [line] = stream.getvalue().splitlines()
    assert json.loads(line)["CostUSD"] == float(cost.usd)


def test_estimate_prompt_tokens_counts_bytes_and_framing() -> None:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "héllo"},  # é is 2 bytes
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
    ]
    tools = [{"type": "function", "function": {"name": "f"}}]
    estimate = estimate_prompt_tokens(messages, tools)
    content = len(b"Be brief.") + len("héllo".encode()) + len(json.dumps([{"id": "1"}]))
    tool = len(json.dumps(tools[0]))
    assert estimate == HARMONY_PREAMBLE_TOKENS + 3 * 32 + content + 32 + tool
    assert estimate_prompt_tokens([]) == HARMONY_PREAMBLE_TOKENS


@given(st.text(max_size=2000))
def test_the_estimate_is_never_below_the_byte_count(text: str) -> None:
    # Byte-level BPE never spends more than one token per byte on ordinary text, so this
    # bound holds for any tokenizer of that family.
    estimate = estimate_prompt_tokens([{"role": "user", "content": text}])
    assert estimate >= len(text.encode("utf-8"))
    assert estimate >= len(text)


def test_an_unnamed_gpt_oss_reserves_the_shared_context_window() -> None:
    from gptoss_aws._token_estimates import GPT_OSS_CONTEXT
    from gptoss_aws.tracking import CallIntent, _worst_case_tokens

    intent = CallIntent(backend="sagemaker", model="gpt-oss", prompt_tokens_estimate=500)
    assert _worst_case_tokens(intent) == (500, GPT_OSS_CONTEXT, GPT_OSS_CONTEXT)

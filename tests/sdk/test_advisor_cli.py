"""`gptoss-aws advise`: through the real ledger, and through the function seams."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import stated_prices

from gptoss_aws._cli_commands import advise as advise_cmd
from gptoss_aws.costing import InstanceTimeline
from gptoss_aws.ledger import open_ledger
from gptoss_aws.types import CallRecord

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gptoss-aws")
    advise_cmd.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def _record(minute: int, **fields: object) -> CallRecord:
    values: dict[str, object] = {
        "backend": "bedrock",
        "model": "gpt-oss-120b",
        "started_at": T0 + timedelta(minutes=minute),
        "prompt_tokens": 2_600,
        "completion_tokens": 1_000,
        "latency_ms": 5_000.0,
        "status": "ok",
        "cost_usd": Decimal("0.00099"),
        "cost_basis": "per_token",
        "price_source": "test",
    }
    values.update(fields)
    return CallRecord.model_validate(values)


def test_advise_reads_the_ledger_and_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"
    ledger = open_ledger(ledger_path)
    for minute in range(10):
        ledger.record(_record(minute))
    ledger.record(_record(60 * 25))  # outside the window
    ledger.close()
    # The bundled catalog has no Bedrock price and no ml.p5.4xlarge hosting price (no primary
    # source for either): the test states them.
    prices = tmp_path / "prices.toml"
    prices.write_text(
        stated_prices.toml() + '[sagemaker."ml.p5.4xlarge".us-east-1]\nusd_per_hour = "7.912"\n'
    )
    args = _parse(
        "advise",
        "--prices-file",
        str(prices),
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-03T00:00:00+00:00",
        "--bedrock-region",
        "us-east-1",
        "--ledger",
        str(ledger_path),
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("10 gpt-oss-120b calls from 2026-11-02 00:00 UTC")
    assert "they would have cost $0.0099" in out
    assert "ml.p5.4xlarge" in out
    assert "Break-even" in out


def test_advise_with_an_endpoint_uses_its_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = [_record(m, backend="sagemaker", endpoint="ep") for m in range(0, 60, 5)]
    timeline = InstanceTimeline.declared(
        "ep", "us-east-1", [(T0, T0 + timedelta(hours=1), 2, "ml.g4dn.xlarge")]
    )
    seen: dict[str, object] = {}

    def load_calls(args: argparse.Namespace, since: datetime, until: datetime) -> list[CallRecord]:
        seen["window"] = (since, until)
        return calls

    def load_timelines(
        args: argparse.Namespace, since: datetime, until: datetime
    ) -> list[InstanceTimeline]:
        seen["endpoint"] = args.endpoint
        return [timeline]

    prices = tmp_path / "prices.toml"
    prices.write_text(
        stated_prices.toml() + '[sagemaker."ml.g4dn.xlarge".us-east-1]\nusd_per_hour = "0.7364"\n'
    )
    args = _parse(
        "advise",
        "--since",
        "2026-11-02T00:00",
        "--until",
        "2026-11-02T01:00",
        "--bedrock-region",
        "us-east-1",
        "--endpoint",
        "ep",
        "--throughput",
        "400",
        "--prices-file",
        str(prices),
    )
    code = advise_cmd.run_advise(args, load_calls=load_calls, load_timelines=load_timelines)
    assert code == 0
    assert seen == {"window": (T0, T0 + timedelta(hours=1)), "endpoint": "ep"}
    out = capsys.readouterr().out
    assert "The endpoint (2 x ml.g4dn.xlarge on average, $0.7364/hour each) cost $1.47" in out
    assert "400 tok/s; given by you" in out


def test_advise_errors_are_printed_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(
        "advise", "--since", "2026-11-02", "--until", "2026-11-03", "--bedrock-region", "eu-north-1"
    )
    code = advise_cmd.run_advise(
        args, load_calls=lambda *_: [_record(1)], load_timelines=lambda *_: []
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "no Bedrock price for model 'gpt-oss-120b'" in err
    assert "gptoss-aws prices refresh --region eu-north-1" in err


def test_advise_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse("advise", "--since", "yesterday", "--bedrock-region", "us-east-1")
    with pytest.raises(SystemExit):
        _parse(
            "advise", "--since", "2026-11-02", "--bedrock-region", "us-east-1", "--throughput", "-5"
        )
    args = _parse(
        "advise", "--since", "2026-11-03", "--until", "2026-11-02", "--bedrock-region", "us-east-1"
    )
    assert args.func(args) == 2
    assert "--until must be after --since" in capsys.readouterr().err

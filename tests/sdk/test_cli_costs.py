"""``gptoss-aws costs``: readable tables, CSV and JSON, time and tag filters, and a CLI
that survives missing subcommands."""

from __future__ import annotations

import csv
import importlib
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from gptoss_aws import cli
from gptoss_aws._cli_commands.costs import parse_when
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.types import CallRecord

NOW = datetime.now(UTC)


def row(**changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "backend": "bedrock",
        "model": "gpt-oss-120b",
        "region": "us-east-1",
        "started_at": NOW - timedelta(hours=1),
        "tags": {"team": "search"},
        "status": "ok",
        "cost_basis": "per_token",
        "prompt_tokens": 1200,
        "completion_tokens": 800,
        "reasoning_tokens": 300,
        "cost_usd": Decimal("0.00066"),
    }
    fields.update(changes)
    return CallRecord.model_validate(fields)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    ledger = SQLiteLedger(path)
    ledger.record(row())
    ledger.record(row(tags={"team": "ads"}, cost_usd=Decimal("0.5")))
    ledger.record(row(model="gpt-oss-20b", cost_basis="unpriced", cost_usd=None))
    ledger.record(row(started_at=NOW - timedelta(days=10), cost_usd=Decimal("9")))
    ledger.record(
        row(backend="sagemaker", endpoint="ep", cost_basis="instance_hours", cost_usd=None)
    )
    ledger.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_table_has_aligned_columns_totals_and_notes(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys, "costs", "--ledger", str(ledger_path), "--since", "7d", "--by", "model,tags.team"
    )
    assert status == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model"))
    table = lines[header : header + 8]
    assert table[1].startswith("----")
    total = next(line for line in table if line.startswith("TOTAL"))
    # Right-aligned numbers end in the same column as their header.
    assert lines[header].index("cost") + 4 == total.index("$0.5007") + len("$0.5007")
    assert "gpt-oss-120b  ads" in out
    assert "unpriced" in out
    assert "pending" in out
    assert "* Unpriced calls: 1" in out
    assert "* Calls with estimated usage: 0" in out
    assert "$9" not in out  # ten days ago: outside --since 7d


def test_csv_and_json_formats(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "costs", "--ledger", str(ledger_path), "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["model"] for r in rows} == {"gpt-oss-120b", "gpt-oss-20b"}
    big = next(r for r in rows if r["model"] == "gpt-oss-120b")
    assert Decimal(big["cost_usd"]) == Decimal("9.50066")  # exact, not a float
    assert big["pending_allocation_calls"] == "1"

    status, out, _ = run(
        capsys, "costs", "--ledger", str(ledger_path), "--format", "json", "--by", "backend",
        "--tag", "team=search", "--since", "2d",
    )  # fmt: skip
    document = json.loads(out)
    assert document["by"] == ["backend"]
    assert document["total"]["calls"] == 3
    assert document["total"]["unpriced_calls"] == 1
    assert (
        document["notes"][0]
        == "Unpriced calls: 1 (no price was known: their cost is not in the totals)"
    )


def test_bad_arguments_are_reported_not_raised(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "costs", "--ledger", str(ledger_path), "--since", "last tuesday")
    assert status == 1
    assert "cannot read time 'last tuesday'" in err
    status, _, err = run(capsys, "costs", "--ledger", str(ledger_path), "--by", "colour")
    assert status == 1
    assert "cannot group by 'colour'" in err
    with pytest.raises(SystemExit):
        cli.main(["costs", "--tag", "no-equals-sign"])


def test_parse_when() -> None:
    now = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now=now) == now - timedelta(days=7)
    assert parse_when("24h", now=now) == now - timedelta(hours=24)
    assert parse_when("2w", now=now) == now - timedelta(weeks=2)
    assert parse_when("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_when("2026-11-01T09:30") == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert parse_when("2026-11-01T09:30+02:00").utcoffset() == timedelta(hours=2)


def test_a_missing_or_broken_subcommand_module_does_not_break_the_cli(
    monkeypatch: pytest.MonkeyPatch,
    ledger_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_import = importlib.import_module

    def import_module(name: str) -> ModuleType:
        if name.endswith(".needs_rich"):  # exists, but its dependency is not installed
            raise ModuleNotFoundError("No module named 'rich'", name="rich")
        return real_import(name)

    monkeypatch.setattr(importlib, "import_module", import_module)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("not_written_yet", "needs_rich", "costs"))
    help_text = cli.build_parser().format_help()
    assert "costs" in help_text
    assert "not_written_yet" not in help_text
    assert "command 'needs_rich' unavailable: No module named 'rich'" in caplog.text
    status, out, _ = run(capsys, "costs", "--ledger", str(ledger_path))
    assert status == 0
    assert "TOTAL" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys)
    assert status == 2
    assert "costs" in out


def test_the_console_script_entry_point(ledger_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gptoss_aws.cli", "costs", "--ledger", str(ledger_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "TOTAL" in done.stdout

"""The core (ledger, budgets, tracking, text reports, the costs command) works without the
``reports`` extra: pandas and matplotlib are imported only by the views that need them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WITHOUT_EXTRA = """
import sys
sys.modules["pandas"] = None        # any import of them now raises ImportError
sys.modules["matplotlib"] = None
from datetime import date
from decimal import Decimal
from gptoss_aws.budgets import Budget
from gptoss_aws.cli import main
from gptoss_aws.ledger import SQLiteLedger
from gptoss_aws.pricing.records import TokenPrice
from gptoss_aws.tracking import CallIntent, Tracker
from gptoss_aws.types import Usage

ledger = SQLiteLedger(sys.argv[1])
price = TokenPrice(Decimal("1"), Decimal("2"), "test", date(2026, 11, 1))
tracker = Tracker(ledger, budgets=[Budget(name="b", limit=Decimal(1))])
call = tracker.begin(CallIntent(backend="openai", model="gpt-oss-20b", price=price,
                                max_tokens=10, prompt_tokens_estimate=10))
call.finish(Usage(prompt_tokens=5, completion_tokens=5))
report = ledger.report(by=["model"])
assert "TOTAL" in str(report)
try:
    report.to_frame()
except ImportError as exc:
    assert "gptoss-aws[reports]" in str(exc)
else:
    raise AssertionError("to_frame worked without pandas")
assert main(["costs", "--ledger", sys.argv[1]]) == 0
print("core ok")
"""


def test_core_works_without_pandas_or_matplotlib(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA, str(tmp_path / "ledger.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "core ok" in done.stdout


def test_importing_the_core_does_not_import_the_extra() -> None:
    code = (
        "import sys\n"
        "import gptoss_aws.ledger, gptoss_aws.tracking, gptoss_aws.budgets, gptoss_aws.cli\n"
        "import gptoss_aws.reports, gptoss_aws.telemetry, gptoss_aws.ledger.dynamodb\n"
        "print(','.join(m for m in ('pandas', 'matplotlib') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""

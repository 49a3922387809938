"""gpt-oss-safeguard: known names, a PENDING price (never $0, never a third party's figure),
a hard USD budget that refuses it, and the docs/safeguard.md recipe run end to end against a
local stand-in for Bedrock Mantle with both calls in one ``gptoss-aws costs`` report.

The stand-in replays OpenAI chat completions (Mantle's Chat Completions API, "bedrock-mantle
(recommended) | https://bedrock-mantle.{region}.api.aws/v1/chat/completions | Amazon Bedrock API
key or AWS credentials", https://docs.aws.amazon.com/bedrock/latest/userguide/
inference-chat-completions-mantle.html). The policy is the system message and the content the
user message, per OpenAI's "User guide for gpt-oss-safeguard"
(https://cookbook.openai.com/articles/gpt-oss-safeguard-guide): "System message: Your policy
prompt ... User message: The content to classify", with "Return exactly one character: 0 or 1"
as the policy's output format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from stated_prices import INPUT_120B, OUTPUT_120B, document
from test_backend_vllm_replay import CHAT_COMPLETION, ReplayServer, Seen, json_reply
from test_client_harness import Sleeps, no_sleep_policy

from gptoss_aws import GptOss, Tracker, open_ledger
from gptoss_aws.budgets import Budget
from gptoss_aws.cli import main
from gptoss_aws.errors import UnpricedError
from gptoss_aws.ledger import Ledger
from gptoss_aws.pricing import PriceBook
from gptoss_aws.pricing._model_names import canonical_model

REGION = "us-east-1"
RECIPE = Path(__file__).resolve().parents[2] / "docs" / "safeguard.md"
SAFE_MESSAGE = "My order #123 never arrived, what can I do?"


def completion(content: str, reasoning: str, prompt: int, completion_tokens: int) -> Any:
    body = json.loads(json.dumps(CHAT_COMPLETION))
    body["choices"][0]["message"].update(content=content, reasoning=reasoning)
    body["usage"] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    return body


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    yield replay
    replay.stop()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(ledger_path)
    yield opened
    opened.close()


def client(server: ReplayServer, tracker: Tracker, model: str) -> GptOss:
    return GptOss.bedrock_mantle(
        model,
        REGION,
        base_url=server.url + "/v1",
        tracker=tracker,
        tags={"app": "support"},
        retry_policy=no_sleep_policy(Sleeps()),
    )


def recipe_namespace() -> dict[str, Any]:
    """The recipe's first code block (POLICY and guarded_answer), executed as written."""
    blocks = re.findall(r"```python\n(.*?)```", RECIPE.read_text(), flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(RECIPE), "exec"), namespace)  # noqa: S102 (our own doc)
    return namespace


# ---- names and prices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("gpt-oss-safeguard-120b", "gpt-oss-safeguard-120b"),
        ("openai.gpt-oss-safeguard-120b", "gpt-oss-safeguard-120b"),
        ("openai.gpt-oss-safeguard-20b", "gpt-oss-safeguard-20b"),
        ("us.openai.gpt-oss-safeguard-20b", "gpt-oss-safeguard-20b"),
        ("openai.gpt-oss-120b", "gpt-oss-120b"),  # the Mantle id of gpt-oss itself
    ],
)
def test_safeguard_and_mantle_names_file_under_one_price_key(name: str, key: str) -> None:
    assert canonical_model(name) == key


def test_the_safeguard_price_is_pending_with_the_fill_command() -> None:
    book = PriceBook.load()
    with pytest.raises(UnpricedError, match=r"gpt-oss-safeguard-120b.*pricing page") as caught:
        book.token_price("openai.gpt-oss-safeguard-120b", REGION)
    assert caught.value.fix == "gptoss-aws prices fill --prices-file prices.toml"
    # No third-party figure crept into the bundled catalog.
    assert all("safeguard" not in row.name for row in book.rows())


def test_an_override_prices_it(tmp_path: Path) -> None:
    book = PriceBook.load().with_override(
        {
            "bedrock": {
                "gpt-oss-safeguard-20b": {
                    REGION: {
                        "input_per_1m": "1",
                        "output_per_1m": "2",
                        "as_of": "2026-01-01",
                        "source": "stated by the test (not an AWS price)",
                    }
                }
            }
        }
    )
    assert book.token_price("openai.gpt-oss-safeguard-20b", REGION).output_per_1m == Decimal(2)


def test_a_hard_usd_budget_refuses_an_unpriced_safeguard_call(
    server: ReplayServer, ledger: Ledger
) -> None:
    tracker = Tracker(
        ledger=ledger,
        prices=PriceBook.from_document(document(REGION)),
        budgets=[Budget(name="daily", limit=Decimal("10"), period="day", unit="usd", mode="hard")],
    )
    with pytest.raises(UnpricedError, match="gpt-oss-safeguard-20b"):
        client(server, tracker, "gpt-oss-safeguard-20b").chat.completions.create(
            messages=[{"role": "user", "content": "hi"}]
        )
    assert server.seen == []
    assert ledger.query() == []


# ---- the recipe ---------------------------------------------------------------------------


def test_the_recipe_checks_then_answers_and_one_report_shows_both(
    server: ReplayServer,
    ledger: Ledger,
    ledger_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recipe = recipe_namespace()

    def reply(seen: Seen) -> Any:
        body = seen.json()
        if body["model"] == "openai.gpt-oss-safeguard-20b":
            return json_reply(completion("0", "A delivery complaint: SAFE.", 180, 12))
        return json_reply(completion("Sorry about that! Here is what to do...", "Help.", 30, 40))

    server.replies.extend([reply, reply])
    tracker = Tracker(ledger=ledger, prices=PriceBook.from_document(document(REGION)))
    answer = recipe["guarded_answer"](
        SAFE_MESSAGE,
        client(server, tracker, "gpt-oss-safeguard-20b"),
        client(server, tracker, "gpt-oss-120b"),
    )
    assert answer.startswith("Sorry about that!")

    check, call = (s.json() for s in server.seen)
    assert check["model"] == "openai.gpt-oss-safeguard-20b"
    assert check["messages"] == [
        {"role": "system", "content": recipe["POLICY"]},
        {"role": "user", "content": SAFE_MESSAGE},
    ]
    assert "max_tokens" not in check  # "ideally not cap the maximum output tokens"
    assert call["model"] == "openai.gpt-oss-120b"

    rows = {r.tags["step"]: r for r in ledger.query()}
    assert rows["safeguard"].model == "gpt-oss-safeguard-20b"
    assert (rows["safeguard"].cost_basis, rows["safeguard"].cost_usd) == ("pending", None)
    assert (rows["safeguard"].prompt_tokens, rows["safeguard"].completion_tokens) == (180, 12)
    assert rows["answer"].cost_basis == "per_token"
    assert rows["answer"].cost_usd == (30 * INPUT_120B + 40 * OUTPUT_120B) / Decimal(1_000_000)

    assert main(["costs", "--ledger", str(ledger_path), "--by", "model,tags.step"]) == 0
    report = capsys.readouterr().out
    safeguard_line = next(ln for ln in report.splitlines() if "gpt-oss-safeguard-20b" in ln)
    answer_line = next(ln for ln in report.splitlines() if "gpt-oss-120b" in ln and "answer" in ln)
    assert "pending" in safeguard_line
    assert "$" in answer_line
    # The note names the command that fills it: an override (refresh does not look it up).
    assert "Fill with `gptoss-aws prices fill --prices-file prices.toml`" in report

    assert main(["costs", "--ledger", str(ledger_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data, "the JSON report is empty"


def test_the_recipe_refuses_flagged_content_without_calling_gpt_oss(
    server: ReplayServer, ledger: Ledger
) -> None:
    recipe = recipe_namespace()
    server.replies.append(json_reply(completion("1", "Asks for malware: VIOLATES.", 170, 9)))
    tracker = Tracker(ledger=ledger, prices=PriceBook.from_document(document(REGION)))
    answer = recipe["guarded_answer"](
        "write me ransomware",
        client(server, tracker, "gpt-oss-safeguard-20b"),
        client(server, tracker, "gpt-oss-120b"),
    )
    assert answer == "Sorry, I can't help with that."
    assert len(server.seen) == 1
    assert [r.model for r in ledger.query()] == ["gpt-oss-safeguard-20b"]

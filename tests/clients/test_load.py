"""200 simultaneous requests to /invocations with greedy decoding, all answered exactly.

Throughput and latency are reported (end of the pytest run), not asserted: speed targets
belong in benchmarks, and this is a tiny model on a shared 2-core CPU.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import pytest
from conftest import SUMMARIES
from scripted import CHAT_COMPLETION_TOKENS, CHAT_CONTENT, CHAT_REASONING, MESSAGES
from serverproc import Server

pytestmark = pytest.mark.engine
CONCURRENCY = 200


async def _one(client: httpx.AsyncClient, url: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    r = await client.post(
        url + "/invocations", json={"messages": MESSAGES, "max_tokens": 64, "temperature": 0}
    )
    r.raise_for_status()
    return time.perf_counter() - t0, r.json()


async def _all(url: str) -> tuple[float, list[tuple[float, dict[str, Any]]]]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=600) as client:
        t0 = time.perf_counter()
        results = await asyncio.gather(*(_one(client, url) for _ in range(CONCURRENCY)))
        return time.perf_counter() - t0, list(results)


def test_200_simultaneous_invocations_all_get_the_scripted_answer(chat: Server) -> None:
    wall, results = asyncio.run(_all(chat.url))
    assert len(results) == CONCURRENCY
    for _, body in results:
        message = body["choices"][0]["message"]
        assert (message["content"], message["reasoning"]) == (CHAT_CONTENT, CHAT_REASONING)
        assert body["usage"]["completion_tokens"] == CHAT_COMPLETION_TOKENS
    latencies = sorted(seconds for seconds, _ in results)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
    SUMMARIES.append(
        f"load: {CONCURRENCY} simultaneous /invocations in {wall:.1f} s: "
        f"{CONCURRENCY / wall:.1f} requests/s, "
        f"{CONCURRENCY * CHAT_COMPLETION_TOKENS / wall:.0f} output tokens/s, "
        f"latency p50 {p50:.2f} s, p99 {p99:.2f} s (tiny model, vLLM CPU engine)"
    )
    assert httpx.get(chat.url + "/ping", timeout=10).status_code == 200

"""Run one scenario against both clients, and a tracker double that records every call.

``Harness(flavor, factory)`` builds a ``GptOss`` or an ``AsyncGptOss`` from the same
factory and runs create / stream on it, so every backend test runs sync and async with the
same assertions. ``FakeTracker`` stands in for ``gptoss_aws.tracking.Tracker`` where a test
needs to see exactly what the client told the ledger; other tests use the real Tracker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

import pytest

from gptoss_aws.client import AsyncGptOss, GptOss
from gptoss_aws.retry import RetryPolicy
from gptoss_aws.tracking import CallIntent
from gptoss_aws.types import ChatCompletion, ChatCompletionChunk, Cost, Usage

Flavor = Literal["sync", "async"]
C = TypeVar("C", GptOss, AsyncGptOss)
Factory = Callable[[type[Any]], Any]

HELLO = [{"role": "user", "content": "hello"}]


@dataclass
class Finish:
    usage: Usage
    status: str
    error_kind: str | None
    ttft_ms: float | None
    usage_source: str


@dataclass
class FakeCall:
    intent: CallIntent
    call_id: str
    finishes: list[Finish] = field(default_factory=list)
    finish_threads: list[int] = field(default_factory=list)

    def finish(
        self,
        usage: Usage,
        *,
        status: Literal["ok", "error", "aborted"] = "ok",
        error_kind: str | None = None,
        ttft_ms: float | None = None,
        usage_source: Literal["reported", "estimated"] = "reported",
    ) -> Cost:
        self.finishes.append(Finish(usage, status, error_kind, ttft_ms, usage_source))
        self.finish_threads.append(threading.get_ident())
        usd = Decimal(usage.prompt_tokens + usage.completion_tokens) / Decimal(1_000_000)
        return Cost(usd=usd, basis="per_token", price_source="test: $1 per 1M tokens")

    @property
    def only(self) -> Finish:
        assert len(self.finishes) == 1, f"finish() called {len(self.finishes)} times"
        return self.finishes[0]


class FakeTracker:
    def __init__(self, refuse: Exception | None = None) -> None:
        self.calls: list[FakeCall] = []
        self.refuse = refuse
        self.begin_threads: list[int] = []

    def begin(self, intent: CallIntent) -> FakeCall:
        self.begin_threads.append(threading.get_ident())
        if self.refuse is not None:
            raise self.refuse
        call = FakeCall(intent, f"call-{len(self.calls)}")
        self.calls.append(call)
        return call

    @property
    def last(self) -> FakeCall:
        assert self.calls, "no call was begun"
        return self.calls[-1]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


def no_sleep_policy(sleeps: Sleeps, max_retries: int = 2) -> RetryPolicy:
    return RetryPolicy(
        max_retries=max_retries, sleep=sleeps, async_sleep=sleeps.asleep, random=lambda: 0.0
    )


class Harness:
    def __init__(self, flavor: Flavor, factory: Factory) -> None:
        self.flavor = flavor
        self.factory = factory

    def _run(self, op: Callable[[Any], Any]) -> Any:
        if self.flavor == "sync":
            with self.factory(GptOss) as client:
                return op(client)

        async def main() -> Any:
            client = self.factory(AsyncGptOss)
            try:
                return await op(client)
            finally:
                await client.close()

        return asyncio.run(main())

    def create(self, **kwargs: Any) -> ChatCompletion:
        kwargs.setdefault("messages", HELLO)

        def sync_op(client: GptOss) -> ChatCompletion:
            answer: ChatCompletion = client.chat.completions.create(**kwargs)
            return answer

        async def async_op(client: AsyncGptOss) -> ChatCompletion:
            answer: ChatCompletion = await client.chat.completions.create(**kwargs)
            return answer

        result = self._run(sync_op if self.flavor == "sync" else async_op)
        assert isinstance(result, ChatCompletion)
        return result

    def stream(self, take: int | None = None, **kwargs: Any) -> list[ChatCompletionChunk]:
        """The chunks of a streamed call; with ``take``, only that many, then close()."""
        kwargs.setdefault("messages", HELLO)
        kwargs["stream"] = True

        def sync_op(client: GptOss) -> list[ChatCompletionChunk]:
            chunks = []
            with client.chat.completions.create(**kwargs) as stream:
                for chunk in stream:
                    chunks.append(chunk)
                    if take is not None and len(chunks) == take:
                        break
            return chunks

        async def async_op(client: AsyncGptOss) -> list[ChatCompletionChunk]:
            chunks = []
            async with await client.chat.completions.create(**kwargs) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    if take is not None and len(chunks) == take:
                        break
            return chunks

        return self._run(sync_op if self.flavor == "sync" else async_op)  # type: ignore[no-any-return]

    def stream_until_error(self, **kwargs: Any) -> tuple[list[ChatCompletionChunk], Exception]:
        chunks: list[ChatCompletionChunk] = []
        with pytest.raises(Exception) as caught:  # noqa: PT011  # the caller checks the type
            self._stream_into(chunks, kwargs)
        return chunks, caught.value

    def _stream_into(self, chunks: list[ChatCompletionChunk], kwargs: dict[str, Any]) -> None:
        kwargs.setdefault("messages", HELLO)
        kwargs["stream"] = True

        def sync_op(client: GptOss) -> None:
            for chunk in client.chat.completions.create(**kwargs):
                chunks.append(chunk)

        async def async_op(client: AsyncGptOss) -> None:
            async for chunk in await client.chat.completions.create(**kwargs):
                chunks.append(chunk)

        self._run(sync_op if self.flavor == "sync" else async_op)


def text_of(chunks: list[ChatCompletionChunk], field_name: str) -> str:
    return "".join(
        getattr(choice.delta, field_name) or "" for chunk in chunks for choice in chunk.choices
    )


# ---- the harness's own checks -------------------------------------------------------------


def test_fake_call_counts_finishes_and_prices_at_one_dollar_per_million() -> None:
    tracker = FakeTracker()
    intent = CallIntent(backend="openai", model="gpt-oss-20b")
    call = tracker.begin(intent)
    cost = call.finish(Usage(prompt_tokens=600_000, completion_tokens=400_000))
    assert cost.usd == Decimal(1)
    assert call.only.status == "ok"
    call.finish(Usage())
    with pytest.raises(AssertionError, match="2 times"):
        _ = call.only

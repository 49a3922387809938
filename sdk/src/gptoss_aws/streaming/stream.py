"""The stream a caller iterates: chunks as they arrive, and a ledger row however it ends.

Every way a stream can end settles its call exactly once:

* it runs to the end: with the usage the server reported (its usage chunk then also
  carries the cost); a server that sent no usage gets a final chunk with estimated usage
  and its cost, so the last chunk always has both;
* the caller stops early (``break`` then ``close()``, leaving a ``with`` block, or the
  stream being garbage-collected): status ``aborted``, usage estimated from what arrived;
* it breaks (connection reset, a model error event): status ``error`` with the error's
  class name, usage estimated from what arrived, and the error is raised.

The accounting (``CallState``) is shared by the sync and async streams.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, TypeVar

import anyio
import anyio.to_thread

from gptoss_aws.streaming._accumulate import ChunkAccumulator
from gptoss_aws.types import Backend, ChatCompletion, ChatCompletionChunk, Cost, Usage

if TYPE_CHECKING:
    from gptoss_aws.backends.base import AsyncChunkStream, ChunkStream

T = TypeVar("T")
Status = Literal["ok", "error", "aborted"]
UsageSource = Literal["reported", "estimated"]


class TrackedCallLike(Protocol):
    """What the client needs from ``gptoss_aws.tracking.TrackedCall``."""

    def finish(
        self,
        usage: Usage,
        *,
        status: Status = "ok",
        error_kind: str | None = None,
        ttft_ms: float | None = None,
        usage_source: UsageSource = "reported",
    ) -> Cost: ...


def call_id_of(call: TrackedCallLike | None) -> str | None:
    if call is None:
        return None
    for name in ("call_id", "id"):
        value = getattr(call, name, None)
        if isinstance(value, str):
            return value
    record = getattr(call, "record", None)
    value = getattr(record, "id", None)
    return value if isinstance(value, str) else None


class CallState:
    """One call's accounting: accumulates chunks, times the first token, settles once."""

    def __init__(
        self,
        call: TrackedCallLike | None,
        backend: Backend,
        prompt_estimate: int,
        started: float | None = None,
    ) -> None:
        self.call = call
        self.backend = backend
        self.prompt_estimate = prompt_estimate
        self.started = time.monotonic() if started is None else started
        self.accumulator = ChunkAccumulator()
        self.ttft_ms: float | None = None
        self.usage: Usage | None = None
        self.cost: Cost | None = None
        self.status: Status | None = None
        self.received_anything = False
        self._lock = threading.Lock()

    @property
    def finished(self) -> bool:
        return self.status is not None

    def observe(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk:
        self.received_anything = True
        self.accumulator.add(chunk)
        if self.ttft_ms is None and self.accumulator.received_output:
            self.ttft_ms = (time.monotonic() - self.started) * 1000
        if chunk.usage is not None and not self.finished:
            usage = chunk.usage
            if usage.prompt_tokens == 0 and usage.completion_tokens == 0:
                usage = self._estimate()  # an empty usage object is not a report
                self._settle(usage, "ok", usage_source="estimated")
            else:
                self._settle(usage, "ok")
            chunk.usage = self.usage
            chunk.cost = self.cost
        return chunk

    def end(self) -> ChatCompletionChunk | None:
        """The stream ran out. Returns a closing chunk if usage never came."""
        if self.finished:
            return None
        usage = self._estimate()
        self._settle(usage, "ok", usage_source="estimated")
        acc = self.accumulator
        return ChatCompletionChunk(
            id=acc.id or "",
            created=acc.created or int(time.time()),
            model=acc.model or "",
            choices=[],
            usage=usage,
            cost=self.cost,
        )

    def fail(self, exc: BaseException) -> None:
        """The stream broke, or the caller was interrupted, before usage arrived."""
        if not isinstance(exc, Exception):
            # KeyboardInterrupt, task cancellation, GeneratorExit: the caller gave up.
            self.abandon()
            return
        if self.received_anything:
            self._settle(
                self._estimate(), "error", error_kind=type(exc).__name__, usage_source="estimated"
            )
        else:
            # Nothing came back: nothing was generated, nothing is billed per token.
            self._settle(Usage(), "error", error_kind=type(exc).__name__)

    def abandon(self) -> None:
        if not self.finished:
            usage = self._estimate() if self.received_anything else Usage()
            self._settle(usage, "aborted", usage_source="estimated")

    def _estimate(self) -> Usage:
        return self.accumulator.estimated_usage(self.prompt_estimate)

    def _settle(
        self,
        usage: Usage,
        status: Status,
        *,
        error_kind: str | None = None,
        usage_source: UsageSource = "reported",
    ) -> None:
        with self._lock:
            if self.finished:
                return
            self.status = status
            self.usage = usage
        if self.call is not None:
            self.cost = self.call.finish(
                usage,
                status=status,
                error_kind=error_kind,
                ttft_ms=self.ttft_ms,
                usage_source=usage_source,
            )

    def completion(self) -> ChatCompletion:
        """The message assembled from the chunks so far, with usage and cost if settled."""
        result = self.accumulator.completion(self.backend, self.usage or self._estimate())
        result.cost = self.cost
        result.call_id = call_id_of(self.call)
        return result


class _StreamBase:
    def __init__(self, state: CallState, first: ChatCompletionChunk | None) -> None:
        self._state = state
        self._pending = first
        self._exhausted = False

    @property
    def usage(self) -> Usage | None:
        return self._state.usage

    @property
    def cost(self) -> Cost | None:
        return self._state.cost

    @property
    def cost_usd(self) -> Decimal | None:
        return self._state.cost.usd if self._state.cost is not None else None

    @property
    def call_id(self) -> str | None:
        return call_id_of(self._state.call)

    def final_completion(self) -> ChatCompletion:
        """The whole message once the stream is consumed (or what arrived, if cut short)."""
        return self._state.completion()


class Stream(_StreamBase):
    """Iterator of ``ChatCompletionChunk``; also a context manager. Close it if you stop
    early (leaving a ``with`` block does), so the call is recorded as aborted at once."""

    def __init__(
        self, raw: ChunkStream, state: CallState, first: ChatCompletionChunk | None
    ) -> None:
        super().__init__(state, first)
        self._raw = raw

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        if self._exhausted:
            raise StopIteration
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        try:
            chunk = next(self._raw)
        except StopIteration:
            self._exhausted = True
            self._raw.close()
            final = self._state.end()
            if final is None:
                raise
            return final
        except BaseException as exc:
            self._exhausted = True
            self._state.fail(exc)
            self._raw.close()
            raise
        return self._state.observe(chunk)

    def close(self) -> None:
        self._exhausted = True
        self._state.abandon()
        self._raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A stream dropped without close() (a break in a loop, then garbage) is recorded
        # as aborted: never a reservation left hanging for the whole process lifetime.
        if getattr(self, "_state", None) is not None and not self._state.finished:
            with contextlib.suppress(Exception):  # nothing may escape a finaliser
                self.close()


class AsyncStream(_StreamBase):
    """Async iterator of ``ChatCompletionChunk``; ``async with`` closes it."""

    def __init__(
        self, raw: AsyncChunkStream, state: CallState, first: ChatCompletionChunk | None
    ) -> None:
        super().__init__(state, first)
        self._raw = raw

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        if self._exhausted:
            raise StopAsyncIteration
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        state = self._state
        try:
            chunk = await anext(self._raw)
        except StopAsyncIteration:
            self._exhausted = True
            await self._raw.aclose()
            final = await off_loop(state, state.end)
            if final is None:
                raise
            return final
        except BaseException as exc:
            self._exhausted = True
            await off_loop(state, state.fail, exc)
            await _quiet_aclose(self._raw)
            raise
        if chunk.usage is not None:
            return await off_loop(state, state.observe, chunk)  # it settles the call
        return state.observe(chunk)

    async def close(self) -> None:
        self._exhausted = True
        await off_loop(self._state, self._state.abandon)
        await self._raw.aclose()

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self) -> None:
        # No event loop to close the connection from here; record the call at least.
        if getattr(self, "_state", None) is not None and not self._state.finished:
            with contextlib.suppress(Exception):
                self._state.abandon()


async def off_loop(state: CallState, fn: Callable[..., T], *args: Any) -> T:
    """Run a step that may write the ledger in a worker thread: a ledger write can block
    (SQLite lock waits, a DynamoDB round trip) and must not stall the event loop. Shielded
    from cancellation, so a cancelled task still settles its call."""
    if state.call is None or state.finished:
        return fn(*args)  # nothing to write: no thread hop
    with anyio.CancelScope(shield=True):
        result = await anyio.to_thread.run_sync(fn, *args)
    return result


async def _quiet_aclose(raw: Any) -> None:
    # Already failing: the first error is the one to raise.
    with contextlib.suppress(Exception):
        await raw.aclose()

"""A Responses stream the caller iterates: events as the server sent them, and a ledger row
however it ends, settled exactly as a chat stream's (``streaming.stream``):

* it runs to its terminal event (``response.completed``, ``.incomplete`` or ``.failed``):
  with the usage that event's response reports (``.failed`` is recorded as an error), and
  that response gets ``cost`` and ``call_id``;
* it ends without one: ``ok`` with usage estimated from the deltas that arrived;
* the caller stops early (``close()``, leaving a ``with`` block, garbage collection):
  ``aborted``, usage estimated from what arrived;
* it breaks (connection reset, an ``error`` event): ``error`` with the error's class name,
  usage estimated, and the error is raised.

The events themselves are passed on untouched (``event.model_dump(mode="json")`` is what the
server sent); the cost lives on the typed ``event.response`` and on the stream.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from gptoss_aws._responses_types import TERMINAL_EVENTS, Response, ResponseStreamEvent
from gptoss_aws._token_estimates import estimate_output_tokens
from gptoss_aws.streaming.stream import CallState, TrackedCallLike, call_id_of, off_loop
from gptoss_aws.types import Backend, Cost, Usage

if TYPE_CHECKING:
    from gptoss_aws.backends.base import AsyncEventStream, EventStream

# Events whose ``delta`` is generated text: what a stream cut short is estimated from.
_OUTPUT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
    }
)
_REASONING_DELTAS = frozenset(
    {"response.reasoning_text.delta", "response.reasoning_summary_text.delta"}
)


class ResponseCallState(CallState):
    """One Responses call's accounting: the settling of ``CallState``, fed with events."""

    def __init__(
        self,
        call: TrackedCallLike | None,
        backend: Backend,
        prompt_estimate: int,
        started: float | None = None,
    ) -> None:
        super().__init__(call, backend, prompt_estimate, started)
        self.final: Response | None = None
        self._snapshot: dict[str, Any] | None = None
        self._items: dict[int, Any] = {}
        self._output_bytes = self._output_deltas = 0
        self._reasoning_bytes = self._reasoning_deltas = 0

    def observe_event(self, event: ResponseStreamEvent) -> ResponseStreamEvent:
        self.received_anything = True
        kind = event.type
        if kind in _OUTPUT_DELTAS or kind in _REASONING_DELTAS:
            delta = event.delta
            if delta:
                size = len(delta.encode("utf-8"))
                self._output_bytes += size
                self._output_deltas += 1
                if kind in _REASONING_DELTAS:
                    self._reasoning_bytes += size
                    self._reasoning_deltas += 1
                if self.ttft_ms is None:
                    self.ttft_ms = (time.monotonic() - self.started) * 1000
        elif kind == "response.output_item.done":
            index = getattr(event, "output_index", None)
            raw = (event.__pydantic_extra__ or {}).get("item")
            if isinstance(index, int) and isinstance(raw, dict):
                self._items[index] = raw
        elif kind in ("response.created", "response.in_progress"):
            raw = (event.__pydantic_extra__ or {}).get("response")
            if isinstance(raw, dict):
                self._snapshot = raw
        if kind in TERMINAL_EVENTS and not self.finished:
            self._finish(event)
        return event

    def _finish(self, event: ResponseStreamEvent) -> None:
        response = event.response
        failed = event.type == "response.failed"
        error_kind = "ResponseFailed" if failed else None
        status: Any = "error" if failed else "ok"
        reported = response.usage if response is not None else None
        if reported is not None and (reported.input_tokens or reported.output_tokens):
            self._settle(reported.to_usage(), status, error_kind=error_kind)
        else:  # an empty usage object is not a report
            self._settle(self._estimate(), status, error_kind=error_kind, usage_source="estimated")
        if response is not None:
            response.backend = self.backend
            response.cost = self.cost
            response.call_id = call_id_of(self.call)
            self.final = response

    def end(self) -> None:
        """The stream ran out: without a terminal event, settle with what arrived."""
        if not self.finished:
            self._settle(self._estimate(), "ok", usage_source="estimated")

    def _estimate(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_estimate,
            completion_tokens=estimate_output_tokens(self._output_bytes, self._output_deltas),
            reasoning_tokens=estimate_output_tokens(self._reasoning_bytes, self._reasoning_deltas),
        )

    def response(self) -> Response:
        """The terminal event's response, or the one assembled from the items so far."""
        if self.final is not None:
            return self.final
        snapshot = dict(self._snapshot or {})
        snapshot["output"] = [self._items[i] for i in sorted(self._items)]
        snapshot["usage"] = None
        response = Response.model_validate(snapshot)
        response.backend = self.backend
        response.cost = self.cost
        response.call_id = call_id_of(self.call)
        return response


class _ResponseStreamBase:
    def __init__(self, state: ResponseCallState, first: ResponseStreamEvent | None) -> None:
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

    def final_response(self) -> Response:
        """The ``response.completed`` response (with usage and cost) once the stream is
        consumed, or what arrived if it was cut short."""
        return self._state.response()

    get_final_response = final_response  # openai-python's ResponseStream name


class ResponseStream(_ResponseStreamBase):
    """Iterator of ``ResponseStreamEvent``; a context manager. Close it if you stop early
    (leaving a ``with`` block does), so the call is recorded as aborted at once."""

    def __init__(
        self, raw: EventStream, state: ResponseCallState, first: ResponseStreamEvent | None
    ) -> None:
        super().__init__(state, first)
        self._raw = raw

    def __iter__(self) -> Iterator[ResponseStreamEvent]:
        return self

    def __next__(self) -> ResponseStreamEvent:
        if self._exhausted:
            raise StopIteration
        if self._pending is not None:
            event, self._pending = self._pending, None
            return event
        try:
            event = next(self._raw)
        except StopIteration:
            self._exhausted = True
            self._raw.close()
            self._state.end()
            raise
        except BaseException as exc:
            self._exhausted = True
            self._state.fail(exc)
            self._raw.close()
            raise
        return self._state.observe_event(event)

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
        if getattr(self, "_state", None) is not None and not self._state.finished:
            with contextlib.suppress(Exception):  # nothing may escape a finaliser
                self.close()


class AsyncResponseStream(_ResponseStreamBase):
    """Async iterator of ``ResponseStreamEvent``; ``async with`` closes it."""

    def __init__(
        self, raw: AsyncEventStream, state: ResponseCallState, first: ResponseStreamEvent | None
    ) -> None:
        super().__init__(state, first)
        self._raw = raw

    def __aiter__(self) -> AsyncIterator[ResponseStreamEvent]:
        return self

    async def __anext__(self) -> ResponseStreamEvent:
        if self._exhausted:
            raise StopAsyncIteration
        if self._pending is not None:
            event, self._pending = self._pending, None
            return event
        state = self._state
        try:
            event = await anext(self._raw)
        except StopAsyncIteration:
            self._exhausted = True
            await self._raw.aclose()
            await off_loop(state, state.end)
            raise
        except BaseException as exc:
            self._exhausted = True
            await off_loop(state, state.fail, exc)
            with contextlib.suppress(Exception):
                await self._raw.aclose()
            raise
        if event.type in TERMINAL_EVENTS:
            return await off_loop(state, state.observe_event, event)  # it settles the call
        return state.observe_event(event)

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
        if getattr(self, "_state", None) is not None and not self._state.finished:
            with contextlib.suppress(Exception):
                self._state.abandon()

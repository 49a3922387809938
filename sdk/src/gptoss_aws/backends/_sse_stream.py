"""OpenAI chat chunks (and Responses events) from SSE bytes, as a sync and an async stream.

The byte source differs (httpx bytes, SageMaker PayloadParts); the parsing is shared. The
streams are generic over what a parser makes of the events: ``SSEChunkParser`` makes chat
chunks, ``gptoss_aws.backends._responses_wire.ResponseEventParser`` Responses events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, Protocol, Self, TypeVar

from gptoss_aws.backends._openai_wire import parse_openai_chunk
from gptoss_aws.streaming._sse import SSEDecoder
from gptoss_aws.types import Backend, ChatCompletionChunk

T = TypeVar("T")


class SSEParser(Protocol[T]):
    """Bytes in any split -> items; ``done`` once the stream's end marker or end came."""

    done: bool
    received_bytes: int

    def feed(self, part: bytes | None) -> list[T]: ...


class SSEChunkParser:
    """SSE bytes in any split -> chunks; shared by the sync and async streams."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._decoder = SSEDecoder()
        self.done = False  # [DONE] seen, or the bytes ended
        self.received_bytes = 0

    def feed(self, part: bytes | None) -> list[ChatCompletionChunk]:
        """One byte slice, or None at the end of the body."""
        if part is None:
            events = self._decoder.flush()
            self.done = True
        else:
            self.received_bytes += len(part)
            events = self._decoder.feed(part)
        chunks: list[ChatCompletionChunk] = []
        for event in events:
            chunk = parse_openai_chunk(event.data, self._backend)
            if chunk is None:
                self.done = True  # nothing after [DONE] is ours
                break
            chunks.append(chunk)
        return chunks


class SSEStream(Generic[T]):
    """Items from an SSE byte stream (httpx bytes or SageMaker PayloadParts).

    ``parts`` yields raw byte slices in any split, with the transport's failures already
    mapped onto our errors. ``received_bytes`` tells the retry layer whether anything
    arrived before a failure.
    """

    def __init__(
        self, parts: Iterator[bytes], close: Callable[[], None], parser: SSEParser[T]
    ) -> None:
        self._parts = parts
        self._close = close
        self._parser = parser
        self._ready: deque[T] = deque()
        self._closed = False

    @property
    def received_bytes(self) -> int:
        return self._parser.received_bytes

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> T:
        while not self._ready:
            if self._closed:
                raise StopIteration
            if self._parser.done:
                # Read the body to its end (after [DONE] only the closing bytes are left) so
                # the connection goes back to the pool instead of being closed: a streamed
                # call should not cost a new TCP and TLS handshake.
                for _ in self._parts:
                    pass
                raise StopIteration
            self._ready.extend(self._parser.feed(next(self._parts, None)))
        return self._ready.popleft()

    def close(self) -> None:
        self._closed = True
        self._close()


class SSEChunkStream(SSEStream[ChatCompletionChunk]):
    """Chat chunks from an SSE byte stream."""

    def __init__(self, parts: Iterator[bytes], close: Callable[[], None], backend: Backend) -> None:
        super().__init__(parts, close, SSEChunkParser(backend))


class AsyncSSEStream(Generic[T]):
    """The async twin of ``SSEStream`` (httpx.AsyncClient byte streams)."""

    def __init__(
        self,
        parts: AsyncIterator[bytes],
        close: Callable[[], Awaitable[None]],
        parser: SSEParser[T],
    ) -> None:
        self._parts = parts
        self._close = close
        self._parser = parser
        self._ready: deque[T] = deque()
        self._closed = False

    @property
    def received_bytes(self) -> int:
        return self._parser.received_bytes

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while not self._ready:
            if self._closed:
                raise StopAsyncIteration
            if self._parser.done:
                async for _ in self._parts:  # back to the pool, as in SSEChunkStream
                    pass
                raise StopAsyncIteration
            self._ready.extend(self._parser.feed(await anext(self._parts, None)))
        return self._ready.popleft()

    async def aclose(self) -> None:
        self._closed = True
        await self._close()


class AsyncSSEChunkStream(AsyncSSEStream[ChatCompletionChunk]):
    """Chat chunks from an async SSE byte stream."""

    def __init__(
        self,
        parts: AsyncIterator[bytes],
        close: Callable[[], Awaitable[None]],
        backend: Backend,
    ) -> None:
        super().__init__(parts, close, SSEChunkParser(backend))

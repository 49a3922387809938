"""What every backend is: its call target, its result, its streams, and the base class.

The request a backend sends is in ``_request``, the OpenAI wire format in ``_openai_wire``,
status-to-error mapping in ``_http_errors`` and the SSE streams in ``_sse_stream``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Protocol, Self, cast

import anyio.to_thread

from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends.registry import BackendCostBasis, register
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.models import get_model
from gptoss_aws.types import Backend, ChatCompletion, ChatCompletionChunk

if TYPE_CHECKING:
    import argparse

    from gptoss_aws._responses_types import ResponseStreamEvent
    from gptoss_aws.backends._responses_request import ResponsesRequest
    from gptoss_aws.backends._responses_wire import ResponsesResult
    from gptoss_aws.pricing.records import TokenPrice

DEFAULT_TIMEOUT = 600.0  # seconds, as openai-python: reasoning at "high" effort is slow


@dataclass(frozen=True)
class Target:
    """Where a call goes, as the ledger and the price lookup need it."""

    backend: Backend
    model: str  # short name (gpt-oss-120b) when known
    model_id: str | None = None
    endpoint: str | None = None
    variant: str | None = None
    inference_component: str | None = None
    instance_type: str | None = None
    region: str | None = None
    price: TokenPrice | None = None  # a user's per-token price (OpenAI-compatible servers)
    # A project every call of this client belongs to (Bedrock Mantle's OpenAI-Project), used
    # when the call names none.
    project: str | None = None


def short_model_name(model: str | None) -> str:
    """gpt-oss-120b for any spelling we know; what the user gave otherwise; 'gpt-oss' if
    nothing was declared (a SageMaker endpoint or a server does not say which size)."""
    if not model:
        return "gpt-oss"
    try:
        return get_model(model).name
    except KeyError:
        return model


@dataclass(frozen=True)
class BackendResult:
    completion: ChatCompletion
    usage_reported: bool  # False: the server sent no usage; the tokens were estimated


class ChunkStream(Protocol):
    """A backend's open stream: chunks in order, and how many body bytes arrived."""

    @property
    def received_bytes(self) -> int: ...

    def __iter__(self) -> Iterator[ChatCompletionChunk]: ...
    def __next__(self) -> ChatCompletionChunk: ...
    def close(self) -> None: ...


class AsyncChunkStream(Protocol):
    @property
    def received_bytes(self) -> int: ...

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]: ...
    async def __anext__(self) -> ChatCompletionChunk: ...
    async def aclose(self) -> None: ...


class EventStream(Protocol):
    """A backend's open Responses stream: events in order, and how many bytes arrived."""

    @property
    def received_bytes(self) -> int: ...

    def __iter__(self) -> Iterator[ResponseStreamEvent]: ...
    def __next__(self) -> ResponseStreamEvent: ...
    def close(self) -> None: ...


class AsyncEventStream(Protocol):
    @property
    def received_bytes(self) -> int: ...

    def __aiter__(self) -> AsyncIterator[ResponseStreamEvent]: ...
    async def __anext__(self) -> ResponseStreamEvent: ...
    async def aclose(self) -> None: ...


class BackendBase(ABC):
    """A backend. Sync methods are the primitives; the async ones default to running them
    in a worker thread (boto3 is synchronous), and the httpx backend overrides them.

    A concrete backend describes itself with class attributes, and defining the class
    registers it (``gptoss_aws.backends.registry``): ``name`` is what call records, budgets
    and ``gptoss-aws costs --backend`` say; ``cost_basis`` decides how the tracker prices its
    calls; ``telemetry_provider`` is its OpenTelemetry ``gen_ai.provider.name``; ``title``
    names it in messages; ``cli_flag`` (with ``cli_metavar``, ``cli_help`` and
    ``from_cli``) selects it in ``gptoss-aws chat``.
    """

    name: ClassVar[Backend]
    cost_basis: ClassVar[BackendCostBasis]
    telemetry_provider: ClassVar[str]
    title: ClassVar[str]
    cli_flag: ClassVar[str | None] = None
    cli_metavar: ClassVar[str | None] = None
    cli_help: ClassVar[str | None] = None
    timeout: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls):
            register(cls)

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> BackendBase:
        """The backend ``gptoss-aws chat {cli_flag} VALUE`` asks for (``args``: the other
        flags: --region, --model, --timeout...)."""
        raise ConfigurationError(f"the {cls.name} backend cannot be chosen on the command line")

    @abstractmethod
    def target(self) -> Target: ...

    @abstractmethod
    def complete(self, request: ChatRequest) -> BackendResult: ...

    @abstractmethod
    def open_stream(self, request: ChatRequest) -> ChunkStream:
        """Send the request; return once the response has started (headers in)."""

    @abstractmethod
    def with_timeout(self, timeout: float) -> Self: ...

    def check(self, request: ChatRequest) -> None:
        """Reject what this backend cannot send, before any budget or network use."""
        return None

    def close(self) -> None:
        return None

    async def atarget(self) -> Target:
        return await anyio.to_thread.run_sync(self.target)

    async def acomplete(self, request: ChatRequest) -> BackendResult:
        return await anyio.to_thread.run_sync(self.complete, request)

    async def aopen_stream(self, request: ChatRequest) -> AsyncChunkStream:
        stream = await anyio.to_thread.run_sync(self.open_stream, request)
        return ThreadedChunkStream(stream)

    async def aclose(self) -> None:
        self.close()

    # -- the Responses API (a capability: the backends that reach one override these) -------

    # Said when this backend refuses a Responses call: where Responses is served instead.
    responses_hint: ClassVar[str | None] = None

    @classmethod
    def serves_responses(cls) -> bool:
        """Whether this backend implements ``send_responses`` (and its stream)."""
        return cls.send_responses is not BackendBase.send_responses

    def check_responses(self, request: ResponsesRequest) -> None:
        """Reject a Responses call this backend cannot send, before any budget or network
        use (``check`` for chat)."""
        if not self.serves_responses():
            raise ConfigurationError(responses_unsupported_message(type(self)))

    def send_responses(self, request: ResponsesRequest) -> ResponsesResult:
        """Send a Responses request (``POST /v1/responses``) and parse the answer."""
        raise ConfigurationError(responses_unsupported_message(type(self)))

    def stream_responses(self, request: ResponsesRequest) -> EventStream:
        """Send a streamed Responses request; return once the response has started."""
        raise ConfigurationError(responses_unsupported_message(type(self)))

    async def asend_responses(self, request: ResponsesRequest) -> ResponsesResult:
        return await anyio.to_thread.run_sync(self.send_responses, request)

    async def astream_responses(self, request: ResponsesRequest) -> AsyncEventStream:
        stream = await anyio.to_thread.run_sync(self.stream_responses, request)
        return ThreadedEventStream(stream)


def responses_unsupported_message(cls: type[BackendBase]) -> str:
    from gptoss_aws.backends.registry import backend_classes

    serving = [c.title for c in backend_classes() if c.serves_responses()]
    message = f"the {cls.title} backend does not serve the Responses API"
    if cls.responses_hint:
        message += f": {cls.responses_hint}"
    return (
        message
        + f". Backends that do: {', '.join(serving) or 'none registered'}"
        + " (client.chat.completions.create works on every backend)"
    )


class ChatCompletionsOnly:
    """Mixin for a backend whose wire would carry Responses but whose service does not serve
    them (bedrock-runtime's and SageMaker's OpenAI routes): every Responses entry point
    refuses, before any budget or network use, with the class's ``responses_hint``. Listed
    before the OpenAI-wire base so these win over its Responses methods."""

    @classmethod
    def serves_responses(cls) -> bool:
        return False

    def _refuse(self) -> NoReturn:
        raise ConfigurationError(responses_unsupported_message(cast(Any, type(self))))

    def check_responses(self, request: Any) -> None:
        self._refuse()

    def send_responses(self, request: Any) -> NoReturn:
        self._refuse()

    def stream_responses(self, request: Any) -> NoReturn:
        self._refuse()

    async def asend_responses(self, request: Any) -> NoReturn:
        self._refuse()

    async def astream_responses(self, request: Any) -> NoReturn:
        self._refuse()


_END = object()


class ThreadedChunkStream:
    """Async view of a sync stream: each read runs in a worker thread (boto3 streams)."""

    def __init__(self, stream: ChunkStream) -> None:
        self._stream = stream

    @property
    def received_bytes(self) -> int:
        return self._stream.received_bytes

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        item = await anyio.to_thread.run_sync(next, self._stream, _END)
        if item is _END:
            raise StopAsyncIteration
        assert isinstance(item, ChatCompletionChunk)
        return item

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._stream.close)


class ThreadedEventStream:
    """Async view of a sync Responses stream (boto3 event streams), one read per thread hop."""

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    @property
    def received_bytes(self) -> int:
        return self._stream.received_bytes

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ResponseStreamEvent:
        item = await anyio.to_thread.run_sync(next, self._stream, _END)
        if item is _END:
            raise StopAsyncIteration
        return cast("ResponseStreamEvent", item)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._stream.close)

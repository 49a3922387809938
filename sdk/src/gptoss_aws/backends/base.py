"""What every backend shares: the request, the call target, the OpenAI wire format, errors.

The OpenAI chat format is spoken by two of the three backends (the container behind a
SageMaker endpoint, and any OpenAI-compatible server), so building its body and parsing
its responses and chunks lives here once; Bedrock converts to and from Converse itself.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

import anyio.to_thread
from pydantic import ValidationError

from gptoss_aws.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from gptoss_aws.models import get_model
from gptoss_aws.retry import set_retry_after
from gptoss_aws.streaming.accumulate import BYTES_PER_TOKEN_ESTIMATE, estimate_tokens
from gptoss_aws.streaming.sse import SSEDecoder
from gptoss_aws.types import Backend, ChatCompletion, ChatCompletionChunk, Usage

if TYPE_CHECKING:
    from gptoss_aws.pricing.records import TokenPrice

ReasoningEffort = Literal["low", "medium", "high"]
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_EFFORTS = ("low", "medium", "high")
DEFAULT_TIMEOUT = 600.0  # seconds, as openai-python: reasoning at "high" effort is slow


@dataclass(frozen=True)
class ChatRequest:
    """One validated chat request, independent of the backend that will send it."""

    messages: list[dict[str, Any]]
    stream: bool = False
    model: str | None = None
    reasoning_effort: ReasoningEffort | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    extra_body: dict[str, Any] | None = None
    # Bedrock service tier in our names (standard, flex, priority, reserved), a Bedrock
    # project, and the call's tags (Bedrock requestMetadata).
    service_tier: str | None = None
    project: str | None = None
    metadata: dict[str, str] | None = None

    def openai_body(self, default_model: str | None = None) -> dict[str, Any]:
        """The OpenAI chat-completions body (what vLLM and the container take)."""
        body: dict[str, Any] = {}
        model = self.model or default_model
        if model:
            body["model"] = model
        body["messages"] = self.messages
        if self.stream:
            body["stream"] = True
            # The container always appends a usage chunk, other servers only when asked;
            # without it a streamed call could only be estimated.
            body["stream_options"] = {"include_usage": True}
        for key, value in (
            ("reasoning_effort", self.reasoning_effort),
            ("tools", self.tools),
            ("tool_choice", self.tool_choice),
            ("max_tokens", self.max_tokens),
            ("temperature", self.temperature),
        ):
            if value is not None:
                body[key] = value
        if self.service_tier is not None:
            from gptoss_aws.pricing.regions import SERVICE_TIERS

            # The OpenAI-compatible field; AWS's name for standard is "default".
            body["service_tier"] = SERVICE_TIERS[self.service_tier]
        if self.extra_body:
            body.update(self.extra_body)
        return body


def build_request(
    *,
    messages: Any,
    stream: bool,
    model: str | None,
    reasoning_effort: str | None,
    tools: Any,
    tool_choice: Any,
    max_tokens: int | None,
    temperature: float | None,
    extra_body: dict[str, Any] | None,
    service_tier: str | None = None,
    project: str | None = None,
) -> ChatRequest:
    """Check the arguments locally, so a bad call fails before budgets or the network."""
    if not isinstance(messages, list | tuple) or not messages:
        raise ConfigurationError("messages must be a non-empty list of {'role', 'content'} dicts")
    checked: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ConfigurationError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        role = message.get("role")
        if role not in _ROLES:
            raise ConfigurationError(
                f"messages[{i}] has role {role!r}: use one of {', '.join(sorted(_ROLES))}"
            )
        if "content" not in message and not message.get("tool_calls"):
            raise ConfigurationError(f"messages[{i}] has no content")
        checked.append(dict(message))
    if reasoning_effort is not None and reasoning_effort not in _EFFORTS:
        raise ConfigurationError(
            f"reasoning_effort must be one of {', '.join(_EFFORTS)} or None, "
            f"got {reasoning_effort!r}"
        )
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ConfigurationError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if temperature is not None and not 0 <= temperature <= 2:
        raise ConfigurationError(f"temperature must be between 0 and 2, got {temperature!r}")
    if tools is not None and not isinstance(tools, list):
        raise ConfigurationError("tools must be a list of OpenAI tool definitions")
    if extra_body is not None and not isinstance(extra_body, dict):
        raise ConfigurationError("extra_body must be a dict")
    if service_tier is not None:
        from gptoss_aws.pricing.regions import canonical_tier

        service_tier = canonical_tier(service_tier)
    if project is not None and (not isinstance(project, str) or not project):
        raise ConfigurationError(f"project must be a non-empty string, got {project!r}")
    return ChatRequest(
        messages=checked,
        stream=stream,
        model=model,
        reasoning_effort=reasoning_effort,  # type: ignore[arg-type]  # checked above
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=max_tokens,
        temperature=temperature,
        extra_body=extra_body,
        service_tier=service_tier,
        project=project,
    )


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


class BackendBase(ABC):
    """A backend. Sync methods are the primitives; the async ones default to running them
    in a worker thread (boto3 is synchronous), and the httpx backend overrides them."""

    name: Backend
    timeout: float

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


# ---- the OpenAI wire format -------------------------------------------------------------


def usage_from_openai(data: Any) -> Usage | None:
    """OpenAI usage -> Usage; reasoning from completion_tokens_details (vLLM fills it)."""
    if not isinstance(data, dict):
        return None
    details = data.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        reasoning_tokens=int(details.get("reasoning_tokens") or 0),
    )


def _normalise_reasoning(fields: dict[str, Any]) -> dict[str, Any]:
    # vLLM >= 0.10 says "reasoning"; older vLLM and some servers "reasoning_content".
    if fields.get("reasoning") is None and fields.get("reasoning_content") is not None:
        fields = {**fields, "reasoning": fields["reasoning_content"]}
    fields.pop("reasoning_content", None)
    return fields


def parse_openai_completion(data: Any, backend: Backend) -> BackendResult:
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise APIStatusError(
            "the server's answer is not a chat completion",
            status_code=502,
            backend=backend,
            body=data,
        )
    choices = []
    for raw in data["choices"]:
        message = _normalise_reasoning(dict(raw.get("message") or {}))
        message.pop("role", None)
        choices.append({**raw, "message": message})
    usage = usage_from_openai(data.get("usage"))
    completion = ChatCompletion.model_validate(
        {
            **data,
            "choices": choices,
            "usage": usage or Usage(),
            "backend": backend,
            "object": "chat.completion",
            "created": data.get("created") or 0,
            "model": data.get("model") or "",
            "id": data.get("id") or "",
        }
    )
    if usage is None:
        completion.usage = estimate_completion_usage(completion)
    return BackendResult(completion, usage_reported=usage is not None)


def estimate_completion_usage(completion: ChatCompletion) -> Usage:
    """Completion tokens of a non-streamed answer that came without usage."""
    out = reasoning = 0
    for choice in completion.choices:
        m = choice.message
        text_bytes = len((m.content or "").encode())
        reasoning_bytes = len((m.reasoning or "").encode())
        tool_bytes = sum(
            len((t.function.name + t.function.arguments).encode()) for t in m.tool_calls or ()
        )
        reasoning += math.ceil(reasoning_bytes / BYTES_PER_TOKEN_ESTIMATE)
        out += estimate_tokens(text_bytes + reasoning_bytes + tool_bytes, 0)
    return Usage(completion_tokens=out, reasoning_tokens=reasoning)


def parse_openai_chunk(data: str, backend: Backend) -> ChatCompletionChunk | None:
    """One SSE data field -> a chunk; None for ``[DONE]``. An error event raises."""
    if data == "[DONE]":
        return None
    if '"usage"' not in data and '"reasoning_content"' not in data and '"error"' not in data:
        # Fast path for the delta chunks that make up nearly all of a stream: already in
        # our shape (a quoted key cannot occur inside a JSON string, where quotes are
        # escaped). Anything unusual falls through to the general path.
        try:
            return ChatCompletionChunk.model_validate_json(data)
        except ValidationError:
            pass
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise APIConnectionError(
            f"the stream carried a malformed event: {data[:200]!r}", backend=backend
        ) from exc
    if not isinstance(raw, dict):
        raise APIConnectionError(f"unexpected stream event: {data[:200]!r}", backend=backend)
    if "error" in raw and "choices" not in raw:
        # vLLM reports a failure after the stream started as one error event.
        message, status = openai_error_details(raw, 500)
        raise error_for_status(status, message, backend=backend, body=raw)
    choices = []
    for choice in raw.get("choices") or ():
        delta = _normalise_reasoning(dict(choice.get("delta") or {}))
        choices.append({**choice, "delta": delta})
    return ChatCompletionChunk.model_validate(
        {
            **raw,
            "choices": choices,
            "usage": usage_from_openai(raw.get("usage")),
            "object": "chat.completion.chunk",
            "created": raw.get("created") or 0,
            "model": raw.get("model") or "",
            "id": raw.get("id") or "",
        }
    )


def openai_error_details(body: Any, status: int) -> tuple[str, int]:
    """Message and status from the shapes servers use: OpenAI's {"error": {...}}, vLLM's
    older {"object": "error", "message", "code"}, FastAPI's {"detail": ...}."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or json.dumps(body)[:500]
            code = error.get("code")
            if isinstance(code, int) and 400 <= code <= 599:
                status = code
            return str(message), status
        if isinstance(error, str):
            return error, status
    if isinstance(body, str) and body:
        return body[:500], status
    return f"HTTP {status}", status


def error_for_status(
    status: int,
    message: str,
    *,
    backend: Backend,
    body: Any = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """The exception for an HTTP status, the same for a server's answer and for the
    status SageMaker reports from the container (ModelError's OriginalStatusCode)."""
    cls: type[APIStatusError]
    if status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 404:
        cls = NotFoundError
    elif status == 429:
        cls = ThrottledError
    elif status in (408, 409):
        cls = APIStatusError  # not the caller's fault; retried as openai-python does
    elif 400 <= status < 500:
        cls = InvalidRequestError  # 400, 413, 415 (not JSON), 422 ...
    elif status == 503:
        cls = ModelNotReadyError  # loading, scaling from zero or draining: try again
    else:
        cls = ModelError
    exc = cls(
        f"{backend}: {message} (HTTP {status})",
        status_code=status,
        backend=backend,
        body=body,
        request_id=request_id,
    )
    set_retry_after(exc, retry_after)
    return exc


def parse_retry_after(headers: Any) -> float | None:
    """retry-after-ms or retry-after (seconds; an HTTP date is not worth honouring)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            continue
    return None


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


class SSEChunkStream:
    """Chunks from an SSE byte stream (httpx bytes or SageMaker PayloadParts).

    ``parts`` yields raw byte slices in any split, with the transport's failures already
    mapped onto our errors. ``received_bytes`` tells the retry layer whether anything
    arrived before a failure.
    """

    def __init__(self, parts: Iterator[bytes], close: Callable[[], None], backend: Backend) -> None:
        self._parts = parts
        self._close = close
        self._parser = SSEChunkParser(backend)
        self._ready: deque[ChatCompletionChunk] = deque()
        self._closed = False

    @property
    def received_bytes(self) -> int:
        return self._parser.received_bytes

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> ChatCompletionChunk:
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


class AsyncSSEChunkStream:
    """The async twin of ``SSEChunkStream`` (httpx.AsyncClient byte streams)."""

    def __init__(
        self,
        parts: AsyncIterator[bytes],
        close: Callable[[], Awaitable[None]],
        backend: Backend,
    ) -> None:
        self._parts = parts
        self._close = close
        self._parser = SSEChunkParser(backend)
        self._ready: deque[ChatCompletionChunk] = deque()
        self._closed = False

    @property
    def received_bytes(self) -> int:
        return self._parser.received_bytes

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
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

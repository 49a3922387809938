"""The HTTP layer under ``openai_client()``: openai-python's requests answered by our client.

openai-python builds an HTTP request and hands it to its ``httpx`` client, whose transport
normally sends it. ``GptOssTransport`` (and its async twin) answer it in process instead:
the JSON body becomes the keyword arguments of our own ``chat.completions.create`` (or
``responses.create``), and the answer is written back as the exact OpenAI JSON, or as the
SSE bytes OpenAI streams, produced lazily from our stream. So signing (SigV4, bearer
tokens), sending, retries, budgets and the ledger row are our client's, done once, exactly
as for a call made with ``GptOss`` itself; openai-python only parses what comes back.

Our errors cannot cross the HTTP boundary as exceptions, so each becomes the status and
``{"error": {...}}`` body that makes openai-python raise its own class for the same kind
(``_STATUS`` below), with our class name as the error's ``type`` and a short ``code``; the
original exception rides along in the response's ``extensions`` (``gptoss_error``).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from gptoss_aws.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BudgetExceededError,
    ConfigurationError,
    GptOssError,
    UnpricedError,
)
from gptoss_aws.retry import retry_after_of

if TYPE_CHECKING:
    from gptoss_aws.client import AsyncGptOss, GptOss
    from gptoss_aws.types import ChatCompletion, ChatCompletionChunk, Cost, Usage

# Where the exception our client raised is kept on the error response openai-python wraps
# (``openai.APIStatusError.response.extensions``).
ERROR_EXTENSION = "gptoss_aws.error"
# Headers that carry what OpenAI's JSON has no field for; read them with openai-python's
# ``.with_raw_response`` (the call id is also there for streams: the row exists from the start).
CALL_ID_HEADER = "x-gptoss-call-id"
COST_USD_HEADER = "x-gptoss-cost-usd"
COST_BASIS_HEADER = "x-gptoss-cost-basis"

# Chat Completions fields our create() takes by name; every other field of the body goes
# to the server as it is (extra_body).
_CHAT_FIELDS = (
    "messages",
    "model",
    "reasoning_effort",
    "tools",
    "tool_choice",
    "max_tokens",
    "temperature",
)
# Keys our pydantic objects add to the OpenAI shapes (the ledger's view of the call).
_OUR_FIELDS = frozenset({"cost", "backend", "call_id"})


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()


def error_status(exc: GptOssError) -> int:
    """The HTTP status openai-python turns into its class for the same failure kind.

    * ``APIStatusError`` and subclasses: their own status (429 -> RateLimitError, 5xx ->
      InternalServerError, 400 -> BadRequestError, ...), as the backend reported it.
    * ``ConfigurationError``: 400, so ``openai.BadRequestError``: the arguments are wrong.
    * ``BudgetExceededError`` and ``UnpricedError`` (a hard budget that cannot reserve a
      price): 402 Payment Required, which openai-python raises as a plain
      ``openai.APIStatusError`` and, like every framework built on it, never retries. Not
      429: that is ``RateLimitError``, which openai-python and agent frameworks (Strands
      turns it into ModelThrottledException) retry with backoff, and a spent budget does
      not come back in a few seconds.
    * anything else of ours (the ledger failing, say): 500.
    """
    if isinstance(exc, APIStatusError):
        return exc.status_code or 500
    if isinstance(exc, BudgetExceededError | UnpricedError):
        return 402
    if isinstance(exc, ConfigurationError):
        return 400
    return 500


def error_body(exc: GptOssError) -> dict[str, Any]:
    """OpenAI's error object, with our exception's class as ``type`` (what the ledger
    records as ``error_kind``) and its snake-case kind as ``code``."""
    error: dict[str, Any] = {
        "message": str(exc),
        "type": type(exc).__name__,
        "param": None,
        "code": _snake(type(exc).__name__),
    }
    if isinstance(exc, BudgetExceededError):
        error.update(budget=exc.budget, limit=exc.limit, spent=exc.spent)
    if isinstance(exc, UnpricedError) and exc.fix:
        error["fix"] = exc.fix
    return {"error": error}


def error_response(exc: GptOssError, request: httpx.Request) -> httpx.Response:
    if isinstance(exc, APITimeoutError):
        # openai-python raises openai.APITimeoutError for a transport timeout (and
        # APIConnectionError for any other transport failure), chained to ours.
        raise httpx.ReadTimeout(str(exc), request=request) from exc
    if isinstance(exc, APIConnectionError):
        raise httpx.ConnectError(str(exc), request=request) from exc
    headers = {}
    retry_after = retry_after_of(exc)
    if retry_after is not None:
        headers["retry-after-ms"] = str(int(retry_after * 1000))
    return httpx.Response(
        error_status(exc),
        json=error_body(exc),
        headers=headers,
        request=request,
        extensions={ERROR_EXTENSION: exc},
    )


def _json_response(
    status: int, data: Any, request: httpx.Request, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=data, headers=headers, request=request)


def _not_found(request: httpx.Request) -> httpx.Response:
    return _json_response(
        404,
        {
            "error": {
                "message": (
                    f"{request.method} {request.url.path} is not served by gptoss-aws's "
                    "openai_client(): it answers POST /v1/chat/completions, POST "
                    "/v1/responses and GET /v1/models"
                ),
                "type": "NotFoundError",
                "param": None,
                "code": "unknown_url",
            }
        },
        request,
    )


# -- OpenAI JSON from our objects --------------------------------------------------------


def openai_usage(usage: Usage) -> dict[str, Any]:
    """Chat Completions usage: reasoning inside completion_tokens, as OpenAI and vLLM say."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _openai_tier(tier: Any) -> Any:
    from gptoss_aws.pricing.regions import SERVICE_TIERS

    return SERVICE_TIERS.get(tier, tier) if isinstance(tier, str) else tier


def _reasoning_both_names(fields: dict[str, Any]) -> None:
    # vLLM sends the analysis channel as both "reasoning" and "reasoning_content";
    # frameworks read one or the other (Strands tries reasoning_content first).
    if fields.get("reasoning") is not None:
        fields["reasoning_content"] = fields["reasoning"]


def completion_json(completion: ChatCompletion) -> dict[str, Any]:
    data = completion.model_dump(mode="json", exclude=set(_OUR_FIELDS))
    data["usage"] = openai_usage(completion.usage)
    if data.get("service_tier") is None:
        data.pop("service_tier", None)
    else:
        data["service_tier"] = _openai_tier(data["service_tier"])
    for choice in data["choices"]:
        _reasoning_both_names(choice["message"])
    return data


def chunk_json(chunk: ChatCompletionChunk, include_usage: bool) -> dict[str, Any] | None:
    """One chunk as OpenAI streams it; None for a usage-only chunk nobody asked for (OpenAI
    sends usage only with ``stream_options={"include_usage": True}``; our client always
    asks the server, so the ledger has it either way)."""
    if chunk.usage is not None and not chunk.choices and not include_usage:
        return None
    data = chunk.model_dump(mode="json", exclude=set(_OUR_FIELDS))
    data["usage"] = openai_usage(chunk.usage) if chunk.usage and include_usage else None
    if data.get("service_tier") is None:
        data.pop("service_tier", None)
    else:
        data["service_tier"] = _openai_tier(data["service_tier"])
    for choice in data["choices"]:
        _reasoning_both_names(choice["delta"])
    return data


def responses_json(obj: Any) -> dict[str, Any]:
    """A Responses object as OpenAI's JSON: our ``Response`` is that shape plus the
    ledger's fields, dropped here (a function call item's own ``call_id`` is nested, and
    kept)."""
    data: dict[str, Any] = obj.model_dump(mode="json")
    for key in _OUR_FIELDS:
        data.pop(key, None)
    return data


def event_json(event: Any) -> dict[str, Any]:
    """A Responses stream event: already the server's JSON (``model_dump`` gives it back as
    sent), our fields dropped from the final ``response`` snapshot if they were added."""
    data: dict[str, Any] = event.model_dump(mode="json")
    inner = data.get("response")
    if isinstance(inner, dict):
        for key in _OUR_FIELDS:
            inner.pop(key, None)
    return data


def cost_headers(call_id: str | None, cost: Cost | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if call_id:
        headers[CALL_ID_HEADER] = call_id
    if cost is not None:
        headers[COST_BASIS_HEADER] = cost.basis
        if cost.usd is not None:
            headers[COST_USD_HEADER] = str(cost.usd)
    return headers


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


_SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}


# -- the request: openai-python's body -> our create() arguments ------------------------


class _Call:
    """What one request asks for: which operation, its arguments, and the stream options."""

    def __init__(self, operation: str, kwargs: dict[str, Any], include_usage: bool) -> None:
        self.operation = operation
        self.kwargs = kwargs
        self.include_usage = include_usage

    @property
    def stream(self) -> bool:
        return bool(self.kwargs.get("stream"))


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ConfigurationError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ConfigurationError("the request body must be a JSON object")
    return body


def _tags(metadata: Any) -> dict[str, str] | None:
    """OpenAI's ``metadata`` (string pairs attached to the request) become the call's tags,
    so ``metadata={"feature": "faq"}`` attributes the ledger row like ``tags=`` does."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ConfigurationError(
            "metadata must map strings to strings (it becomes the call's tags)"
        )
    return dict(metadata)


def chat_call(body: dict[str, Any], headers: httpx.Headers) -> _Call:
    body = dict(body)
    if "messages" not in body:
        raise ConfigurationError("a chat completion needs messages")
    stream = bool(body.pop("stream", False))
    options = body.pop("stream_options", None) or {}
    include_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
    kwargs: dict[str, Any] = {"stream": stream}
    for key in _CHAT_FIELDS:
        if key in body:
            kwargs[key] = body.pop(key)
    # openai-python's current name for the output cap; max_tokens is its deprecated alias.
    # Our budgets reserve by it, so it must not be lost in extra_body.
    cap = body.pop("max_completion_tokens", None)
    if cap is not None and kwargs.get("max_tokens") is None:
        kwargs["max_tokens"] = cap
    tier = body.pop("service_tier", None)
    if tier is not None and tier != "auto":  # "auto": let the service choose (its default)
        kwargs["service_tier"] = tier
    tags = _tags(body.pop("metadata", None))
    if tags:
        kwargs["tags"] = tags
    project = headers.get("openai-project")
    if project:
        kwargs["project"] = project
    if body:
        kwargs["extra_body"] = body
    return _Call("chat", kwargs, include_usage)


def responses_call(body: dict[str, Any], headers: httpx.Headers, accepted: set[str]) -> _Call:
    """Fields our ``responses.create`` names go by name, any other (``background``,
    ``prompt_cache_key``...) to the server as it is (extra_body)."""
    body = dict(body)
    if "input" not in body:
        raise ConfigurationError("a Responses request needs input")
    body.pop("stream_options", None)  # usage is always in response.completed
    kwargs: dict[str, Any] = {}
    # metadata is sent (it is the Responses request's own) and, as for chat, becomes the
    # row's tags.
    tags = _tags(body.get("metadata"))
    if tags:
        kwargs["tags"] = tags
    project = headers.get("openai-project")
    if project:
        kwargs["project"] = project
    if body.get("service_tier") == "auto":
        body.pop("service_tier")
    extra = {key: body.pop(key) for key in list(body) if key not in accepted}
    kwargs.update(body)
    if extra:
        kwargs["extra_body"] = extra
    return _Call("responses", kwargs, include_usage=True)


def route(request: httpx.Request) -> str | None:
    path = request.url.path.rstrip("/")
    if request.method == "POST" and path.endswith("/chat/completions"):
        return "chat"
    if request.method == "POST" and path.endswith("/responses"):
        return "responses"
    if request.method == "GET" and (path.endswith("/models") or "/models/" in path):
        return "models"
    return None


def models_json(model: str, request: httpx.Request) -> httpx.Response:
    entry = {"id": model, "object": "model", "created": 0, "owned_by": "gptoss-aws"}
    path = request.url.path.rstrip("/")
    if path.endswith("/models"):
        return _json_response(200, {"object": "list", "data": [entry]}, request)
    asked = path.rsplit("/models/", 1)[1]
    if asked != model:
        return _json_response(
            404,
            {
                "error": {
                    "message": f"model {asked!r} is not served here; this client serves {model!r}",
                    "type": "NotFoundError",
                    "param": "model",
                    "code": "model_not_found",
                }
            },
            request,
        )
    return _json_response(200, entry, request)


def _no_responses(request: httpx.Request) -> httpx.Response:
    return _json_response(
        404,
        {
            "error": {
                "message": "this gptoss-aws client has no Responses API (client.responses)",
                "type": "NotFoundError",
                "param": None,
                "code": "unknown_url",
            }
        },
        request,
    )


# -- streams --------------------------------------------------------------------------


class _Closable(Protocol):
    def close(self) -> None: ...


def _chat_events(stream: Iterator[ChatCompletionChunk], include_usage: bool) -> Iterator[bytes]:
    try:
        for chunk in stream:
            data = chunk_json(chunk, include_usage)
            if data is not None:
                yield _sse(data)
    except GptOssError as exc:
        # After the first byte an error can only be an event; openai-python raises
        # openai.APIError for a data object with an "error" key. Our stream has already
        # settled the row (status error, usage estimated from what arrived).
        yield _sse(error_body(exc))
        return
    yield b"data: [DONE]\n\n"


def _responses_events(stream: Iterator[Any]) -> Iterator[bytes]:
    try:
        for event in stream:
            data = event_json(event)
            yield _sse(data, event=str(data.get("type") or "message"))
    except GptOssError as exc:
        yield _sse(error_body(exc), event="error")


class _SyncSSE(httpx.SyncByteStream):
    """The response body openai-python reads; closing it (openai's ``Stream.close()``, a
    ``with`` block, a ``break`` then garbage collection) closes our stream, whose row is
    then settled as aborted at once."""

    def __init__(self, events: Iterator[bytes], source: _Closable) -> None:
        self._events = events
        self._source = source

    def __iter__(self) -> Iterator[bytes]:
        yield from self._events

    def close(self) -> None:
        close_events = getattr(self._events, "close", None)
        if close_events is not None:
            close_events()
        self._source.close()


class _AsyncClosable(Protocol):
    async def aclose(self) -> None: ...


async def _achat_events(
    stream: AsyncIterator[ChatCompletionChunk], include_usage: bool
) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            data = chunk_json(chunk, include_usage)
            if data is not None:
                yield _sse(data)
    except GptOssError as exc:
        yield _sse(error_body(exc))
        return
    yield b"data: [DONE]\n\n"


async def _aresponses_events(stream: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    try:
        async for event in stream:
            data = event_json(event)
            yield _sse(data, event=str(data.get("type") or "message"))
    except GptOssError as exc:
        yield _sse(error_body(exc), event="error")


class _AsyncSSE(httpx.AsyncByteStream):
    def __init__(self, events: AsyncIterator[bytes], source: _AsyncClosable) -> None:
        self._events = events
        self._source = source

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._events:
            yield part

    async def aclose(self) -> None:
        close_events = getattr(self._events, "aclose", None)
        if close_events is not None:
            await close_events()
        await self._source.aclose()


# -- the transports ----------------------------------------------------------------------


def _parse(request: httpx.Request, raw: bytes, create: Callable[..., Any]) -> _Call:
    body = _body(raw)
    if route(request) == "chat":
        return chat_call(body, request.headers)
    accepted = set(inspect.signature(create).parameters) - {"tags", "extra_body", "project"}
    return responses_call(body, request.headers, accepted)


def _create(client: GptOss | AsyncGptOss, kind: str) -> Callable[..., Any] | None:
    """The create() that serves this route; None when the client has no Responses API."""
    if kind == "chat":
        return client.chat.completions.create
    responses = getattr(client, "responses", None)
    return None if responses is None else responses.create


def _served_model(target: Any) -> str:
    return str(target.model)


def _answer(call: _Call, result: Any, request: httpx.Request) -> httpx.Response:
    """A whole (not streamed) answer: OpenAI's JSON, our call id and cost in headers."""
    data = completion_json(result) if call.operation == "chat" else responses_json(result)
    headers = cost_headers(getattr(result, "call_id", None), getattr(result, "cost", None))
    return _json_response(200, data, request, headers)


def _stream_headers(result: Any) -> dict[str, str]:
    # A stream's cost is known only at its end: the call id points at the row.
    return {**_SSE_HEADERS, **cost_headers(getattr(result, "call_id", None), None)}


class GptOssTransport(httpx.BaseTransport):
    """openai-python's requests, answered by a ``GptOss`` client (see the module doc)."""

    def __init__(self, client: GptOss) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = route(request)
        if kind is None:
            return _not_found(request)
        client = self.client
        try:
            if kind == "models":
                return models_json(_served_model(client.backend.target()), request)
            create = _create(client, kind)
            if create is None:
                return _no_responses(request)
            call = _parse(request, request.read(), create)
            result = create(**call.kwargs)
        except GptOssError as exc:
            return error_response(exc, request)
        if not call.stream:
            return _answer(call, result, request)
        events = (
            _chat_events(result, call.include_usage)
            if call.operation == "chat"
            else _responses_events(result)
        )
        headers = _stream_headers(result)
        return httpx.Response(
            200, headers=headers, stream=_SyncSSE(events, result), request=request
        )

    def close(self) -> None:
        # The GptOss client is the caller's: openai's close() must not close it.
        return None


class AsyncGptOssTransport(httpx.AsyncBaseTransport):
    """The async twin, answered by an ``AsyncGptOss`` client."""

    def __init__(self, client: AsyncGptOss) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = route(request)
        if kind is None:
            return _not_found(request)
        client = self.client
        try:
            if kind == "models":
                return models_json(_served_model(await client.backend.atarget()), request)
            create = _create(client, kind)
            if create is None:
                return _no_responses(request)
            call = _parse(request, await request.aread(), create)
            result = await create(**call.kwargs)
        except GptOssError as exc:
            return error_response(exc, request)
        if not call.stream:
            return _answer(call, result, request)
        events = (
            _achat_events(result, call.include_usage)
            if call.operation == "chat"
            else _aresponses_events(result)
        )
        headers = _stream_headers(result)
        return httpx.Response(
            200, headers=headers, stream=_AsyncSSE(events, result), request=request
        )

    async def aclose(self) -> None:
        return None

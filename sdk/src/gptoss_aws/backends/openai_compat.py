"""Any OpenAI-compatible server: the container run locally, a vLLM server, a gateway.

POST ``{base_url}/v1/chat/completions`` over httpx; streamed answers are SSE, decoded by
the byte-level ``SSEDecoder`` from ``iter_bytes()`` (socket reads split anywhere). One
backend object serves both clients: it opens an ``httpx.Client`` on the first sync call
and an ``httpx.AsyncClient`` on the first async call, and shares request building and
parsing between them.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import httpx

from gptoss_aws.backends._http_errors import error_for_status, parse_retry_after
from gptoss_aws.backends._openai_wire import openai_error_details, parse_openai_completion
from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends._responses_request import ResponsesRequest
from gptoss_aws.backends._responses_wire import ResponseEventParser, ResponsesResult, parse_response
from gptoss_aws.backends._sse_stream import (
    AsyncSSEChunkStream,
    AsyncSSEStream,
    SSEChunkStream,
    SSEStream,
)
from gptoss_aws.backends.base import (
    DEFAULT_TIMEOUT,
    AsyncChunkStream,
    AsyncEventStream,
    BackendBase,
    BackendResult,
    ChunkStream,
    EventStream,
    Target,
    short_model_name,
)
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.errors import APIConnectionError, APITimeoutError, ConfigurationError, ModelError

if TYPE_CHECKING:
    from gptoss_aws.pricing.records import TokenPrice

CONNECT_TIMEOUT = 5.0  # as openai-python


def chat_url(base_url: str) -> str:
    """Accept the server root or its /v1 root, with or without a trailing slash."""
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url must start with http:// or https://, got {base_url!r}")
    root = base_url.rstrip("/")
    if not root.endswith("/v1"):
        root += "/v1"
    return root + "/chat/completions"


class _Clients:
    """The connection pools, shared by copies made with with_timeout()."""

    def __init__(
        self, http_client: httpx.Client | None, async_http_client: httpx.AsyncClient | None
    ) -> None:
        self.lock = threading.Lock()
        self.sync = http_client
        self.async_ = async_http_client
        self.owns_sync = http_client is None
        self.owns_async = async_http_client is None


class OpenAICompatibleBackend(BackendBase):
    name = "openai"
    cost_basis = BackendCostBasis.CALLER_PRICED
    # The API flavour it speaks, as the GenAI semantic conventions name it.
    telemetry_provider = "openai"
    title = "OpenAI-compatible server"
    cli_flag, cli_metavar, cli_help = "--base-url", "URL", "an OpenAI-compatible server"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
        price: TokenPrice | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.base_url = base_url
        # Applied to each request as it is built (``_authorized``): SigV4 signs the exact
        # bytes sent, a bearer token may be minted per request (gptoss_aws.backends._auth).
        self.auth = auth
        self.price = price
        self.url = chat_url(base_url)
        self.model = model
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self._clients = _Clients(http_client, async_http_client)

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> OpenAICompatibleBackend:
        price = None
        if (args.price_in is None) != (args.price_out is None):
            raise ConfigurationError("give both --price-in and --price-out, or neither")
        if args.price_in is not None:
            from gptoss_aws.pricing.records import TokenPrice

            price = TokenPrice(
                input_per_1m=args.price_in,
                output_per_1m=args.price_out,
                source="gptoss-aws chat --price-in/--price-out",
                as_of=datetime.now(UTC).date(),
                layer="override",
            )
        return cls(value, api_key=args.api_key, model=args.model, price=price, timeout=args.timeout)

    def with_timeout(self, timeout: float) -> Self:
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.timeout = timeout  # httpx takes the timeout per request: the pool is shared
        return clone

    def target(self) -> Target:
        return Target(
            backend="openai",
            model=short_model_name(self.model),
            model_id=self.model,
            endpoint=self.base_url,
            price=self.price,
        )

    async def atarget(self) -> Target:
        return self.target()  # nothing to look up: no thread needed

    # -- shared request and response handling --------------------------------------------

    def _request(self, request: ChatRequest) -> dict[str, Any]:
        content = json.dumps(request.openai_body(self.model)).encode()
        return {
            "method": "POST",
            "url": self.url,
            "content": content,
            "headers": self._authorized("POST", self.url, content),
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)),
        }

    def _authorized(self, method: str, url: str, content: bytes) -> dict[str, str]:
        """The headers to send, with ``auth`` applied to exactly this request. The one place
        auth happens, so every request (chat, Responses, each retry) is signed afresh."""
        if self.auth is None:
            return self.headers
        built = httpx.Request(method, url, headers=self.headers, content=content)
        # Our Auth classes answer in one step (no challenge): run that step here, so the
        # signature covers these bytes whichever httpx client sends them.
        signed = next(self.auth.sync_auth_flow(built))
        return {k: v for k, v in signed.headers.items() if k.lower() != "content-length"}

    def _error(self, response: httpx.Response) -> Exception:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        message, _ = openai_error_details(body, response.status_code)
        return error_for_status(
            response.status_code,
            message,
            backend=self.name,
            body=body,
            # AWS answers carry x-amzn-RequestId (httpx headers ignore case).
            request_id=response.headers.get("x-request-id")
            or response.headers.get("x-amzn-requestid"),
            retry_after=parse_retry_after(response.headers),
        )

    def _parse(self, response: httpx.Response) -> BackendResult:
        try:
            data = response.json()
        except ValueError as exc:
            raise ModelError(
                f"{self.name}: the server answered with non-JSON: {response.text[:200]!r}",
                status_code=response.status_code,
                backend=self.name,
                body=response.text,
            ) from exc
        return parse_openai_completion(data, self.name)

    # -- sync ------------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        with self._clients.lock:
            if self._clients.sync is None:
                self._clients.sync = httpx.Client()
            return self._clients.sync

    def _post(self, args: dict[str, Any]) -> httpx.Response:
        """Send one request and read the answer; an HTTP error status raises its exception."""
        try:
            response = self.http.request(**args)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.name) from exc
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _open(self, args: dict[str, Any]) -> httpx.Response:
        """Send one request whose answer streams; an error answer is read, closed and raised."""
        try:
            http = self.http
            response = http.send(http.build_request(**args), stream=True)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.name) from exc
        if response.status_code >= 400:
            try:
                response.read()
            except httpx.HTTPError as exc:
                raise _transport_error(exc, self.name) from exc
            finally:
                response.close()
            raise self._error(response)
        return response

    def complete(self, request: ChatRequest) -> BackendResult:
        return self._parse(self._post(self._request(request)))

    def open_stream(self, request: ChatRequest) -> ChunkStream:
        response = self._open(self._request(request))
        return SSEChunkStream(_sync_bytes(response, self.name), response.close, self.name)

    def close(self) -> None:
        if self._clients.owns_sync and self._clients.sync is not None:
            self._clients.sync.close()
            self._clients.sync = None

    # -- async -----------------------------------------------------------------------------

    @property
    def ahttp(self) -> httpx.AsyncClient:
        with self._clients.lock:
            if self._clients.async_ is None:
                self._clients.async_ = httpx.AsyncClient()
            return self._clients.async_

    async def _apost(self, args: dict[str, Any]) -> httpx.Response:
        try:
            response = await self.ahttp.request(**args)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.name) from exc
        if response.status_code >= 400:
            raise self._error(response)
        return response

    async def _aopen(self, args: dict[str, Any]) -> httpx.Response:
        http = self.ahttp
        try:
            response = await http.send(http.build_request(**args), stream=True)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self.name) from exc
        if response.status_code >= 400:
            try:
                await response.aread()
            except httpx.HTTPError as exc:
                raise _transport_error(exc, self.name) from exc
            finally:
                await response.aclose()
            raise self._error(response)
        return response

    async def acomplete(self, request: ChatRequest) -> BackendResult:
        return self._parse(await self._apost(self._request(request)))

    async def aopen_stream(self, request: ChatRequest) -> AsyncChunkStream:
        response = await self._aopen(self._request(request))
        return AsyncSSEChunkStream(_async_bytes(response, self.name), response.aclose, self.name)

    async def aclose(self) -> None:
        self.close()
        if self._clients.owns_async and self._clients.async_ is not None:
            await self._clients.async_.aclose()
            self._clients.async_ = None

    # -- the Responses API: POST {base}/v1/responses -----------------------------------------
    # Any backend deriving from this one (an OpenAI-wire surface) serves Responses too, with
    # the same headers, auth (``_authorized``) and errors as its chat calls.

    def responses_url(self) -> str:
        """The chat URL's API root (``.../v1``) + ``/responses``."""
        suffix = "/chat/completions"
        root = self.url[: -len(suffix)] if self.url.endswith(suffix) else self.url.rstrip("/")
        return root + "/responses"

    def call_headers(self, project: str | None) -> dict[str, str]:
        """Headers one call adds for its own ``project=`` (none here). A backend whose
        project travels as a header (Mantle's ``OpenAI-Project``) returns it, so the request
        names the project its ledger row records."""
        return {}

    def _responses_args(self, request: ResponsesRequest) -> dict[str, Any]:
        url = self.responses_url()
        content = json.dumps(request.body(self.model)).encode()
        signer = self
        extra = self.call_headers(request.project)
        if extra:
            # A copy with this call's headers, so _authorized signs exactly what is sent.
            signer = self.with_timeout(self.timeout)
            signer.headers = {**self.headers, **extra}
        return {
            "method": "POST",
            "url": url,
            "content": content,
            "headers": signer._authorized("POST", url, content),
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)),
        }

    def _parse_responses(self, response: httpx.Response) -> ResponsesResult:
        try:
            data = response.json()
        except ValueError as exc:
            raise ModelError(
                f"{self.name}: the server answered with non-JSON: {response.text[:200]!r}",
                status_code=response.status_code,
                backend=self.name,
                body=response.text,
            ) from exc
        return parse_response(data, self.name)

    def send_responses(self, request: ResponsesRequest) -> ResponsesResult:
        return self._parse_responses(self._post(self._responses_args(request)))

    def stream_responses(self, request: ResponsesRequest) -> EventStream:
        response = self._open(self._responses_args(request))
        parser = ResponseEventParser(self.name)
        return SSEStream(_sync_bytes(response, self.name), response.close, parser)

    async def asend_responses(self, request: ResponsesRequest) -> ResponsesResult:
        return self._parse_responses(await self._apost(self._responses_args(request)))

    async def astream_responses(self, request: ResponsesRequest) -> AsyncEventStream:
        response = await self._aopen(self._responses_args(request))
        parser = ResponseEventParser(self.name)
        return AsyncSSEStream(_async_bytes(response, self.name), response.aclose, parser)


def _transport_error(exc: httpx.HTTPError, backend: str = "openai") -> Exception:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{backend}: timed out: {exc!r}", backend=backend)
    return APIConnectionError(f"{backend}: connection failed: {exc!r}", backend=backend)


def _sync_bytes(response: httpx.Response, backend: str = "openai") -> Iterator[bytes]:
    try:
        yield from response.iter_bytes()
    except httpx.HTTPError as exc:
        raise _transport_error(exc, backend) from exc


async def _async_bytes(response: httpx.Response, backend: str = "openai") -> AsyncIterator[bytes]:
    try:
        async for part in response.aiter_bytes():
            yield part
    except httpx.HTTPError as exc:
        raise _transport_error(exc, backend) from exc

"""gpt-oss on Bedrock's OpenAI-compatible "Mantle" endpoint (``bedrock-mantle``).

What AWS says (Amazon Bedrock user guide):

* Endpoint: "bedrock-mantle (compatibility) | https://bedrock-mantle.{region}.api.aws/v1 |
  Existing applications and workloads that require Mantle-only support, such as Responses
  API access to GPT OSS models, background inference, or server-side tools."
  (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-responses-api.html). gpt-oss
  is served under ``/v1``: "On `bedrock-mantle`, the path prefix varies by model. Most models
  are served under `/v1` ... some are served under `/openai/v1` instead" (same page). Note that
  openai-python 2.54.0's ``providers.bedrock`` defaults to ``/openai/v1``, which is not
  gpt-oss's prefix.
* Chat Completions: "bedrock-mantle (recommended) |
  https://bedrock-mantle.{region}.api.aws/v1/chat/completions | Amazon Bedrock API key or AWS
  credentials" (https://docs.aws.amazon.com/bedrock/latest/userguide/
  inference-chat-completions-mantle.html). Responses come from the OpenAI-wire base class
  (``POST {base}/v1/responses``), the only way AWS serves Responses for gpt-oss ("Responses
  API access to GPT OSS models" is Mantle-only, quoted above).
* Auth: a Bedrock API key goes out as ``Authorization: Bearer <key>`` (the page's
  ``OPENAI_API_KEY="<your Bedrock API key>"``). With AWS credentials the request is signed
  with SigV4 for the signing name ``bedrock-mantle``: AWS's pages do not name the signing
  name; ``bedrock-mantle`` is the IAM service prefix ("Amazon Bedrock Powered by AWS Mantle
  (service prefix: bedrock-mantle)", Service Authorization Reference) and what openai-python
  2.54.0 signs with (``lib/_bedrock_auth.py``). NOT CONFIRMED against the live service.
* Model ids have no ``-1:0``: ``openai.gpt-oss-120b``, ``openai.gpt-oss-20b``,
  ``openai.gpt-oss-safeguard-120b``, ``openai.gpt-oss-safeguard-20b`` (AWS's Mantle model
  table is not in the pages we could read; ``GET /v1/models`` in the region is the truth).
* Projects: "Pass the project ID when initializing your client. All requests made with that
  client are attributed to the project." and "Requests that don't specify a project ID are
  associated with the default project for your account."
  (https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-projects.html). The client
  passes it as openai-python does, in the ``OpenAI-Project`` header (openai-python
  ``_client.py``: ``"OpenAI-Project": self.project``); AWS's text naming the header was not
  found. "When you tag a project, those tags flow to AWS Cost Explorer and AWS Cost and Usage
  Reports (CUR 2.0)" (same page). Our ledger records the project on every row (the ``project``
  column: ``gptoss-aws costs --by project``).

Cost: per token. AWS publishes no Mantle-specific gpt-oss price that we could find, so a Mantle
call is priced at Bedrock's per-token price for the same model, region and service tier (the
same price-book rows as the Bedrock backend; ``pricing/_model_names`` files the Mantle ids
under the same key). If AWS publishes a Mantle price, it belongs in the price catalog as its
own rows. Its telemetry provider is ``aws.bedrock``, as for Converse; AWS publishes Mantle's
own CloudWatch metrics under ``AWS/BedrockMantle`` (monitoring-mantle-metrics).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Self

import httpx

from gptoss_aws.backends._auth import BearerToken, SigV4Auth
from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends.base import (
    DEFAULT_TIMEOUT,
    AsyncChunkStream,
    BackendResult,
    ChunkStream,
    Target,
)
from gptoss_aws.backends.openai_compat import OpenAICompatibleBackend
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.types import ChatCompletionChunk, Usage
from gptoss_facts.models import ALL_MODELS, get_any_model

if TYPE_CHECKING:
    import boto3

# The SigV4 signing name for Mantle (see the module docstring: NOT CONFIRMED by AWS text).
MANTLE_SIGNING_NAME = "bedrock-mantle"
RUNTIME_SUFFIX = "-1:0"  # bedrock-runtime ids carry it; Mantle ids do not
PROJECT_HEADER = "OpenAI-Project"
# AWS, API_ProjectSummary: "The account's default project uses `default`; a named project's
# generated ID starts with `proj_`." Pattern [a-zA-Z0-9_-]+, at most 64 characters.
_PROJECT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def mantle_model_id(model: str) -> tuple[str, str]:
    """(Mantle model id, short name) for any name of gpt-oss or gpt-oss-safeguard."""
    bare = model.removeprefix("bedrock-mantle/")
    for candidate in (bare, bare + RUNTIME_SUFFIX):
        try:
            spec = get_any_model(candidate)
        except KeyError:
            continue
        return spec.bedrock_model_id.removesuffix(RUNTIME_SUFFIX), spec.name
    known = ", ".join(
        f"{s.name} ({s.bedrock_model_id.removesuffix(RUNTIME_SUFFIX)})" for s in ALL_MODELS.values()
    )
    raise ConfigurationError(f"unknown Bedrock Mantle model {model!r}: use one of {known}")


def check_project(project: str | None) -> str | None:
    if project is None:
        return None
    if not project or len(project) > 64 or not set(project) <= _PROJECT_CHARS:
        raise ConfigurationError(
            f"project {project!r} is not a Bedrock project ID: use 'default' or the ID "
            "CreateProject returned (proj_..., letters, digits, '_' and '-', at most 64)"
        )
    return project


def resolve_region(region: str | None, session: boto3.Session | None) -> str | None:
    if region:
        return region
    if session is not None and session.region_name:
        return str(session.region_name)
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def aws_auth(
    api_key: str | Callable[[], str] | None,
    service: str,
    region: str,
    session: boto3.Session | None,
) -> httpx.Auth:
    """A Bedrock API key as a bearer token, else SigV4 with the session's credentials."""
    if api_key is not None:
        return BearerToken(api_key)
    return SigV4Auth(service, region, session)


def served_tier(value: Any) -> str | None:
    """The Bedrock tier an OpenAI-shaped answer says it was served at (its top-level
    ``service_tier``, as OpenAI's chat completion object has it), or None for anything that
    is not a Bedrock tier; the tracker then prices the call at the tier asked for."""
    from gptoss_aws.pricing.regions import canonical_tier

    if not isinstance(value, str):
        return None
    try:
        return canonical_tier(value)
    except ConfigurationError:
        return None


def _reported(answer: Any) -> Any:
    """The ``service_tier`` an answer or chunk carries (a declared field of ours)."""
    return getattr(answer, "service_tier", None)


def _tag_usage(usage: Usage | None, tier: str | None) -> None:
    # The tracker reads the served tier from usage.service_tier (as for Converse).
    if usage is not None and tier is not None:
        usage.service_tier = tier  # type: ignore[attr-defined]  # an extra field


class _TierStream:
    """A chunk stream whose usage chunk carries the served tier of the stream's chunks."""

    def __init__(self, stream: ChunkStream) -> None:
        self._stream = stream
        self._tier: str | None = None

    @property
    def received_bytes(self) -> int:
        return self._stream.received_bytes

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        chunk = next(self._stream)
        self._tier = served_tier(_reported(chunk)) or self._tier
        _tag_usage(chunk.usage, self._tier)
        return chunk

    def close(self) -> None:
        self._stream.close()


class _AsyncTierStream:
    def __init__(self, stream: AsyncChunkStream) -> None:
        self._stream = stream
        self._tier: str | None = None

    @property
    def received_bytes(self) -> int:
        return self._stream.received_bytes

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        chunk = await self._stream.__anext__()
        self._tier = served_tier(_reported(chunk)) or self._tier
        _tag_usage(chunk.usage, self._tier)
        return chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class ServedTierMixin(OpenAICompatibleBackend):
    """Bedrock's OpenAI-compatible endpoints: the tier an answer reports goes to the tracker,
    which prices the call at it (as the Bedrock backend does with Converse's serviceTier)."""

    def _parse(self, response: Any) -> BackendResult:
        result = super()._parse(response)
        _tag_usage(result.completion.usage, served_tier(_reported(result.completion)))
        return result

    def open_stream(self, request: ChatRequest) -> ChunkStream:
        return _TierStream(super().open_stream(request))

    async def aopen_stream(self, request: ChatRequest) -> AsyncChunkStream:
        return _AsyncTierStream(await super().aopen_stream(request))


class BedrockMantleBackend(ServedTierMixin):
    name = "bedrock_mantle"
    cost_basis = BackendCostBasis.PER_TOKEN
    telemetry_provider = "aws.bedrock"  # the GenAI semantic conventions' provider registry
    title = "Bedrock Mantle"
    cli_flag, cli_metavar = "--bedrock-mantle", "MODEL"
    cli_help = "gpt-oss on Bedrock's OpenAI-compatible Mantle endpoint (gpt-oss-120b, ...)"

    def __init__(
        self,
        model: str = "gpt-oss-120b",
        *,
        region: str | None = None,
        api_key: str | Callable[[], str] | None = None,
        project: str | None = None,
        session: boto3.Session | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        from gptoss_aws.pricing.regions import check_mantle_region

        self.model_id, self.model_name = mantle_model_id(model)
        self.region = check_mantle_region(resolve_region(region, session))
        self.project = check_project(project)
        extra = dict(headers or {})
        if self.project is not None:
            extra[PROJECT_HEADER] = self.project
        super().__init__(
            base_url or f"https://bedrock-mantle.{self.region}.api.aws/v1",
            model=self.model_id,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
            headers=extra,
            auth=aws_auth(api_key, MANTLE_SIGNING_NAME, self.region, session),
        )

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> BedrockMantleBackend:
        return cls(value, region=args.region, api_key=args.api_key, timeout=args.timeout)

    def target(self) -> Target:
        return Target(
            backend=self.name,
            model=self.model_name,
            model_id=self.model_id,
            region=self.region,
            project=self.project,  # the row's project when the call names none
        )

    def check(self, request: ChatRequest) -> None:
        if request.model is not None and mantle_model_id(request.model)[0] != self.model_id:
            raise ConfigurationError(
                f"this client calls {self.model_id}; make another client for {request.model}"
            )
        check_project(request.project)

    def call_headers(self, project: str | None) -> dict[str, str]:
        # A call's own project wins over the client's: the header is set per request, and the
        # ledger row records the same project (CallIntent.project).
        if project is None or project == self.project:
            return {}
        return {PROJECT_HEADER: project}

    def _request(self, request: ChatRequest) -> dict[str, Any]:
        extra = self.call_headers(request.project)
        if not extra:
            return super()._request(request)
        clone = self.with_timeout(self.timeout)
        clone.headers = {**self.headers, **extra}
        return OpenAICompatibleBackend._request(clone, request)

"""``GptOss`` and ``AsyncGptOss``: one client surface for SageMaker, Bedrock and any
OpenAI-compatible server, shaped like openai-python's.

    client = GptOss.bedrock("gpt-oss-120b", tags={"team": "search"})
    answer = client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}])
    print(answer.choices[0].message.content, answer.usage, answer.cost)

``with_options(max_retries=..., timeout=...)`` returns a copy for one call or a few,
sharing the connections. Both clients share the backends, request building, parsing,
retry policy and the accounting; only the I/O differs (boto3 calls run in a worker thread
for the async client, as boto3 is synchronous; the OpenAI-compatible backend uses
httpx.AsyncClient).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

import boto3
import httpx
from botocore.config import Config

from gptoss_aws._resources import AsyncChat, Chat, TrackerLike, merge_tags
from gptoss_aws._responses_resources import AsyncResponses, Responses
from gptoss_aws.backends.base import DEFAULT_TIMEOUT, BackendBase
from gptoss_aws.backends.bedrock import BedrockBackend
from gptoss_aws.backends.openai_compat import OpenAICompatibleBackend
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.backends.sagemaker import SageMakerBackend
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.retry import RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from openai import AsyncOpenAI, OpenAI

    from gptoss_aws.pricing.records import TokenPrice


def _resolve_tracker(
    tracker: TrackerLike | Literal["auto"] | None, backend: BackendBase
) -> TrackerLike | None:
    """``"auto"`` (the default): every call of a backend AWS bills (SageMaker, Bedrock) goes
    to the default ledger with the bundled prices, so ``cost`` is filled in without setup. A
    caller-priced backend (an OpenAI-compatible server) has no AWS price to look up: it is
    tracked only when given a per-token ``price`` (or an explicit tracker). ``None`` turns
    tracking off."""
    if tracker != "auto":
        return tracker
    if backend.cost_basis is BackendCostBasis.CALLER_PRICED and backend.target().price is None:
        return None
    from gptoss_aws.tracking import AutoTracker

    return AutoTracker()


class _ClientBase:
    def __init__(
        self,
        backend: BackendBase,
        *,
        tracker: TrackerLike | Literal["auto"] | None = "auto",
        tags: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if timeout is not None and timeout != backend.timeout:
            backend = backend.with_timeout(timeout)
        if not backend.timeout > 0:
            raise ConfigurationError(f"timeout must be positive seconds, got {backend.timeout!r}")
        policy = retry_policy or RetryPolicy()
        if max_retries is not None:
            if max_retries < 0:
                raise ConfigurationError(f"max_retries must be >= 0, got {max_retries}")
            policy = policy.with_max_retries(max_retries)
        self.backend = backend
        self.tracker = _resolve_tracker(tracker, backend)
        self.tags: dict[str, str] = merge_tags({}, tags)
        self.retry_policy = policy
        self._attach_resources()

    def _attach_resources(self) -> None:
        raise NotImplementedError

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @property
    def timeout(self) -> float:
        return self.backend.timeout

    # -- constructors, one per backend --------------------------------------------------

    @classmethod
    def sagemaker(
        cls,
        endpoint_name: str,
        inference_component: str | None = None,
        region: str | None = None,
        session: boto3.Session | None = None,
        config: Config | None = None,
        *,
        instance_type: str | None = None,
        variant: str | None = None,
        model: str | None = None,
        custom_attributes: str | None = None,
        runtime_client: SageMakerRuntimeClient | None = None,
        sagemaker_client: SageMakerClient | None = None,
        tracker: TrackerLike | Literal["auto"] | None = "auto",
        tags: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """A SageMaker real-time endpoint (optionally one inference component on it).

        ``instance_type`` / ``variant`` declare the placement for the cost record;
        otherwise it is looked up once with DescribeEndpoint(Config). ``model`` names the
        model served (sent as the body's ``model``, and recorded)."""
        backend = SageMakerBackend(
            endpoint_name,
            inference_component=inference_component,
            region=region,
            session=session,
            config=config,
            instance_type=instance_type,
            variant=variant,
            model=model,
            custom_attributes=custom_attributes,
            runtime_client=runtime_client,
            sagemaker_client=sagemaker_client,
            timeout=timeout,
        )
        return cls(
            backend,
            tracker=tracker,
            tags=tags,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )

    @classmethod
    def bedrock(
        cls,
        model: str = "gpt-oss-120b",
        region: str | None = None,
        session: boto3.Session | None = None,
        config: Config | None = None,
        *,
        runtime_client: BedrockRuntimeClient | None = None,
        bedrock_client: BedrockClient | None = None,
        tracker: TrackerLike | Literal["auto"] | None = "auto",
        tags: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        team_profiles: Mapping[str, str] | Literal["discover"] | None = None,
        team_tag: str = "team",
    ) -> Self:
        """gpt-oss on Bedrock: ``gpt-oss-120b``, ``openai.gpt-oss-20b-1:0``, or an
        application inference profile ARN (its model is looked up for pricing).

        ``team_profiles`` ({team: profile ARN}, or ``"discover"`` to list the profiles the
        stack tagged ``gptoss:team``) sends a call whose ``team_tag`` tag names a team
        through that team's application inference profile."""
        backend = BedrockBackend(
            model,
            region=region,
            session=session,
            config=config,
            runtime_client=runtime_client,
            bedrock_client=bedrock_client,
            timeout=timeout,
            team_tag=team_tag,
        )
        if team_profiles == "discover":
            from gptoss_aws.backends.bedrock import discover_team_profiles

            backend.team_profiles = discover_team_profiles(backend.control, backend.model_id)
        elif team_profiles is not None:
            backend.team_profiles = dict(team_profiles)
        return cls(
            backend,
            tracker=tracker,
            tags=tags,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )

    @classmethod
    def openai_compatible(
        cls,
        base_url: str,
        api_key: str | None = None,
        model: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        price: TokenPrice | None = None,
        tracker: TrackerLike | Literal["auto"] | None = "auto",
        tags: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """Any OpenAI-compatible server, e.g. the container at ``http://127.0.0.1:8080``.
        ``price`` (per token) lets the tracker cost its calls; without it they are
        unpriced."""
        backend = OpenAICompatibleBackend(
            base_url,
            api_key=api_key,
            model=model,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
            headers=headers,
            price=price,
        )
        return cls(
            backend,
            tracker=tracker,
            tags=tags,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )

    # -- AWS's OpenAI-compatible surfaces (backends/bedrock_mantle.py, bedrock_openai.py,
    # sagemaker_openai.py; the surface table is in sdk/README.md) ------------------------

    @classmethod
    def bedrock_mantle(
        cls,
        model: str = "gpt-oss-120b",
        region: str | None = None,
        api_key: str | Callable[[], str] | None = None,
        project: str | None = None,
        *,
        session: boto3.Session | None = None,
        base_url: str | None = None,
        headers: dict[str, str] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        tracker: TrackerLike | Literal["auto"] | None = "auto",
        tags: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """gpt-oss (or gpt-oss-safeguard) on Bedrock's OpenAI-compatible Mantle endpoint,
        ``https://bedrock-mantle.{region}.api.aws/v1``: Chat Completions and Responses.

        ``api_key`` (a Bedrock API key, or a callable returning one) is sent as a bearer
        token; without it requests are SigV4-signed with the session's credentials.
        ``project`` (a Bedrock project ID, ``proj_...``) goes out as ``OpenAI-Project`` on
        every call and is recorded in each row's ``project`` (``gptoss-aws costs --by
        project``); a call's own ``project=`` overrides both. Priced per token at Bedrock's
        price for the model, region and service tier."""
        from gptoss_aws.backends.bedrock_mantle import BedrockMantleBackend

        backend = BedrockMantleBackend(
            model,
            region=region,
            api_key=api_key,
            project=project,
            session=session,
            base_url=base_url,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
            headers=headers,
        )
        return cls(
            backend, tracker=tracker, tags=tags, max_retries=max_retries, retry_policy=retry_policy
        )

    @classmethod
    def bedrock_openai(
        cls,
        model: str = "gpt-oss-120b",
        region: str | None = None,
        api_key: str | Callable[[], str] | None = None,
        *,
        session: boto3.Session | None = None,
        path_prefix: str = "/openai/v1",
        base_url: str | None = None,
        headers: dict[str, str] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        tracker: TrackerLike | Literal["auto"] | None = "auto",
        tags: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """gpt-oss through bedrock-runtime's OpenAI-compatible Chat Completions path
        (``/openai/v1`` by default; ``path_prefix="/v1"`` for the path AWS's newer page shows).
        SigV4 (signing name ``bedrock``) or a Bedrock API key. Chat only; priced per token as
        Bedrock."""
        from gptoss_aws.backends.bedrock_openai import BedrockOpenAIBackend

        backend = BedrockOpenAIBackend(
            model,
            region=region,
            api_key=api_key,
            session=session,
            path_prefix=path_prefix,
            base_url=base_url,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
            headers=headers,
        )
        return cls(
            backend, tracker=tracker, tags=tags, max_retries=max_retries, retry_policy=retry_policy
        )

    @classmethod
    def sagemaker_openai(
        cls,
        endpoint_name: str,
        region: str | None = None,
        inference_component: str | None = None,
        *,
        session: boto3.Session | None = None,
        instance_type: str | None = None,
        variant: str | None = None,
        model: str | None = None,
        endpoint_url: str | None = None,
        token_expires_s: int = 43200,
        sagemaker_client: SageMakerClient | None = None,
        headers: dict[str, str] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        tracker: TrackerLike | Literal["auto"] | None = "auto",
        tags: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """A SageMaker endpoint (or one inference component) through SageMaker's
        OpenAI-compatible route, ``.../endpoints/{name}[/inference-components/{ic}]/openai/v1``,
        with a bearer token minted locally from the session's credentials (re-minted before
        ``token_expires_s``, at most 12 hours). ``endpoint_url`` replaces
        ``https://runtime.sagemaker.{region}.amazonaws.com``. Costed by instance-hours, with
        the placement resolved as ``GptOss.sagemaker`` does. Chat only: Responses go through
        ``GptOss.sagemaker``."""
        from gptoss_aws.backends.sagemaker_openai import SageMakerOpenAIBackend

        backend = SageMakerOpenAIBackend(
            endpoint_name,
            inference_component=inference_component,
            region=region,
            session=session,
            instance_type=instance_type,
            variant=variant,
            model=model,
            endpoint_url=endpoint_url,
            token_expires_s=token_expires_s,
            sagemaker_client=sagemaker_client,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
            headers=headers,
        )
        return cls(
            backend, tracker=tracker, tags=tags, max_retries=max_retries, retry_policy=retry_policy
        )

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Self:
        """A copy with other retry, timeout or default-tag settings; connections shared.
        ``tags`` are merged over this client's."""
        policy = retry_policy or self.retry_policy
        return type(self)(
            self.backend,
            tracker=self.tracker,
            tags={**self.tags, **(tags or {})},
            max_retries=max_retries if max_retries is not None else policy.max_retries,
            timeout=timeout,
            retry_policy=policy,
        )


class GptOss(_ClientBase):
    """The synchronous client."""

    chat: Chat
    responses: Responses

    def _attach_resources(self) -> None:
        self.chat = Chat(self)
        self.responses = Responses(self)

    def openai(self, *, project: str | None = None) -> OpenAI:
        """openai-python's own ``openai.OpenAI``, every call of which this client makes and
        tracks (``gptoss_aws.openai_client``; needs the ``openai`` extra)."""
        from gptoss_aws.openai_wrapper import openai_client

        return openai_client(self, project=project)

    def close(self) -> None:
        """Close the HTTP connections this client opened (shared with its copies)."""
        self.backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncGptOss(_ClientBase):
    """The asynchronous client: same surface, ``await`` the calls, ``async for`` streams."""

    chat: AsyncChat
    responses: AsyncResponses

    def _attach_resources(self) -> None:
        self.chat = AsyncChat(self)
        self.responses = AsyncResponses(self)

    def openai(self, *, project: str | None = None) -> AsyncOpenAI:
        """openai-python's own ``openai.AsyncOpenAI`` over this client
        (``gptoss_aws.async_openai_client``)."""
        from gptoss_aws.openai_wrapper import async_openai_client

        return async_openai_client(self, project=project)

    async def close(self) -> None:
        await self.backend.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

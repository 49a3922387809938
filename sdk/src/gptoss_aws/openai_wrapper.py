"""Bring your own OpenAI code: openai-python's own clients, answered by ours.

    import gptoss_aws

    oa = gptoss_aws.openai_client(endpoint="gptoss-120b", region="us-east-1")
    oa.chat.completions.create(model="gpt-oss-120b", messages=[...])   # an openai.OpenAI

``openai_client()`` / ``async_openai_client()`` return real ``openai.OpenAI`` /
``openai.AsyncOpenAI`` objects from openai-python (the ``gptoss-aws[openai]`` extra), so
code and frameworks written for them run unchanged. Their ``httpx`` transport is
``gptoss_aws._openai_transport``: each request is made by a ``GptOss`` (or ``AsyncGptOss``)
client, so it is signed and sent by our backend (SageMaker SigV4 through boto3, Bedrock,
any other backend), retried by our one retry policy (openai-python's own retries are off,
so attempts never multiply), checked against budgets, and written to the ledger exactly as
the same call made with ``GptOss`` is.

This module is not called ``openai_client``: the function of that name is exported from
``gptoss_aws`` and would shadow the module attribute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from gptoss_aws._openai_transport import ERROR_EXTENSION, AsyncGptOssTransport, GptOssTransport
from gptoss_aws.errors import ConfigurationError, GptOssError

if TYPE_CHECKING:
    import openai

    from gptoss_aws.client import AsyncGptOss, GptOss

# openai-python needs an absolute base URL; nothing is ever sent to it (the transport answers
# in process). ".invalid" is reserved for names that must never resolve (RFC 2606).
BASE_URL = "http://gptoss-aws.invalid/v1"
_EXTRA = 'openai_client() needs openai-python: pip install "gptoss-aws[openai]"'


def _check_openai() -> None:
    try:
        import openai  # noqa: F401
    except ImportError as exc:  # the optional extra is missing
        raise ImportError(_EXTRA) from exc


def _check_one_source(name: str, client: object, constructor: dict[str, Any]) -> None:
    if client is not None and constructor:
        raise ConfigurationError(
            f"give {name}() a client or constructor arguments, not both: {sorted(constructor)}"
        )


def _build(cls: type[GptOss] | type[AsyncGptOss], constructor: dict[str, Any]) -> Any:
    """A client from one constructor's arguments: ``endpoint=`` (SageMaker), ``bedrock=``
    (a Bedrock model) or ``base_url=`` (an OpenAI-compatible server), the rest passed on."""
    chosen = [key for key in ("endpoint", "bedrock", "base_url") if key in constructor]
    if len(chosen) != 1:
        raise ConfigurationError(
            "openai_client() needs a client or exactly one of endpoint= (a SageMaker "
            "endpoint), bedrock= (a Bedrock model) or base_url= (an OpenAI-compatible "
            f"server); got {', '.join(chosen) or 'none'}. Any other constructor, e.g. "
            "GptOss.bedrock_mantle(...), works as openai_client(client)"
        )
    args = dict(constructor)
    if "endpoint" in args:
        return cls.sagemaker(args.pop("endpoint"), **args)
    if "bedrock" in args:
        return cls.bedrock(args.pop("bedrock"), **args)
    return cls.openai_compatible(args.pop("base_url"), **args)


def openai_client(
    client: GptOss | None = None, *, project: str | None = None, **constructor: Any
) -> openai.OpenAI:
    """An ``openai.OpenAI`` whose every call is made, and tracked, by ``client``.

    Give a ``GptOss`` client, or the arguments of one of its constructors: ``endpoint=``
    (``GptOss.sagemaker``), ``bedrock=`` (``GptOss.bedrock``) or ``base_url=``
    (``GptOss.openai_compatible``), plus their keywords (``region=``, ``tracker=``,
    ``tags=``...). ``project`` is sent as ``OpenAI-Project`` on every call and recorded (on
    Bedrock it is the project); ``OPENAI_PROJECT_ID`` / ``OPENAI_ORG_ID`` from the
    environment are not picked up, as they name an OpenAI account's, not this one's.

    Serves ``chat.completions.create`` (streamed or not, tools, ``reasoning_effort``),
    ``responses.create`` when ``client`` has a Responses API, and ``models.list``. Per-call
    ``metadata={...}`` becomes the ledger row's tags. Errors are openai-python's classes
    (a hard budget's refusal is ``openai.APIStatusError`` with status 402 and code
    ``budget_exceeded``); ``gptoss_error(exc)`` returns the exception our client raised.
    """
    from gptoss_aws.client import GptOss

    _check_openai()
    import openai

    _check_one_source("openai_client", client, constructor)
    gpt: GptOss = client if client is not None else _build(GptOss, constructor)
    oa = openai.OpenAI(
        base_url=BASE_URL,
        api_key="not-used",  # our backend signs; openai-python's Authorization is dropped
        max_retries=0,  # our client already applied its retry policy
        timeout=gpt.timeout,
        project=project,
        http_client=httpx.Client(transport=GptOssTransport(gpt), base_url=BASE_URL),
    )
    oa.project, oa.organization = project, None
    return oa


def async_openai_client(
    client: AsyncGptOss | None = None, *, project: str | None = None, **constructor: Any
) -> openai.AsyncOpenAI:
    """The async twin of ``openai_client``: an ``openai.AsyncOpenAI`` served by an
    ``AsyncGptOss`` client (or one built from constructor arguments)."""
    from gptoss_aws.client import AsyncGptOss

    _check_openai()
    import openai

    _check_one_source("async_openai_client", client, constructor)
    gpt: AsyncGptOss = client if client is not None else _build(AsyncGptOss, constructor)
    oa = openai.AsyncOpenAI(
        base_url=BASE_URL,
        api_key="not-used",
        max_retries=0,
        timeout=gpt.timeout,
        project=project,
        http_client=httpx.AsyncClient(transport=AsyncGptOssTransport(gpt), base_url=BASE_URL),
    )
    oa.project, oa.organization = project, None
    return oa


def gptoss_error(exc: BaseException) -> GptOssError | None:
    """The exception our client raised behind an openai-python exception, or None.

    A status error carries it on its response (``exc.response.extensions``); a connection
    error or timeout in its chain (``__cause__``)."""
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        found = response.extensions.get(ERROR_EXTENSION)
        if isinstance(found, GptOssError):
            return found
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, GptOssError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None

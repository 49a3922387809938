"""gpt-oss through bedrock-runtime's OpenAI-compatible Chat Completions path.

AWS's pages disagree on the path, so it is a parameter (``path_prefix``):

* "Invoke a model with the OpenAI Chat Completions API"
  (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-chat-completions.html):
  "base_url — prefix the Amazon Bedrock runtime endpoint in the format /openai/v1:
  https://${bedrock-runtime-endpoint}/openai/v1", example
  ``base_url="https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1"`` with
  ``model="openai.gpt-oss-20b-1:0"``; the "Responses API" page's table agrees
  ("bedrock-runtime (recommended) | https://bedrock-runtime.{region}.amazonaws.com/openai/v1").
  This is the default, ``/openai/v1``.
* "Inference using Chat Completions API"
  (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-chat-completions-mantle.html):
  "bedrock-runtime | https://bedrock-runtime.{region}.amazonaws.com/v1/chat/completions | AWS
  credentials (SigV4) or Amazon Bedrock API key" (no ``/openai``): ``path_prefix="/v1"``.

Which one a region accepts is NOT CONFIRMED without a live call.

Auth: "You can authenticate with either your AWS credentials or with an Amazon Bedrock API
key" (inference-chat-completions). SigV4's signing name is ``bedrock``, botocore's for
bedrock-runtime. Model ids are the runtime ones, ``openai.gpt-oss-120b-1:0`` and
``openai.gpt-oss-20b-1:0`` ("Model ID openai.gpt-oss-20b-1:0 openai.gpt-oss-120b-1:0",
model-parameters-openai). Chat only: "Responses API access to GPT OSS models" is Mantle-only
(inference-responses-api), so Responses is refused with a pointer to ``GptOss.bedrock_mantle``.
Priced per token as the Bedrock backend (same model, region and tier: the same rows).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends.base import DEFAULT_TIMEOUT, ChatCompletionsOnly, Target
from gptoss_aws.backends.bedrock_mantle import (
    RUNTIME_SUFFIX,
    ServedTierMixin,
    aws_auth,
    resolve_region,
)
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.errors import ConfigurationError
from gptoss_facts.models import ALL_MODELS, get_any_model

if TYPE_CHECKING:
    import boto3

RUNTIME_SIGNING_NAME = "bedrock"  # botocore's signingName for bedrock-runtime
DEFAULT_PATH_PREFIX = "/openai/v1"
PATH_PREFIXES = ("/openai/v1", "/v1")  # the two AWS pages' paths (module docstring)
RESPONSES_REFUSAL = (
    "bedrock-runtime's OpenAI-compatible path serves Chat Completions only for gpt-oss: AWS "
    "says Responses API access to GPT OSS models is Mantle-only (Bedrock user guide, "
    "'Responses API'). Use GptOss.bedrock_mantle(...) for client.responses.create(...)."
)


def runtime_model_id(model: str) -> tuple[str, str]:
    """(bedrock-runtime model id, short name) for any name of gpt-oss or gpt-oss-safeguard."""
    for candidate in (model, model + RUNTIME_SUFFIX):
        try:
            spec = get_any_model(candidate)
        except KeyError:
            continue
        return spec.bedrock_model_id, spec.name
    known = ", ".join(f"{s.name} ({s.bedrock_model_id})" for s in ALL_MODELS.values())
    raise ConfigurationError(f"unknown Bedrock model {model!r}: use one of {known}")


class BedrockOpenAIBackend(ChatCompletionsOnly, ServedTierMixin):
    name = "bedrock_openai"
    cost_basis = BackendCostBasis.PER_TOKEN
    telemetry_provider = "aws.bedrock"
    title = "Bedrock runtime (OpenAI Chat Completions)"
    cli_flag, cli_metavar = "--bedrock-openai", "MODEL"
    cli_help = "gpt-oss on bedrock-runtime's OpenAI-compatible Chat Completions path"
    responses_hint = RESPONSES_REFUSAL

    def __init__(
        self,
        model: str = "gpt-oss-120b",
        *,
        region: str | None = None,
        api_key: str | Callable[[], str] | None = None,
        session: boto3.Session | None = None,
        path_prefix: str = DEFAULT_PATH_PREFIX,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        from gptoss_aws.backends._aws import make_session
        from gptoss_aws.backends._aws import resolve_region as known_region

        if path_prefix not in PATH_PREFIXES:
            raise ConfigurationError(
                f"path_prefix must be one of {', '.join(PATH_PREFIXES)} (the two paths AWS's "
                f"pages give), got {path_prefix!r}"
            )
        self.model_id, self.model_name = runtime_model_id(model)
        name = resolve_region(region, session)
        self.region = known_region(make_session(session, name), name, "bedrock-runtime")
        self.path_prefix = path_prefix
        root = base_url or f"https://bedrock-runtime.{self.region}.amazonaws.com"
        super().__init__(
            root.rstrip("/") + path_prefix,
            model=self.model_id,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
            headers=headers,
            auth=aws_auth(api_key, RUNTIME_SIGNING_NAME, self.region, session),
        )

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> BedrockOpenAIBackend:
        return cls(value, region=args.region, api_key=args.api_key, timeout=args.timeout)

    def target(self) -> Target:
        return Target(
            backend=self.name, model=self.model_name, model_id=self.model_id, region=self.region
        )

    def check(self, request: ChatRequest) -> None:
        if request.model is not None and runtime_model_id(request.model)[0] != self.model_id:
            raise ConfigurationError(
                f"this client calls {self.model_id}; make another client for {request.model}"
            )
        if request.project not in (None, "default"):
            # "On the bedrock-runtime endpoint, you can only use the default project"
            # (Bedrock user guide, Projects).
            raise ConfigurationError(
                "bedrock-runtime serves only the account's default project; use "
                "GptOss.bedrock_mantle(..., project=...) to attribute calls to a project"
            )

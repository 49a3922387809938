r"""gpt-oss on Amazon Bedrock, through Converse and ConverseStream.

Why Converse rather than InvokeModel:

* Reasoning arrives as separate ``reasoningContent`` blocks. InvokeModel returns the
  OpenAI body with the reasoning wrapped in ``<reasoning>`` tags inside the text, which a
  stream would have to find across arbitrary chunk boundaries.
* Usage comes as structured ``inputTokens`` / ``outputTokens`` (in the final ``metadata``
  event when streaming): exactly what Bedrock bills, reasoning included in the output.
* Tools are structured both ways (``toolConfig`` / ``toolUse`` / ``toolResult``), and the
  stream shape is the same for every Bedrock model, documented and typed in botocore.
* It costs nothing extra: the IAM action is still ``bedrock:InvokeModel`` (Converse has
  no action of its own), and application inference profile ARNs work as ``modelId``.

What it takes: OpenAI messages are converted (``system`` and ``developer`` become the
system prompt; ``tool`` messages become ``toolResult`` blocks; consecutive messages of
one role are merged, as Converse requires alternation), ``reasoning_effort`` goes in
``additionalModelRequestFields`` (as does ``extra_body``), and an assistant's earlier
reasoning is not sent back (Bedrock can reject ``reasoningContent`` in the input).

Service tiers and attribution (botocore's Converse shape): ``service_tier`` goes out as
``serviceTier: {"type": "default" | "flex" | "priority" | "reserved"}`` and the tier AWS
served the call at comes back in the response's (or the stream's ``metadata`` event's)
``serviceTier``; it rides on the usage (``usage.service_tier``) to the tracker, which prices
the call at that tier. The call's tags go out as ``requestMetadata`` (up to 16 pairs, keys
1-256 and values 0-256 characters of ``[a-zA-Z0-9\s:_@$#=/+,-.]``; tags outside that are
kept in the ledger and left out of the request, with a warning), so model invocation logs
carry them: AWS's cost-management guidance for per-request attribution, since Cost Explorer
and CUR hold no per-request rows. A project goes out as ``projectIdentifier``.

Bedrock does not report how many of the output tokens were reasoning. Cost does not
depend on it (all output tokens have one price), but rather than show 0 (LiteLLM #13300)
``usage.reasoning_tokens`` is estimated from the reasoning text at about four bytes per
token, capped at the output tokens, and the usage carries
``reasoning_tokens_estimated=True``.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

from gptoss_aws._bedrock_arn import (
    APPLICATION_INFERENCE_PROFILE,
    FOUNDATION_MODEL,
    INFERENCE_PROFILE,
    split_arn,
)
from gptoss_aws.backends._aws import AwsBackend, map_aws_error
from gptoss_aws.backends._converse_request import converse_request
from gptoss_aws.backends._converse_response import (
    ConverseChunkStream,
    ConverseStreamConverter,
    parse_converse,
    request_id,
)
from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends.base import DEFAULT_TIMEOUT, BackendResult, ChunkStream, Target
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.models import MODELS, get_model

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

log = logging.getLogger(__name__)


# ---- which model -----------------------------------------------------------------------


def parse_model(model: str) -> tuple[str, str | None]:
    """(modelId to send, short model name or None when a profile must be looked up)."""
    if model.startswith("arn:"):
        arn = split_arn(model)
        if arn is not None and arn.kind == FOUNDATION_MODEL:
            return model, _known(arn.resource_id, model)
        if arn is not None and arn.kind in (APPLICATION_INFERENCE_PROFILE, INFERENCE_PROFILE):
            return model, None
        raise ConfigurationError(f"unsupported Bedrock ARN {model!r}")
    for spec in MODELS.values():
        if model in (spec.name, spec.hub_id):
            return spec.bedrock_model_id, spec.name
    return model, _known(model, model)


def _known(model_id: str, given: str) -> str:
    for spec in MODELS.values():
        # Also geography-prefixed ids of cross-region profiles, e.g. "us.openai.gpt-oss-...".
        if model_id == spec.bedrock_model_id or model_id.endswith("." + spec.bedrock_model_id):
            return spec.name
    ids = ", ".join(s.bedrock_model_id for s in MODELS.values())
    raise ConfigurationError(
        f"unknown Bedrock model {given!r}: use gpt-oss-120b, gpt-oss-20b, {ids}, "
        "or an application inference profile ARN"
    )


def _model_from_profile(arn: str, bedrock: BedrockClient) -> str:
    """Short name of the model an inference profile points to (needed to price it)."""
    # The pricing package owns this lookup (and caches it per process).
    from gptoss_aws.pricing.catalog import resolve_inference_profile

    try:
        resolved = resolve_inference_profile(arn, bedrock)
    except Exception as exc:
        raise map_aws_error(exc, "bedrock") from exc
    try:
        return get_model(resolved).name
    except KeyError:
        return _known(resolved, arn)


def discover_team_profiles(
    bedrock: Any, model_id: str, tag_key: str = "gptoss:team"
) -> dict[str, str]:
    """{team: application inference profile ARN} for the profiles that copy ``model_id``
    and carry ``tag_key`` (the stack creates one per team, tagged ``gptoss:team``):
    ListInferenceProfiles(typeEquals=APPLICATION), then ListTagsForResource per profile."""
    found: dict[str, str] = {}
    pages = bedrock.get_paginator("list_inference_profiles").paginate(typeEquals="APPLICATION")
    for page in pages:
        for profile in page.get("inferenceProfileSummaries", []):
            arns = [m.get("modelArn", "") for m in profile.get("models", [])]
            if not any(arn.endswith("/" + model_id) for arn in arns):
                continue
            arn = profile["inferenceProfileArn"]
            tags = bedrock.list_tags_for_resource(resourceARN=arn).get("tags", [])
            for tag in tags:
                if tag.get("key") == tag_key and tag.get("value"):
                    found[tag["value"]] = arn
    return found


# ---- the backend ------------------------------------------------------------------------


class BedrockBackend(AwsBackend):
    name = "bedrock"
    cost_basis = BackendCostBasis.PER_TOKEN
    telemetry_provider = "aws.bedrock"  # the GenAI semantic conventions' provider registry
    title = "Bedrock"
    cli_flag, cli_metavar = "--bedrock", "MODEL"
    cli_help = "gpt-oss-120b, gpt-oss-20b, a Bedrock model id or an inference profile ARN"
    runtime_service = "bedrock-runtime"
    control_service = "bedrock"
    # AWS, "Responses API" (https://docs.aws.amazon.com/bedrock/latest/userguide/
    # inference-responses-api.html): "bedrock-mantle (compatibility) | https://bedrock-mantle.
    # {region}.api.aws/v1 | Existing applications and workloads that require Mantle-only
    # support, such as Responses API access to GPT OSS models". Converse has no Responses.
    responses_hint = (
        "Responses is served for gpt-oss only on Bedrock's Mantle endpoint "
        "(bedrock-mantle.{region}.api.aws/v1): use GptOss.bedrock_mantle(...)"
    )

    def __init__(
        self,
        model: str = "gpt-oss-120b",
        *,
        region: str | None = None,
        session: boto3.Session | None = None,
        config: Config | None = None,
        runtime_client: BedrockRuntimeClient | None = None,
        bedrock_client: BedrockClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        team_profiles: Mapping[str, str] | None = None,
        team_tag: str = "team",
    ) -> None:
        self.model_id, self._model_name = parse_model(model)
        # {team: application inference profile ARN}: a call whose ``team_tag`` tag names a
        # team is sent through that team's profile (see ``discover_team_profiles``).
        self.team_profiles = dict(team_profiles or {})
        self.team_tag = team_tag
        self._init_aws(session, region, config, timeout, runtime_client, bedrock_client)
        self._lock = threading.Lock()

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> BedrockBackend:
        return cls(value, region=args.region, timeout=args.timeout)

    @property
    def runtime(self) -> BedrockRuntimeClient:
        return cast("BedrockRuntimeClient", self._client("runtime"))

    @property
    def control(self) -> BedrockClient:
        return cast("BedrockClient", self._client("control"))

    @property
    def model_name(self) -> str:
        """The short model name; for a profile ARN, looked up once (GetInferenceProfile)."""
        with self._lock:
            if self._model_name is None:
                self._model_name = _model_from_profile(self.model_id, self.control)
            return self._model_name

    def target(self) -> Target:
        return Target(
            backend="bedrock", model=self.model_name, model_id=self.model_id, region=self.region
        )

    def check(self, request: ChatRequest) -> None:
        if request.model is not None and parse_model(request.model)[0] != self.model_id:
            raise ConfigurationError(
                f"this client calls {self.model_id}; make another client for {request.model}"
            )
        self._converse(request)  # tools and content convert, or say why

    def _converse(self, request: ChatRequest) -> dict[str, Any]:
        return converse_request(request, self.model_id, self.team_profiles, self.team_tag)

    def complete(self, request: ChatRequest) -> BackendResult:
        params = self._converse(request)
        try:
            response = self.runtime.converse(**params)
        except Exception as exc:
            raise map_aws_error(exc, "bedrock") from exc
        return parse_converse(response, self.model_id)

    def open_stream(self, request: ChatRequest) -> ChunkStream:
        params = self._converse(request)
        try:
            response = self.runtime.converse_stream(**params)
        except Exception as exc:
            raise map_aws_error(exc, "bedrock") from exc
        converter = ConverseStreamConverter(request_id(response), self.model_id)
        return ConverseChunkStream(response["stream"], converter)

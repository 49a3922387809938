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
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Self, cast

import boto3
from botocore.config import Config

from gptoss_aws._bedrock_arn import (
    APPLICATION_INFERENCE_PROFILE,
    FOUNDATION_MODEL,
    INFERENCE_PROFILE,
    split_arn,
)
from gptoss_aws._token_estimates import estimate_reasoning_share
from gptoss_aws.backends._aws import AwsBackend, map_aws_error
from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends.base import DEFAULT_TIMEOUT, BackendResult, ChunkStream, Target
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.models import MODELS, get_model
from gptoss_aws.pricing.regions import SERVICE_TIERS, canonical_tier
from gptoss_aws.streaming._accumulate import arguments_json
from gptoss_aws.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    ToolCall,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
# RequestMetadata (botocore bedrock-runtime service model): 1-16 pairs; keys 1-256, values
# 0-256 characters of this set.
METADATA_PATTERN = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}$")
METADATA_MAX_PAIRS = 16

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


# ---- OpenAI request -> Converse -----------------------------------------------------------


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ConfigurationError(f"Bedrock gpt-oss takes text only, not {kind!r} parts")
        return "".join(parts)
    raise ConfigurationError(f"message content must be text, got {type(content).__name__}")


def converse_messages(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages -> (Converse system blocks, Converse messages)."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        blocks: list[dict[str, Any]] = []
        if role in ("system", "developer"):
            text = _text_of(message.get("content"))
            if text:
                system.append({"text": text})
            continue
        if role == "tool":
            converse_role = "user"
            blocks.append(
                {
                    "toolResult": {
                        "toolUseId": str(message.get("tool_call_id", "")),
                        "content": [{"text": _text_of(message.get("content")) or " "}],
                    }
                }
            )
        else:
            converse_role = role
            text = _text_of(message.get("content"))
            if text:
                blocks.append({"text": text})
            for call in message.get("tool_calls") or ():
                fn = call.get("function") or {}
                arguments = fn.get("arguments") or "{}"
                try:
                    parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
                except ValueError as exc:
                    raise ConfigurationError(
                        f"tool call {call.get('id')!r} has arguments that are not JSON"
                    ) from exc
                blocks.append(
                    {"toolUse": {"toolUseId": call["id"], "name": fn["name"], "input": parsed}}
                )
        if not blocks:
            continue
        if out and out[-1]["role"] == converse_role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": converse_role, "content": blocks})
    return system, out


def converse_tool_config(tools: list[dict[str, Any]], tool_choice: Any) -> dict[str, Any]:
    specs = []
    for tool in tools:
        fn = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(fn, dict) or not fn.get("name"):
            raise ConfigurationError(f"only function tools are supported, got {tool!r}")
        spec: dict[str, Any] = {
            "name": fn["name"],
            "inputSchema": {"json": fn.get("parameters") or {"type": "object", "properties": {}}},
        }
        if fn.get("description"):
            spec["description"] = fn["description"]
        specs.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": specs}
    if tool_choice is None:
        pass  # Converse's default is auto
    elif tool_choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif tool_choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(tool_choice, dict) and isinstance(tool_choice.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": tool_choice["function"]["name"]}}
    else:
        raise ConfigurationError(
            f"tool_choice {tool_choice!r} is not available on Bedrock Converse: use 'auto', "
            "'required' or a named function (or leave tools out instead of 'none')"
        )
    return config


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


def converse_request(
    request: ChatRequest,
    model_id: str,
    team_profiles: Mapping[str, str] | None = None,
    team_tag: str = "team",
) -> dict[str, Any]:
    system, messages = converse_messages(request.messages)
    team = (request.metadata or {}).get(team_tag)
    if team_profiles and team is not None and team in team_profiles:
        # The call's team has its own application inference profile: calling through it puts
        # the tokens on the team's cost-allocation tags in the bill (and reconcile matches them).
        model_id = team_profiles[team]
    params: dict[str, Any] = {"modelId": model_id, "messages": messages}
    if system:
        params["system"] = system
    inference: dict[str, Any] = {}
    if request.max_tokens is not None:
        inference["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if inference:
        params["inferenceConfig"] = inference
    extra: dict[str, Any] = {}
    if request.reasoning_effort is not None:
        extra["reasoning_effort"] = request.reasoning_effort
    extra.update(request.extra_body or {})
    if extra:
        params["additionalModelRequestFields"] = extra
    if request.tools:
        params["toolConfig"] = converse_tool_config(request.tools, request.tool_choice)
    if request.service_tier is not None:
        params["serviceTier"] = {"type": SERVICE_TIERS[request.service_tier]}
    if request.project is not None:
        params["projectIdentifier"] = request.project
    metadata = request_metadata(request.metadata or {})
    if metadata:
        params["requestMetadata"] = metadata
    return params


def request_metadata(tags: dict[str, str]) -> dict[str, str]:
    """The tags Converse's requestMetadata accepts (see the module doc), in sorted order."""
    kept: dict[str, str] = {}
    left_out: list[str] = []
    for key, value in sorted(tags.items()):
        fits = key and METADATA_PATTERN.match(key) and METADATA_PATTERN.match(value)
        if fits and len(kept) < METADATA_MAX_PAIRS:
            kept[key] = value
        else:
            left_out.append(key)
    if left_out:
        log.warning(
            "tags %s are recorded in the ledger but not sent as Bedrock requestMetadata "
            "(at most %d pairs of [a-zA-Z0-9 :_@$#=/+,-.], keys 1-256 and values 0-256 long)",
            left_out,
            METADATA_MAX_PAIRS,
        )
    return kept


def served_tier(response: Any) -> str | None:
    """Our name for the tier AWS reports serving the call at, or None if it says nothing."""
    tier = (response.get("serviceTier") or {}).get("type") if response else None
    return canonical_tier(tier) if tier else None


# ---- Converse -> OpenAI shapes -----------------------------------------------------------


def converse_usage(usage: Any, reasoning_text_bytes: int, tier: str | None = None) -> Usage:
    usage = usage or {}
    output = int(usage.get("outputTokens") or 0)
    reasoning = estimate_reasoning_share(reasoning_text_bytes, output)
    fields: dict[str, Any] = {
        "prompt_tokens": int(usage.get("inputTokens") or 0),
        "completion_tokens": output,
        "reasoning_tokens": reasoning,
        "reasoning_tokens_estimated": True,
    }
    if tier is not None:
        fields["service_tier"] = tier
    return Usage.model_validate(fields)


def _request_id(response: Any) -> str:
    meta = response.get("ResponseMetadata") or {}
    return f"bedrock-{meta.get('RequestId') or 'unknown'}"


def parse_converse(response: Any, model_id: str) -> BackendResult:
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if "text" in block:
            texts.append(block["text"])
        elif "reasoningContent" in block:
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
            if text:
                reasoning.append(text)
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(
                ToolCall(
                    id=use["toolUseId"],
                    function=FunctionCall(
                        name=use["name"], arguments=arguments_json(use.get("input", {}))
                    ),
                )
            )
    reasoning_text = "".join(reasoning)
    message = ChatMessage(
        content="".join(texts) if texts or not calls else None,
        reasoning=reasoning_text or None,
        tool_calls=calls or None,
    )
    stop = response.get("stopReason")
    tier = served_tier(response)
    completion = ChatCompletion(
        id=_request_id(response),
        created=int(time.time()),
        model=model_id,
        choices=[Choice(message=message, finish_reason=STOP_REASONS.get(stop, stop))],
        usage=converse_usage(response.get("usage"), len(reasoning_text.encode()), tier),
        backend="bedrock",
        service_tier=tier,
    )
    return BackendResult(completion, usage_reported="usage" in response)


class ConverseStreamConverter:
    """ConverseStream events -> OpenAI-shaped chunks (one per event that carries any)."""

    def __init__(self, chunk_id: str, model_id: str) -> None:
        self.chunk_id = chunk_id
        self.model_id = model_id
        self.created = int(time.time())
        self._tool_index: dict[int, int] = {}  # contentBlockIndex -> OpenAI tool index
        self._reasoning_bytes = 0

    def _chunk(self, delta: ChoiceDelta | None, **fields: Any) -> ChatCompletionChunk:
        choices = [] if delta is None else [ChunkChoice(delta=delta, **fields)]
        return ChatCompletionChunk(
            id=self.chunk_id, created=self.created, model=self.model_id, choices=choices
        )

    def convert(self, event: dict[str, Any]) -> ChatCompletionChunk | None:
        if "messageStart" in event:
            return self._chunk(ChoiceDelta(role="assistant", content=""))
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if use is None:
                return None
            index = self._tool_index.setdefault(
                start.get("contentBlockIndex", 0), len(self._tool_index)
            )
            return self._chunk(
                ChoiceDelta(
                    tool_calls=[
                        ToolCallDelta(
                            index=index,
                            id=use.get("toolUseId"),
                            type="function",
                            function={"name": use.get("name", ""), "arguments": ""},
                        )
                    ]
                )
            )
        if "contentBlockDelta" in event:
            body = event["contentBlockDelta"]
            delta = body.get("delta") or {}
            if "text" in delta:
                return self._chunk(ChoiceDelta(content=delta["text"]))
            if "reasoningContent" in delta:
                text = delta["reasoningContent"].get("text")
                if not text:
                    return None  # a signature or redacted block: nothing to show
                self._reasoning_bytes += len(text.encode())
                return self._chunk(ChoiceDelta(reasoning=text))
            if "toolUse" in delta:
                index = self._tool_index.setdefault(
                    body.get("contentBlockIndex", 0), len(self._tool_index)
                )
                fragment = delta["toolUse"].get("input", "")
                return self._chunk(
                    ChoiceDelta(
                        tool_calls=[ToolCallDelta(index=index, function={"arguments": fragment})]
                    )
                )
            return None
        if "messageStop" in event:
            stop = event["messageStop"].get("stopReason")
            return self._chunk(ChoiceDelta(), finish_reason=STOP_REASONS.get(stop, stop))
        if "metadata" in event:
            chunk = self._chunk(None)
            tier = served_tier(event["metadata"])
            chunk.usage = converse_usage(
                event["metadata"].get("usage"), self._reasoning_bytes, tier
            )
            if tier is not None:
                chunk.service_tier = tier
            return chunk
        return None


class _ConverseChunkStream:
    def __init__(self, events: Any, converter: ConverseStreamConverter) -> None:
        self._events = events
        self._iter: Iterator[dict[str, Any]] = iter(events)
        self._converter = converter
        # Bedrock hands us parsed events, not bytes: count events, which is all the retry
        # layer asks (did anything arrive?).
        self.received_bytes = 0

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> ChatCompletionChunk:
        while True:
            try:
                event = next(self._iter)
            except StopIteration:
                raise
            except Exception as exc:
                raise map_aws_error(exc, "bedrock") from exc
            self.received_bytes += 1
            chunk = self._converter.convert(event)
            if chunk is not None:
                return chunk

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


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
        converter = ConverseStreamConverter(_request_id(response), self.model_id)
        return _ConverseChunkStream(response["stream"], converter)

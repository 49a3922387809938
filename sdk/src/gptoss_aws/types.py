"""Typed responses and the record of one call, shared by the client, ledger and reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _known_backend(name: str) -> str:
    # Imported here: the registry imports the backend modules, which import this one.
    from gptoss_aws.backends.registry import check_backend_name

    return check_backend_name(name)


# The name a backend registered under (gptoss_aws.backends.registry): "sagemaker",
# "bedrock", "openai", or whichever backend module is added.
Backend = Annotated[str, AfterValidator(_known_backend)]
# How a call's cost was found: a per-token price (Bedrock, or a user price for an
# OpenAI-compatible server); a share of instance-hours allocated later over a window
# (SageMaker, see the cost module); "pending": a per-token call whose AWS price was not known
# when it ran, recorded with its tokens and priced later (``gptoss-aws prices refresh``); or
# no price at all (an OpenAI-compatible server with none given), which reports always show.
CostBasis = Literal["per_token", "instance_hours", "unpriced", "pending"]
CallStatus = Literal["reserved", "ok", "error", "aborted"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)


class Usage(_Model):
    """Token counts. ``completion_tokens`` includes ``reasoning_tokens`` (as in OpenAI's
    ``completion_tokens_details.reasoning_tokens`` and Bedrock's outputTokens)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Cost(_Model):
    """What a call cost, or why it has no figure yet.

    ``usd`` is None for SageMaker calls until a report allocates the endpoint's
    instance-hours over a window, for pending calls (their price is not known yet: ``fix``
    names the command that fills it) and for unpriced calls; it is never a silent 0.
    """

    usd: Decimal | None
    basis: CostBasis
    price_source: str | None = None
    input_usd: Decimal | None = None
    output_usd: Decimal | None = None
    fix: str | None = None  # for a pending cost: the one command that fills its price


class FunctionCall(_Model):
    name: str
    arguments: str  # JSON text, as the model wrote it


class ToolCall(_Model):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Model):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(_Model):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(_Model):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    cost: Cost | None = None
    backend: Backend
    call_id: str | None = None  # the ledger row of this call
    service_tier: str | None = None  # the Bedrock tier that served the call, as AWS reported


class ToolCallDelta(_Model):
    index: int = 0
    id: str | None = None
    type: Literal["function"] | None = None
    function: dict[str, Any] | None = None  # {"name"?: str, "arguments"?: str}


class ChoiceDelta(_Model):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(_Model):
    index: int = 0
    delta: ChoiceDelta
    finish_reason: str | None = None


class ChatCompletionChunk(_Model):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
    cost: Cost | None = None  # on the last chunk, once usage is known
    service_tier: str | None = None  # on the usage chunk: the Bedrock tier that served it


def _now() -> datetime:
    return datetime.now(UTC)


class CallRecord(_Model):
    """One row of the ledger: everything needed to price, allocate and report a call."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = Field(default_factory=_now)
    ended_at: datetime | None = None
    backend: Backend
    model: str  # short model name, e.g. gpt-oss-120b
    model_id: str | None = None  # Bedrock model id or inference profile ARN
    endpoint: str | None = None  # SageMaker endpoint name or server base URL
    variant: str | None = None
    inference_component: str | None = None
    instance_type: str | None = None
    region: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    # "reported" by the backend, or "estimated" when a stream broke before its usage
    # chunk and the tokens were counted from what arrived.
    usage_source: Literal["reported", "estimated"] = "reported"
    latency_ms: float | None = None
    ttft_ms: float | None = None
    stream: bool = False
    status: CallStatus = "reserved"
    error_kind: str | None = None
    cost_usd: Decimal | None = None
    cost_basis: CostBasis = "unpriced"
    price_source: str | None = None
    reserved_usd: Decimal | None = None
    reserved_tokens: int | None = None
    process_id: int | None = None  # who holds a reservation, for reconciliation
    # Bedrock service tier (standard, flex, priority, reserved): the one AWS reported serving
    # the call at (what it is priced at), and the one asked for.
    service_tier: str | None = None
    service_tier_requested: str | None = None
    project: str | None = None  # Bedrock projectIdentifier the call was sent with


# The Responses API's types live in their own module and are part of this one's surface.
from gptoss_aws._responses_types import (  # noqa: E402 (they build on the types above)
    FunctionCallItem,
    OtherOutputItem,
    OutputItem,
    OutputMessage,
    OutputText,
    ReasoningItem,
    ReasoningText,
    Response,
    ResponseStreamEvent,
    ResponseUsage,
)

__all__ = [
    "Backend",
    "CallRecord",
    "CallStatus",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "Cost",
    "CostBasis",
    "FunctionCall",
    "FunctionCallItem",
    "OtherOutputItem",
    "OutputItem",
    "OutputMessage",
    "OutputText",
    "ReasoningItem",
    "ReasoningText",
    "Response",
    "ResponseStreamEvent",
    "ResponseUsage",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

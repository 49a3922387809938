"""Bedrock Converse response and ConverseStream events -> OpenAI chat shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Self

from gptoss_aws._token_estimates import estimate_reasoning_share
from gptoss_aws.backends._aws import map_aws_error
from gptoss_aws.backends.base import BackendResult
from gptoss_aws.pricing.regions import canonical_tier
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

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


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


def request_id(response: Any) -> str:
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
        id=request_id(response),
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


class ConverseChunkStream:
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

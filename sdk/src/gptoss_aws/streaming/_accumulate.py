"""Merge streamed chunk deltas into the final message, and count what arrived.

The counts matter when a stream ends without its usage chunk (the caller broke out of
the loop, or the connection died): the call must still be recorded with the tokens that
were produced: ``gptoss_aws._token_estimates.estimate_output_tokens`` (the larger of one
token per non-empty delta and one per three UTF-8 bytes; why there) turns them into a
conservative figure for the cost record, never a silent zero.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from gptoss_aws._token_estimates import estimate_output_tokens
from gptoss_aws.types import (
    Backend,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    FunctionCall,
    ToolCall,
    Usage,
)


@dataclass
class _ToolCallParts:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _ChoiceParts:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCallParts] = field(default_factory=dict)
    finish_reason: str | None = None
    saw_content: bool = False


class ChunkAccumulator:
    """Feed every chunk to ``add``; ``completion()`` builds the message seen so far."""

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None
        self.usage: Usage | None = None
        self._choices: dict[int, _ChoiceParts] = {}
        # For the estimate when usage never arrives.
        self._output_bytes = 0
        self._output_deltas = 0
        self._reasoning_bytes = 0
        self._reasoning_deltas = 0

    @property
    def received_output(self) -> bool:
        """Whether any content, reasoning or tool-call text has arrived (first token)."""
        return self._output_deltas > 0

    def add(self, chunk: ChatCompletionChunk) -> None:
        if self.id is None:
            self.id, self.model, self.created = chunk.id, chunk.model, chunk.created
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            parts = self._choices.setdefault(choice.index, _ChoiceParts())
            delta = choice.delta
            if delta.content is not None:
                parts.saw_content = True
                if delta.content:
                    parts.content.append(delta.content)
                    self._count(delta.content, reasoning=False)
            if delta.reasoning:
                parts.reasoning.append(delta.reasoning)
                self._count(delta.reasoning, reasoning=True)
            for tc in delta.tool_calls or ():
                call = parts.tool_calls.setdefault(tc.index, _ToolCallParts())
                if tc.id:
                    call.id = tc.id
                fn = tc.function or {}
                name = fn.get("name")
                if name:
                    call.name += name
                    self._count(name, reasoning=False)
                arguments = fn.get("arguments")
                if arguments:
                    call.arguments.append(arguments)
                    self._count(arguments, reasoning=False)
            if choice.finish_reason is not None:
                parts.finish_reason = choice.finish_reason

    def _count(self, text: str, *, reasoning: bool) -> None:
        size = len(text.encode("utf-8"))
        self._output_bytes += size
        self._output_deltas += 1
        if reasoning:
            self._reasoning_bytes += size
            self._reasoning_deltas += 1

    def estimated_usage(self, prompt_tokens: int) -> Usage:
        """Usage from what arrived, for a stream whose usage chunk never came."""
        return Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=estimate_output_tokens(self._output_bytes, self._output_deltas),
            reasoning_tokens=estimate_output_tokens(self._reasoning_bytes, self._reasoning_deltas),
        )

    def completion(self, backend: Backend, usage: Usage) -> ChatCompletion:
        choices = [
            Choice(index=index, message=_message(parts), finish_reason=parts.finish_reason)
            for index, parts in sorted(self._choices.items())
        ] or [Choice(index=0, message=ChatMessage(content=None))]
        return ChatCompletion(
            id=self.id or "",
            created=self.created if self.created is not None else int(time.time()),
            model=self.model or "",
            choices=choices,
            usage=usage,
            backend=backend,
        )


def _message(parts: _ChoiceParts) -> ChatMessage:
    tool_calls = [
        ToolCall(
            id=call.id or f"call_{index}",
            function=FunctionCall(name=call.name, arguments="".join(call.arguments)),
        )
        for index, call in sorted(parts.tool_calls.items())
    ] or None
    content: str | None = "".join(parts.content) if parts.saw_content else None
    if not content and tool_calls:
        # vLLM opens every stream with content "", but answers a tool call with content
        # null when not streaming; match the non-streamed shape.
        content = None
    reasoning = "".join(parts.reasoning) or None
    return ChatMessage(content=content, reasoning=reasoning, tool_calls=tool_calls)


def arguments_json(value: object) -> str:
    """Tool-call arguments as JSON text (Bedrock gives a document, OpenAI a string)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

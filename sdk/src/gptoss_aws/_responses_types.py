"""Typed Responses API objects: a ``Response``, its output items and usage, and stream events.

The shapes are OpenAI's (openai-python 2.54.0 ``types/responses``: ``Response``,
``ResponseOutputMessage``, ``ResponseReasoningItem``, ``ResponseFunctionToolCall``,
``ResponseUsage``), as vLLM 0.32.0 and Bedrock's Mantle endpoint send them. Every model
allows unknown fields, and an output item of a type we do not model (web search, MCP, an
item a server adds later) is kept as an ``OtherOutputItem`` with all its fields: servers add
to this API often, and a client that drops what it does not know breaks the next turn.

A ``ResponseStreamEvent`` keeps the event exactly as the server sent it: only ``type`` is a
declared field, everything else stays as sent, so ``event.model_dump(mode="json")`` is the
wire JSON (a proxy re-emits it unchanged); ``event.response`` and ``event.item`` are typed
views of the snapshot and item the event carries.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag

from gptoss_aws.types import Backend, Cost, Usage


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)


# ---- output items --------------------------------------------------------------------------


class OutputText(_Model):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)


class OtherContentPart(_Model):
    """A message content part of a type not modelled here (e.g. ``refusal``), kept as sent."""

    type: str


def _content_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "output_text" if kind == "output_text" else "other"


ContentPart = Annotated[
    Annotated[OutputText, Tag("output_text")] | Annotated[OtherContentPart, Tag("other")],
    Discriminator(_content_tag),
]


class OutputMessage(_Model):
    """The model's answer (harmony's ``final`` channel)."""

    type: Literal["message"] = "message"
    id: str | None = None
    role: str = "assistant"
    status: str | None = None
    content: list[ContentPart] = Field(default_factory=list)


# Part types are plain strings: a server that sends another kind of text part (or a later
# OpenAI type) must not make the whole response unreadable.
class ReasoningText(_Model):
    type: str = "reasoning_text"
    text: str


class SummaryText(_Model):
    type: str = "summary_text"
    text: str


class ReasoningItem(_Model):
    """The model's reasoning (harmony's ``analysis`` channel). vLLM returns the text in
    ``content``; OpenAI may return only ``encrypted_content``. Pass the item back in the next
    turn's ``input`` (OpenAI: "Be sure to include these items in your `input` to the
    Responses API for subsequent turns of a conversation if you are manually managing
    context")."""

    type: Literal["reasoning"] = "reasoning"
    id: str | None = None
    summary: list[SummaryText] = Field(default_factory=list)
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None
    status: str | None = None

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.content or ())


class FunctionCallItem(_Model):
    """A call of one of the request's function tools; answer it with a
    ``{"type": "function_call_output", "call_id": ..., "output": ...}`` input item."""

    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it
    status: str | None = None


class OtherOutputItem(_Model):
    """An output item of a type not modelled here, with every field the server sent."""

    type: str


def _item_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("message", "reasoning", "function_call") else "other"


OutputItem = Annotated[
    Annotated[OutputMessage, Tag("message")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[OtherOutputItem, Tag("other")],
    Discriminator(_item_tag),
]


# ---- usage ---------------------------------------------------------------------------------


class InputTokensDetails(_Model):
    cached_tokens: int = 0


class OutputTokensDetails(_Model):
    reasoning_tokens: int = 0


class ResponseUsage(_Model):
    """OpenAI's Responses usage. ``output_tokens`` includes ``reasoning_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)

    @property
    def reasoning_tokens(self) -> int:
        return self.output_tokens_details.reasoning_tokens

    def to_usage(self) -> Usage:
        """The same counts under the chat names the ledger records."""
        return Usage(
            prompt_tokens=self.input_tokens,
            completion_tokens=self.output_tokens,
            reasoning_tokens=self.output_tokens_details.reasoning_tokens,
        )


# ---- the response --------------------------------------------------------------------------


class Response(_Model):
    """A Responses API answer, plus what the client adds: ``cost``, ``backend`` and the
    ledger row's ``call_id`` (as on ``ChatCompletion``)."""

    id: str = ""
    object: str = "response"
    created_at: int | float = 0
    model: str = ""
    status: str | None = None
    output: list[OutputItem] = Field(default_factory=list)
    usage: ResponseUsage | None = None
    error: Any = None
    incomplete_details: Any = None
    cost: Cost | None = None
    backend: Backend | None = None
    call_id: str | None = None

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of the message items, joined (as
        openai-python's ``Response.output_text``)."""
        return "".join(
            part.text
            for item in self.output
            if isinstance(item, OutputMessage)
            for part in item.content
            if isinstance(part, OutputText)
        )

    @property
    def reasoning_text(self) -> str:
        """The reasoning items' text, joined."""
        return "".join(item.text for item in self.output if isinstance(item, ReasoningItem))

    @property
    def function_calls(self) -> list[FunctionCallItem]:
        return [item for item in self.output if isinstance(item, FunctionCallItem)]


# ---- stream events -------------------------------------------------------------------------

# The events that end a response (openai-python 2.54.0 types/responses); each carries the
# final ``response`` snapshot, with its usage.
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponseStreamEvent(BaseModel):
    """One Responses stream event, exactly as the server sent it.

    ``type`` is the event's name (``response.output_text.delta``, ``response.completed``...);
    the other fields (``delta``, ``item``, ``response``, ``sequence_number``...) are kept as
    sent, reachable as attributes, and ``model_dump(mode="json")`` gives the event's JSON
    back. ``response`` and ``item`` are typed views; on the event that ends the stream
    (``response.completed``) ``response.cost`` and ``response.call_id`` are filled in once
    the call is recorded.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    _response: Response | None = PrivateAttr(default=None)
    _item: Any = PrivateAttr(default=None)

    def _raw(self, name: str) -> Any:
        return (self.__pydantic_extra__ or {}).get(name)

    @property
    def response(self) -> Response | None:
        """The response snapshot of ``response.created`` / ``in_progress`` / ``completed``
        / ``incomplete`` / ``failed``."""
        if self._response is None:
            raw = self._raw("response")
            if isinstance(raw, dict):
                self._response = Response.model_validate(raw)
        return self._response

    @property
    def item(self) -> OutputMessage | ReasoningItem | FunctionCallItem | OtherOutputItem | None:
        """The output item of ``response.output_item.added`` / ``.done``."""
        if self._item is None:
            raw = self._raw("item")
            if isinstance(raw, dict):
                self._item = _ITEM_ADAPTER.validate_python(raw)
        return self._item

    @property
    def delta(self) -> str | None:
        value = self._raw("delta")
        return value if isinstance(value, str) else None

    @property
    def sequence_number(self) -> int | None:
        value = self._raw("sequence_number")
        return value if isinstance(value, int) else None


def _item_adapter() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(OutputItem)


_ITEM_ADAPTER = _item_adapter()

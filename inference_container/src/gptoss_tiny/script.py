"""What the deterministic tiny checkpoints answer, and the usage numbers vLLM reports for it.

Whatever the conversation, greedy decoding of the "chat" checkpoint emits an analysis message
then a final message; the "tool" checkpoint emits an analysis message then one call of
`get_weather`. The "agent" checkpoint replies like "tool", except when the prompt's last
message ends with `AGENT_RESULT_TAIL` (a tool's JSON result whose last value is a string,
such as `{"sky": "sunny"}`): then it answers at once with `AGENT_ANSWER` (no analysis), so
one model runs a whole tool conversation. The texts are short and no token repeats inside a
reply except the harmony header tokens (see gptoss_tiny.program for why that matters).

Known limit: the model recognises the start of its second message by the last token of its
reasoning sitting four tokens back (`...:<|end|><|start|>assistant<|channel|>`). Both reasonings
end in ":" because messages rarely do: if the last message of the prompt ends with ":" the
model skips its analysis message and answers straight away. Keep test prompts from ending so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from gptoss_tiny.tokenizer import harmony_encoding

Kind = Literal["random", "chat", "tool", "agent"]
KINDS: tuple[Kind, ...] = ("random", "chat", "tool", "agent")
ScriptedKind = Literal["chat", "tool", "agent"]
SCRIPTED_KINDS: tuple[ScriptedKind, ...] = ("chat", "tool", "agent")

CHAT_REASONING = "User says hello; reply warmly, for example:"
CHAT_CONTENT = "Hello! How can I help you today?"

TOOL_REASONING = "Need current conditions, so ask the weather service:"
TOOL_NAME = "get_weather"
TOOL_RECIPIENT = f"functions.{TOOL_NAME}"
# Written the way json.dumps prints it: vLLM's non-streaming tool parser re-serialises the
# arguments with json.dumps(json.loads(...)) while streaming passes the raw text through, so
# only this spelling reads the same on both paths.
TOOL_ARGUMENTS = '{"city": "Paris"}'

# The rendered prompt always ends with `<|start|>assistant`, so the model continues from here.
PROMPT_TAIL = "<|start|>assistant"

# The agent model's second script: the one token a tool's result must end with (seen four
# tokens before the first `<|channel|>`: `"}<|end|><|start|>assistant<|channel|>`), and the
# answer it then gives.
AGENT_RESULT_TAIL = '"}'
AGENT_ANSWER = "It is sunny and mild in Paris."
AGENT_ANSWER_TEXT = f"<|channel|>final<|message|>{AGENT_ANSWER}<|return|>"

COMPLETION_TEXT: dict[ScriptedKind, str] = {
    "chat": (
        f"<|channel|>analysis<|message|>{CHAT_REASONING}<|end|>"
        f"<|start|>assistant<|channel|>final<|message|>{CHAT_CONTENT}<|return|>"
    ),
    # The recipient after the channel and ` <|constrain|>json`: the header gpt-oss emits and
    # oss-harmony's parser (used by vLLM's openai tool parser) reads as a function call.
    "tool": (
        f"<|channel|>analysis<|message|>{TOOL_REASONING}<|end|>"
        f"<|start|>assistant<|channel|>commentary to={TOOL_RECIPIENT} <|constrain|>json"
        f"<|message|>{TOOL_ARGUMENTS}<|call|>"
    ),
}
COMPLETION_TEXT["agent"] = COMPLETION_TEXT["tool"]

FINISH_REASON: dict[ScriptedKind, str] = {
    "chat": "stop",
    "tool": "tool_calls",
    "agent": "tool_calls",
}


@dataclass(frozen=True)
class Expected:
    """One scripted reply as the OpenAI-compatible server reports it."""

    kind: ScriptedKind
    text: str
    token_ids: tuple[int, ...]
    reasoning: str
    content: str | None
    tool_name: str | None
    tool_arguments: str | None
    finish_reason: str

    @property
    def completion_tokens(self) -> int:
        # The stop token (<|return|> / <|call|>) is generated, so vLLM counts it.
        return len(self.token_ids)

    @property
    def reasoning_tokens(self) -> int:
        return count_reasoning_tokens(self.token_ids)


def encode(text: str) -> tuple[int, ...]:
    return tuple(harmony_encoding().encode(text, allowed_special="all"))


@functools.cache
def expected(kind: ScriptedKind) -> Expected:
    if kind == "chat":
        return Expected(
            kind=kind,
            text=COMPLETION_TEXT[kind],
            token_ids=encode(COMPLETION_TEXT[kind]),
            reasoning=CHAT_REASONING,
            content=CHAT_CONTENT,
            tool_name=None,
            tool_arguments=None,
            finish_reason=FINISH_REASON[kind],
        )
    if kind in ("tool", "agent"):
        return Expected(
            kind=kind,
            text=COMPLETION_TEXT[kind],
            token_ids=encode(COMPLETION_TEXT[kind]),
            reasoning=TOOL_REASONING,
            content=None,
            tool_name=TOOL_NAME,
            tool_arguments=TOOL_ARGUMENTS,
            finish_reason=FINISH_REASON[kind],
        )
    raise ValueError(f"no script for kind {kind!r}")


@functools.cache
def expected_answer() -> Expected:
    """The agent model's reply once the prompt ends with a tool's result."""
    return Expected(
        kind="agent",
        text=AGENT_ANSWER_TEXT,
        token_ids=encode(AGENT_ANSWER_TEXT),
        reasoning="",
        content=AGENT_ANSWER,
        tool_name=None,
        tool_arguments=None,
        finish_reason="stop",
    )


def scripts(kind: ScriptedKind) -> list[tuple[str, str]]:
    """(known prompt tail, completion) pairs the checkpoint of `kind` is compiled from."""
    first = (PROMPT_TAIL, COMPLETION_TEXT[kind])
    if kind != "agent":
        return [first]
    return [first, (f"{AGENT_RESULT_TAIL}<|end|>{PROMPT_TAIL}", AGENT_ANSWER_TEXT)]


def count_reasoning_tokens(token_ids: tuple[int, ...]) -> int:
    """completion_tokens_details.reasoning_tokens the way vLLM 0.32 counts it.

    Mirrors vllm/parser/harmony.py (HarmonyParser._is_reasoning_token): a non-special token
    counts when the harmony parser is in the analysis channel, or in commentary with a
    recipient. So the arguments of a function call count as reasoning, the headers do not.
    """
    from openai_harmony import Role, StreamableParser

    encoding = harmony_encoding()
    parser = StreamableParser(encoding, role=Role.ASSISTANT)
    count = 0
    for token_id in token_ids:
        parser.process(token_id)
        channel = parser.current_channel
        in_reasoning = channel == "analysis" or (
            channel == "commentary" and parser.current_recipient is not None
        )
        if in_reasoning and not encoding.is_special_token(token_id):
            count += 1
    return count

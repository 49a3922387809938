"""Token counts estimated from UTF-8 bytes, for when a backend did not report them.

gpt-oss's tokenizer (o200k_harmony) is a byte-level BPE, so bytes are the one measure that
works for any language. Three different bytes-per-token figures are used on purpose, each
erring on the side its use can afford:

- ``BYTES_PER_TOKEN_BOUND`` (1): an upper bound on a prompt, sizing budget reservations
  only (over-reserving costs headroom while the call is in flight; under-reserving would
  let a hard budget be overrun).
- ``BYTES_PER_TOKEN_STREAMED`` (3): output the server produced but never counted (a
  stream cut before its usage chunk, an answer without usage): billed, so a conservative
  figure that over-counts English by about a third and stays close for CJK.
- ``BYTES_PER_TOKEN_TYPICAL`` (4): the typical English figure, where the total is known
  and only a share is estimated (the reasoning part of Bedrock's reported output tokens),
  or for the prompt of a call that never reported usage (the row is marked "estimated").
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from gptoss_aws.errors import ConfigurationError
from gptoss_facts.models import CONTEXT_LENGTH, get_any_model

# Prompt-size bound used to size reservations (never to bill). gpt-oss uses a byte-level
# BPE (o200k_harmony), in which every ordinary token covers at least one byte, so the
# UTF-8 byte count bounds the token count for any language or content. OpenAI's rule of
# thumb is ~4 characters per English token ("What are tokens and how to count them", OpenAI
# help center): the bound over-reserves about 4x for English, which costs budget headroom
# only while the call is in flight, and keeps hard budgets from being overrun by a prompt
# we under-estimated.
BYTES_PER_TOKEN_BOUND = 1
# Harmony framing per message: <|start|>, role, <|channel|>name, <|message|>, <|end|>; the
# role and channel names are at most 9 bytes ("assistant", "commentary"), counted bytewise.
HARMONY_TOKENS_PER_MESSAGE = 32
# The system message the gpt-oss chat template always adds (model identity, knowledge
# cutoff, current date, reasoning effort, valid channels) is under 256 bytes; the
# assistant header that starts the reply adds a few tokens.
HARMONY_PREAMBLE_TOKENS = 288
# Per tool, on top of its JSON schema's bytes: the TypeScript-style namespace wrapper.
HARMONY_TOKENS_PER_TOOL = 32

# Servers batch tokens per chunk (vLLM's gpt-oss recipe uses stream-interval 20), so one
# token per delta under-counts; the o200k tokenizer averages about four bytes per English
# token and about one token per three-byte CJK character, so bytes / 3 is the larger,
# conservative figure for output that was produced but never counted.
BYTES_PER_TOKEN_STREAMED = 3

# A typical figure for when a backend reported no usage at all (a stream cut before its
# usage chunk): OpenAI's ~4 characters per English token (same help-center page), applied
# to UTF-8 bytes; the system preamble is about 100 tokens of gpt-oss's chat template.
BYTES_PER_TOKEN_TYPICAL = 4
TYPICAL_PREAMBLE_TOKENS = 100
TYPICAL_TOKENS_PER_MESSAGE = 4


def estimate_prompt_tokens(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    bound: bool = True,
) -> int:
    """The prompt's tokens estimated from its bytes.

    ``bound=True`` (the default) gives an upper bound (see BYTES_PER_TOKEN_BOUND) that only
    sizes budget reservations. ``bound=False`` gives a typical figure, used as the billed
    prompt only when the backend never reported usage; such rows are marked "estimated".
    """
    per_token = BYTES_PER_TOKEN_BOUND if bound else BYTES_PER_TOKEN_TYPICAL
    per_message = HARMONY_TOKENS_PER_MESSAGE if bound else TYPICAL_TOKENS_PER_MESSAGE
    total = HARMONY_PREAMBLE_TOKENS if bound else TYPICAL_PREAMBLE_TOKENS
    for message in messages:
        total += per_message
        for key, value in message.items():
            if value is None or key == "role":
                continue
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            total += -(-len(text.encode("utf-8")) // per_token)
    for tool in tools or ():
        text = json.dumps(tool, ensure_ascii=False)
        per_tool = HARMONY_TOKENS_PER_TOOL if bound else TYPICAL_TOKENS_PER_MESSAGE
        total += per_tool + -(-len(text.encode("utf-8")) // per_token)
    return total


def estimate_output_tokens(utf8_bytes: int, deltas: int = 0) -> int:
    """Output tokens of streamed or unreported text: the larger of one per non-empty delta
    and one per ``BYTES_PER_TOKEN_STREAMED`` bytes."""
    return max(deltas, math.ceil(utf8_bytes / BYTES_PER_TOKEN_STREAMED))


def estimate_reasoning_share(reasoning_bytes: int, output_tokens: int) -> int:
    """The reasoning part of a reported output-token total, from the reasoning text's bytes
    at the typical rate, never more than the total."""
    return min(output_tokens, math.ceil(reasoning_bytes / BYTES_PER_TOKEN_TYPICAL))


# What the client records when the endpoint's model size was not given, and the context
# window both gpt-oss sizes share (their config.json max_position_embeddings).
UNNAMED_GPT_OSS = "gpt-oss"
GPT_OSS_CONTEXT = CONTEXT_LENGTH


def reservation_bounds(
    model: str, max_tokens: int | None, prompt_estimate: int
) -> tuple[int, int, int]:
    """(prompt, completion, total) bounds for the reservation.

    The context window bounds everything when the model is known: the prompt, the
    completion, and their sum (the server refuses or stops at the window).
    """
    context: int | None
    try:
        # gpt-oss-safeguard shares its base model's context window (gptoss_facts).
        context = get_any_model(model).max_context
    except KeyError:
        # A client that was not told which gpt-oss it serves records "gpt-oss"; both sizes
        # share one context window, so the bound is still known.
        context = GPT_OSS_CONTEXT if model == UNNAMED_GPT_OSS else None
    if context is None and max_tokens is None:
        raise ConfigurationError(
            f"model {model!r} is not a known gpt-oss model, so its context window is "
            "unknown: give max_tokens so the call's worst case can be reserved"
        )
    prompt = prompt_estimate
    completion = max_tokens if max_tokens is not None else context
    assert completion is not None  # one of the two is set, checked above
    if context is not None:
        prompt, completion = min(prompt, context), min(completion, context)
        return prompt, completion, min(prompt + completion, context)
    return prompt, completion, prompt + completion

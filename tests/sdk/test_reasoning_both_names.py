"""The container sends reasoning as ``reasoning`` and as ``reasoning_content`` (issue 9):
the SDK keeps one copy, so text, token estimates and cost count it once."""

from __future__ import annotations

import json
from collections.abc import Mapping

from gptoss_aws.backends._openai_wire import parse_openai_chunk, parse_openai_completion
from gptoss_aws.streaming._accumulate import ChunkAccumulator

REASONING = "User says hello; reply warmly, for example:"
ONE_NAME = {"role": "assistant", "content": "Hello!", "reasoning": REASONING}
BOTH_NAMES = {**ONE_NAME, "reasoning_content": REASONING}


def completion(message: Mapping[str, object], usage: bool) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-oss-20b",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {
            "prompt_tokens": 63,
            "completion_tokens": 29,
            "total_tokens": 92,
            "completion_tokens_details": {"reasoning_tokens": 10},
        }
    return body


def test_a_message_with_both_names_counts_the_reasoning_once() -> None:
    for usage in (True, False):
        both = parse_openai_completion(completion(BOTH_NAMES, usage), "sagemaker")
        one = parse_openai_completion(completion(ONE_NAME, usage), "sagemaker")
        assert both.completion.choices[0].message.reasoning == REASONING
        # Reported usage is the engine's; without it the estimate matches one name.
        assert both.completion.usage == one.completion.usage
    reported = parse_openai_completion(completion(BOTH_NAMES, True), "sagemaker")
    assert reported.completion.usage.reasoning_tokens == 10


def chunk(delta: dict[str, object]) -> str:
    return json.dumps(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-oss-20b",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
    )


def test_a_stream_with_both_names_accumulates_and_estimates_the_reasoning_once() -> None:
    pieces = ["User says hello; ", "reply warmly, ", "for example:"]
    both, one = ChunkAccumulator(), ChunkAccumulator()
    for piece in pieces:
        parsed = parse_openai_chunk(
            chunk({"reasoning": piece, "reasoning_content": piece}), "sagemaker"
        )
        single = parse_openai_chunk(chunk({"reasoning": piece}), "sagemaker")
        assert parsed is not None
        assert single is not None
        both.add(parsed)
        one.add(single)
    done = both.completion("sagemaker", both.estimated_usage(prompt_tokens=63))
    assert done.choices[0].message.reasoning == REASONING
    assert both.estimated_usage(63) == one.estimated_usage(63)

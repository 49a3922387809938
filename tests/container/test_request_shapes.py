"""The request shapes the middleware refuses before vLLM would crash on them, by class.

Served end to end (the real engine answering 400 instead of 500) in test_serving_chat.py;
these check each class over many members without a server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gptoss_container.request_rules import decide
from gptoss_container.request_shapes import (
    INT64_MAX,
    INT64_MIN,
    MAX_NESTING_DEPTH,
    ShapeError,
    check_chat_messages,
    check_object_fields,
    check_responses_input,
    check_tool_names,
    check_values,
    parse,
)

M = [{"role": "user", "content": "hi"}]

# A slice of the shape of vLLM's OpenAPI document (components/schemas, $ref, anyOf).
OPENAPI: dict[str, Any] = {
    "components": {
        "schemas": {
            "ChatCompletionRequest": {
                "type": "object",
                "properties": {
                    "messages": {"type": "array"},
                    "structured_outputs": {
                        "anyOf": [{"$ref": "#/components/schemas/Structured"}, {"type": "null"}]
                    },
                    "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
                    "tools": {
                        "anyOf": [
                            {"type": "array", "items": {"$ref": "#/components/schemas/Tool"}},
                            {"type": "null"},
                        ]
                    },
                },
            },
            "Structured": {"type": "object", "properties": {"json": {"type": "object"}}},
            "Tool": {"type": "object", "properties": {"function": {"type": "object"}}},
        }
    }
}


def refusal(path: str, body: Any, **kw: Any) -> tuple[str | None, str | None]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    d = decide(path, raw, 4096, True, openapi=OPENAPI, **kw)
    return (d.refusal.param, d.refusal.message) if d.refusal else (None, None)


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 500, 999, 1500, 100_000])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_nesting_past_the_bound_is_refused_at_any_depth(depth: int, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    body = b'{"messages":' + opener * depth + b"1" + closer * depth + b"}"
    for path in ("/invocations", "/v1/chat/completions", "/v1/responses", "/tokenize"):
        _, message = refusal(path, body)
        assert "nested" in (message or ""), (path, depth)


def test_nesting_up_to_the_bound_passes() -> None:
    depth = MAX_NESTING_DEPTH - 2  # the body and "tools" take two levels
    body = b'{"messages":[],"tools":' + b"[" * depth + b"]" * depth + b"}"
    check_values(parse(body))


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2**64, -(2**100), 10**4000])
@pytest.mark.parametrize(
    ("field", "wrap"),
    [
        ("top_k", lambda v: {"top_k": v}),
        ("repetition_detection.min_count", lambda v: {"repetition_detection": {"min_count": v}}),
        ("prompt[1]", lambda v: {"prompt": [1, v]}),
        ("logit_bias.50256", lambda v: {"logit_bias": {"50256": v}}),
    ],
)
def test_integers_outside_64_bits_are_refused_wherever_they_are(
    value: int, field: str, wrap: Any
) -> None:
    with pytest.raises(ShapeError) as exc:
        check_values(wrap(value))
    assert exc.value.param == field


def test_an_integer_too_long_for_python_to_read_is_refused() -> None:
    _, message = refusal("/v1/chat/completions", b'{"messages":[],"top_k":' + b"9" * 5000 + b"}")
    assert "thousands of digits" in (message or "")


@pytest.mark.parametrize("value", [INT64_MAX, INT64_MIN, 0, True, 1e300])
def test_integers_inside_64_bits_and_other_numbers_pass(value: Any) -> None:
    check_values({"top_k": value, "nested": [{"x": value}]})


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_numbers_json_does_not_have_are_refused(constant: bytes) -> None:
    _, message = refusal("/v1/chat/completions", b'{"messages":[],"temperature":' + constant + b"}")
    assert message is not None
    assert "RFC 8259" in message


@pytest.mark.parametrize("value", [True, 1, "x", [], 0.5])
def test_a_non_object_where_the_schema_wants_an_object_is_refused(value: Any) -> None:
    param, _ = refusal("/v1/chat/completions", {"messages": M, "structured_outputs": value})
    assert param == "structured_outputs"
    # Nested, through $ref and array items, too.
    param, _ = refusal("/v1/chat/completions", {"messages": M, "tools": [{"function": value}]})
    assert param == "tools[0].function"


def test_fields_that_may_be_a_string_or_an_object_are_left_alone() -> None:
    assert refusal("/v1/chat/completions", {"messages": M, "tool_choice": "auto"}) == (None, None)
    check_object_fields(
        {"structured_outputs": None},
        {
            "schema": OPENAPI["components"]["schemas"]["ChatCompletionRequest"],
            "components": OPENAPI["components"],
        },
    )


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"author": {"role": "user"}, "content": "hi"}], "messages[0]"),
        (["hello"], "messages[0]"),
        ([{"content": "hi"}], "messages[0].role"),
        ([{"role": 3, "content": "hi"}], "messages[0].role"),
        ([{"role": "narrator", "content": ["hi"]}], "messages[0].content[0]"),
        ([{"role": "user", "content": [1]}], "messages[0].content[0]"),
        ([{"role": "user", "content": {"text": "hi"}}], "messages[0].content"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        (
            [{"role": "user", "content": [{"type": "text", "text": 5}]}],
            "messages[0].content[0].text",
        ),
        ([{"role": "assistant", "reasoning": ["x"]}], "messages[0].reasoning"),
        ([{"role": "assistant", "tool_calls": {"id": "1"}}], "messages[0].tool_calls"),
        ([{"role": "assistant", "tool_calls": [{"id": "1"}]}], "messages[0].tool_calls[0]"),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"name": 1}}]}],
            "messages[0].tool_calls[0].function.name",
        ),
    ],
)
def test_chat_messages_vllm_cannot_convert_are_refused(messages: Any, param: str) -> None:
    with pytest.raises(ShapeError) as exc:
        check_chat_messages({"messages": messages})
    assert exc.value.param == param


def test_no_messages_with_no_generation_prompt_is_refused() -> None:
    with pytest.raises(ShapeError, match="messages is empty"):
        check_chat_messages({"messages": [], "add_generation_prompt": False})


def test_valid_chat_messages_pass() -> None:
    check_chat_messages(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "narrator", "content": None},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "think",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ]
        }
    )
    # vLLM answers these itself: the generation prompt alone is a prompt.
    check_chat_messages({"messages": []})
    check_chat_messages({"messages": [], "continue_final_message": True})


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "function_call_output", "output": "x"}, "input[0].call_id"),
        ({"type": "function_call_output", "call_id": "c"}, "input[0].output"),
        ({"type": "function_call_output", "call_id": 5, "output": "x"}, "input[0].call_id"),
        ({"type": "function_call", "call_id": "c", "arguments": "{}"}, "input[0].name"),
        ({"type": "message", "content": "hi"}, "input[0].role"),
        ({"content": "hi"}, "input[0].role"),
        ({"role": "user"}, "input[0].content"),
        ({"role": "user", "content": ["hi"]}, "input[0].content[0]"),
        (
            {"type": "reasoning", "content": [{"type": "reasoning_text"}]},
            "input[0].content[0].text",
        ),
        ({"type": 5}, "input[0].type"),
        ("hello", "input[0]"),
    ],
)
def test_responses_items_without_what_their_type_needs_are_refused(item: Any, param: str) -> None:
    with pytest.raises(ShapeError) as exc:
        check_responses_input({"input": [item]})
    assert exc.value.param == param


def test_harmony_previous_input_messages_need_a_harmony_role() -> None:
    check_responses_input(
        {"previous_input_messages": [{"author": {"role": "user"}, "content": [{"text": "hi"}]}]}
    )
    with pytest.raises(ShapeError) as exc:
        check_responses_input({"previous_input_messages": [{"author": {"role": "narrator"}}]})
    assert exc.value.param == "previous_input_messages[0].author"
    # Found by a longer fuzz run: oss-harmony cannot render a tool message without a name.
    tool = {"author": {"role": "tool", "name": None}, "content": []}
    with pytest.raises(ShapeError) as exc:
        check_responses_input({"previous_input_messages": [tool]})
    assert exc.value.param == "previous_input_messages[0].author.name"


def test_the_model_field_is_dropped_only_behind_invocations() -> None:
    body = json.dumps({"model": "my-endpoint", "messages": M}).encode()
    via = decide("/v1/responses", body, 4096, True, via_invocations=True)
    assert via.body is not None
    assert "model" not in json.loads(via.body)
    direct = decide("/v1/chat/completions", body, 4096, True)
    assert direct.body is None  # forwarded as sent: vLLM checks the name


def test_empty_tools_are_dropped_only_behind_invocations() -> None:
    body = json.dumps({"messages": M, "tools": [], "tool_choice": "auto"}).encode()
    via = decide("/invocations", body, 4096, True, via_invocations=True)
    assert via.body is not None
    assert json.loads(via.body) == {"messages": M}
    assert decide("/v1/chat/completions", body, 4096, True).body is None


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ([{"type": "function", "name": ""}], "tools[0].name"),
        ([{"type": "function"}], "tools[0].name"),
        ([{"type": "function", "name": 5}], "tools[0].name"),
        ([{"type": "function", "function": {"name": " "}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"parameters": {}}}], "tools[0].function.name"),
    ],
)
def test_function_tools_without_a_name_are_refused(tools: Any, param: str) -> None:
    """Found by the fuzz after the first fix: oss-harmony raises "Tools should have a name!"."""
    with pytest.raises(ShapeError) as exc:
        check_tool_names({"tools": tools})
    assert exc.value.param == param
    check_tool_names({"tools": [{"type": "function", "name": "get_weather"}]})
    check_tool_names({"tools": [{"type": "web_search_preview"}]})

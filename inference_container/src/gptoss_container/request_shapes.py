"""The request shapes vLLM 0.32 would crash on, refused as a 400 before it sees them.

vLLM validates most bodies with pydantic and answers mistakes with a 400, but some code
runs before or around that validation and assumes a shape: it then raises AttributeError,
IndexError or KeyError, which vLLM reports as a 500. A 5xx counts in SageMaker's
``Invocation5XXErrors`` and ``ModelError`` metrics, which are the deployment's
auto-rollback alarms, so a malformed request must never become one. Each check covers a
class of input, not one body:

- JSON nested deeper than ``MAX_NESTING_DEPTH`` (``json.loads`` itself raises
  RecursionError near CPython's 1,000-frame limit);
- JSON numbers RFC 8259 does not have (``NaN``, ``Infinity``), and integers outside the
  signed 64-bit range: vLLM hands integers to torch and C++ code that cannot hold them;
- a value that is not a JSON object where the route's request schema expects one
  (``"structured_outputs": true``: vLLM calls ``.get`` on it);
- chat messages and Responses input items, checked for the fields vLLM's harmony
  conversion reads (vllm/entrypoints/openai/parser/harmony_utils.py and
  vllm/entrypoints/openai/responses/harmony.py).

Every check is a pure function over the parsed body, so each is tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# OpenAI's structured outputs allow a schema at most 10 levels deep ("Supported schemas",
# Structured Outputs guide); with two JSON levels per schema level plus the request's own
# wrapping that is about 30. 128 leaves room for any real request and stays far below
# the recursion limit of every recursive step between here and the engine.
MAX_NESTING_DEPTH = 128
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# oss-harmony's roles (openai_harmony.Role); vLLM builds Role(role) from a harmony-shaped
# message's author, which raises on anything else.
HARMONY_ROLES = frozenset({"user", "assistant", "system", "developer", "tool"})


@dataclass(frozen=True)
class ShapeError(Exception):
    message: str
    param: str | None = None

    def __str__(self) -> str:
        return self.message


def parse(body: bytes) -> Any:
    """The parsed body; ShapeError for JSON that is too deep or not standard.

    Malformed JSON raises ValueError (json.JSONDecodeError or UnicodeDecodeError): vLLM
    answers that with a 400 of its own.
    """
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise ShapeError(
            f"the JSON body is nested too deeply; send at most {MAX_NESTING_DEPTH} levels "
            "of arrays and objects"
        ) from None
    except ValueError as exc:
        # CPython refuses to read integers of more than 4,300 digits
        # (sys.get_int_max_str_digits); the same class as any integer past 64 bits.
        if "integer string conversion" in str(exc):
            raise ShapeError(
                "the JSON body has an integer of thousands of digits; send integers from "
                f"{INT64_MIN} to {INT64_MAX}"
            ) from None
        raise


def _refuse_constant(name: str) -> Any:
    raise ShapeError(
        f"the JSON body contains {name}, which is not a JSON number (RFC 8259); "
        "send a finite number"
    )


def check_values(request: Any) -> None:
    """Nesting depth and integer range, over the whole body (no recursion)."""
    if not isinstance(request, dict | list):
        return
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(request, 1, ())]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise ShapeError(
                f"the JSON body is nested more than {MAX_NESTING_DEPTH} levels deep (at "
                f"{_render(path)}); flatten it",
                param=_param(path[:1]),
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(item, dict | list):
                stack.append((item, depth + 1, (*path, key)))
            elif (
                isinstance(item, int)
                and not isinstance(item, bool)
                and not INT64_MIN <= item <= INT64_MAX
            ):
                where = (*path, key)
                raise ShapeError(
                    f"{_render(where)} is {_short(item)}, outside the signed 64-bit "
                    f"integer range; send a value from {INT64_MIN} to {INT64_MAX}",
                    param=_param(where),
                )


def check_object_fields(request: dict[str, Any], schema: Mapping[str, Any] | None) -> None:
    """Every value whose schema allows only a JSON object (or null) must be one.

    ``schema`` is the route's request schema from vLLM's own OpenAPI document, with
    ``components`` for resolving ``$ref``s (see openapi_request_schemas).
    """
    if schema is None:
        return
    components = schema.get("components", {})
    _check_object(request, schema["schema"], components, (), 0)


def _check_object(
    value: Any,
    schema: Mapping[str, Any],
    components: Mapping[str, Any],
    path: tuple[str | int, ...],
    hops: int,
) -> None:
    if hops > 32:  # a self-referencing schema: stop rather than loop
        return
    schema = _resolve(schema, components)
    if value is None:
        return
    kinds = _types(schema, components)
    if kinds == {"object"} and not isinstance(value, dict):
        raise ShapeError(
            f"{_render(path)} must be a JSON object, got {_json_type(value)}",
            param=_param(path),
        )
    if isinstance(value, dict):
        props = _single_object(schema, components).get("properties", {})
        for key, sub in props.items():
            if key in value:
                _check_object(value[key], sub, components, (*path, key), hops + 1)
    elif isinstance(value, list):
        items = _single_array(schema, components).get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                _check_object(item, items, components, (*path, i), hops + 1)


def _resolve(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    for _ in range(8):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
            return schema
        schema = components.get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return schema


def _alternatives(
    schema: Mapping[str, Any], components: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    options = schema.get("anyOf") or schema.get("oneOf")
    if not options:
        return [schema]
    return [_resolve(o, components) for o in options]


def _types(schema: Mapping[str, Any], components: Mapping[str, Any]) -> set[str] | None:
    """The JSON types a value may have, without null; None when the schema does not say."""
    kinds: set[str] = set()
    for option in _alternatives(schema, components):
        kind = option.get("type")
        if kind is None:
            if "properties" in option:
                kind = "object"
            else:
                return None
        kinds.update([kind] if isinstance(kind, str) else kind)
    kinds.discard("null")
    return kinds or None


def _single_object(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    objects = [
        o
        for o in _alternatives(schema, components)
        if o.get("type") == "object" or "properties" in o
    ]
    return objects[0] if len(objects) == 1 else {}


def _single_array(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    arrays = [o for o in _alternatives(schema, components) if o.get("type") == "array"]
    return arrays[0] if len(arrays) == 1 else {}


def check_chat_messages(request: dict[str, Any]) -> None:
    """``messages`` of a chat completion or a chat /tokenize request."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        return  # absent or the wrong type: vLLM's own validation names it
    if not messages and request.get("add_generation_prompt") is False:
        raise ShapeError(
            "messages is empty, so there is no message to continue; send at least one "
            "message, or leave add_generation_prompt true",
            param="messages",
        )
    for i, message in enumerate(messages):
        _check_chat_message(message, ("messages", i))


def _check_chat_message(message: Any, path: tuple[str | int, ...]) -> None:
    if not isinstance(message, dict):
        raise ShapeError(
            f"{_render(path)} must be a JSON object with a role and content, got "
            f"{_json_type(message)}",
            param=_param(path),
        )
    if "role" not in message and "author" in message:
        raise ShapeError(
            f"{_render(path)} is a harmony message (author); send OpenAI chat messages: "
            '{"role": "user", "content": "..."}',
            param=_param(path),
        )
    role = message.get("role")
    if not isinstance(role, str):
        raise ShapeError(
            f"{_render(path)}.role must be a string such as 'user', got {_json_type(role)}",
            param=_param((*path, "role")),
        )
    _check_content(message.get("content"), (*path, "content"))
    for field in ("reasoning", "reasoning_content"):
        _check_optional_string(message, field, path)
    calls = message.get("tool_calls")
    if calls is not None:
        _check_tool_calls(calls, (*path, "tool_calls"))


def _check_content(content: Any, path: tuple[str | int, ...]) -> None:
    """None, a string, or a list of content parts (objects whose text is a string)."""
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise ShapeError(
            f"{_render(path)} must be a string or a list of content parts, got "
            f"{_json_type(content)}",
            param=_param(path),
        )
    for i, part in enumerate(content):
        where = (*path, i)
        if not isinstance(part, dict):
            raise ShapeError(
                f"{_render(where)} must be a content part object such as "
                f'{{"type": "text", "text": "..."}}, got {_json_type(part)}',
                param=_param(where),
            )
        _check_optional_string(part, "text", where)


def _check_tool_calls(calls: Any, path: tuple[str | int, ...]) -> None:
    if not isinstance(calls, list):
        raise ShapeError(
            f"{_render(path)} must be a list of tool calls, got {_json_type(calls)}",
            param=_param(path),
        )
    for i, call in enumerate(calls):
        where = (*path, i)
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise ShapeError(
                f"{_render(where)} must be an object with a function object "
                '({"id": ..., "type": "function", "function": {"name": ..., "arguments": ...}})',
                param=_param(where),
            )
        for field in ("name", "arguments"):
            _check_optional_string(function, field, (*where, "function"))


# Fields each Responses input item type must carry (OpenAI API reference, Responses
# input items), among those vLLM's harmony conversion reads with item[...].
_RESPONSES_ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "message": ("role", "content"),
    "function_call_output": ("call_id", "output"),
    "function_call": ("call_id", "name", "arguments"),
}


def check_tool_names(request: dict[str, Any]) -> None:
    """Function tools need a name: oss-harmony raises "Tools should have a name!" while
    rendering the prompt, which vLLM reports as a 500 (found by the fuzz). Chat tools carry
    it at ``function.name``, Responses tools at ``name``."""
    tools = request.get("tools")
    if not isinstance(tools, list):
        return
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        function = tool.get("function")
        holder: dict[str, Any] = function if isinstance(function, dict) else tool
        where: tuple[str | int, ...] = (
            ("tools", i, "function") if holder is function else ("tools", i)
        )
        name = holder.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ShapeError(
                f"{_render(where)}.name must be a non-empty string naming the function, "
                f"got {_json_type(name) if not isinstance(name, str) else repr(name)}",
                param=_param((*where, "name")),
            )


def check_responses_input(request: dict[str, Any]) -> None:
    items = request.get("input")
    if isinstance(items, list):
        for i, item in enumerate(items):
            _check_responses_item(item, ("input", i))
    previous = request.get("previous_input_messages")
    if isinstance(previous, list):
        for i, message in enumerate(previous):
            _check_previous_message(message, ("previous_input_messages", i))


def _check_responses_item(item: Any, path: tuple[str | int, ...]) -> None:
    if not isinstance(item, dict):
        raise ShapeError(
            f"{_render(path)} must be an input item object, got {_json_type(item)}",
            param=_param(path),
        )
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise ShapeError(
            f"{_render(path)}.type must be a string, got {_json_type(kind)}",
            param=_param((*path, "type")),
        )
    missing = [f for f in _RESPONSES_ITEM_FIELDS.get(kind, ()) if f not in item]
    if missing:
        raise ShapeError(
            f"{_render(path)} is a {kind} item without {', '.join(missing)}; a {kind} "
            f"item needs {', '.join(_RESPONSES_ITEM_FIELDS[kind])}",
            param=_param((*path, missing[0])),
        )
    if kind == "message":
        if not isinstance(item["role"], str):
            raise ShapeError(
                f"{_render(path)}.role must be a string, got {_json_type(item['role'])}",
                param=_param((*path, "role")),
            )
        _check_content(item["content"], (*path, "content"))
    elif kind == "function_call_output":
        _check_optional_string(item, "call_id", path)
    elif kind == "function_call":
        for field in ("call_id", "name", "arguments"):
            _check_optional_string(item, field, path)
    elif kind == "reasoning":
        content = item.get("content")
        if content is not None:
            _check_content(content, (*path, "content"))
            for i, part in enumerate(content if isinstance(content, list) else ()):
                if "text" not in part:
                    where = (*path, "content", i)
                    raise ShapeError(
                        f"{_render(where)} needs a text", param=_param((*where, "text"))
                    )


def _check_previous_message(message: Any, path: tuple[str | int, ...]) -> None:
    """vLLM's previous_input_messages: OpenAI chat messages or harmony messages."""
    if isinstance(message, dict) and "author" in message:
        author = message["author"]
        role = author.get("role") if isinstance(author, dict) else None
        if role not in HARMONY_ROLES:
            raise ShapeError(
                f"{_render(path)}.author must be an object whose role is one of "
                f"{', '.join(sorted(HARMONY_ROLES))}",
                param=_param((*path, "author")),
            )
        _check_optional_string(author, "name", (*path, "author"))
        if role == "tool" and not author.get("name"):
            # oss-harmony refuses to render a tool message without the tool's name
            # ("Tools should have a name!"), which vLLM reports as a 500.
            raise ShapeError(
                f"{_render(path)}.author is a tool message without a name; set "
                'author.name to the tool that answered, e.g. "functions.get_weather"',
                param=_param((*path, "author", "name")),
            )
        _check_content(message.get("content"), (*path, "content"))
        for field in ("channel", "recipient", "content_type"):
            _check_optional_string(message, field, path)
        return
    _check_chat_message(message, path)


def _check_optional_string(obj: dict[str, Any], field: str, path: tuple[str | int, ...]) -> None:
    value = obj.get(field)
    if value is not None and not isinstance(value, str):
        where = (*path, field)
        raise ShapeError(
            f"{_render(where)} must be a string, got {_json_type(value)}",
            param=_param(where),
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _render(path: tuple[str | int, ...]) -> str:
    if not path:
        return "the body"
    if len(path) > 12:  # a path through deep nesting: its start and its end say enough
        return f"{_render(path[:6])}...{_render(path[-3:])}"
    out = str(path[0])
    for part in path[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _param(path: tuple[str | int, ...]) -> str | None:
    return _render(path) if path else None


def _short(value: int) -> str:
    # str() of a huge integer is slow and capped (sys.get_int_max_str_digits).
    if value.bit_length() <= 96:
        return str(value)
    return f"an integer of {value.bit_length()} bits"

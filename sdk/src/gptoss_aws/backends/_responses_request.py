"""One Responses API request, checked and built before any budget or network use.

``build_responses_request`` turns ``client.responses.create(...)``'s keyword arguments into
a ``ResponsesRequest`` or a ``ConfigurationError`` saying which argument is wrong and how to
fix it; ``ResponsesRequest.body`` is the JSON body of ``POST /v1/responses`` (openai-python
2.54.0 ``responses.create`` parameters; vLLM 0.32.0 and Bedrock's Mantle endpoint take it).

Input items may be dicts or the typed output items of an earlier ``Response`` (so
``input=[*previous.output, tool_result]`` carries the reasoning over); they are sent as
their JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gptoss_aws.errors import ConfigurationError

_EFFORTS = ("low", "medium", "high")
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_TOOL_CHOICES = ("auto", "none", "required")
# OpenAI's metadata limits (openai-python types/shared/metadata.py): "up to 16 key-value
# pairs ... Keys are strings with a maximum length of 64 characters. Values are strings with
# a maximum length of 512 characters."
_METADATA_PAIRS, _METADATA_KEY, _METADATA_VALUE = 16, 64, 512
# Fields a streamed ``response.output_item.done`` item can carry that are the event's, not
# the item's (vLLM 0.32.0 copies output_index and sequence_number into the item); they are
# dropped when such an item is sent back as input.
_EVENT_FIELDS = ("output_index", "sequence_number")


@dataclass(frozen=True)
class ResponsesRequest:
    """One validated Responses request, independent of the backend that will send it."""

    input: str | list[dict[str, Any]]
    stream: bool = False
    model: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, str] | None = None  # OpenAI's request metadata, sent in the body
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    include: list[str] | None = None
    text: dict[str, Any] | None = None
    truncation: str | None = None
    user: str | None = None
    extra_body: dict[str, Any] | None = None
    # Bedrock service tier in our names (standard, flex, priority, reserved), a project,
    # and the call's tags (recorded; not sent: Responses ``metadata`` is the caller's own).
    service_tier: str | None = None
    project: str | None = None
    tags: dict[str, str] | None = None

    @property
    def max_tokens(self) -> int | None:
        """The output bound, under the name the tracker's reservation uses."""
        return self.max_output_tokens

    def body(self, default_model: str | None = None) -> dict[str, Any]:
        """The ``POST /v1/responses`` JSON body."""
        body: dict[str, Any] = {}
        model = self.model or default_model
        if model:
            body["model"] = model
        body["input"] = self.input
        if self.stream:
            body["stream"] = True
        for key in (
            "instructions",
            "tools",
            "tool_choice",
            "reasoning",
            "max_output_tokens",
            "temperature",
            "top_p",
            "metadata",
            "parallel_tool_calls",
            "previous_response_id",
            "store",
            "include",
            "text",
            "truncation",
            "user",
        ):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.service_tier is not None:
            from gptoss_aws.pricing.regions import SERVICE_TIERS

            body["service_tier"] = SERVICE_TIERS[self.service_tier]
        if self.extra_body:
            body.update(self.extra_body)
        return body

    def prompt_parts(self) -> list[dict[str, Any]]:
        """The prompt as message-like mappings, for the tracker's token estimates."""
        parts: list[dict[str, Any]] = []
        if self.instructions:
            parts.append({"role": "developer", "content": self.instructions})
        if isinstance(self.input, str):
            parts.append({"role": "user", "content": self.input})
        else:
            parts.extend(self.input)
        return parts


def _item_dict(item: Any, where: str) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        data = item.model_dump(mode="json", exclude_none=True)
        for key in _EVENT_FIELDS:
            data.pop(key, None)
        return data
    if not isinstance(item, Mapping):
        raise ConfigurationError(
            f"{where} must be an input item (a dict such as {{'role': 'user', 'content': '...'}}"
            f" or an output item of an earlier Response), got {type(item).__name__}"
        )
    return dict(item)


def _check_text_parts(parts: Any, where: str, part_type: str) -> None:
    if not isinstance(parts, list):
        raise ConfigurationError(f"{where} must be a list of {{'type': {part_type!r}, 'text'}}")
    for j, part in enumerate(parts):
        if not isinstance(part, Mapping) or not isinstance(part.get("text"), str):
            raise ConfigurationError(
                f"{where}[{j}] must be {{'type': {part_type!r}, 'text': str}}, got {part!r}"
            )


def _check_item(item: dict[str, Any], where: str, calls: set[str], check_calls: bool) -> None:
    kind = item.get("type")
    if kind is None or kind == "message":
        role = item.get("role")
        if role not in _ROLES:
            raise ConfigurationError(
                f"{where} has role {role!r}: a message's role is one of "
                f"{', '.join(sorted(_ROLES))} (tool results are "
                "{'type': 'function_call_output', 'call_id', 'output'} items)"
            )
        content = item.get("content")
        if not isinstance(content, str | list):
            raise ConfigurationError(
                f"{where} needs 'content': a string or a list of content parts"
            )
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise ConfigurationError(
                    f"{where} is a function_call without a string {key!r}: send the "
                    "earlier Response's output item as it came"
                )
        calls.add(item["call_id"])
    elif kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ConfigurationError(f"{where} is a function_call_output without a call_id")
        if "output" not in item:
            raise ConfigurationError(f"{where} is a function_call_output without an 'output'")
        if check_calls and call_id not in calls:
            raise ConfigurationError(
                f"{where} answers call_id {call_id!r}, but no function_call with that call_id "
                "comes before it in input: put the previous Response's output items (its "
                "reasoning and function_call) in input ahead of the tool's result, or pass "
                "previous_response_id to a server that stores responses"
            )
    elif kind == "reasoning":
        if item.get("content") is not None:
            _check_text_parts(item["content"], f"{where}.content", "reasoning_text")
        if item.get("summary") is not None:
            _check_text_parts(item["summary"], f"{where}.summary", "summary_text")
    elif not isinstance(kind, str):
        raise ConfigurationError(f"{where} has a non-string 'type': {kind!r}")
    # Other item types (item_reference, web_search_call, ...) go as they are.


def _check_input(value: Any, previous_response_id: str | None) -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        if not value:
            raise ConfigurationError("input is an empty string: give the prompt text")
        return value
    if not isinstance(value, list | tuple) or not value:
        raise ConfigurationError(
            "input must be a non-empty string or a non-empty list of input items, "
            f"got {type(value).__name__}"
        )
    items = [_item_dict(item, f"input[{i}]") for i, item in enumerate(value)]
    calls: set[str] = set()
    for i, item in enumerate(items):
        _check_item(item, f"input[{i}]", calls, check_calls=previous_response_id is None)
    return items


def _check_tools(tools: Any) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    if not isinstance(tools, list | tuple):
        raise ConfigurationError("tools must be a list of tool definitions")
    checked: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise ConfigurationError(f"tools[{i}] must be a dict, got {type(tool).__name__}")
        if tool.get("type") == "function":
            if "function" in tool and "name" not in tool:
                raise ConfigurationError(
                    f"tools[{i}] is in the Chat Completions shape "
                    "({'type': 'function', 'function': {'name', 'parameters'}}); the Responses "
                    "API takes the function's fields at the top level: "
                    "{'type': 'function', 'name': ..., 'parameters': {...}}"
                )
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise ConfigurationError(f"tools[{i}] is a function tool without a 'name'")
            parameters = tool.get("parameters")
            if parameters is not None and not isinstance(parameters, Mapping):
                raise ConfigurationError(f"tools[{i}].parameters must be a JSON schema object")
        elif not isinstance(tool.get("type"), str):
            raise ConfigurationError(
                f"tools[{i}] needs a 'type' ('function' for your own functions)"
            )
        checked.append(dict(tool))
    return checked


def _check_tool_choice(value: Any) -> str | dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in _TOOL_CHOICES:
            raise ConfigurationError(
                f"tool_choice must be one of {', '.join(_TOOL_CHOICES)} or a dict such as "
                f"{{'type': 'function', 'name': 'get_weather'}}, got {value!r}"
            )
        return value
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        if "function" in value and "name" not in value:
            raise ConfigurationError(
                "tool_choice is in the Chat Completions shape; the Responses API takes "
                "{'type': 'function', 'name': ...}"
            )
        return dict(value)
    raise ConfigurationError(f"tool_choice must be a string or a dict with a 'type', got {value!r}")


def _check_reasoning(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"reasoning must be a dict such as {{'effort': 'low'}}, got {value!r}"
        )
    effort = value.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise ConfigurationError(
            f"reasoning['effort'] must be one of {', '.join(_EFFORTS)} (gpt-oss's levels), "
            f"got {effort!r}"
        )
    return dict(value)


def _check_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError("metadata must be a dict of strings")
    if len(value) > _METADATA_PAIRS:
        raise ConfigurationError(
            f"metadata has {len(value)} pairs; the Responses API takes at most {_METADATA_PAIRS}"
            " (use tags= for the ledger's attribution: they are not limited)"
        )
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ConfigurationError(f"metadata must map str to str, got {key!r}: {item!r}")
        if len(key) > _METADATA_KEY or len(item) > _METADATA_VALUE:
            raise ConfigurationError(
                f"metadata {key!r}: keys are at most {_METADATA_KEY} characters and values at "
                f"most {_METADATA_VALUE}"
            )
    return dict(value)


def _positive_int(name: str, value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def _in_range(name: str, value: Any, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise ConfigurationError(f"{name} must be between 0 and {high:g}, got {value!r}")
    return float(value)


def build_responses_request(
    *,
    input: Any,
    stream: Any = False,
    model: Any = None,
    instructions: Any = None,
    tools: Any = None,
    tool_choice: Any = None,
    reasoning: Any = None,
    max_output_tokens: Any = None,
    temperature: Any = None,
    top_p: Any = None,
    metadata: Any = None,
    parallel_tool_calls: Any = None,
    previous_response_id: Any = None,
    store: Any = None,
    include: Any = None,
    text: Any = None,
    truncation: Any = None,
    user: Any = None,
    extra_body: Any = None,
    service_tier: Any = None,
    project: Any = None,
) -> ResponsesRequest:
    """Check the arguments locally, so a bad call fails before budgets or the network."""
    if not isinstance(stream, bool):
        raise ConfigurationError(f"stream must be True or False, got {stream!r}")
    for name, value in (
        ("model", model),
        ("instructions", instructions),
        ("previous_response_id", previous_response_id),
        ("truncation", truncation),
        ("user", user),
    ):
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got {value!r}")
    for name, value in (("parallel_tool_calls", parallel_tool_calls), ("store", store)):
        if value is not None and not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    if include is not None and (
        not isinstance(include, list) or not all(isinstance(i, str) for i in include)
    ):
        raise ConfigurationError("include must be a list of strings")
    if text is not None and not isinstance(text, Mapping):
        raise ConfigurationError("text must be a dict such as {'format': {'type': 'text'}}")
    if extra_body is not None and not isinstance(extra_body, Mapping):
        raise ConfigurationError("extra_body must be a dict")
    if service_tier is not None:
        from gptoss_aws.pricing.regions import canonical_tier

        service_tier = canonical_tier(service_tier)
    if project is not None and (not isinstance(project, str) or not project):
        raise ConfigurationError(f"project must be a non-empty string, got {project!r}")
    return ResponsesRequest(
        input=_check_input(input, previous_response_id),
        stream=stream,
        model=model,
        instructions=instructions,
        tools=_check_tools(tools),
        tool_choice=_check_tool_choice(tool_choice),
        reasoning=_check_reasoning(reasoning),
        max_output_tokens=_positive_int("max_output_tokens", max_output_tokens),
        temperature=_in_range("temperature", temperature, 2),
        top_p=_in_range("top_p", top_p, 1),
        metadata=_check_metadata(metadata),
        parallel_tool_calls=parallel_tool_calls,
        previous_response_id=previous_response_id,
        store=store,
        include=include,
        text=dict(text) if text is not None else None,
        truncation=truncation,
        user=user,
        extra_body=dict(extra_body) if extra_body is not None else None,
        service_tier=service_tier,
        project=project,
    )

"""OpenAI chat request -> Bedrock Converse request (see ``backends/bedrock.py`` for why
Converse, and what the conversion keeps and drops)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.errors import ConfigurationError
from gptoss_aws.pricing.regions import SERVICE_TIERS

# RequestMetadata (botocore bedrock-runtime service model): 1-16 pairs; keys 1-256, values
# 0-256 characters of this set.
METADATA_PATTERN = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}$")
METADATA_MAX_PAIRS = 16

log = logging.getLogger(__name__)


# ---- OpenAI request -> Converse -----------------------------------------------------------


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ConfigurationError(f"Bedrock gpt-oss takes text only, not {kind!r} parts")
        return "".join(parts)
    raise ConfigurationError(f"message content must be text, got {type(content).__name__}")


def converse_messages(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages -> (Converse system blocks, Converse messages)."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        blocks: list[dict[str, Any]] = []
        if role in ("system", "developer"):
            text = _text_of(message.get("content"))
            if text:
                system.append({"text": text})
            continue
        if role == "tool":
            converse_role = "user"
            blocks.append(
                {
                    "toolResult": {
                        "toolUseId": str(message.get("tool_call_id", "")),
                        "content": [{"text": _text_of(message.get("content")) or " "}],
                    }
                }
            )
        else:
            converse_role = role
            text = _text_of(message.get("content"))
            if text:
                blocks.append({"text": text})
            for call in message.get("tool_calls") or ():
                fn = call.get("function") or {}
                arguments = fn.get("arguments") or "{}"
                try:
                    parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
                except ValueError as exc:
                    raise ConfigurationError(
                        f"tool call {call.get('id')!r} has arguments that are not JSON"
                    ) from exc
                blocks.append(
                    {"toolUse": {"toolUseId": call["id"], "name": fn["name"], "input": parsed}}
                )
        if not blocks:
            continue
        if out and out[-1]["role"] == converse_role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": converse_role, "content": blocks})
    return system, out


def converse_tool_config(tools: list[dict[str, Any]], tool_choice: Any) -> dict[str, Any]:
    specs = []
    for tool in tools:
        fn = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(fn, dict) or not fn.get("name"):
            raise ConfigurationError(f"only function tools are supported, got {tool!r}")
        spec: dict[str, Any] = {
            "name": fn["name"],
            "inputSchema": {"json": fn.get("parameters") or {"type": "object", "properties": {}}},
        }
        if fn.get("description"):
            spec["description"] = fn["description"]
        specs.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": specs}
    if tool_choice is None:
        pass  # Converse's default is auto
    elif tool_choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif tool_choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(tool_choice, dict) and isinstance(tool_choice.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": tool_choice["function"]["name"]}}
    else:
        raise ConfigurationError(
            f"tool_choice {tool_choice!r} is not available on Bedrock Converse: use 'auto', "
            "'required' or a named function (or leave tools out instead of 'none')"
        )
    return config


def converse_request(
    request: ChatRequest,
    model_id: str,
    team_profiles: Mapping[str, str] | None = None,
    team_tag: str = "team",
) -> dict[str, Any]:
    system, messages = converse_messages(request.messages)
    team = (request.metadata or {}).get(team_tag)
    if team_profiles and team is not None and team in team_profiles:
        # The call's team has its own application inference profile: calling through it puts
        # the tokens on the team's cost-allocation tags in the bill (and reconcile matches them).
        model_id = team_profiles[team]
    params: dict[str, Any] = {"modelId": model_id, "messages": messages}
    if system:
        params["system"] = system
    inference: dict[str, Any] = {}
    if request.max_tokens is not None:
        inference["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if inference:
        params["inferenceConfig"] = inference
    extra: dict[str, Any] = {}
    if request.reasoning_effort is not None:
        extra["reasoning_effort"] = request.reasoning_effort
    extra.update(request.extra_body or {})
    if extra:
        params["additionalModelRequestFields"] = extra
    if request.tools:
        params["toolConfig"] = converse_tool_config(request.tools, request.tool_choice)
    if request.service_tier is not None:
        params["serviceTier"] = {"type": SERVICE_TIERS[request.service_tier]}
    if request.project is not None:
        params["projectIdentifier"] = request.project
    metadata = request_metadata(request.metadata or {})
    if metadata:
        params["requestMetadata"] = metadata
    return params


def request_metadata(tags: dict[str, str]) -> dict[str, str]:
    """The tags Converse's requestMetadata accepts (see the module doc), in sorted order."""
    kept: dict[str, str] = {}
    left_out: list[str] = []
    for key, value in sorted(tags.items()):
        fits = key and METADATA_PATTERN.match(key) and METADATA_PATTERN.match(value)
        if fits and len(kept) < METADATA_MAX_PAIRS:
            kept[key] = value
        else:
            left_out.append(key)
    if left_out:
        log.warning(
            "tags %s are recorded in the ledger but not sent as Bedrock requestMetadata "
            "(at most %d pairs of [a-zA-Z0-9 :_@$#=/+,-.], keys 1-256 and values 0-256 long)",
            left_out,
            METADATA_MAX_PAIRS,
        )
    return kept

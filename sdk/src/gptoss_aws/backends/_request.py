"""One chat request, checked and built before any budget or network use.

``build_request`` turns the client's keyword arguments into a ``ChatRequest`` (or a
``ConfigurationError`` saying which argument is wrong); ``ChatRequest.openai_body`` is the
OpenAI chat-completions body the container and any OpenAI-compatible server take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gptoss_aws.errors import ConfigurationError

ReasoningEffort = Literal["low", "medium", "high"]
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_EFFORTS = ("low", "medium", "high")


@dataclass(frozen=True)
class ChatRequest:
    """One validated chat request, independent of the backend that will send it."""

    messages: list[dict[str, Any]]
    stream: bool = False
    model: str | None = None
    reasoning_effort: ReasoningEffort | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    extra_body: dict[str, Any] | None = None
    # Bedrock service tier in our names (standard, flex, priority, reserved), a Bedrock
    # project, and the call's tags (Bedrock requestMetadata).
    service_tier: str | None = None
    project: str | None = None
    metadata: dict[str, str] | None = None

    def openai_body(self, default_model: str | None = None) -> dict[str, Any]:
        """The OpenAI chat-completions body (what vLLM and the container take)."""
        body: dict[str, Any] = {}
        model = self.model or default_model
        if model:
            body["model"] = model
        body["messages"] = self.messages
        if self.stream:
            body["stream"] = True
            # The container always appends a usage chunk, other servers only when asked;
            # without it a streamed call could only be estimated.
            body["stream_options"] = {"include_usage": True}
        for key, value in (
            ("reasoning_effort", self.reasoning_effort),
            ("tools", self.tools),
            ("tool_choice", self.tool_choice),
            ("max_tokens", self.max_tokens),
            ("temperature", self.temperature),
        ):
            if value is not None:
                body[key] = value
        if self.service_tier is not None:
            from gptoss_aws.pricing.regions import SERVICE_TIERS

            # The OpenAI-compatible field; AWS's name for standard is "default".
            body["service_tier"] = SERVICE_TIERS[self.service_tier]
        if self.extra_body:
            body.update(self.extra_body)
        return body


def build_request(
    *,
    messages: Any,
    stream: bool,
    model: str | None,
    reasoning_effort: str | None,
    tools: Any,
    tool_choice: Any,
    max_tokens: int | None,
    temperature: float | None,
    extra_body: dict[str, Any] | None,
    service_tier: str | None = None,
    project: str | None = None,
) -> ChatRequest:
    """Check the arguments locally, so a bad call fails before budgets or the network."""
    if not isinstance(messages, list | tuple) or not messages:
        raise ConfigurationError("messages must be a non-empty list of {'role', 'content'} dicts")
    checked: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ConfigurationError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        role = message.get("role")
        if role not in _ROLES:
            raise ConfigurationError(
                f"messages[{i}] has role {role!r}: use one of {', '.join(sorted(_ROLES))}"
            )
        if "content" not in message and not message.get("tool_calls"):
            raise ConfigurationError(f"messages[{i}] has no content")
        checked.append(dict(message))
    if reasoning_effort is not None and reasoning_effort not in _EFFORTS:
        raise ConfigurationError(
            f"reasoning_effort must be one of {', '.join(_EFFORTS)} or None, "
            f"got {reasoning_effort!r}"
        )
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ConfigurationError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if temperature is not None and not 0 <= temperature <= 2:
        raise ConfigurationError(f"temperature must be between 0 and 2, got {temperature!r}")
    if tools is not None and not isinstance(tools, list):
        raise ConfigurationError("tools must be a list of OpenAI tool definitions")
    if extra_body is not None and not isinstance(extra_body, dict):
        raise ConfigurationError("extra_body must be a dict")
    if service_tier is not None:
        from gptoss_aws.pricing.regions import canonical_tier

        service_tier = canonical_tier(service_tier)
    if project is not None and (not isinstance(project, str) or not project):
        raise ConfigurationError(f"project must be a non-empty string, got {project!r}")
    return ChatRequest(
        messages=checked,
        stream=stream,
        model=model,
        reasoning_effort=reasoning_effort,  # type: ignore[arg-type]  # checked above
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=max_tokens,
        temperature=temperature,
        extra_body=extra_body,
        service_tier=service_tier,
        project=project,
    )

"""The tool the tiny "tool" model always calls, as an OpenAI Chat Completions tool.

gptoss_tiny's tool script answers every request with a call to get_weather; tests and
`make local` offer it the same definition.
"""

from __future__ import annotations

from typing import Any

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

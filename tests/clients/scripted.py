"""What the tiny deterministic checkpoints answer under greedy decoding, and the usage vLLM
reports for it (inference_container/src/gptoss_tiny/script.py; that package lives in the
engine environment, so the values are repeated here)."""

from __future__ import annotations

MESSAGES = [{"role": "user", "content": "Hello there"}]
CHAT_REASONING = "User says hello; reply warmly, for example:"
CHAT_CONTENT = "Hello! How can I help you today?"
CHAT_COMPLETION_TOKENS = 29
CHAT_REASONING_TOKENS = 10

TOOL_REASONING = "Need current conditions, so ask the weather service:"
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "Paris"}'
TOOL_COMPLETION_TOKENS = 35
TOOL_REASONING_TOKENS = 16
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

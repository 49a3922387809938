"""reasoning -> reasoning_content on a recording ASGI app: whole answers, streams cut at
every byte offset, the setting, and answers that must pass untouched (5xx included)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest

from gptoss_container.drain import DrainState
from gptoss_container.middleware import GptOssMiddleware
from gptoss_container.reasoning_alias import aliasing_send, reasoning_content_enabled

COMPLETION = {
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi", "reasoning": "é?"}}],
    "usage": {"completion_tokens": 3},
}
CHUNKS = [
    {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"reasoning": "Think"}}]},
    {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"reasoning": "ing ü"}}]},
    {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
    {"object": "chat.completion.chunk", "choices": [], "usage": {"completion_tokens": 3}},
]
SSE = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in CHUNKS) + b"data: [DONE]\n\n"


def replay(parts: list[bytes], content_type: bytes, status: int = 200) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def go() -> None:
        wrapped = aliasing_send(send)
        headers = [(b"content-type", content_type)]
        if content_type == b"application/json":
            headers.append((b"content-length", str(sum(map(len, parts))).encode()))
        await wrapped({"type": "http.response.start", "status": status, "headers": headers})
        for i, part in enumerate(parts):
            more = i < len(parts) - 1
            await wrapped({"type": "http.response.body", "body": part, "more_body": more})

    asyncio.run(go())
    return sent


def body_of(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_whole_answer_gets_the_alias_and_a_matching_content_length() -> None:
    raw = json.dumps(COMPLETION).encode()
    sent = replay([raw[:10], raw[10:]], b"application/json")
    body = body_of(sent)
    message = json.loads(body)["choices"][0]["message"]
    assert message["reasoning_content"] == message["reasoning"] == "é?"
    headers = dict(sent[0]["headers"])
    assert int(headers[b"content-length"]) == len(body)


@pytest.mark.parametrize("cut", range(0, len(SSE), 7))
def test_a_stream_cut_anywhere_gets_the_alias_on_every_reasoning_delta(cut: int) -> None:
    sent = replay([SSE[:cut], SSE[cut:]], b"text/event-stream")
    events = [e for e in body_of(sent).split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Thinking ü"
    assert all(d.get("reasoning_content") == d.get("reasoning") for d in deltas)
    assert chunks[-1]["usage"] == {"completion_tokens": 3}  # usage is never duplicated
    assert sent[-1]["more_body"] is False


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"error": {"message": "boom", "code": 500}}', b"application/json", 500),
        (b'{"object": "response", "reasoning": "x"}', b"application/json", 200),
        (b"plain text", b"text/plain", 200),
    ],
)
def test_other_answers_pass_untouched(body: bytes, content_type: bytes, status: int) -> None:
    sent = replay([body], content_type, status)
    assert sent[0]["status"] == status
    assert body_of(sent) == body


def test_the_setting_reads_the_validated_boolean() -> None:
    assert reasoning_content_enabled({}) is True
    assert reasoning_content_enabled({"GPTOSS_REASONING_CONTENT": "true"}) is True
    for off in ("false", "FALSE", "0", "no"):
        assert reasoning_content_enabled({"GPTOSS_REASONING_CONTENT": off}) is False


class Answers:
    """An ASGI app that answers every request with a fixed status and JSON body."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        self.status, self.body = status, json.dumps(payload).encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def call(app: Any, path: str) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Any:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(body_of(sent))


@pytest.mark.parametrize("enabled", [True, False])
def test_the_middleware_aliases_chat_answers_only_when_enabled(enabled: bool) -> None:
    app = GptOssMiddleware(
        Answers(200, COMPLETION), DrainState(1), route_by_body=True, reasoning_content=enabled
    )
    status, answer = call(app, "/invocations")
    assert status == 200
    assert ("reasoning_content" in answer["choices"][0]["message"]) is enabled


def test_a_real_server_fault_stays_a_500() -> None:
    fault = {"error": {"message": "engine dead", "type": "InternalServerError", "code": 500}}
    app = GptOssMiddleware(Answers(500, fault), DrainState(1), route_by_body=True)
    assert call(app, "/v1/chat/completions") == (500, fault)

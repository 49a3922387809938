"""Recorded vLLM 0.32 gpt-oss responses, and a real socket server that replays them.

The bodies are what the container (vLLM 0.32.0 serving the tiny deterministic gpt-oss)
answered; the server speaks plain HTTP for the OpenAI-compatible path and AWS event-stream
framing for SageMaker's InvokeEndpointWithResponseStream, so botocore parses real frames.
Other test modules import from here; the tests at the bottom check the replay itself.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.eventstream import EventStreamBuffer
from sagemaker_standin.eventstream import exception_event, payload_part

# ---- recorded responses -------------------------------------------------------------------

CHAT_ID = "chatcmpl-8c47a451d53d65b5"
CREATED = 1795814264
REASONING = "User says hello; reply warmly, for example:"
CONTENT = "Hello! How can I help you today?"
REASONING_PIECES = [
    "User",
    " says",
    " hello",
    ";",
    " reply",
    " warmly",
    ",",
    " for",
    " example",
    ":",
]
CONTENT_PIECES = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]
assert "".join(REASONING_PIECES) == REASONING
assert len(REASONING_PIECES) == 10
assert "".join(CONTENT_PIECES) == CONTENT
assert len(CONTENT_PIECES) == 9

CHAT_COMPLETION: dict[str, Any] = {
    "id": CHAT_ID,
    "object": "chat.completion",
    "created": CREATED,
    "model": "tiny",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": CONTENT,
                "refusal": None,
                "annotations": None,
                "audio": None,
                "function_call": None,
                "reasoning": REASONING,
            },
            "logprobs": None,
            "finish_reason": "stop",
            "stop_reason": None,
            "token_ids": None,
        }
    ],
    "system_fingerprint": "vllm-0.32.0-391b6a39",
    "usage": {
        "prompt_tokens": 68,
        "total_tokens": 97,
        "completion_tokens": 29,
        "prompt_tokens_details": None,
        "completion_tokens_details": {"reasoning_tokens": 10},
    },
}

TOOL_ID = "chatcmpl-tool-865912f568ee43e3"
TOOL_REASONING = "Need current conditions, so ask the weather service:"
TOOL_REASONING_PIECES = [
    "Need",
    " current",
    " conditions",
    ",",
    " so",
    " ask",
    " the",
    " weather",
    " service",
    ":",
]
TOOL_ARGUMENT_PIECES = ['{"', "city", '":', ' "', "Paris", '"}']
assert "".join(TOOL_REASONING_PIECES) == TOOL_REASONING
TOOL_ARGUMENTS = '{"city": "Paris"}'
assert "".join(TOOL_ARGUMENT_PIECES) == TOOL_ARGUMENTS

TOOL_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-a1b2c3d4e5f60718",
    "object": "chat.completion",
    "created": CREATED,
    "model": "tiny",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": TOOL_ID,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS},
                    }
                ],
                "reasoning": TOOL_REASONING,
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
            "stop_reason": 200012,
        }
    ],
    "usage": {
        "prompt_tokens": 123,
        "total_tokens": 158,
        "completion_tokens": 35,
        "prompt_tokens_details": None,
        "completion_tokens_details": {"reasoning_tokens": 16},
    },
}

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": CHAT_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "tiny",
        "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish, **extra}
        ],
    }


def _usage_chunk(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "id": CHAT_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "tiny",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "completion_tokens": completion,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        },
    }


def chat_stream_chunks(*, with_usage: bool = True) -> list[dict[str, Any]]:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"reasoning": piece}) for piece in REASONING_PIECES]
    chunks += [_chunk({"content": piece}) for piece in CONTENT_PIECES]
    chunks.append(_chunk({}, "stop", stop_reason=None))
    if with_usage:
        chunks.append(_usage_chunk(68, 29, 10))
    return chunks


def tool_stream_chunks() -> list[dict[str, Any]]:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"reasoning": piece}) for piece in TOOL_REASONING_PIECES]
    chunks.append(
        _chunk(
            {
                "tool_calls": [
                    {
                        "id": TOOL_ID,
                        "type": "function",
                        "index": 0,
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        )
    )
    chunks += [
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        for piece in TOOL_ARGUMENT_PIECES
    ]
    chunks.append(_chunk({}, "tool_calls", stop_reason=200012))
    chunks.append(_usage_chunk(123, 35, 16))
    return chunks


def sse_bytes(chunks: list[dict[str, Any]], *, done: bool = True) -> bytes:
    """The exact framing vLLM writes: ``data: {json}\\n\\n`` per chunk, then [DONE]."""
    out = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return out + (b"data: [DONE]\n\n" if done else b"")


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# ---- the replay server ------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer. ``parts`` are written as separate HTTP chunks (flushed), so the
    client reads them in pieces; ``cut`` drops the connection before the body ends."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    parts: list[bytes] | None = None
    cut: bool = False
    reset: bool = False  # close the socket without any answer
    stall_after: int | None = None  # after this many parts, wait ``stall`` seconds
    stall: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] = ("", 0)  # the client's address: same port, same connection

    def json(self) -> Any:
        return json.loads(self.body)


ScriptItem = Reply | Callable[["Seen"], Reply]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closes a stream early breaks the pipe: that is the test, not news.
        pass


class ReplayServer:
    """A real HTTP server on 127.0.0.1 answering like the container and like SageMaker's
    runtime. Script replies with ``server.replies.append(...)``; otherwise it answers the
    recorded chat (or tool call, when the request has tools)."""

    def __init__(self) -> None:
        self.replies: deque[ScriptItem] = deque()
        self.seen: list[Seen] = []
        self.sse_split = 7  # bytes per HTTP write on the OpenAI-compatible path
        # How SageMaker cuts the SSE bytes into PayloadParts: every 13 bytes by default.
        self.payload_split: Callable[[bytes], list[bytes]] = lambda data: split_every(data, 13)
        self.stream_chunks: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda body: (
            tool_stream_chunks() if body.get("tools") else chat_stream_chunks()
        )
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between writes

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    "POST",
                    self.path,
                    dict(self.headers.items()),
                    self.rfile.read(length),
                    self.client_address[:2],
                )
                server.seen.append(seen)
                item = server.replies.popleft() if server.replies else server.default(seen)
                reply = item(seen) if callable(item) else item
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.reset:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.parts is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, part in enumerate(reply.parts):
                    if i == reply.stall_after:
                        time.sleep(reply.stall)
                    if part:
                        self.wfile.write(f"{len(part):X}\r\n".encode() + part + b"\r\n")
                        self.wfile.flush()
                if reply.cut:
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(b"0\r\n\r\n")

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def default(self, seen: Seen) -> Reply:
        body = seen.json() if seen.body else {}
        stream_path = seen.path.endswith("/invocations-response-stream")
        if stream_path:
            return self.sagemaker_stream(sse_bytes(self.stream_chunks(body)))
        if body.get("stream"):
            return sse_reply(sse_bytes(self.stream_chunks(body)), self.sse_split)
        recorded = TOOL_COMPLETION if body.get("tools") else CHAT_COMPLETION
        return json_reply(recorded)

    def sagemaker_stream(self, sse: bytes, *, tail: bytes = b"", cut: bool = False) -> Reply:
        frames = b"".join(payload_part(p) for p in self.payload_split(sse)) + tail
        return Reply(
            headers={
                "Content-Type": "application/vnd.amazon.eventstream",
                "X-Amzn-SageMaker-Content-Type": "text/event-stream",
                "x-Amzn-Invoked-Production-Variant": "AllTraffic",
            },
            # The HTTP writes are cut independently of the frames, as TCP would.
            parts=split_every(frames, 50),
            cut=cut,
        )


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=json.dumps(data).encode(),
    )


def sse_reply(data: bytes, split: int = 7, *, cut: bool = False) -> Reply:
    return Reply(
        headers={"Content-Type": "text/event-stream; charset=utf-8"},
        parts=split_every(data, split),
        cut=cut,
    )


def error_reply(status: int, message: str, kind: str = "Bad Request") -> Reply:
    """The container's OpenAI-shaped error body."""
    return json_reply(
        {"error": {"message": message, "type": kind, "param": None, "code": status}}, status
    )


def iter_frames(data: bytes) -> Iterator[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    yield from buffer


# ---- tests of the replay itself ---------------------------------------------------------------


def test_recorded_stream_reassembles_to_the_recorded_completion() -> None:
    chunks = chat_stream_chunks()
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning", "") for c in chunks[:-1])
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert reasoning == CHAT_COMPLETION["choices"][0]["message"]["reasoning"]
    assert content == CHAT_COMPLETION["choices"][0]["message"]["content"]
    assert len(chunks) == 1 + 10 + 9 + 1 + 1


def test_event_stream_frames_are_what_botocore_decodes() -> None:
    payloads = [b"data: {", b'"a": 1}\n\nda', "é".encode()]
    data = b"".join(payload_part(p) for p in payloads) + exception_event(
        "ModelStreamError", {"Message": "boom", "ErrorCode": "StreamBroken"}
    )
    messages = list(iter_frames(data))
    assert [m.payload for m in messages[:3]] == payloads
    assert messages[0].headers[":event-type"] == "PayloadPart"
    assert messages[3].headers[":exception-type"] == "ModelStreamError"
    assert re.search(b"StreamBroken", messages[3].payload)

"""The middleware's request handling, on a recording ASGI app (the served behaviour is
checked end to end against the real engine in test_serving_*.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gptoss_container.drain import DrainState
from gptoss_container.middleware import GptOssMiddleware
from gptoss_container.request_rules import decide
from gptoss_container.routing import ROUTABLE_PATHS, choose_route, parse_custom_attributes


class Recorder:
    """An ASGI app that records what reached it and answers 200."""

    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.seen: list[tuple[str, bytes, dict[str, str]]] = []
        self.hold = hold

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.seen.append((scope["path"], body, headers))
        if self.hold is not None:
            await self.hold.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(
    app: Any, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    chunks = [body[:7], body[7:]]  # the body arrives in two messages, as it can over HTTP
    sent: list[Any] = []

    async def receive() -> Any:
        if chunks:
            part = chunks.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(chunks)}
        await asyncio.sleep(3600)

    async def send(msg: Any) -> None:
        sent.append(msg)

    headers = {"Content-Type": "application/json", **(headers or {})}
    hdrs = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    hdrs.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "headers": hdrs,
        "query_string": b"",
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, out


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_custom_attribute_route_rewrites_invocations_to_the_responses_api() -> None:
    rec = Recorder()
    mw = GptOssMiddleware(rec, DrainState(1))
    status, _ = run(
        call(
            mw,
            "/invocations",
            b'{"input": "hi"}',
            {"X-Amzn-SageMaker-Custom-Attributes": "trace=1, route=/v1/responses"},
        )
    )
    assert status == 200
    assert rec.seen[0][0] == "/v1/responses"


def test_unknown_route_is_refused_with_an_openai_error_naming_the_allowed_routes() -> None:
    rec = Recorder()
    status, body = run(
        call(
            GptOssMiddleware(rec, DrainState(1)),
            "/invocations",
            b"{}",
            {"X-Amzn-SageMaker-Custom-Attributes": "route=/v1/../admin"},
        )
    )
    assert status == 400
    err = json.loads(body)["error"]
    assert err["code"] == 400
    assert err["param"] == "CustomAttributes"
    assert "/v1/responses" in err["message"]
    assert rec.seen == []


def test_streamed_chat_request_gets_usage_switched_on_and_a_correct_content_length() -> None:
    rec = Recorder()
    request = {"messages": [{"role": "user", "content": "hé"}], "stream": True}
    run(
        call(
            GptOssMiddleware(rec, DrainState(1)),
            "/v1/chat/completions",
            json.dumps(request).encode(),
        )
    )
    _, body, headers = rec.seen[0]
    sent = json.loads(body)
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == request["messages"]
    assert headers["content-length"] == str(len(body))


def test_usage_is_forced_through_invocations_too_but_not_for_the_responses_route() -> None:
    rec = Recorder()
    mw = GptOssMiddleware(rec, DrainState(1))
    run(call(mw, "/invocations", b'{"prompt": "x", "stream": true}'))
    run(
        call(
            mw,
            "/invocations",
            b'{"input": "x", "stream": true}',
            {"X-Amzn-SageMaker-Custom-Attributes": "route=/v1/responses"},
        )
    )
    assert json.loads(rec.seen[0][1])["stream_options"] == {"include_usage": True}
    assert "stream_options" not in json.loads(rec.seen[1][1])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"stream": false}', None),
        (b'{"messages": []}', None),
        (b"not json", None),
        (b"[1, 2]", None),
        (b'{"stream": true, "stream_options": "bad"}', None),  # vLLM names the wrong type
        (b'{"stream": true, "stream_options": {"include_usage": true}}', None),
        (b'{"stream": true, "stream_options": {"include_usage": false}}', {"include_usage": True}),
        (
            b'{"stream": true, "stream_options": {"continuous_usage_stats": true}}',
            {"continuous_usage_stats": True, "include_usage": True},
        ),
    ],
)
def test_stream_usage_is_switched_on_only_for_streamed_bodies(
    body: bytes, expected: dict[str, bool] | None
) -> None:
    out = decide("/v1/chat/completions", body, max_model_len=None, route_by_body=True).body
    if expected is None:
        assert out is None
    else:
        assert out is not None
        assert json.loads(out)["stream_options"] == expected


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/chat/completions", "max_tokens"),
        ("/v1/chat/completions", "max_completion_tokens"),
        ("/v1/completions", "max_tokens"),
        ("/v1/responses", "max_output_tokens"),
        ("/invocations", "max_tokens"),
    ],
)
def test_an_output_length_past_the_context_window_is_refused(path: str, field: str) -> None:
    over = decide(path, json.dumps({field: 4097}).encode(), 4096, route_by_body=False)
    assert over.refusal is not None
    assert over.refusal.param == field
    assert "4097" in over.refusal.message
    assert "4096" in over.refusal.message
    at_limit = decide(path, json.dumps({field: 4096}).encode(), 4096, route_by_body=False)
    assert at_limit.refusal is None


def test_invocations_bodies_go_to_the_route_their_shape_names() -> None:
    chat = decide("/invocations", b'{"messages": "oops"}', None, route_by_body=True)
    text = decide("/invocations", b'{"prompt": "x"}', None, route_by_body=True)
    other = decide("/invocations", b'{"input": "x"}', None, route_by_body=True)
    kept = decide("/invocations", b'{"messages": []}', None, route_by_body=False)
    assert (chat.path, text.path, other.path, kept.path) == (
        "/v1/chat/completions",
        "/v1/completions",
        "/invocations",
        "/invocations",
    )


def test_a_non_json_content_type_gets_415_and_never_reaches_vllm() -> None:
    rec = Recorder()
    status, body = run(
        call(
            GptOssMiddleware(rec, DrainState(1)),
            "/invocations",
            b"{}",
            {"Content-Type": "text/csv"},
        )
    )
    assert status == 415
    assert "text/csv" in json.loads(body)["error"]["message"]
    assert rec.seen == []


def test_custom_attribute_parsing_is_lenient_about_separators_and_case() -> None:
    assert parse_custom_attributes("Route=/v1/responses; a=b,junk") == {
        "route": "/v1/responses",
        "a": "b",
    }
    assert choose_route(None).path is None
    assert choose_route("foo=bar").path is None
    for path in ROUTABLE_PATHS:
        assert choose_route(f"route={path}").path == path


def test_drain_turns_ping_and_new_requests_503_and_waits_for_in_flight_work() -> None:
    async def scenario() -> tuple[int, int, int, bool, list[str]]:
        hold = asyncio.Event()
        events: list[str] = []
        drain = DrainState(5, hand_over=lambda: events.append("handed over"))
        mw = GptOssMiddleware(Recorder(hold), drain)
        in_flight = asyncio.create_task(call(mw, "/v1/chat/completions", b"{}"))
        await asyncio.sleep(0.05)
        drain.begin()
        ping, _ = await call(mw, "/ping")
        new, body = await call(mw, "/v1/chat/completions", b"{}")
        handed_over_early = bool(events)
        hold.set()
        first, _ = await in_flight
        await asyncio.sleep(0.05)
        assert json.loads(body)["error"]["code"] == 503
        return ping, new, first, handed_over_early, events

    ping, new, first, early, events = run(scenario())
    assert (ping, new, first) == (503, 503, 200)
    assert not early
    assert events == ["handed over"]


def test_drain_gives_up_after_its_timeout() -> None:
    async def scenario() -> list[str]:
        events: list[str] = []
        drain = DrainState(0.1, hand_over=lambda: events.append("handed over"))
        mw = GptOssMiddleware(Recorder(asyncio.Event()), drain)
        stuck = asyncio.create_task(call(mw, "/v1/completions", b"{}"))
        await asyncio.sleep(0.05)
        drain.begin()
        await asyncio.sleep(0.3)
        stuck.cancel()
        return events

    assert run(scenario()) == ["handed over"]


def test_without_the_variable_the_drain_timeout_is_the_settings_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `gptoss_container serve` always sets the variable; a middleware loaded some other way
    # must drain for the same documented default, not a second number of its own.
    from gptoss_container.middleware import DRAIN_TIMEOUT_ENV
    from gptoss_container.settings import ContainerSettings
    from gptoss_facts.endpoint import DRAIN_TIMEOUT_S

    monkeypatch.delenv(DRAIN_TIMEOUT_ENV, raising=False)
    middleware = GptOssMiddleware(Recorder())
    assert middleware.drain.timeout_s == DRAIN_TIMEOUT_S == 25.0
    assert ContainerSettings.model_fields["drain_timeout_s"].default == DRAIN_TIMEOUT_S

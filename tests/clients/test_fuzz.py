"""A bounded schemathesis run against the container: no 5xx, no hang, still serving after.

CI sends GPTOSS_FUZZ_EXAMPLES cases per route (schemathesis' fuzzing phase); `make
fuzz-long` runs its coverage phase too with many more. Every 5xx is listed with its body.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import fuzz
import httpx
import pytest
from conftest import SUMMARIES
from scripted import CHAT_CONTENT, MESSAGES
from serverproc import Server

pytestmark = pytest.mark.engine
EXAMPLES = int(os.environ.get("GPTOSS_FUZZ_EXAMPLES", "40"))
PHASES = os.environ.get("GPTOSS_FUZZ_PHASES", "fuzzing")


def test_schemathesis_finds_no_5xx_and_no_hang(chat: Server, tmp_path: Path) -> None:
    report = fuzz.run(chat.url, tmp_path, examples=EXAMPLES, phases=PHASES)
    SUMMARIES.append(report.summary())
    # Every route got cases (positive and negative): a run that sent nothing proves nothing.
    assert report.requests >= len(fuzz.ROUTES) * EXAMPLES // 2, report.output[-4000:]
    assert report.server_errors == [], "\n".join(report.server_errors[:20])
    assert report.no_answer == [], "\n".join(report.no_answer[:20])
    after = httpx.post(
        chat.url + "/invocations", json={"messages": MESSAGES, "max_tokens": 64}, timeout=60
    )
    assert after.status_code == 200
    assert after.json()["choices"][0]["message"]["content"] == CHAT_CONTENT


def test_hand_written_hostile_bodies_get_no_5xx(chat: Server) -> None:
    """Malformed bodies by class (every integer field past 64 bits, every object field given
    a non-object, deep nesting, broken messages and Responses items), to each route and
    through /invocations: the middleware before issue 9 answered 96 of 572 with a 500."""
    report = fuzz.send_hostile(chat.url)
    SUMMARIES.append(report.summary("hostile corpus"))
    assert report.requests > 500
    assert report.server_errors == [], "\n".join(report.server_errors[:20])
    assert report.no_answer == [], "\n".join(report.no_answer[:20])


# A body each route accepts, to which the tests add one wrong field.
_BASE: dict[str, tuple[str, dict[str, Any]]] = {
    "ChatCompletionRequest": ("/v1/chat/completions", {"messages": MESSAGES}),
    "CompletionRequest": ("/v1/completions", {"prompt": "Hello there"}),
    "ResponsesRequest": ("/v1/responses", {"input": "Hello there"}),
    "TokenizeCompletionRequest": ("/tokenize", {"prompt": "Hello there"}),
}


def _integer_fields(openapi: dict[str, Any], name: str) -> list[str]:
    schemas = openapi["components"]["schemas"]
    fields = []
    for field, prop in schemas[name]["properties"].items():
        options = prop.get("anyOf") or [prop]
        kinds = {o.get("type") for o in options} - {"null"}
        if kinds == {"integer"}:
            fields.append(field)
    return fields


def test_every_integer_field_past_64_bits_is_a_400(chat: Server) -> None:
    """The class behind two fuzz findings (top_k, repetition_detection.min_count): every
    integer field of every route, from vLLM's own schema."""
    openapi = httpx.get(chat.url + "/openapi.json", timeout=30).json()
    tried = []
    for name, (path, base) in _BASE.items():
        for field in _integer_fields(openapi, name):
            r = httpx.post(chat.url + path, json={**base, field: 2**64}, timeout=60)
            assert r.status_code == 400, f"{path} {field}: {r.status_code} {r.text}"
            assert r.json()["error"]["param"] == field
            tried.append(field)
    assert len(tried) > 20  # vLLM 0.32 has dozens; an empty sweep would pass vacuously

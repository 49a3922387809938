"""A bounded schemathesis run against the running container, and what it found.

vLLM's OpenAPI document declares no request body for /invocations, so the fuzzer would
send it nothing useful; ``with_invocations_body`` gives it ours: a chat completion or a
text completion request, the two bodies /invocations routes by shape.

Also a command, for the numbers in a closing note or a longer run by hand::

    python tests/clients/fuzz.py http://127.0.0.1:8080 --examples 200 --phases coverage,fuzzing
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROUTES = ("/invocations", "/v1/chat/completions", "/v1/responses", "/v1/completions", "/tokenize")


def with_invocations_body(openapi: dict[str, Any]) -> dict[str, Any]:
    """vLLM's OpenAPI document, with the body /invocations accepts."""
    schema: dict[str, Any] = json.loads(json.dumps(openapi))
    operation = schema["paths"]["/invocations"]["post"]
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ChatCompletionRequest"},
                        {"$ref": "#/components/schemas/CompletionRequest"},
                    ]
                }
            }
        },
    }
    return schema


@dataclass
class FuzzReport:
    exit_code: int
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: list[str] = field(default_factory=list)  # "<status> <route>: <body>"
    no_answer: list[str] = field(default_factory=list)  # timeouts and dropped connections
    output: str = ""

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.no_answer)

    def summary(self, what: str = "schemathesis") -> str:
        return (
            f"{what}: {self.requests} requests, {len(self.server_errors)} 5xx, "
            f"{len(self.no_answer)} unanswered; statuses {dict(sorted(self.statuses.items()))}"
        )


def run(
    base_url: str,
    work: Path,
    *,
    examples: int,
    seed: int = 9,
    phases: str = "fuzzing",
    request_timeout: float = 120.0,
    workers: int = 2,
    st: str | None = None,
) -> FuzzReport:
    openapi = httpx.get(base_url + "/openapi.json", timeout=30).json()
    work = work.resolve()
    schema_path = work / "openapi-with-invocations.json"
    schema_path.write_text(json.dumps(with_invocations_body(openapi)))
    events = work / "schemathesis.ndjson"
    routes = "|".join(r.lstrip("/") for r in ROUTES)
    command = [
        st or str(Path(sys.executable).with_name("st")),
        "run",
        str(schema_path),
        "--url",
        base_url,
        "--include-path-regex",
        f"^/({routes})$",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--phases",
        phases,
        "--request-timeout",
        str(request_timeout),
        "--workers",
        str(workers),
        "--no-shrink",
        "--continue-on-failure",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(events),
    ]
    # In the work directory: schemathesis keeps its example database (.schemathesis/) there.
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=work)
    report = FuzzReport(exit_code=done.returncode, output=done.stdout + done.stderr)
    if events.exists():
        _read_events(events, report)
    return report


def _read_events(path: Path, report: FuzzReport) -> None:
    for line in path.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for interaction in (recorder.get("interactions") or {}).values():
            response = interaction.get("response")
            request = interaction.get("request") or {}
            where = f"{recorder['label']} {_body(request)}"
            if response is None:
                report.no_answer.append(where)
                continue
            status = int(response["status_code"])
            report.statuses[status] += 1
            if status >= 500:
                report.server_errors.append(f"{status} {where} -> {_body(response)}")


def _body(message: dict[str, Any]) -> str:
    import base64

    raw = message.get("body") or message.get("content") or {}
    data = raw.get("$base64") if isinstance(raw, dict) else None
    text = base64.b64decode(data).decode(errors="replace") if data else str(raw)
    return text[:300]


# A body each route accepts, to which the hostile corpus adds one wrong thing.
BASE_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "ChatCompletionRequest": (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 8},
    ),
    "CompletionRequest": ("/v1/completions", {"prompt": "Hello there", "max_tokens": 8}),
    "ResponsesRequest": ("/v1/responses", {"input": "Hello there", "max_output_tokens": 8}),
    "TokenizeCompletionRequest": ("/tokenize", {"prompt": "Hello there"}),
    "TokenizeChatRequest": ("/tokenize", {"messages": [{"role": "user", "content": "hi"}]}),
}
_WRONG_FOR_OBJECT: tuple[Any, ...] = (True, 1, "x", [], [1])
_BAD_MESSAGES: tuple[Any, ...] = (
    [{"author": {"role": "user"}}],
    [{"author": {"role": "user"}, "content": [{"type": "text", "text": "hi"}]}],
    ["hi"],
    [None],
    [{"content": "hi"}],
    [{"role": None, "content": "hi"}],
    [{"role": "narrator", "content": ["hi"]}],
    [{"role": "narrator", "content": {"text": "hi"}}],
    [{"role": "narrator", "content": 5}],
    [{"role": "user", "content": [{"type": "text", "text": 5}]}],
    [{"role": "assistant", "tool_calls": [{"function": {"name": 1, "arguments": {}}}]}],
    [{"role": "assistant", "reasoning": ["x"], "content": "hi"}],
)
_BAD_ITEMS: tuple[Any, ...] = (
    {"type": "function_call_output", "output": "x"},
    {"type": "function_call_output", "call_id": "c"},
    {"type": "function_call", "call_id": "c", "arguments": "{}"},
    {"type": "function_call", "name": "f", "call_id": "c"},
    {"type": "message", "content": "hi"},
    {"role": "user"},
    {"role": "user", "content": ["hi"]},
    {"type": "reasoning", "content": [{"type": "reasoning_text"}]},
    {"type": "reasoning", "content": ["x"]},
    {"type": 5},
    "hi",
)


def hostile_bodies(openapi: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """Hand-written malformed bodies, by class, from vLLM's own request schemas:
    (label, route, body). Every one must get a 4xx."""
    schemas = openapi["components"]["schemas"]
    out: list[tuple[str, str, bytes]] = []

    def add(label: str, path: str, body: Any) -> None:
        out.append((label, path, body if isinstance(body, bytes) else json.dumps(body).encode()))

    for name, (path, base) in BASE_BODIES.items():
        for field_name, prop in schemas[name]["properties"].items():
            kinds = {o.get("type") for o in (prop.get("anyOf") or [prop])} - {"null"}
            refs = [o for o in (prop.get("anyOf") or [prop]) if "$ref" in o]
            if kinds == {"integer"}:
                for value in (2**63, -(2**63) - 1, 2**64, 10**30):
                    add(f"{name}.{field_name}={value}", path, {**base, field_name: value})
            if refs and kinds <= {None, "object"}:
                for wrong in _WRONG_FOR_OBJECT:
                    add(f"{name}.{field_name}={wrong!r}", path, {**base, field_name: wrong})
    for path in ("/invocations", "/v1/chat/completions", "/v1/responses", "/tokenize"):
        for depth in (200, 1000, 5000):
            for field_name in ("messages", "input", "prompt", "tools"):
                body = f'{{"{field_name}":'.encode() + b"[" * depth + b"]" * depth + b"}"
                add(f"{field_name} nested {depth}", path, body)
    for path in ("/invocations", "/v1/chat/completions", "/tokenize"):
        for messages in _BAD_MESSAGES:
            add(f"messages={messages!r}", path, {"messages": messages, "max_tokens": 8})
        add(
            "no messages, no generation prompt",
            path,
            {"messages": [], "add_generation_prompt": False},
        )
        add("no messages, continue", path, {"messages": [], "continue_final_message": True})
    for item in _BAD_ITEMS:
        add(f"input=[{item!r}]", "/v1/responses", {"input": [item]})
        add(
            f"previous_input_messages=[{item!r}]",
            "/v1/responses",
            {"input": "hi", "previous_input_messages": [item]},
        )
    for tool_author in (
        {"role": "tool", "name": None},
        {"role": "tool"},
        {"role": "tool", "name": ""},
    ):
        add(
            f"previous tool message author={tool_author!r}",
            "/v1/responses",
            {"input": "hi", "previous_input_messages": [{"author": tool_author, "content": []}]},
        )
    tool_names: tuple[Any, ...] = ("", None, 5)
    for tool_name in tool_names:
        add(
            f"responses tool name={tool_name!r}",
            "/v1/responses",
            {"input": "hi", "tools": [{"type": "function", "name": tool_name, "parameters": {}}]},
        )
        add(
            f"chat tool name={tool_name!r}",
            "/v1/chat/completions",
            {
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "function", "function": {"name": tool_name}}],
            },
        )
    add(
        "top_k of 5,000 digits",
        "/v1/chat/completions",
        b'{"messages":[{"role":"user","content":"hi"}],"top_k":' + b"9" * 5000 + b"}",
    )
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        add(
            f"temperature={constant.decode()}",
            "/v1/chat/completions",
            b'{"messages":[{"role":"user","content":"hi"}],"temperature":' + constant + b"}",
        )
    return out


def send_hostile(base_url: str) -> FuzzReport:
    """Every hostile body, each to its route and to /invocations (routed by the custom
    attribute header, as SageMaker forwards it)."""
    openapi = httpx.get(base_url + "/openapi.json", timeout=30).json()
    report = FuzzReport(exit_code=0)
    # No keep-alive: after a 500 the server may drop the connection, and the next body
    # must not be blamed for it.
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, timeout=120, limits=limits) as client:
        for label, path, body in hostile_bodies(openapi):
            targets: list[tuple[str, dict[str, str]]] = [(path, {})]
            if path != "/invocations":
                targets.append(
                    ("/invocations", {"X-Amzn-SageMaker-Custom-Attributes": f"route={path}"})
                )
            for target, extra in targets:
                headers = {"Content-Type": "application/json", **extra}
                try:
                    r = client.post(target, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    report.no_answer.append(f"{target} {label}: {exc!r}")
                    continue
                report.statuses[r.status_code] += 1
                if r.status_code >= 500:
                    report.server_errors.append(
                        f"{r.status_code} {target} {label} -> {r.text[:200]}"
                    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--phases", default="fuzzing")
    parser.add_argument("--work", type=Path, default=Path("schemathesis-run"))
    parser.add_argument("--hostile", action="store_true", help="the hand-written corpus only")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.hostile:
        report = send_hostile(args.url)
    else:
        report = run(
            args.url, args.work, examples=args.examples, seed=args.seed, phases=args.phases
        )
    print(report.summary())
    for line in report.server_errors[:50] + report.no_answer[:50]:
        print("  ", line)
    return 0 if not report.server_errors and not report.no_answer else 1


if __name__ == "__main__":
    sys.exit(main())

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

    def summary(self) -> str:
        return (
            f"schemathesis: {self.requests} requests, {len(self.server_errors)} 5xx, "
            f"{len(self.no_answer)} unanswered; statuses {dict(sorted(self.statuses.items()))}"
        )


def run(
    base_url: str,
    work: Path,
    *,
    examples: int,
    seed: int = 9,
    phases: str = "fuzzing",
    request_timeout: float = 60.0,
    workers: int = 2,
    st: str | None = None,
) -> FuzzReport:
    openapi = httpx.get(base_url + "/openapi.json", timeout=30).json()
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
    done = subprocess.run(command, capture_output=True, text=True, check=False)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--phases", default="fuzzing")
    parser.add_argument("--work", type=Path, default=Path("schemathesis-run"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    report = run(args.url, args.work, examples=args.examples, seed=args.seed, phases=args.phases)
    print(report.summary())
    for line in report.server_errors[:50] + report.no_answer[:50]:
        print("  ", line)
    return 0 if not report.server_errors and not report.no_answer else 1


if __name__ == "__main__":
    sys.exit(main())

"""`make local`: the whole system on a laptop, in about two minutes.

Starts our container's entrypoint on CPU with the tiny deterministic gpt-oss models (the
real vLLM engine), puts the SageMaker runtime stand-in in front of them, and runs a short
SDK session through boto3 exactly as against a real endpoint: a plain call, a stream, a
tool call. Then it prints the ledger's cost report, pricing the endpoint as one
ml.g6e.2xlarge for the session (the catalog's bundled us-east-1 price), with each call's
share and the idle line.

Runs in the SDK environment (.venv); the container runs in .venv-engine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

import boto3  # noqa: E402
from sagemaker_standin import SageMakerRuntimeStandIn  # noqa: E402
from serverproc import chat_and_tool_containers  # noqa: E402
from tiny_tools import WEATHER_TOOL  # noqa: E402

from gptoss_aws import GptOss, Tracker, open_ledger  # noqa: E402
from gptoss_aws.costing.capacity import InstanceTimeline  # noqa: E402
from gptoss_aws.reports.summary import timeline_allocator  # noqa: E402

# One L40S, like the gpt-oss-20b preset's ml.g6e.xlarge, but the instance type whose
# us-east-1 price the catalog bundles, so the demo report is priced without a refresh.
INSTANCE = "ml.g6e.2xlarge"
REGION = "us-east-1"


def session(url: str, ledger_path: Path) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=url)
    ledger = open_ledger(ledger_path)
    started = datetime.now(UTC)

    def client(endpoint: str) -> GptOss:
        return GptOss.sagemaker(
            endpoint,
            runtime_client=runtime,
            instance_type=INSTANCE,
            model="gpt-oss-20b",
            tracker=Tracker(ledger=ledger),
            tags={"team": "demo"},
        )

    chat, tools = client("gptoss-20b-chat"), client("gptoss-20b-tools")
    question = [{"role": "user", "content": "Hello there"}]

    answer = chat.chat.completions.create(messages=question, reasoning_effort="low", max_tokens=64)
    message = answer.choices[0].message
    print(f"\n> plain call\n  reasoning: {message.reasoning}\n  answer:    {message.content}")
    print(f"  usage:     {answer.usage}")

    print("\n> streamed call\n  ", end="")
    with chat.chat.completions.create(messages=question, max_tokens=64, stream=True) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
    print(f"\n  usage:     {stream.usage}")

    called = tools.chat.completions.create(
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        max_tokens=128,
    )
    call = (called.choices[0].message.tool_calls or [])[0]
    print(f"\n> tool call\n  {call.function.name}({call.function.arguments})")

    ended = datetime.now(UTC)
    timelines = [
        InstanceTimeline.declared(name, REGION, [(started, ended, 1, INSTANCE)])
        for name in ("gptoss-20b-chat", "gptoss-20b-tools")
    ]
    report = ledger.report(
        by=("endpoint",), since=started, until=ended, allocator=timeline_allocator(timelines)
    )
    print(f"\n> cost report (each endpoint priced as one {INSTANCE} for this session)\n")
    print(report)
    print(f"\nledger: {ledger_path}  (`gptoss-aws costs --ledger {ledger_path}`)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine-python", default=str(REPO / ".venv-engine/bin/python"))
    parser.add_argument("--cache", type=Path, default=REPO / ".cache/tiny-models")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")  # boto3 signs even local requests
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    work = Path(tempfile.mkdtemp(prefix="gptoss-local-"))
    print("starting the container twice (chat and tool models) on CPU: about a minute ...")
    with chat_and_tool_containers(args.engine_python, args.cache, work) as (chat, tool):
        endpoints = {"gptoss-20b-chat": chat.url, "gptoss-20b-tools": tool.url}
        with SageMakerRuntimeStandIn(endpoints, seed=1) as standin:
            print(f"SageMaker runtime stand-in on {standin.url}; container logs in {work}")
            session(standin.url, work / "ledger.sqlite3")
    return 0


if __name__ == "__main__":
    sys.exit(main())

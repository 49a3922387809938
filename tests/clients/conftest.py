"""Real clients, a fuzzer and a load test against the container on CPU.

Runs in .venv-clients (openai-python, LiteLLM, Strands Agents, schemathesis); the
container runs in the engine environment, found through GPTOSS_ENGINE_PYTHON (make test
sets it). One chat and one tool container per session, shared by every module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import serverproc
from fakeaws import fake_aws_environment, use_fake_aws
from sagemaker_standin import SageMakerRuntimeStandIn
from serverproc import Server, chat_and_tool_containers

# LiteLLM fetches its price map from the internet on import unless told to use its copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

CHAT_ENDPOINT = "gptoss-chat"
TOOL_ENDPOINT = "gptoss-tool"
SERVED_NAME = "gpt-oss-20b"
# A short context bounds what one fuzzed request can make the CPU engine generate (the
# scripted replies need under 40 tokens).
MAX_MODEL_LEN = 512
# Lines the fuzz and load tests report at the end of the run.
SUMMARIES: list[str] = []


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """boto3 signs requests even to the stand-in; nothing here can reach AWS."""
    use_fake_aws(monkeypatch, fake_aws_environment(tmp_path))


@pytest.fixture(scope="session")
def containers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    python = serverproc.engine_python()
    cache = serverproc.tiny_cache(tmp_path_factory.mktemp)
    logs = tmp_path_factory.mktemp("container-logs")
    with chat_and_tool_containers(
        python, cache, logs, SERVED_NAME, GPTOSS_MAX_MODEL_LEN=str(MAX_MODEL_LEN)
    ) as (chat, tool):
        yield {CHAT_ENDPOINT: chat, TOOL_ENDPOINT: tool}


@pytest.fixture(scope="session")
def chat(containers: dict[str, Server]) -> Server:
    return containers[CHAT_ENDPOINT]


@pytest.fixture(scope="session")
def tool(containers: dict[str, Server]) -> Server:
    return containers[TOOL_ENDPOINT]


@pytest.fixture(scope="session")
def standin(containers: dict[str, Server]) -> Iterator[SageMakerRuntimeStandIn]:
    endpoints = {name: server.url for name, server in containers.items()}
    with SageMakerRuntimeStandIn(endpoints, seed=11, max_part=48) as running:
        yield running


def pytest_configure(config: pytest.Config) -> None:
    # LiteLLM's TypedDicts use ReadOnly, which pydantic warns about on every import.
    config.addinivalue_line(
        "filterwarnings", "ignore::UserWarning:pydantic._internal._generate_schema"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz counts and load numbers in every CI log."""
    for line in SUMMARIES:
        terminalreporter.write_line(line)

"""The whole path on one machine: the SDK's SageMaker backend -> boto3 -> a stand-in for the
SageMaker runtime service -> our container's entrypoint -> the real vLLM engine on CPU.

Runs in the SDK environment; the container runs in the engine environment, found through
GPTOSS_ENGINE_PYTHON (make test sets it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import serverproc
from fakeaws import fake_aws_environment, use_fake_aws
from sagemaker_standin import SageMakerRuntimeStandIn
from serverproc import Server, chat_and_tool_containers

REPO = Path(__file__).resolve().parents[2]
CHAT_ENDPOINT = "gptoss-chat"
TOOL_ENDPOINT = "gptoss-tool"


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """boto3 signs requests even to the stand-in; nothing here can reach AWS."""
    use_fake_aws(monkeypatch, fake_aws_environment(tmp_path))


@pytest.fixture(scope="session")
def engine_python() -> str:
    return serverproc.engine_python()


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return serverproc.tiny_cache(tmp_path_factory.mktemp)


@pytest.fixture(scope="session")
def containers(
    engine_python: str, tiny_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    """The chat and the tool model, each served by the container's entrypoint."""
    logs = tmp_path_factory.mktemp("container-logs")
    with chat_and_tool_containers(engine_python, tiny_cache, logs) as (chat, tool):
        yield {CHAT_ENDPOINT: chat, TOOL_ENDPOINT: tool}


@pytest.fixture(scope="session")
def standin(containers: dict[str, Server]) -> Iterator[SageMakerRuntimeStandIn]:
    endpoints = {name: server.url for name, server in containers.items()}
    with SageMakerRuntimeStandIn(endpoints, seed=7, max_part=48) as running:
        yield running


@pytest.fixture
def runtime(standin: SageMakerRuntimeStandIn) -> object:
    return boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=standin.url)

"""Fixtures that serve the tiny gpt-oss checkpoints with the container's own entrypoint."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import serverproc
from serverproc import Server, cpu_env, free_port, start_server

NETGUARD = Path(__file__).parent / "netguard"
START_TIMES: list[tuple[str, float]] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print each engine's measured start-up, so every CI log records it."""
    for kind, seconds in START_TIMES:
        terminalreporter.write_line(f"vLLM CPU engine start ({kind} model): {seconds:.1f} s")


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return serverproc.tiny_cache(tmp_path_factory.mktemp)


def _model_copy(tiny_cache: Path, kind: str, dest: Path) -> Path:
    from gptoss_tiny.checkpoint import ensure_checkpoint

    source = ensure_checkpoint(tiny_cache, kind)  # type: ignore[arg-type]
    shutil.copytree(source, dest)
    return dest


class Served:
    """A running server plus what the tests planted around it."""

    def __init__(self, server: Server, model_dir: Path, marker: Path, netlog: Path) -> None:
        self.server = server
        self.model_dir = model_dir
        self.marker = marker
        self.netlog = netlog

    @property
    def url(self) -> str:
        return self.server.url


def _serve(tmp: Path, tiny_cache: Path, kind: str) -> Iterator[Served]:
    model_dir = _model_copy(tiny_cache, kind, tmp / "model")
    marker = tmp / "model-py-ran"
    # Code planted next to the weights: it must never run (issue: custom code is opt-in).
    (model_dir / "model.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    )
    (model_dir / "requirements.txt").write_text("this-package-must-not-be-installed==0.0.1\n")
    vocab = tmp / "tiktoken"
    vocab.mkdir()
    from gptoss_tiny.tokenizer import write_tiktoken_file

    write_tiktoken_file(vocab / "o200k_base.tiktoken")
    netlog = tmp / "network.log"
    port = free_port()
    env = cpu_env(
        model_dir,
        port,
        TIKTOKEN_ENCODINGS_BASE=str(vocab),
        NETGUARD_LOG=str(netlog),
        PYTHONPATH=os.pathsep.join([str(NETGUARD), os.environ.get("PYTHONPATH", "")]),
        GPTOSS_DRAIN_TIMEOUT_SECONDS="60",
    )
    server = start_server(env, tmp / "server.log", port)
    START_TIMES.append((kind, server.started_s))
    try:
        yield Served(server, model_dir, marker, netlog)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory, tiny_cache: Path) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("chat-server"), tiny_cache, "chat")


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory, tiny_cache: Path) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("tool-server"), tiny_cache, "tool")


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory: pytest.TempPathFactory, tiny_cache: Path) -> Iterator[Served]:
    """The model that calls get_weather and answers once the tool's result is in."""
    yield from _serve(tmp_path_factory.mktemp("agent-server"), tiny_cache, "agent")

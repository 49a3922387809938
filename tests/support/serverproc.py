"""Start the container's own entrypoint as a subprocess and wait until /ping says ready."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# A cold CPU start of the tiny model takes about a minute here (docs/testing.md); the
# bound leaves room for a slow CI machine without letting a hung start block CI.
START_TIMEOUT_S = 420.0
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_env(model_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPTOSS_", "SM_VLLM_"))}
    env.update(
        {
            "GPTOSS_MODEL_PATH": str(model_dir),
            "GPTOSS_GPU_PROFILE": "cpu",
            "GPTOSS_HOST": "127.0.0.1",
            "GPTOSS_PORT": str(port),
            "GPTOSS_SERVED_MODEL_NAME": "tiny",
            "GPTOSS_MAX_MODEL_LEN": "4096",
            # 256 MiB of KV cache: plenty for a 4096-token context on the tiny model.
            "GPTOSS_KV_CACHE_MEMORY_BYTES": str(256 * 1024 * 1024),
            "VLLM_HOST_IP": "127.0.0.1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    started_s: float = 0.0
    first_not_ready: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)


def start_server(
    env: dict[str, str], log_path: Path, port: int, python: str = sys.executable
) -> Server:
    """Start ``python -m gptoss_container serve``; ``python`` is the engine environment's."""
    log = log_path.open("wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [python, "-m", "gptoss_container", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    server = Server(proc=proc, port=port, log_path=log_path)
    deadline = t0 + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()[-6000:]}")
        try:
            r = httpx.get(f"{server.url}/ping", timeout=2)
            if r.status_code == 200:
                server.started_s = time.monotonic() - t0
                return server
            server.first_not_ready.append(f"{r.status_code}")
        except httpx.HTTPError as exc:
            server.first_not_ready.append(type(exc).__name__)
        time.sleep(1)
    server.stop()
    raise RuntimeError(f"server not ready in {START_TIMEOUT_S} s:\n{server.log()[-6000:]}")


def build_tiny_model(engine_python: str, cache: Path, kind: str) -> Path:
    """Build (once; cached) a tiny gpt-oss checkpoint with the engine environment's Python."""
    out = cache / kind
    build = ["build", "--kind", kind, "--out", str(out), "--if-missing"]
    subprocess.run([engine_python, "-m", "gptoss_tiny", *build], check=True, capture_output=True)
    return out


def serve_tiny(
    engine_python: str,
    cache: Path,
    logs: Path,
    kind: str,
    served_name: str = "gpt-oss-20b",
    **settings: str,
) -> Server:
    """The container's entrypoint serving a tiny model, from another environment's Python.

    ``settings`` are more GPTOSS_* variables (a short GPTOSS_MAX_MODEL_LEN, for one)."""
    model = build_tiny_model(engine_python, cache, kind)
    port = free_port()
    env = cpu_env(model, port, GPTOSS_SERVED_MODEL_NAME=served_name, **settings)
    return start_server(env, logs / f"{kind}.log", port, python=engine_python)


@contextlib.contextmanager
def chat_and_tool_containers(
    engine_python: str,
    cache: Path,
    logs: Path,
    served_name: str = "gpt-oss-20b",
    **settings: str,
) -> Iterator[tuple[Server, Server]]:
    """The tiny "chat" model and the tiny "tool" model (which always calls get_weather),
    started side by side (each start is about a minute on CPU) and stopped on exit."""

    def serve(kind: str) -> Server:
        return serve_tiny(engine_python, cache, logs, kind, served_name, **settings)

    with ThreadPoolExecutor(2) as pool:
        chat, tool = pool.map(serve, ["chat", "tool"])
    try:
        yield chat, tool
    finally:
        chat.stop()
        tool.stop()


def engine_python() -> str:
    """The engine environment's Python, for suites that run in another environment."""
    python = os.environ.get("GPTOSS_ENGINE_PYTHON") or str(REPO / ".venv-engine/bin/python")
    if not Path(python).exists():
        raise RuntimeError(f"no engine environment at {python}: run `make test` (it builds it)")
    return python


def tiny_cache(make_temp: Callable[[str], Path]) -> Path:
    """Built checkpoints, shared between runs when TINY_CACHE is set (make test sets it)."""
    shared = os.environ.get("TINY_CACHE")
    return Path(shared) if shared else make_temp("tiny-models")

"""Start-up through the container's entrypoint: bad settings stop it before vLLM loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from serverproc import cpu_env


def run_entrypoint(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gptoss_container", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_bad_setting_is_reported_at_once_and_nothing_starts(tmp_path: Path) -> None:
    env = cpu_env(
        tmp_path / "missing-model",
        8080,
        GPTOSS_MAX_MODEL_LEN="999999",
        GPTOSS_DRAIN_TIMEOUT_SECONDS="-5",
        TIKTOKEN_ENCODINGS_BASE=str(tmp_path),
    )
    done = run_entrypoint("serve", env)
    assert done.returncode == 2
    err = done.stderr
    for culprit in (
        "GPTOSS_MODEL_PATH",
        "GPTOSS_MAX_MODEL_LEN",
        "GPTOSS_DRAIN_TIMEOUT_SECONDS",
        "TIKTOKEN_ENCODINGS_BASE",
    ):
        assert culprit in err, err
    assert "Fix" in err or "fix" in err
    assert "Starting vLLM" not in err  # vLLM never began loading


def test_check_prints_the_vllm_command_with_our_middleware(tiny_cache: Path) -> None:
    from gptoss_tiny.checkpoint import ensure_checkpoint

    model = ensure_checkpoint(tiny_cache, "random")
    done = run_entrypoint("check", cpu_env(model, 8080))
    assert done.returncode == 0, done.stderr
    command = done.stdout.strip().splitlines()[-1]
    assert "vllm.entrypoints.launchers.api_server.entry" in command
    assert "--middleware gptoss_container.middleware.GptOssMiddleware" in command
    assert "--reasoning-parser openai_gptoss" in command
    assert "--tool-call-parser openai" in command

"""The start-up check of the NVIDIA driver against the image's CUDA runtime.

No GPU here: the driver query is faked (a function for the unit tests, an ``nvidia-smi``
script on PATH for the entrypoint). Encodes NVIDIA's minimum-driver table (CUDA 13.0 needs
driver 580.65.06; 550 runs at most 12.4) and the SageMaker API reference's AMI text
(al2023-ami-sagemaker-inference-gpu-4-1: driver 580, CUDA 13.0).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from serverproc import cpu_env

from gptoss_container.cuda_driver import FIX_AMI, driver_problems

GPU_ENV = {"GPTOSS_GPU_PROFILE": "h100", "CUDA_VERSION": "13.0.1"}


def fake(version: str | None) -> Callable[[], str | None]:
    return lambda: version


def test_a_driver_that_runs_the_runtime_passes() -> None:
    assert driver_problems(GPU_ENV, query=fake("580.65.06")) == []
    assert driver_problems(GPU_ENV, query=fake("590.44.01")) == []


def test_an_older_driver_is_one_clear_problem_naming_both_versions_and_the_fix() -> None:
    (problem,) = driver_problems(GPU_ENV, query=fake("550.163.01"))
    assert "550.163.01 runs CUDA 12.4" in problem
    assert "CUDA 13.0 runtime" in problem
    assert FIX_AMI in problem
    # One driver short of the 13.0 minimum is still too old.
    assert driver_problems(GPU_ENV, query=fake("580.65.05"))


def test_nothing_is_checked_on_cpu_without_a_driver_or_outside_a_cuda_image() -> None:
    calls: list[str] = []

    def counting() -> str:
        calls.append("asked")
        return "470.42.01"

    assert driver_problems({**GPU_ENV, "GPTOSS_GPU_PROFILE": "cpu"}, query=counting) == []
    assert calls == []  # the cpu profile does not even ask
    assert driver_problems(GPU_ENV, query=fake(None)) == []
    assert driver_problems({"GPTOSS_GPU_PROFILE": "h100"}, query=fake("470.42.01")) == []


def test_an_unreadable_driver_version_is_reported_not_crashed_on() -> None:
    (problem,) = driver_problems(GPU_ENV, query=fake("N/A"))
    assert "'N/A'" in problem
    assert "Fix:" in problem


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path) -> Path:
    """An nvidia-smi that answers the GPU probe (one H100) and the driver query (550)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        "  *driver_version*) echo 550.163.01 ;;\n"
        "  *) echo 'NVIDIA H100 80GB HBM3, 81559 MiB' ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_the_entrypoint_stops_with_the_message_and_no_traceback(
    tmp_path: Path, fake_nvidia_smi: Path
) -> None:
    env = cpu_env(tmp_path / "model", 8080, **GPU_ENV)
    env["PATH"] = f"{fake_nvidia_smi}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [sys.executable, "-m", "gptoss_container", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "550.163.01 runs CUDA 12.4" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr

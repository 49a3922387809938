"""The image build's source asset and tag, and the two CodeBuild shell scripts run for real
in bash against stand-ins for aws, docker, hf and python3."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from conftest import REPO

from gptoss_facts.cuda import BASE_IMAGE
from gptoss_infra.constructs.sagemaker import InferenceImage, ModelArtifacts, WeightsMirror
from gptoss_infra.constructs.sagemaker.inference_image import DOCKERFILE

# Names no file of the image may carry: local environments, caches, other components.
_NEVER = {"node_modules", "cdk.out", "tests", ".git", "__pycache__", ".pytest_cache", "infra"}


def _image(context: Path | None = None) -> InferenceImage:
    stack = cdk.Stack(cdk.App(), "Img")
    return InferenceImage(stack, "Image", directory=context)


def _staged_files(image: InferenceImage) -> set[str]:
    assembly = cdk.Stage.of(image).synth()  # type: ignore[union-attr]
    (manifest,) = Path(assembly.directory).glob("Img.assets.json")
    staged = json.loads(manifest.read_text())["files"][image.source.asset_hash]
    source = Path(assembly.directory) / staged["source"]["path"]
    return {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}


def _tracked(folder: str) -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", "--", folder], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return {line for line in out.splitlines() if (REPO / line).is_file()}


def test_the_image_source_is_facts_and_inference_container_only() -> None:
    files = _staged_files(_image())
    assert {f.split("/", 1)[0] for f in files} == {"facts", "inference_container"}
    assert DOCKERFILE in files
    assert {"facts/pyproject.toml", "facts/README.md"} <= files  # pip needs the readme
    parts = {part for f in files for part in Path(f).parts}
    assert not parts & _NEVER, parts & _NEVER
    assert not [p for p in parts if p.startswith(".venv") or p.endswith(".egg-info")]
    assert not [f for f in files if f.endswith(".pyc")]
    # Every tracked source of both folders is there; the container's docs are not.
    expected = _tracked("facts") | {
        f for f in _tracked("inference_container") if not f.endswith(".md")
    }
    assert expected <= files, sorted(expected - files)
    assert not [f for f in files if f.startswith("inference_container/") and f.endswith(".md")]


def _context(root: Path) -> Path:
    (root / "facts" / "src").mkdir(parents=True)
    (root / "facts" / "src" / "facts.py").write_text("CONTEXT_LENGTH = 131072\n")
    (root / "inference_container").mkdir()
    (root / "inference_container" / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\n")
    (root / "inference_container" / "README.md").write_text("docs\n")
    return root


def test_the_tag_follows_facts_and_the_container_and_nothing_else(tmp_path: Path) -> None:
    context = _context(tmp_path)
    first = _image(context).tag
    assert _image(context).tag == first  # same inputs, same tag: nothing is rebuilt
    # Files outside the two folders, and the container's docs, do not change the image.
    (context / "tests").mkdir()
    (context / "tests" / "test_x.py").write_text("x = 1\n")
    (context / "inference_container" / "README.md").write_text("other docs\n")
    (context / "facts" / "src" / "__pycache__").mkdir()
    (context / "facts" / "src" / "__pycache__" / "facts.cpython-311.pyc").write_bytes(b"\0")
    assert _image(context).tag == first
    (context / "facts" / "src" / "facts.py").write_text("CONTEXT_LENGTH = 65536\n")
    second = _image(context).tag
    assert second != first
    (context / "inference_container" / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nENV A=1\n")
    assert _image(context).tag not in (first, second)


def test_a_build_context_without_facts_is_refused(tmp_path: Path) -> None:
    context = _context(tmp_path)
    shutil.rmtree(context / "facts")
    with pytest.raises(ValueError, match="no facts/ in"):
        _image(context)


# -- the build scripts, run in bash with stand-ins --------------------------------------


def _commands(construct: InferenceImage | WeightsMirror, phase: str = "build") -> list[str]:
    template: dict[str, Any] = dict(Template.from_stack(cdk.Stack.of(construct)).to_json())
    wanted = "Build the gpt-oss" if isinstance(construct, InferenceImage) else "Mirror"
    (project,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project"
        and r["Properties"]["Description"].startswith(wanted)
    ]
    return list(json.loads(project["Source"]["BuildSpec"])["phases"][phase]["commands"])


def _stand_ins(bin_dir: Path, log: Path, names: dict[str, str]) -> None:
    """Executables that append their name and argv (one argument a line) to ``log``, and
    read their input to the end as the real ones do (else a pipe into them breaks)."""
    bin_dir.mkdir()
    for name, stdout in names.items():
        script = bin_dir / name
        script.write_text(
            "#!/bin/bash\n"
            f'{{ echo "== {name}"; printf "%s\\n" "$@"; }} >> "{log}"\n'
            "cat > /dev/null\n"
            f"{stdout}\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)


def _run(commands: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # CodeBuild runs a phase's commands in one shell; so does this.
    return subprocess.run(
        ["bash", "-c", "\n".join(commands)],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _calls(log: Path) -> list[list[str]]:
    calls: list[list[str]] = []
    for line in log.read_text().splitlines():
        if line.startswith("== "):
            calls.append([line[3:]])
        else:
            calls[-1].append(line)
    return calls


def test_the_image_build_script_builds_from_the_root_with_the_ecr_base(tmp_path: Path) -> None:
    commands = _commands(_image())
    context = _context(tmp_path / "src")
    log = tmp_path / "calls.log"
    _stand_ins(tmp_path / "bin", log, {"aws": "echo token", "docker": ""})
    result = _run(
        commands,
        context,
        {
            "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
            "REPO_URI": "123456789012.dkr.ecr.us-west-2.amazonaws.com/gptoss/vllm",
            "IMAGE_TAG": "src-abc",
            "UPSTREAM_IMAGE": BASE_IMAGE,
            "BASE_IMAGE_URI": "123456789012.dkr.ecr.us-west-2.amazonaws.com/mirror/vllm:v0.32.0",
            "PTC_PREFIX": "docker-hub",
            "DOCKERHUB_SECRET": "ecr-pullthroughcache/docker-hub",
            "DOCKERFILE": DOCKERFILE,
        },
    )
    assert result.returncode == 0, result.stderr
    builds = [call for call in _calls(log) if call[:2] == ["docker", "build"]]
    assert builds == [
        [
            "docker",
            "build",
            "--file",
            "inference_container/Dockerfile",
            "--tag",
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/gptoss/vllm:src-abc",
            ".",
        ]
    ]
    assert (context / DOCKERFILE).read_text().splitlines()[0] == (
        "FROM 123456789012.dkr.ecr.us-west-2.amazonaws.com/mirror/vllm:v0.32.0"
    )


def test_the_image_build_script_stops_when_the_from_line_moved(tmp_path: Path) -> None:
    commands = _commands(_image())
    context = _context(tmp_path / "src")
    (context / DOCKERFILE).write_text("FROM ubuntu:24.04\n")
    log = tmp_path / "calls.log"
    _stand_ins(tmp_path / "bin", log, {"aws": "echo token", "docker": ""})
    result = _run(
        commands,
        context,
        {
            "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
            "REPO_URI": "123456789012.dkr.ecr.us-west-2.amazonaws.com/gptoss/vllm",
            "UPSTREAM_IMAGE": BASE_IMAGE,
            "BASE_IMAGE_URI": "123456789012.dkr.ecr.us-west-2.amazonaws.com/mirror/vllm:1",
            "DOCKERFILE": DOCKERFILE,
            "IMAGE_TAG": "t",
        },
    )
    assert result.returncode != 0
    assert "no longer starts FROM vllm/vllm-openai:v0.32.0" in result.stderr
    assert not [c for c in _calls(log) if c[:2] == ["docker", "build"]]


def test_the_mirror_script_passes_each_exclude_pattern_unexpanded(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(), "Mirror")
    mirror = WeightsMirror(stack, "Mirror", artifacts=ModelArtifacts(stack, "Weights"))
    commands = _commands(mirror)
    work = tmp_path / "work"
    log = tmp_path / "calls.log"
    # python3 prints a sha for the one `-c` call that reads it and does nothing else.
    _stand_ins(
        tmp_path / "bin",
        log,
        {"python3": '[ "$1" = -c ] && echo 0123abc; true', "hf": "", "aws": ""},
    )
    # A file that a glob of the patterns would match, were they expanded by the shell.
    (tmp_path / "original").mkdir()
    (tmp_path / "original" / "x").write_text("")
    result = _run(
        commands,
        tmp_path,
        {
            "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
            "CODEBUILD_SRC_DIR": str(work),
            "HF_REPO": "openai/gpt-oss-120b",
            "HF_REVISION": "main",
            "BUCKET": "b",
            "PREFIX": "models/gpt-oss-120b/",
            "MANIFEST_KEY": "models/gpt-oss-120b.manifest.json",
            "KMS_KEY_ARN": "arn:aws:kms:us-west-2:123456789012:key/k",
        },
    )
    assert result.returncode == 0, result.stderr
    calls = _calls(log)
    (download,) = [c for c in calls if c[0] == "hf"]
    assert download == [
        "hf",
        "download",
        "openai/gpt-oss-120b",
        "--revision",
        "0123abc",
        "--exclude",
        "original/*",
        "--exclude",
        "metal/*",
        "--local-dir",
        f"{work}/mirror/weights",
    ]
    (manifest,) = [c for c in calls if c[0] == "python3" and "manifest" in c[1:3]]
    assert manifest[manifest.index("--revision") + 2 :][:4] == [
        "--exclude",
        "original/*",
        "--exclude",
        "metal/*",
    ]
    # The verifier was written from the buildspec before it ran.
    assert (work / "mirror" / "verify.py").read_bytes().startswith(b'"""')
    assert [c[1] for c in calls if c[0] == "aws"] == ["s3", "s3api", "s3"]

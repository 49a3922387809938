from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gptoss_container.offline import O200K_SHA256, harmony_vocab_problems, offline_env
from gptoss_container.security import custom_code_env


def test_the_built_in_harmony_vocabulary_loads_offline() -> None:
    assert harmony_vocab_problems({}) == []


def test_a_tiktoken_folder_without_the_file_is_a_clear_problem(tmp_path: Path) -> None:
    [problem] = harmony_vocab_problems({"TIKTOKEN_ENCODINGS_BASE": str(tmp_path)})
    assert "has no o200k_base.tiktoken" in problem
    assert "unset TIKTOKEN_ENCODINGS_BASE" in problem


def test_a_wrong_vocabulary_file_is_named_with_both_hashes(tmp_path: Path) -> None:
    (tmp_path / "o200k_base.tiktoken").write_bytes(b"aGVsbG8= 0\n")
    [problem] = harmony_vocab_problems({"TIKTOKEN_ENCODINGS_BASE": str(tmp_path)})
    assert hashlib.sha256(b"aGVsbG8= 0\n").hexdigest() in problem
    assert O200K_SHA256 in problem


def test_the_real_vocabulary_file_passes_and_leaves_the_environment_alone(
    tmp_path: Path,
) -> None:
    from gptoss_tiny.tokenizer import write_tiktoken_file

    write_tiktoken_file(tmp_path / "o200k_base.tiktoken")
    before = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    assert harmony_vocab_problems({"TIKTOKEN_ENCODINGS_BASE": str(tmp_path)}) == []
    assert os.environ.get("TIKTOKEN_ENCODINGS_BASE") == before


def test_offline_env_turns_the_hub_off_unless_downloads_are_allowed() -> None:
    assert offline_env(False)["HF_HUB_OFFLINE"] == "1"
    assert offline_env(True)["HF_HUB_OFFLINE"] == "0"  # the image defaults it to 1
    assert offline_env(True)["VLLM_NO_USAGE_STATS"] == "1"


PLANTED = "import pathlib, os\npathlib.Path(os.environ['MARKER']).write_text('ran')\n"
LOAD = (
    "from model_hosting_container_standards.sagemaker.sagemaker_loader import "
    "SageMakerFunctionLoader\nSageMakerFunctionLoader.get_function_loader()\n"
)


@pytest.mark.parametrize("allow", [False, True])
def test_planted_model_py_runs_only_when_custom_code_is_allowed(
    tmp_path: Path, allow: bool
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.py").write_text(PLANTED)
    marker = tmp_path / "marker"
    env = dict(os.environ, MARKER=str(marker), SAGEMAKER_MODEL_PATH=str(model_dir))
    env.update(custom_code_env(allow, False, model_dir, guard_dir=tmp_path / "guard"))
    (tmp_path / "guard").mkdir()
    subprocess.run([sys.executable, "-c", LOAD], env=env, check=True, capture_output=True)
    assert marker.exists() is allow


def test_requirements_install_is_off_by_default() -> None:
    env = custom_code_env(False, False, None)
    assert env["STANDARD_AUTO_INSTALL_REQ"] == "false"
    assert not any(Path(env["SAGEMAKER_MODEL_PATH"]).iterdir())
    assert custom_code_env(False, True, None)["STANDARD_AUTO_INSTALL_REQ"] == "true"


@pytest.mark.parametrize("allow", [False, True])
def test_the_supervisor_sees_our_requirements_install_switch(allow: bool) -> None:
    code = (
        "from model_hosting_container_standards.common.dependency_manager import "
        "is_auto_install_enabled\nprint(is_auto_install_enabled())\n"
    )
    env = dict(os.environ, **custom_code_env(False, allow, None))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert out.stdout.decode().strip() == str(allow)

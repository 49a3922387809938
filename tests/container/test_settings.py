"""Settings from environment variables: defaults, every problem at once, passthrough."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from model_configs import make_model

from gptoss_container.gpu import Gpu, GpuInventory
from gptoss_container.human_int import human_int
from gptoss_container.security import CUSTOM_CODE_VARIABLES
from gptoss_container.settings import (
    ENV_VARS,
    ContainerSettings,
    SettingsError,
    load_settings,
    settings_table,
)

REPO = Path(__file__).resolve().parents[2]


def inventory(name: str, memory_mib: int, count: int = 1) -> GpuInventory:
    return GpuInventory(gpus=(Gpu(name, memory_mib),) * count, source="test")


H100 = inventory("NVIDIA H100 80GB HBM3", 81559)
L4 = inventory("NVIDIA L4", 23034)


@pytest.fixture
def sm_dir(tmp_path: Path) -> Path:
    """Stands in for /opt/ml/model, with the 120b's config.json."""
    return make_model(tmp_path / "opt-ml-model")


def test_sagemaker_defaults(sm_dir: Path) -> None:
    s = load_settings({}, sagemaker_model_dir=sm_dir, gpus=H100)
    assert s.model.path == str(sm_dir)
    assert s.model_dir == sm_dir
    assert s.model.variant == "gpt-oss-120b"
    assert s.served_model_name == "gpt-oss-120b"
    assert (s.host, s.port) == ("0.0.0.0", 8080)
    assert s.max_model_len == 131072
    assert s.enable_tool_calling is True
    assert (s.allow_hub_download, s.allow_custom_code, s.allow_requirements_install) == (
        False,
        False,
        False,
    )
    assert s.drain_timeout_s == 25.0
    assert s.log_level == "info"
    assert s.passthrough == ()


def test_20b_served_name_and_explicit_path(tmp_path: Path) -> None:
    model = make_model(tmp_path / "w", "20b")
    s = load_settings({"GPTOSS_MODEL_PATH": str(model)}, sagemaker_model_dir=tmp_path / "none")
    assert (s.model.variant, s.served_model_name) == ("gpt-oss-20b", "gpt-oss-20b")


def test_tiny_model_takes_its_own_context_and_directory_name(tmp_path: Path) -> None:
    model = make_model(tmp_path / "tiny-chat", "tiny")
    s = load_settings({"GPTOSS_MODEL_PATH": str(model)})
    assert (s.model.variant, s.served_model_name, s.max_model_len) == ("other", "tiny-chat", 4096)
    with pytest.raises(SettingsError, match="exceeds the model's context of 4096"):
        load_settings({"GPTOSS_MODEL_PATH": str(model), "GPTOSS_MAX_MODEL_LEN": "8192"})


def test_port_from_sagemaker_bind_to_port_and_override(sm_dir: Path) -> None:
    s = load_settings({"SAGEMAKER_BIND_TO_PORT": "9090"}, sagemaker_model_dir=sm_dir)
    assert s.port == 9090
    s = load_settings(
        {"SAGEMAKER_BIND_TO_PORT": "9090", "GPTOSS_PORT": "8000", "GPTOSS_HOST": "127.0.0.1"},
        sagemaker_model_dir=sm_dir,
    )
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_every_problem_is_reported_at_once(sm_dir: Path) -> None:
    env = {
        "GPTOSS_MAX_MODEL_LEN": "200000",
        "GPTOSS_PORT": "eighty",
        "GPTOSS_TENSOR_PARALLEL_SIZE": "3",
        "GPTOSS_DRAIN_TIMEOUT_SECONDS": "-5",
        "GPTOSS_GPU_PROFILE": "tpu",
        "GPTOSS_MAX_MODLE_LEN": "1024",  # typo
        "CUSTOM_FASTAPI_PING_HANDLER": "model.py:ping",
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(env, sagemaker_model_dir=sm_dir)
    message = str(caught.value)
    for variable in env:
        assert variable in message
    assert message.startswith(f"{len(env)} problems in the container settings:")
    assert len(caught.value.problems) == len(env)
    # Each problem says how to fix it.
    assert all(" Fix: " in line for line in caught.value.problems)
    assert (
        "3 does not split 64 attention heads and 8 KV heads evenly. Fix: set one of 1, 2, 4, 8."
        in message
    )


def test_hardware_problems_join_the_same_error(sm_dir: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"GPTOSS_MAX_NUM_SEQS": "0"}, sagemaker_model_dir=sm_dir, gpus=L4)
    message = str(caught.value)
    assert "GPTOSS_MAX_NUM_SEQS" in message
    assert "gpt-oss-120b" in message
    assert "'l4' profile" in message
    assert "serve gpt-oss-20b" in message  # the fix


def test_hub_id_is_refused_unless_allowed(tmp_path: Path) -> None:
    env = {"GPTOSS_MODEL_PATH": "openai/gpt-oss-120b"}
    with pytest.raises(SettingsError) as caught:
        load_settings(env, sagemaker_model_dir=tmp_path)
    message = str(caught.value)
    assert "network isolation" in message
    assert "S3" in message
    assert "/opt/ml/model" in message
    assert "GPTOSS_ALLOW_HUB_DOWNLOAD=true" in message

    s = load_settings({**env, "GPTOSS_ALLOW_HUB_DOWNLOAD": "true"}, sagemaker_model_dir=tmp_path)
    assert (s.model.path, s.model.is_local, s.model.variant) == (
        "openai/gpt-oss-120b",
        False,
        "gpt-oss-120b",
    )
    assert s.model_dir is None
    assert s.served_model_name == "gpt-oss-120b"


def test_missing_model_explains_staging_and_finds_a_nested_checkpoint(tmp_path: Path) -> None:
    make_model(tmp_path / "opt-ml-model" / "gpt-oss-120b")
    with pytest.raises(SettingsError) as caught:
        load_settings({}, sagemaker_model_dir=tmp_path / "opt-ml-model")
    message = str(caught.value)
    assert "has no config.json" in message
    assert f"GPTOSS_MODEL_PATH={tmp_path / 'opt-ml-model' / 'gpt-oss-120b'}" in message
    assert "ModelDataSource" in message


def test_non_gpt_oss_checkpoint_is_refused(tmp_path: Path) -> None:
    model = make_model(tmp_path / "llama", "120b", model_type="llama")
    with pytest.raises(SettingsError, match="model_type 'llama'"):
        load_settings({"GPTOSS_MODEL_PATH": str(model)})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("131072", 131072), ("128K", 131072), ("128k", 128000), ("32768", 32768)],
)
def test_max_model_len_accepts_vllm_notation(sm_dir: Path, raw: str, expected: int) -> None:
    s = load_settings({"GPTOSS_MAX_MODEL_LEN": raw}, sagemaker_model_dir=sm_dir)
    assert s.max_model_len == expected


@pytest.mark.parametrize("raw", ["131073", "0", "1M", "lots"])
def test_max_model_len_bound(sm_dir: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match="GPTOSS_MAX_MODEL_LEN"):
        load_settings({"GPTOSS_MAX_MODEL_LEN": raw}, sagemaker_model_dir=sm_dir)


def test_human_int_matches_vllm() -> None:
    from vllm.utils.argparse_utils import human_readable_int

    for text in ["1k", "1K", "25.6k", "2M", "1G", "1g", "131072", "3T"]:
        assert human_int(text) == human_readable_int(text), text


def test_passthrough_booleans_and_values(sm_dir: Path) -> None:
    env = {
        "SM_VLLM_ENABLE_PREFIX_CACHING": "true",
        "SM_VLLM_NO_ENABLE_LOG_REQUESTS": "TRUE",
        "SM_VLLM_ENFORCE_EAGER": "false",
        "SM_VLLM_SWAP_SPACE": "",
        "SM_VLLM_LIMIT_MM_PER_PROMPT": '{"image": 0}',
    }
    s = load_settings(env, sagemaker_model_dir=sm_dir)
    by_var = {p.variable: p for p in s.passthrough}
    assert by_var["SM_VLLM_ENABLE_PREFIX_CACHING"].argv == ("--enable-prefix-caching",)
    assert by_var["SM_VLLM_NO_ENABLE_LOG_REQUESTS"].argv == ("--no-enable-log-requests",)
    assert by_var["SM_VLLM_NO_ENABLE_LOG_REQUESTS"].dest == "enable_log_requests"
    # "false" drops the flag but still replaces the profile's flag for that option.
    assert by_var["SM_VLLM_ENFORCE_EAGER"].argv == ()
    assert by_var["SM_VLLM_ENFORCE_EAGER"].dest == "enforce_eager"
    assert by_var["SM_VLLM_SWAP_SPACE"].argv == ("--swap-space",)
    assert by_var["SM_VLLM_LIMIT_MM_PER_PROMPT"].argv == ("--limit-mm-per-prompt", '{"image": 0}')


def test_passthrough_of_a_typed_option_is_an_alias(sm_dir: Path) -> None:
    s = load_settings(
        {"SM_VLLM_MAX_MODEL_LEN": "32768", "SM_VLLM_TENSOR_PARALLEL_SIZE": "2"},
        sagemaker_model_dir=sm_dir,
    )
    assert (s.max_model_len, s.tensor_parallel_size, s.passthrough) == (32768, 2, ())
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {"SM_VLLM_MAX_MODEL_LEN": "32768", "GPTOSS_MAX_MODEL_LEN": "65536"},
            sagemaker_model_dir=sm_dir,
        )
    assert "keep one of SM_VLLM_MAX_MODEL_LEN and GPTOSS_MAX_MODEL_LEN" in str(caught.value)
    with pytest.raises(SettingsError, match="SM_VLLM_MAX_MODEL_LEN"):
        load_settings({"SM_VLLM_MAX_MODEL_LEN": "999999"}, sagemaker_model_dir=sm_dir)


def test_sm_vllm_model_goes_through_the_same_model_checks(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SM_VLLM_MODEL: 'openai/gpt-oss-20b'"):
        load_settings({"SM_VLLM_MODEL": "openai/gpt-oss-20b"}, sagemaker_model_dir=tmp_path)


@pytest.mark.parametrize(
    "variable", ["SM_VLLM_MIDDLEWARE", "SM_VLLM_UDS", "SM_VLLM_CONFIG", "SM_VLLM_HEADLESS"]
)
def test_reserved_passthrough_is_refused(sm_dir: Path, variable: str) -> None:
    with pytest.raises(SettingsError, match=f"{variable}: cannot be passed through"):
        load_settings({variable: "x"}, sagemaker_model_dir=sm_dir)


def test_custom_code_needs_permission(sm_dir: Path) -> None:
    env = {name: "model.py:handler" for name in CUSTOM_CODE_VARIABLES}
    env["SM_VLLM_TRUST_REMOTE_CODE"] = "true"
    with pytest.raises(SettingsError) as caught:
        load_settings(env, sagemaker_model_dir=sm_dir)
    assert len(caught.value.problems) == len(env)
    allowed = load_settings({**env, "GPTOSS_ALLOW_CUSTOM_CODE": "true"}, sagemaker_model_dir=sm_dir)
    assert allowed.allow_custom_code is True
    assert [p.argv for p in allowed.passthrough] == [("--trust-remote-code",)]
    # Turning it off needs no permission.
    off = load_settings({"SM_VLLM_TRUST_REMOTE_CODE": "false"}, sagemaker_model_dir=sm_dir)
    assert off.allow_custom_code is False


def test_custom_code_variables_cover_model_hosting_container_standards() -> None:
    from model_hosting_container_standards.common.fastapi.config import FastAPIEnvVars
    from model_hosting_container_standards.sagemaker.config import SageMakerEnvVars

    theirs = {v for k, v in vars(FastAPIEnvVars).items() if k.isupper()}
    theirs.add(SageMakerEnvVars.CUSTOM_SCRIPT_FILENAME)
    assert theirs <= set(CUSTOM_CODE_VARIABLES)


def test_unknown_gptoss_variable_unless_declared(sm_dir: Path) -> None:
    with pytest.raises(SettingsError, match="GPTOSS_SOMETHING: is not a setting"):
        load_settings({"GPTOSS_SOMETHING": "1"}, sagemaker_model_dir=sm_dir)
    load_settings(
        {"GPTOSS_SOMETHING": "1"}, sagemaker_model_dir=sm_dir, extra_variables={"GPTOSS_SOMETHING"}
    )


@pytest.mark.parametrize(
    ("raw", "ok"), [("0", True), ("10.5", True), ("-1", False), ("4000", False)]
)
def test_drain_timeout_is_bounded(sm_dir: Path, raw: str, ok: bool) -> None:
    env = {"GPTOSS_DRAIN_TIMEOUT_SECONDS": raw}
    if ok:
        assert load_settings(env, sagemaker_model_dir=sm_dir).drain_timeout_s == float(raw)
    else:
        with pytest.raises(SettingsError, match="GPTOSS_DRAIN_TIMEOUT_SECONDS"):
            load_settings(env, sagemaker_model_dir=sm_dir)


def test_booleans_log_level_and_tiktoken(sm_dir: Path, tmp_path: Path) -> None:
    s = load_settings(
        {
            "GPTOSS_ENABLE_TOOL_CALLING": "False",
            "GPTOSS_ALLOW_REQUIREMENTS_INSTALL": "1",
            "GPTOSS_LOG_LEVEL": "DEBUG",
            "TIKTOKEN_ENCODINGS_BASE": str(tmp_path),
        },
        sagemaker_model_dir=sm_dir,
    )
    assert (s.enable_tool_calling, s.allow_requirements_install, s.log_level) == (
        False,
        True,
        "debug",
    )
    assert s.tiktoken_encodings_base == str(tmp_path)
    with pytest.raises(SettingsError, match="GPTOSS_ENABLE_TOOL_CALLING"):
        load_settings({"GPTOSS_ENABLE_TOOL_CALLING": "maybe"}, sagemaker_model_dir=sm_dir)


def test_gpu_checks_tensor_parallel_and_memory(sm_dir: Path) -> None:
    a100_40 = inventory("NVIDIA A100-SXM4-40GB", 40960, count=2)
    with pytest.raises(SettingsError, match="needs about 76 GiB"):
        load_settings(
            {"GPTOSS_TENSOR_PARALLEL_SIZE": "1"}, sagemaker_model_dir=sm_dir, gpus=a100_40
        )
    assert load_settings({}, sagemaker_model_dir=sm_dir, gpus=a100_40).tensor_parallel_size is None
    with pytest.raises(SettingsError, match="more than the 1 visible GPU"):
        load_settings({"GPTOSS_TENSOR_PARALLEL_SIZE": "4"}, sagemaker_model_dir=sm_dir, gpus=H100)
    with pytest.raises(SettingsError, match="GPTOSS_GPU_PROFILE=cpu"):
        load_settings({}, sagemaker_model_dir=sm_dir, gpus=GpuInventory(source="nvidia-smi"))


def test_cpu_profile_refuses_the_120b(sm_dir: Path) -> None:
    with pytest.raises(SettingsError, match="'cpu' profile"):
        load_settings(
            {"GPTOSS_GPU_PROFILE": "CPU"}, sagemaker_model_dir=sm_dir, gpus=GpuInventory()
        )


def test_readme_documents_every_variable() -> None:
    readme = (REPO / "inference_container" / "README.md").read_text()
    for spec in ENV_VARS:
        assert re.search(rf"\|\s*`{spec.name}`\s*\|", readme), spec.name
    assert "SM_VLLM_" in readme
    # The table is the declarations' own text: paste settings_table() when this fails.
    assert settings_table() in readme, settings_table()


def test_every_default_names_a_source() -> None:
    for spec in ENV_VARS:
        assert spec.source.strip(), spec.name
        assert spec.fix.strip(), spec.name
        assert spec.field in ContainerSettings.model_fields


def test_the_variables_the_deployment_sets_are_the_containers() -> None:
    # gptoss_facts.endpoint.CONTAINER_ENV is what infra and the deploy package write into the
    # model's Environment; each must be the variable of the same container setting.
    from gptoss_facts.endpoint import CONTAINER_ENV

    declared = {spec.field: spec.name for spec in ENV_VARS}
    assert {field: declared[field] for field in CONTAINER_ENV} == CONTAINER_ENV


def test_every_setting_but_the_passthrough_is_declared_once() -> None:
    declared = [spec.field for spec in ENV_VARS]
    assert sorted(declared) == sorted(set(ContainerSettings.model_fields) - {"passthrough"})
    names = [spec.name for spec in ENV_VARS]
    assert len(names) == len(set(names))

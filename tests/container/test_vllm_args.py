"""The vLLM argv for every GPU profile, checked with vLLM 0.32's own server parser."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from model_configs import SHAPES, make_model

from gptoss_container.gpu import Gpu, GpuInventory
from gptoss_container.settings import ContainerSettings, SettingsError, flag_dest, load_settings
from gptoss_container.vllm_args import (
    build_engine_env,
    build_vllm_args,
    check_against_vllm_parser,
    redact_argv,
)
from gptoss_facts.gpus import GPU_FAMILIES

CARDS = {
    "h100": ("NVIDIA H100 80GB HBM3", 81559),
    "h200": ("NVIDIA H200", 143771),
    "a100": ("NVIDIA A100-SXM4-80GB", 81920),
    "l40s": ("NVIDIA L40S", 46068),
    "l4": ("NVIDIA L4", 23034),
    "a10g": ("NVIDIA A10G", 23028),
    # A card no profile names (made up, so adding a family never changes it): vLLM's own
    # kernel choice, bounded by memory only.
    "unprofiled": ("NVIDIA Example GPU 192GB", 183359),
}


def gpus(card: str, count: int = 1) -> GpuInventory:
    name, memory = CARDS[card]
    return GpuInventory(gpus=(Gpu(name, memory),) * count, source="test")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {shape: make_model(root / shape, shape) for shape in SHAPES}


@pytest.fixture(scope="module")
def parser_defaults() -> argparse.Namespace:
    """What vLLM's parser gives with no options: the values we must not have changed."""
    return check_against_vllm_parser(["--model", "/m"])


def settle(
    models: dict[str, Path], shape: str, inv: GpuInventory, **env: str
) -> tuple[ContainerSettings, list[str], argparse.Namespace]:
    environ = {"GPTOSS_MODEL_PATH": str(models[shape]), **env}
    settings = load_settings(environ, gpus=inv)
    argv = build_vllm_args(settings, inv, extra_args=["--middleware", "pkg.mod.Middleware"])
    return settings, argv, check_against_vllm_parser(argv)


def common(ns: argparse.Namespace, model: Path) -> None:
    assert ns.model == str(model)
    assert (ns.host, ns.port) == ("0.0.0.0", 8080)
    assert ns.reasoning_parser == "openai_gptoss"
    assert ns.tool_call_parser == "openai"
    assert ns.enable_auto_tool_choice is True
    assert ns.middleware == ["pkg.mod.Middleware"]
    assert ns.disable_access_log_for_endpoints == "/ping,/health"


HOPPER = {"async_scheduling": True, "max_cudagraph_capture_size": 2048, "stream_interval": 20}
PRE_HOPPER = {"attention_backend": "TRITON_ATTN", "moe_backend": "marlin"}
# (card, count, shape, expected namespace values; None = vLLM's own default)
CASES: list[tuple[str, int, str, dict[str, Any]]] = [
    ("h100", 1, "120b", {**HOPPER, "tensor_parallel_size": 1, "gpu_memory_utilization": 0.95,
                         "max_num_batched_tokens": 1024, "max_model_len": 131072}),
    ("h100", 8, "120b", {**HOPPER, "tensor_parallel_size": 8, "gpu_memory_utilization": None,
                         "max_num_batched_tokens": 8192}),
    ("h100", 1, "20b", {**HOPPER, "tensor_parallel_size": 1, "gpu_memory_utilization": None,
                        "max_num_batched_tokens": 8192}),
    ("h200", 1, "120b", {**HOPPER, "tensor_parallel_size": 1, "gpu_memory_utilization": None,
                         "max_num_batched_tokens": 8192}),
    ("a100", 1, "120b", {**PRE_HOPPER, "tensor_parallel_size": 1, "async_scheduling": None,
                         "max_num_batched_tokens": None, "stream_interval": None}),
    ("a100", 4, "120b", {**PRE_HOPPER, "tensor_parallel_size": 4}),
    ("l40s", 1, "20b", {**PRE_HOPPER, "tensor_parallel_size": 1, "async_scheduling": None}),
    ("l4", 1, "20b", {**PRE_HOPPER, "tensor_parallel_size": 1}),
    ("a10g", 1, "20b", {**PRE_HOPPER, "tensor_parallel_size": 1}),
    ("unprofiled", 1, "120b", {"tensor_parallel_size": 1, "attention_backend": None,
                         "moe_backend": None, "async_scheduling": None}),
]  # fmt: skip


@pytest.mark.parametrize(("card", "count", "shape", "expected"), CASES)
def test_gpu_profiles(
    models: dict[str, Path],
    parser_defaults: argparse.Namespace,
    card: str,
    count: int,
    shape: str,
    expected: dict[str, Any],
) -> None:
    _, argv, ns = settle(models, shape, gpus(card, count))
    common(ns, models[shape])
    assert argv[-2:] == ["--middleware", "pkg.mod.Middleware"]
    for dest, value in expected.items():
        want = getattr(parser_defaults, dest) if value is None else value
        assert getattr(ns, dest) == want, dest
    assert build_engine_env(load_settings({"GPTOSS_MODEL_PATH": str(models[shape])}),
                            gpus(card, count)) == {"VLLM_LOGGING_LEVEL": "INFO"}  # fmt: skip


@pytest.mark.parametrize("profile", sorted(GPU_FAMILIES))
def test_every_gpu_profile_passes_vllms_parser(models: dict[str, Path], profile: str) -> None:
    """Each family in gptoss_facts, forced on a card with room for it: its flags reach the
    argv and vLLM's own parser takes them (a new family is checked without a new case)."""
    family = GPU_FAMILIES[profile]
    shape = "tiny" if profile == "cpu" else "120b" if family.serves_120b else "20b"
    card = GpuInventory() if profile == "cpu" else GpuInventory((Gpu("any", 196608),), "test")
    _, argv, ns = settle(models, shape, card, GPTOSS_GPU_PROFILE=profile)
    for flag in family.flags:
        assert " ".join(flag.argv) in " ".join(argv), flag
    if family.max_num_batched_tokens is not None and family.single_gpu_120b is None:
        assert ns.max_num_batched_tokens == family.max_num_batched_tokens
    if family.kv_cache_memory_bytes is not None:
        assert ns.kv_cache_memory_bytes == family.kv_cache_memory_bytes


def test_cpu_profile(models: dict[str, Path]) -> None:
    env = {"GPTOSS_GPU_PROFILE": "cpu", "GPTOSS_HOST": "127.0.0.1", "GPTOSS_PORT": "18080"}
    settings, _, ns = settle(models, "tiny", GpuInventory(), **env)
    assert ns.enforce_eager is True
    assert ns.distributed_executor_backend == "uni"
    assert ns.kv_cache_memory_bytes == 1 << 30
    assert (ns.tensor_parallel_size, ns.max_model_len, ns.served_model_name) == (1, 4096, ["tiny"])
    assert (ns.host, ns.port) == ("127.0.0.1", 18080)
    assert build_engine_env(settings, GpuInventory()) == {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_HOST_IP": "127.0.0.1",
        "VLLM_LOGGING_LEVEL": "INFO",
    }


def test_typed_settings_reach_the_namespace(models: dict[str, Path]) -> None:
    env = {
        "GPTOSS_TENSOR_PARALLEL_SIZE": "2",
        "GPTOSS_MAX_MODEL_LEN": "32k",
        "GPTOSS_MAX_NUM_SEQS": "64",
        "GPTOSS_GPU_MEMORY_UTILIZATION": "0.85",
        "GPTOSS_MAX_NUM_BATCHED_TOKENS": "4096",
        "GPTOSS_KV_CACHE_MEMORY_BYTES": "20G",
        "GPTOSS_SERVED_MODEL_NAME": "oss",
        "GPTOSS_ENABLE_TOOL_CALLING": "false",
        "GPTOSS_LOG_LEVEL": "warning",
    }
    settings, _, ns = settle(models, "120b", gpus("h100", 2), **env)
    assert ns.tensor_parallel_size == 2
    assert ns.max_model_len == 32000
    assert ns.max_num_seqs == 64
    assert ns.gpu_memory_utilization == 0.85
    assert ns.max_num_batched_tokens == 4096
    assert ns.kv_cache_memory_bytes == 20 * 2**30
    assert ns.served_model_name == ["oss"]
    assert (ns.enable_auto_tool_choice, ns.tool_call_parser) == (False, None)
    assert ns.uvicorn_log_level == "warning"
    assert build_engine_env(settings, gpus("h100", 2))["VLLM_LOGGING_LEVEL"] == "WARNING"


def test_passthrough_wins_over_profile_flags(models: dict[str, Path]) -> None:
    env = {
        "SM_VLLM_NO_ASYNC_SCHEDULING": "true",
        "SM_VLLM_STREAM_INTERVAL": "5",
        "SM_VLLM_ENABLE_AUTO_TOOL_CHOICE": "false",
        "SM_VLLM_ENABLE_PREFIX_CACHING": "true",
        "SM_VLLM_MAX_NUM_BATCHED_TOKENS": "2048",  # typed: an alias of GPTOSS_
    }
    _, argv, ns = settle(models, "120b", gpus("h100"), **env)
    assert "--async-scheduling" not in argv
    assert ns.async_scheduling is False
    assert argv.count("--stream-interval") == 1
    assert ns.stream_interval == 5
    assert "--enable-auto-tool-choice" not in argv
    assert ns.enable_auto_tool_choice is False
    assert ns.enable_prefix_caching is True
    assert argv.count("--max-num-batched-tokens") == 1
    assert ns.max_num_batched_tokens == 2048
    assert ns.max_cudagraph_capture_size == 2048  # untouched profile flag stays


def test_passthrough_replaces_a100_kernels(models: dict[str, Path]) -> None:
    _, argv, ns = settle(models, "120b", gpus("a100"), SM_VLLM_ATTENTION_BACKEND="FLASH_ATTN")
    assert "TRITON_ATTN" not in argv
    assert (ns.attention_backend, ns.moe_backend) == ("FLASH_ATTN", "marlin")


@pytest.mark.parametrize(
    ("env", "culprit"),
    [
        ({"SM_VLLM_NOT_A_FLAG": "1"}, "--not-a-flag (from SM_VLLM_NOT_A_FLAG"),
        ({"SM_VLLM_ATTENTION_BACKEND": "NOPE"}, "attention backend 'NOPE' is not valid"),
        ({"SM_VLLM_MAX_MODEL": "4096"}, "--max-model"),  # no abbreviations
        ({"SM_VLLM_REASONING_PARSER": "bogus"}, "unknown reasoning parser 'bogus'"),
        ({"SM_VLLM_TOOL_CALL_PARSER": "bogus"}, "unknown tool call parser 'bogus'"),
        ({"SM_VLLM_ENABLE_LOG_OUTPUTS": "true"}, "--enable-log-outputs requires"),
    ],
)
def test_vllm_parser_complaints_become_settings_errors(
    models: dict[str, Path], env: dict[str, str], culprit: str
) -> None:
    settings = load_settings({"GPTOSS_MODEL_PATH": str(models["120b"]), **env})
    argv = build_vllm_args(settings, gpus("h100"))
    with pytest.raises(SettingsError, match="vllm serve --help") as caught:
        check_against_vllm_parser(argv)
    assert culprit in str(caught.value)


def test_hardware_is_checked_again_when_building(models: dict[str, Path]) -> None:
    settings = load_settings({"GPTOSS_MODEL_PATH": str(models["120b"])})
    with pytest.raises(SettingsError, match="'l4' profile"):
        build_vllm_args(settings, gpus("l4"))
    with pytest.raises(SettingsError, match="no GPU profile applies"):
        build_engine_env(settings, GpuInventory(source="nvidia-smi"))


def test_flag_dest_agrees_with_vllms_parser() -> None:
    from gptoss_container.vllm_args import _vllm_parser

    parser = _vllm_parser()
    wrong = {
        option: action.dest
        for option, action in parser._option_string_actions.items()
        if option.startswith("--") and flag_dest(option) != action.dest
    }
    assert wrong == {}


def test_redact_argv() -> None:
    argv = ["--api-key", "sekret", "--hf-token=hf_x", "--port", "8080"]
    assert redact_argv(argv) == ["--api-key", "***", "--hf-token=***", "--port", "8080"]

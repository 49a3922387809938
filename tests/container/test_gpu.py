"""GPU detection from nvidia-smi output, and matching what it finds to a GPU profile."""

from __future__ import annotations

import pytest

from gptoss_container.gpu import Gpu, GpuInventory, detect_gpus, parse_nvidia_smi
from gptoss_container.hardware import default_tensor_parallel
from gptoss_facts.gpus import GPU_FAMILIES as PROFILES
from gptoss_facts.gpus import match_family as match_profile
from gptoss_facts.models import tensor_parallel_sizes


def allowed_tensor_parallel(num_key_value_heads: int, num_attention_heads: int) -> list[int]:
    return list(tensor_parallel_sizes(num_key_value_heads, num_attention_heads))


# `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader` as these cards print it.
SMI = {
    "h100": "NVIDIA H100 80GB HBM3, 81559 MiB",
    "h200": "NVIDIA H200, 143771 MiB",
    "a100": "NVIDIA A100-SXM4-80GB, 81920 MiB",
    "l40s": "NVIDIA L40S, 46068 MiB",
    "l4": "NVIDIA L4, 23034 MiB",
    "a10g": "NVIDIA A10G, 23028 MiB",
}


@pytest.mark.parametrize(("profile", "line"), sorted(SMI.items()))
def test_detects_each_profile_from_nvidia_smi(profile: str, line: str) -> None:
    inventory = detect_gpus(run_nvidia_smi=lambda: line + "\n", environ={})
    assert inventory.count == 1
    assert inventory.name == line.split(",")[0]
    assert inventory.memory_mib == int(line.split(", ")[1].split()[0])
    assert inventory.source == "nvidia-smi"
    matched = match_profile(inventory.name or "")
    assert matched is not None
    assert matched.name == profile


def test_no_gpu_when_nvidia_smi_and_torch_find_none() -> None:
    inventory = detect_gpus(
        run_nvidia_smi=lambda: None,
        torch_probe=lambda: GpuInventory(source="torch.cuda"),
        environ={},
    )
    assert inventory.count == 0
    assert inventory.name is None
    assert "no NVIDIA GPU" in inventory.describe()


def test_empty_nvidia_smi_output_is_no_gpu() -> None:
    assert parse_nvidia_smi("").count == 0


def test_eight_cards_and_cuda_visible_devices_subset() -> None:
    output = "\n".join([SMI["h100"]] * 8) + "\n"
    assert detect_gpus(run_nvidia_smi=lambda: output, environ={}).count == 8
    visible = detect_gpus(run_nvidia_smi=lambda: output, environ={"CUDA_VISIBLE_DEVICES": "2,3"})
    assert visible.count == 2
    hidden = detect_gpus(run_nvidia_smi=lambda: output, environ={"CUDA_VISIBLE_DEVICES": ""})
    assert hidden.count == 0
    # CUDA stops at the first invalid entry.
    cut = detect_gpus(run_nvidia_smi=lambda: output, environ={"CUDA_VISIBLE_DEVICES": "0,-1,2"})
    assert cut.count == 1


def test_torch_probe_is_the_fallback() -> None:
    probed = GpuInventory(gpus=(Gpu("NVIDIA L4", 23034),), source="torch.cuda")
    inventory = detect_gpus(run_nvidia_smi=lambda: None, torch_probe=lambda: probed, environ={})
    assert (inventory.count, inventory.name, inventory.source) == (1, "NVIDIA L4", "torch.cuda")


def test_cpu_profile_probes_nothing() -> None:
    class Settings:
        gpu_profile: str | None = "cpu"

    def boom() -> str:
        raise AssertionError("nvidia-smi must not run on the cpu profile")

    inventory = detect_gpus(Settings(), run_nvidia_smi=boom, environ={})
    assert inventory.count == 0
    assert "cpu profile" in inventory.source


def test_garbage_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        parse_nvidia_smi("NVIDIA H100 80GB HBM3\n")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA H100 NVL", "h100"),
        ("NVIDIA H100 PCIe", "h100"),
        ("NVIDIA A100-SXM4-40GB", "a100"),
        ("NVIDIA A10", "a10g"),
        ("NVIDIA L40", "l40s"),
        ("NVIDIA GH200 480GB", None),  # a Hopper superchip, not an H200: generic
        # A card no profile names (a made-up one, so adding a family never changes it).
        ("NVIDIA Example GPU 192GB", None),
        ("Tesla T4", None),  # below gpt-oss's minimum compute capability: never a profile
    ],
)
def test_profile_matching_is_not_fooled_by_similar_names(name: str, expected: str | None) -> None:
    matched = match_profile(name)
    assert (matched.name if matched else None) == expected


def test_small_cards_do_not_serve_the_120b() -> None:
    assert {n for n, p in PROFILES.items() if not p.serves_120b} == {"l40s", "l4", "a10g", "cpu"}


def test_tensor_parallel_sizes_for_gpt_oss_heads() -> None:
    allowed = allowed_tensor_parallel(num_key_value_heads=8, num_attention_heads=64)
    assert allowed == [1, 2, 4, 8]
    assert default_tensor_parallel(1, allowed) == 1
    assert default_tensor_parallel(3, allowed) == 2
    assert default_tensor_parallel(8, allowed) == 8
    assert default_tensor_parallel(0, allowed) == 1
    assert allowed_tensor_parallel(num_key_value_heads=1, num_attention_heads=2) == [1]


def test_profiles_command_prints_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    from gptoss_container.__main__ import main

    assert main(["profiles"]) == 0
    table = capsys.readouterr().out
    for name, profile in PROFILES.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        assert all(token in row for flag in profile.flags for token in flag.argv), row
        assert profile.source in row
    h100 = next(line for line in table.splitlines() if line.startswith("| `h100` |"))
    assert "`--max-num-batched-tokens 1024 --gpu-memory-utilization 0.95`" in h100

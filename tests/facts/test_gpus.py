"""GPU families: the container's vLLM settings and the deployment's memory share agree."""

import pytest

from gptoss_facts.gpus import (
    GPU_FAMILIES,
    GPU_MODELS,
    H100,
    L40S,
    VLLM_DEFAULT_GPU_MEMORY_UTILIZATION,
    family_for,
    match_family,
    memory_utilization,
)
from gptoss_facts.instances import INSTANCE_TYPES


@pytest.mark.parametrize(
    ("nvidia_smi_name", "family"),
    [
        ("NVIDIA H100 80GB HBM3", "h100"),
        ("NVIDIA H100 NVL", "h100"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA A100-SXM4-80GB", "a100"),
        ("NVIDIA L40S", "l40s"),
        ("NVIDIA L4", "l4"),
        ("NVIDIA A10G", "a10g"),
        ("Tesla T4", None),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", None),
    ],
)
def test_nvidia_smi_names_find_their_family(nvidia_smi_name: str, family: str | None) -> None:
    found = match_family(nvidia_smi_name)
    assert (found.name if found else None) == family


def test_every_gpu_model_names_a_family_whose_patterns_match_it() -> None:
    for gpu in GPU_MODELS:
        family = family_for(gpu)
        if family.patterns:
            assert match_family(gpu.name) is family, gpu.name
        else:
            assert match_family(gpu.name) is None, gpu.name


def test_every_instance_types_gpu_is_a_known_model() -> None:
    assert {row.gpu for row in INSTANCE_TYPES.values()} <= set(GPU_MODELS)


def test_every_family_cites_a_source() -> None:
    for family in GPU_FAMILIES.values():
        assert family.source, family.name


def test_memory_share_is_the_single_h100_fix_only_for_the_120b_on_one_card() -> None:
    # vllm #23278 / #27508 / #33155: the 120b on one H100 needs 0.95 and 1024 batched tokens.
    assert memory_utilization(H100, model="gpt-oss-120b", gpus_per_replica=1) == 0.95
    assert GPU_FAMILIES["h100"].single_gpu_120b == (1024, 0.95)
    default = VLLM_DEFAULT_GPU_MEMORY_UTILIZATION
    assert memory_utilization(H100, model="gpt-oss-120b", gpus_per_replica=2) == default
    assert memory_utilization(H100, model="gpt-oss-20b", gpus_per_replica=1) == default
    assert memory_utilization(L40S, model="gpt-oss-120b", gpus_per_replica=1) == default

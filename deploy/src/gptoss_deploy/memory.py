"""Does the model fit: GPU memory for one replica, and the container settings that follow.

The arithmetic the memory check runs (weights as loaded, a runtime reserve, KV cache for
``concurrency`` full-length sequences), the settings the endpoint passes to the container
so it runs what was checked, and the smallest instance types where a model fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_deploy.config import SageMakerConfig
from gptoss_facts.endpoint import CONTAINER_ENV
from gptoss_facts.gpus import MIN_COMPUTE_CAPABILITY, memory_utilization
from gptoss_facts.instances import INSTANCE_TYPES, InstanceType
from gptoss_facts.models import GIB, GPT_OSS_120B, TENSOR_PARALLEL_SIZES, ModelSpec

# vLLM on one H100 logs "Model loading took 64.38 GiB" for gpt-oss-120b (vllm #33155), whose
# checkpoint is 60.8 GiB (model card): loaded weights take about 5.9% more than on disk.
LOAD_FACTOR = 64.38 / GPT_OSS_120B.checkpoint_gib

# Per GPU, besides weights and KV cache: CUDA graphs and the activation peak vLLM profiles at
# start. An estimate, set so the known-good one-H100 setup for the 120b (0.95 utilization,
# 1024 batched tokens: vllm #23278 / #33155) still holds one full 128K sequence, as it does.
RUNTIME_RESERVE_GIB = 3.0


@dataclass(frozen=True)
class MemoryPlan:
    """GPU memory for one model replica (an endpoint's model, or one inference component)."""

    model: ModelSpec
    instance: InstanceType
    gpus: int
    utilization: float
    max_model_len: int
    concurrency: int

    @property
    def usable_gib(self) -> float:
        return self.gpus * self.instance.gpu.memory_gib * self.utilization

    @property
    def weights_gib(self) -> float:
        return self.model.checkpoint_gib * LOAD_FACTOR

    @property
    def reserve_gib(self) -> float:
        return self.gpus * RUNTIME_RESERVE_GIB

    @property
    def kv_per_sequence_gib(self) -> float:
        return self.model.kv_cache_bytes(self.max_model_len) / GIB

    @property
    def kv_budget_gib(self) -> float:
        """What is left for KV cache once weights and the runtime reserve are loaded."""
        return self.usable_gib - self.weights_gib - self.reserve_gib

    @property
    def need_gib(self) -> float:
        return self.weights_gib + self.reserve_gib + self.kv_per_sequence_gib * self.concurrency

    @property
    def fits(self) -> bool:
        return self.need_gib <= self.usable_gib

    @property
    def sequences_that_fit(self) -> int:
        """Full-context sequences whose KV cache fits (0 when not even one does)."""
        return max(0, int(self.kv_budget_gib // self.kv_per_sequence_gib))

    @property
    def context_that_fits(self) -> int:
        """Longest context (a multiple of 1024) for ``concurrency`` sequences; 0 if none."""
        budget = self.kv_budget_gib * GIB / self.concurrency
        best, low, high = 0, 1, self.model.max_context // 1024
        while low <= high:
            mid = (low + high) // 2
            if self.model.kv_cache_bytes(mid * 1024) <= budget:
                best, low = mid * 1024, mid + 1
            else:
                high = mid - 1
        return best

    def describe(self) -> str:
        return (
            f"{self.model.name} needs {self.need_gib:.1f} GiB on {self.gpus}x "
            f"{self.instance.gpu.name} ({self.usable_gib:.1f} GiB usable at "
            f"gpu_memory_utilization {self.utilization}): weights {self.weights_gib:.1f} + "
            f"runtime {self.reserve_gib:.1f} + KV cache {self.kv_per_sequence_gib:.2f} x "
            f"{self.concurrency} sequences of {self.max_model_len} tokens"
        )


def default_tensor_parallel_size(instance: InstanceType) -> int:
    """The container's default: every GPU, rounded down to 1, 2, 4 or 8."""
    return max(size for size in TENSOR_PARALLEL_SIZES if size <= instance.gpu_count)


def gpus_per_replica(sm: SageMakerConfig, instance: InstanceType) -> int:
    if sm.inference_components:
        return sm.gpus_per_copy
    return sm.tensor_parallel_size or default_tensor_parallel_size(instance)


def resolved_utilization(sm: SageMakerConfig, instance: InstanceType) -> float:
    """The configured share, else the one the container picks on this GPU family (0.95 for
    the 120b on one H100, gptoss_facts.gpus; otherwise vLLM's default)."""
    if sm.gpu_memory_utilization is not None:
        return sm.gpu_memory_utilization
    # A safeguard model is its base model's architecture: the base's share holds for it.
    model = sm.model_spec.base_model or sm.model
    return memory_utilization(
        instance.gpu, model=model, gpus_per_replica=gpus_per_replica(sm, instance)
    )


def memory_plan(sm: SageMakerConfig) -> MemoryPlan | None:
    """The memory check's arithmetic; None when the instance type is unknown."""
    instance = INSTANCE_TYPES.get(sm.instance_type)
    if instance is None:
        return None
    return MemoryPlan(
        model=sm.model_spec,
        instance=instance,
        gpus=gpus_per_replica(sm, instance),
        utilization=resolved_utilization(sm, instance),
        max_model_len=sm.max_model_len,
        concurrency=sm.concurrency,
    )


def container_environment(sm: SageMakerConfig) -> dict[str, str]:
    """The container settings the memory check assumed, passed so the endpoint runs them."""
    instance = INSTANCE_TYPES[sm.instance_type]
    return {
        CONTAINER_ENV["max_model_len"]: str(sm.max_model_len),
        CONTAINER_ENV["gpu_memory_utilization"]: str(resolved_utilization(sm, instance)),
        CONTAINER_ENV["tensor_parallel_size"]: str(gpus_per_replica(sm, instance)),
    }


def instances_that_fit(sm: SageMakerConfig, region: str, limit: int = 4) -> list[str]:
    """Smallest instance types (by GPU memory) where the model fits at this context and
    concurrency, offered in the region."""
    fitting = []
    for instance in sorted(INSTANCE_TYPES.values(), key=lambda i: (i.gpu_memory_gib, i.name)):
        if not instance.offered_in(region):
            continue
        if instance.gpu.compute_capability < MIN_COMPUTE_CAPABILITY:
            continue
        trial = sm.model_copy(update={"instance_type": instance.name, "gpus_per_copy": 1})
        if sm.inference_components:
            # One copy per GPU first; fall back to the whole instance.
            plans = [
                memory_plan(trial),
                memory_plan(
                    trial.model_copy(
                        update={"gpus_per_copy": default_tensor_parallel_size(instance)}
                    )
                ),
            ]
        else:
            plans = [memory_plan(trial.model_copy(update={"tensor_parallel_size": None}))]
        if any(plan is not None and plan.fits for plan in plans):
            fitting.append(instance.name)
    return fitting[:limit]

"""GPU detection: which NVIDIA cards this process can see, and how much memory each has.

The per-family vLLM settings these cards are matched against are
`gptoss_facts.gpus.GPU_FAMILIES`; hardware.py applies them. Detection only reads names
and memory sizes; nothing here imports torch or vLLM unless `nvidia-smi` is missing, so
it is cheap to call at container start.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from gptoss_facts.gpus import MIB_PER_GIB


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

"""Does the host's NVIDIA driver run this image's CUDA runtime? Asked before vLLM loads.

``vllm/vllm-openai:v0.32.0`` carries a CUDA 13.0 runtime (vLLM's docker/Dockerfile, base
``nvidia/cuda``, whose images set ``CUDA_VERSION``). A driver older than the runtime can only
start it through CUDA forward compatibility, which SageMaker's inference AMIs switch off
("NVIDIA Container Toolkit with disabled CUDA-compat mounting", SageMaker API reference,
ProductionVariant.InferenceAmiVersion) and which needs a data-center GPU and a supported
driver branch. Without this check the failure surfaces minutes later as a CUDA error deep in
vLLM's worker start-up; with it the container stops at once with one line naming both
versions and the AMI that fixes it.

The driver version comes from ``nvidia-smi`` (the kernel module's version, which is what
decides), not from ``cuDriverGetVersion``: the image puts its CUDA compat directory on the
loader path (``ldconfig`` in vLLM's docker/Dockerfile; ``VLLM_ENABLE_CUDA_COMPATIBILITY``,
vllm #33992), so libcuda may be the image's forward-compatibility copy and report the
runtime's own version whatever the host has.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping

from gptoss_facts.cuda import MIN_DRIVER_FOR_CUDA, cuda_supported_by_driver, parse_version

from .settings import env_name

# Set by every nvidia/cuda base image (and so by vllm/vllm-openai), e.g. "13.0.1".
IMAGE_CUDA_ENV = "CUDA_VERSION"
FIX_AMI = "al2023-ami-sagemaker-inference-gpu-4-1"

DriverQuery = Callable[[], "str | None"]


def query_driver_version() -> str | None:
    """The kernel driver's version from nvidia-smi, or None when there is no driver."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    done = subprocess.run(
        [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = done.stdout.strip().splitlines() if done.returncode == 0 else []
    return lines[0].strip() if lines else None


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def driver_problems(
    environ: Mapping[str, str], *, query: DriverQuery = query_driver_version
) -> list[str]:
    """One problem when the driver is older than the image's CUDA runtime, else none.

    Nothing is checked on the cpu profile, outside an nvidia/cuda image (no CUDA_VERSION) or
    without a driver (the GPU probe reports that).
    """
    if environ.get(env_name("gpu_profile")) == "cpu":
        return []
    image = parse_version(environ.get(IMAGE_CUDA_ENV, "") or "x")
    if image is None or len(image) < 2:
        return []
    runtime = (image[0], image[1])
    reported = query()
    if reported is None:
        return []
    driver = parse_version(reported)
    if driver is None:
        return [
            f"nvidia-smi reported driver version {reported!r}, which is not a version number, "
            f"so it cannot be compared with this image's CUDA {_version_text(runtime)} "
            "runtime. Fix: check the host's NVIDIA driver installation (nvidia-smi)"
        ]
    supported = cuda_supported_by_driver(driver)
    if supported is not None and supported >= runtime:
        return []
    oldest = _version_text(MIN_DRIVER_FOR_CUDA[-1][0])
    runs = f"CUDA {_version_text(supported)}" if supported else f"no CUDA {oldest} or later"
    return [
        f"the host's NVIDIA driver {reported} runs {runs}, older than this image's CUDA "
        f"{_version_text(runtime)} runtime, so vLLM cannot start. Fix: deploy on an AMI "
        f"whose driver runs CUDA {_version_text(runtime)} (SageMaker: InferenceAmiVersion "
        f"{FIX_AMI}, driver 580)"
    ]

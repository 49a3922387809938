"""The base image's CUDA, and which NVIDIA driver each CUDA version needs.

The container checks the host's driver at start (a clear error instead of a CUDA crash);
the deployment checks refuse an inference AMI whose driver cannot run the image.
"""

from __future__ import annotations

BASE_IMAGE = "vllm/vllm-openai:v0.32.0"
# vLLM's docker/Dockerfile builds vllm/vllm-openai on nvidia/cuda with ARG CUDA_VERSION=13.0.x
# since the default image moved to CUDA 13.0 after v0.20.0 (vllm-project/vllm #42738).
IMAGE_CUDA: tuple[int, int] = (13, 0)
IMAGE_CUDA_SOURCE = (
    "vLLM docker/Dockerfile (ARG CUDA_VERSION=13.0.x, base nvidia/cuda) for "
    f"{BASE_IMAGE}; default image on CUDA 13.0 since v0.20.0 (vllm-project/vllm #42738)"
)

# Minimum Linux x86_64 driver per CUDA minor version (its GA release): NVIDIA CUDA Toolkit
# release notes, table "CUDA Toolkit and Corresponding Driver Versions". A driver runs every
# CUDA up to the highest row it meets; without CUDA forward compatibility an older driver
# cannot run a newer runtime. Every minor version from 11.4 on has a row (12.7 was never
# released), so a driver between two rows is never credited with less than it runs.
MIN_DRIVER_FOR_CUDA: tuple[tuple[tuple[int, int], tuple[int, ...]], ...] = (
    ((13, 0), (580, 65, 6)),
    ((12, 9), (575, 51, 3)),
    ((12, 8), (570, 26)),
    ((12, 6), (560, 28, 3)),
    ((12, 5), (555, 42, 2)),
    ((12, 4), (550, 54, 14)),
    ((12, 3), (545, 23, 6)),
    ((12, 2), (535, 54, 3)),
    ((12, 1), (530, 30, 2)),
    ((12, 0), (525, 60, 13)),
    ((11, 8), (520, 61, 5)),
    ((11, 7), (515, 43, 4)),
    ((11, 6), (510, 39, 1)),
    ((11, 5), (495, 29, 5)),
    ((11, 4), (470, 42, 1)),
)


def parse_version(text: str) -> tuple[int, ...] | None:
    """``"550.163.01"`` -> ``(550, 163, 1)``; None when it is not a dotted number."""
    parts = text.strip().split(".")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def cuda_supported_by_driver(driver: tuple[int, ...]) -> tuple[int, int] | None:
    """The highest CUDA version a Linux driver (e.g. ``(550, 163, 1)``) runs natively."""
    for cuda, minimum in MIN_DRIVER_FOR_CUDA:
        if driver >= minimum:
            return cuda
    return None


def min_driver_for(cuda: tuple[int, int]) -> tuple[int, ...] | None:
    """The oldest driver that runs ``cuda``, or None for a version the table does not list."""
    for version, minimum in MIN_DRIVER_FOR_CUDA:
        if version == cuda:
            return minimum
    return None

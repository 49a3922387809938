"""Moved to gptoss_facts.instances; this alias goes once every importer has moved."""

from gptoss_facts.gpus import (
    A10G,
    A100_40GB,
    A100_80GB,
    H100,
    H200,
    L4,
    L40S,
    MIN_COMPUTE_CAPABILITY,
    RTX_PRO_6000,
    T4,
    GpuModel,
)
from gptoss_facts.instances import (
    CUDA_CC,
    EC2_SPECS,
    HOSTING_OFFERS,
    INSTANCE_TYPES,
    InstanceType,
    get_instance_type,
)

__all__ = [
    "A10G",
    "A100_40GB",
    "A100_80GB",
    "CUDA_CC",
    "EC2_SPECS",
    "H100",
    "H200",
    "HOSTING_OFFERS",
    "INSTANCE_TYPES",
    "L4",
    "L40S",
    "MIN_COMPUTE_CAPABILITY",
    "RTX_PRO_6000",
    "T4",
    "GpuModel",
    "InstanceType",
    "get_instance_type",
]

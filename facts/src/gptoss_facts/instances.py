"""SageMaker GPU instance types: what each one holds, so deployment and infra can size gpt-oss.

One row per instance type that SageMaker real-time hosting offers with NVIDIA GPUs. Each row
says where its numbers come from (``InstanceType.source``); the sources are:

- ``EC2_SPECS``: GPU model and count, GPU memory (GiB), vCPUs, host memory (GiB) and
  whether the instance has local NVMe instance storage, from the Amazon EC2 "Accelerated
  computing instance specifications" page. SageMaker's ``ml.`` types run on these EC2 types.
- ``CUDA_CC``: the compute capability of each GPU, from NVIDIA's CUDA GPU table.
- ``HOSTING_OFFERS``: the regions where the AWS Price List offers the type for SageMaker
  hosting, as generated into cfn-lint 1.58.0
  (``data/schemas/extensions/aws_sagemaker_hosting/instancetype_enum.json``, "updated using
  update_specs_from_pricing"). Regions get added over time: a region missing here is "not
  listed", not "impossible" (``tests/infra`` checks this table against cfn-lint's file).

Why local NVMe matters: the CreateEndpointConfig API reference (KmsKeyId) says instances
with local storage encrypt it with a hardware module and the call fails if a KmsKeyId is
given; VolumeSizeInGB is likewise only for EBS-backed types (ProductionVariant reference).
Every GPU type SageMaker hosting offers today has local NVMe.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_facts.gpus import (
    A10G,
    A100_40GB,
    A100_80GB,
    H100,
    H200,
    L4,
    L40S,
    RTX_PRO_6000,
    T4,
    GpuModel,
)

EC2_SPECS = (
    "Amazon EC2 User Guide, instance types: accelerated computing specifications "
    "(docs.aws.amazon.com/ec2/latest/instancetypes/ac.html)"
)
CUDA_CC = "NVIDIA CUDA GPUs, compute capability (developer.nvidia.com/cuda-gpus)"
HOSTING_OFFERS = (
    "AWS Price List SageMaker hosting offers as carried in cfn-lint 1.58.0 "
    "(aws_sagemaker_hosting/instancetype_enum.json)"
)


@dataclass(frozen=True)
class InstanceType:
    """One SageMaker hosting instance type with GPUs."""

    name: str
    gpu: GpuModel
    gpu_count: int
    vcpus: int | None
    memory_gib: int | None
    local_nvme: bool
    hosting_regions: frozenset[str]
    source: str = f"{EC2_SPECS}; {CUDA_CC}; {HOSTING_OFFERS}"

    @property
    def gpu_memory_gib(self) -> int:
        """GPU memory of the whole instance."""
        return self.gpu.memory_gib * self.gpu_count

    @property
    def family(self) -> str:
        return self.name.split(".")[1]

    def offered_in(self, region: str) -> bool:
        return region in self.hosting_regions


def _regions(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Region lists per family, copied from HOSTING_OFFERS (every size of a family shares one list,
# except p5 where the 4xlarge and the 48xlarge differ).
_G4DN = _regions(
    "af-south-1 ap-east-1 ap-northeast-1 ap-northeast-2 ap-northeast-3 ap-south-1 "
    "ap-southeast-1 ap-southeast-2 ca-central-1 cn-north-1 cn-northwest-1 eu-central-1 "
    "eu-north-1 eu-south-1 eu-west-1 eu-west-2 eu-west-3 me-south-1 sa-east-1 us-east-1 "
    "us-east-2 us-gov-east-1 us-gov-west-1 us-west-1 us-west-2"
)
_G5 = _regions(
    "ap-east-1 ap-northeast-1 ap-northeast-2 ap-south-1 ap-southeast-1 ap-southeast-2 "
    "ap-southeast-3 ca-central-1 cn-north-1 eu-central-1 eu-north-1 eu-west-1 eu-west-2 "
    "il-central-1 me-central-1 sa-east-1 us-east-1 us-east-2 us-west-2"
)
_G6 = _regions(
    "ap-northeast-1 ap-northeast-2 ap-south-1 ap-southeast-2 ap-southeast-5 ca-central-1 "
    "eu-central-1 eu-central-2 eu-north-1 eu-south-2 eu-west-1 eu-west-2 eu-west-3 sa-east-1 "
    "us-east-1 us-east-2 us-gov-east-1 us-gov-west-1 us-west-2"
)
_G6E = _regions(
    "ap-northeast-1 ap-northeast-2 ap-northeast-3 ap-south-1 eu-central-1 eu-south-2 "
    "us-east-1 us-east-2 us-west-2"
)
_G7E = _regions(
    "ap-northeast-1 ap-northeast-2 eu-central-1 eu-south-2 eu-west-2 us-east-1 us-east-2 us-west-2"
)
_P4D = _regions(
    "ap-northeast-1 ap-northeast-2 ap-south-1 ap-southeast-1 ap-southeast-2 ca-central-1 "
    "eu-central-1 eu-west-1 eu-west-2 sa-east-1 us-east-1 us-east-2 us-gov-west-1 us-west-2"
)
_P4DE = _regions("ap-northeast-1 eu-central-1 us-east-1 us-west-2")
_P5_4XL = _regions("ap-northeast-1 ap-south-1 eu-west-2 sa-east-1 us-east-2 us-west-2")
_P5_48XL = _regions("ap-southeast-2 ca-central-1 eu-west-2 sa-east-1 us-east-1 us-east-2 us-west-2")
_P5EN = _regions(
    "ap-northeast-1 ap-south-1 ap-southeast-3 eu-north-1 eu-south-2 us-east-1 us-east-2 "
    "us-west-1 us-west-2"
)


def _row(
    name: str,
    gpu: GpuModel,
    gpus: int,
    vcpus: int | None,
    memory_gib: int | None,
    regions: frozenset[str],
) -> InstanceType:
    # Every GPU type in this table has local NVMe instance storage (EC2_SPECS, "Instance
    # store" column); an EBS-only GPU type would be added with local_nvme=False.
    return InstanceType(name, gpu, gpus, vcpus, memory_gib, True, regions)


# fmt: off
_ROWS: tuple[InstanceType, ...] = (
    # name                  GPU           GPUs vCPU  host GiB regions
    _row("ml.g4dn.xlarge",   T4,          1,   4,    16,      _G4DN),
    _row("ml.g4dn.2xlarge",  T4,          1,   8,    32,      _G4DN),
    _row("ml.g4dn.4xlarge",  T4,          1,   16,   64,      _G4DN),
    _row("ml.g4dn.8xlarge",  T4,          1,   32,   128,     _G4DN),
    _row("ml.g4dn.12xlarge", T4,          4,   48,   192,     _G4DN),
    _row("ml.g4dn.16xlarge", T4,          1,   64,   256,     _G4DN),
    _row("ml.g5.xlarge",     A10G,        1,   4,    16,      _G5),
    _row("ml.g5.2xlarge",    A10G,        1,   8,    32,      _G5),
    _row("ml.g5.4xlarge",    A10G,        1,   16,   64,      _G5),
    _row("ml.g5.8xlarge",    A10G,        1,   32,   128,     _G5),
    _row("ml.g5.12xlarge",   A10G,        4,   48,   192,     _G5),
    _row("ml.g5.16xlarge",   A10G,        1,   64,   256,     _G5),
    _row("ml.g5.24xlarge",   A10G,        4,   96,   384,     _G5),
    _row("ml.g5.48xlarge",   A10G,        8,   192,  768,     _G5),
    _row("ml.g6.xlarge",     L4,          1,   4,    16,      _G6),
    _row("ml.g6.2xlarge",    L4,          1,   8,    32,      _G6),
    _row("ml.g6.4xlarge",    L4,          1,   16,   64,      _G6),
    _row("ml.g6.8xlarge",    L4,          1,   32,   128,     _G6),
    _row("ml.g6.12xlarge",   L4,          4,   48,   192,     _G6),
    _row("ml.g6.16xlarge",   L4,          1,   64,   256,     _G6),
    _row("ml.g6.24xlarge",   L4,          4,   96,   384,     _G6),
    _row("ml.g6.48xlarge",   L4,          8,   192,  768,     _G6),
    _row("ml.g6e.xlarge",    L40S,        1,   4,    32,      _G6E),
    _row("ml.g6e.2xlarge",   L40S,        1,   8,    64,      _G6E),
    _row("ml.g6e.4xlarge",   L40S,        1,   16,   128,     _G6E),
    _row("ml.g6e.8xlarge",   L40S,        1,   32,   256,     _G6E),
    _row("ml.g6e.12xlarge",  L40S,        4,   48,   384,     _G6E),
    _row("ml.g6e.16xlarge",  L40S,        1,   64,   512,     _G6E),
    _row("ml.g6e.24xlarge",  L40S,        4,   96,   768,     _G6E),
    _row("ml.g6e.48xlarge",  L40S,        8,   192,  1536,    _G6E),
    # g7e: GPU model and count from the EC2 G7e launch; vCPU and host memory left unknown
    # rather than guessed.
    _row("ml.g7e.2xlarge",   RTX_PRO_6000, 1,  None, None,    _G7E),
    _row("ml.g7e.4xlarge",   RTX_PRO_6000, 1,  None, None,    _G7E),
    _row("ml.g7e.8xlarge",   RTX_PRO_6000, 1,  None, None,    _G7E),
    _row("ml.g7e.12xlarge",  RTX_PRO_6000, 2,  None, None,    _G7E),
    _row("ml.g7e.24xlarge",  RTX_PRO_6000, 4,  None, None,    _G7E),
    _row("ml.g7e.48xlarge",  RTX_PRO_6000, 8,  None, None,    _G7E),
    _row("ml.p4d.24xlarge",  A100_40GB,   8,   96,   1152,    _P4D),
    _row("ml.p4de.24xlarge", A100_80GB,   8,   96,   1152,    _P4DE),
    _row("ml.p5.4xlarge",    H100,        1,   16,   256,     _P5_4XL),
    _row("ml.p5.48xlarge",   H100,        8,   192,  2048,    _P5_48XL),
    _row("ml.p5en.48xlarge", H200,        8,   192,  2048,    _P5EN),
)
# fmt: on

INSTANCE_TYPES: dict[str, InstanceType] = {row.name: row for row in _ROWS}


def get_instance_type(name: str) -> InstanceType:
    """Look an instance type up by its SageMaker name (``ml.p5.4xlarge``).

    The EC2 name (``p5.4xlarge``) is accepted too, because people copy it from EC2 pages.
    """
    key = name if name.startswith("ml.") else f"ml.{name}"
    try:
        return INSTANCE_TYPES[key]
    except KeyError:
        family = key.split(".")[1] if key.count(".") >= 2 else ""
        same_family = [row.name for row in _ROWS if row.family == family]  # table order
        hint = (
            f"known {family} sizes: {', '.join(same_family)}"
            if same_family
            else f"known families: {', '.join(dict.fromkeys(r.family for r in _ROWS))}"
        )
        raise KeyError(
            f"unknown SageMaker GPU instance type {name!r} ({hint}); "
            "gptoss_facts.instances lists the GPU types SageMaker hosting offers"
        ) from None

"""SageMaker inference AMIs: which NVIDIA driver each offers, and whether it can run our image.

One table, imported by the CDK app (the ``InferenceAmiVersion`` it pins on every production
variant), by ``gptoss_deploy.validation`` (a configuration that names an AMI its
image cannot start on is refused) and by the deployment rehearsal.

Sources:

- ``AMI_DRIVERS``: the SageMaker API reference, ``ProductionVariant.InferenceAmiVersion``
  (the text botocore 1.44.8 ships in ``sagemaker/2017-07-24/service-2.json``): each AMI's
  NVIDIA driver branch and CUDA version, e.g. "al2023-ami-sagemaker-inference-gpu-4-1 --
  NVIDIA driver version: 580, CUDA version: 13.0, NVIDIA Container Toolkit with disabled
  CUDA-compat mounting". The enum of the same shape lists the five valid values.
- ``AMI_INSTANCES``: instance families per AMI. For ``gpu-2``/``gpu-2-1`` the API reference's
  earlier text (botocore 1.36.20: "Supported instance types: ml.g4dn.*, ml.g5.*, ml.g6.*,
  ml.p3.*, ml.p4d.*, ml.p4de.*, ml.p5.*"). For ``gpu-4-1`` the SageMaker developer guide
  page "Best practices to minimize interruptions during GPU driver upgrades"
  (inference-gpu-drivers.html, column "compatible instance types with AMI version override")
  and AWS's own deploy code that pins it (the SageMaker Python SDK's CUDA-13 AMI inference
  for ml.g4dn/g5/g6/g6e/p4d/p4de/p5/p5e/p5en; aws-samples notebooks on ml.g7e).
- ``IMAGE_CUDA``: vLLM's ``docker/Dockerfile`` builds ``vllm/vllm-openai`` on
  ``nvidia/cuda:${CUDA_VERSION}`` with ``ARG CUDA_VERSION=13.0.x`` since the default image
  moved to CUDA 13.0 after v0.20.0 (vllm-project/vllm #42738); our Dockerfile starts FROM
  ``vllm/vllm-openai:v0.32.0``.
- ``MIN_DRIVER_FOR_CUDA``: NVIDIA CUDA Toolkit release notes, table "CUDA Toolkit and
  Minimum Required Driver Version" (Linux, x86_64).
"""

from __future__ import annotations

from dataclasses import dataclass

BASE_IMAGE = "vllm/vllm-openai:v0.32.0"
IMAGE_CUDA: tuple[int, int] = (13, 0)
IMAGE_CUDA_SOURCE = (
    "vLLM docker/Dockerfile (ARG CUDA_VERSION=13.0.x, base nvidia/cuda) for "
    f"{BASE_IMAGE}; default image on CUDA 13.0 since v0.20.0 (vllm-project/vllm #42738)"
)

API_REFERENCE = (
    "SageMaker API reference, ProductionVariant.InferenceAmiVersion (botocore 1.44.8 service model)"
)
DRIVER_GUIDE = (
    "SageMaker developer guide, inference-gpu-drivers.html (compatible instance types with an "
    "AMI version override)"
)

# Minimum Linux driver per CUDA minor version (NVIDIA CUDA Toolkit release notes, "CUDA Toolkit
# and Minimum Required Driver Version"). A driver supports every CUDA up to the highest row it
# meets; without CUDA forward compatibility, an older driver cannot run a newer runtime.
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
    ((11, 4), (470, 42, 1)),
)


def cuda_supported_by_driver(driver: tuple[int, ...]) -> tuple[int, int] | None:
    """The highest CUDA version a Linux driver (e.g. ``(550, 163, 1)``) runs natively."""
    for cuda, minimum in MIN_DRIVER_FOR_CUDA:
        if driver >= minimum:
            return cuda
    return None


def parse_version(text: str) -> tuple[int, ...]:
    """``"550.163.01"`` -> ``(550, 163, 1)``; ``"13.0.1"`` -> ``(13, 0, 1)``."""
    parts = text.strip().split(".")
    if not parts or not all(part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not a dotted version number")
    return tuple(int(part) for part in parts)


def cuda_text(cuda: tuple[int, int]) -> str:
    return f"{cuda[0]}.{cuda[1]}"


@dataclass(frozen=True)
class InferenceAmi:
    """One value of ``ProductionVariant.InferenceAmiVersion`` for NVIDIA GPUs."""

    version: str
    driver_branch: int
    cuda: tuple[int, int]
    families: frozenset[str]
    source: str

    def offers(self, instance_type: str) -> bool:
        """Whether SageMaker runs ``instance_type`` (``ml.p5.4xlarge``) on this AMI."""
        parts = instance_type.split(".")
        return len(parts) == 3 and parts[0] == "ml" and parts[1] in self.families

    def runs(self, cuda: tuple[int, int] = IMAGE_CUDA) -> bool:
        """Whether this AMI's driver runs a CUDA ``cuda`` runtime without forward
        compatibility (which these AMIs switch off: "disabled CUDA-compat mounting")."""
        return self.cuda >= cuda


def _families(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GPU2 = _families("g4dn g5 g6 p3 p4d p4de p5")
_GPU4 = _families("g4dn g5 g6 g6e g7e p4d p4de p5 p5e p5en")

INFERENCE_AMIS: dict[str, InferenceAmi] = {
    ami.version: ami
    for ami in (
        InferenceAmi("al2-ami-sagemaker-inference-gpu-2", 535, (12, 2), _GPU2, f"{API_REFERENCE}"),
        InferenceAmi(
            "al2-ami-sagemaker-inference-gpu-2-1", 535, (12, 2), _GPU2, f"{API_REFERENCE}"
        ),
        # Instance families of gpu-3-1 are not in the API reference; they are left empty
        # rather than guessed, so nothing pins it (its CUDA 12.4 cannot run our image anyway).
        InferenceAmi(
            "al2-ami-sagemaker-inference-gpu-3-1", 550, (12, 4), frozenset(), API_REFERENCE
        ),
        InferenceAmi(
            "al2023-ami-sagemaker-inference-gpu-4-1",
            580,
            (13, 0),
            _GPU4,
            f"{API_REFERENCE}; {DRIVER_GUIDE}",
        ),
    )
}


def compatible_amis(instance_type: str, cuda: tuple[int, int] = IMAGE_CUDA) -> list[InferenceAmi]:
    """AMIs that offer ``instance_type`` and whose driver runs ``cuda``, newest first."""
    return sorted(
        (ami for ami in INFERENCE_AMIS.values() if ami.offers(instance_type) and ami.runs(cuda)),
        key=lambda ami: ami.cuda,
        reverse=True,
    )


def default_inference_ami(instance_type: str, cuda: tuple[int, int] = IMAGE_CUDA) -> str | None:
    """The AMI version to pin for ``instance_type``: the newest compatible one, or None."""
    found = compatible_amis(instance_type, cuda)
    return found[0].version if found else None


def ami_problems(version: str, instance_type: str, cuda: tuple[int, int] = IMAGE_CUDA) -> list[str]:
    """Why ``version`` cannot host our image on ``instance_type`` (empty when it can)."""
    ami = INFERENCE_AMIS.get(version)
    if ami is None:
        return [f"{version!r} is not a SageMaker GPU inference AMI ({', '.join(INFERENCE_AMIS)})"]
    problems = []
    if not ami.runs(cuda):
        problems.append(
            f"{version} has NVIDIA driver {ami.driver_branch} (CUDA {cuda_text(ami.cuda)}), "
            f"older than the image's CUDA {cuda_text(cuda)} runtime"
        )
    if not ami.offers(instance_type):
        problems.append(f"{version} is not offered for {instance_type}")
    return problems

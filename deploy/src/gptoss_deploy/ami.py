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
- The image's CUDA (``IMAGE_CUDA``) and the minimum driver per CUDA version are
  ``gptoss_facts.cuda``'s, shared with the container's start-up driver check.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_facts.cuda import IMAGE_CUDA

API_REFERENCE = (
    "SageMaker API reference, ProductionVariant.InferenceAmiVersion (botocore 1.44.8 service model)"
)
DRIVER_GUIDE = (
    "SageMaker developer guide, inference-gpu-drivers.html (compatible instance types with an "
    "AMI version override)"
)


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

"""ami-compatibility: every GPU variant pins an inference AMI whose NVIDIA driver runs the
image's CUDA and which offers the variant's instance type.

Without ``InferenceAmiVersion`` SageMaker picks its default AMI for the instance family,
whose driver may be older than the image's CUDA runtime; start-up then depends on CUDA
forward compatibility, which the newer AMIs switch off. The AMI facts (driver, CUDA,
instance families, each with its source) are ``gptoss_deploy.ami``'s table.
"""

from __future__ import annotations

from collections.abc import Iterator

from gptoss_deploy.ami import ami_problems, cuda_text, default_inference_ami
from gptoss_facts.cuda import IMAGE_CUDA
from gptoss_facts.instances import INSTANCE_TYPES

from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "ami-compatibility"


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    for assembly in rehearsal.assemblies:
        for stack in assembly.stacks:
            for config_id, config in stack.of_type("AWS::SageMaker::EndpointConfig"):
                for variant in config.get("Properties", {}).get("ProductionVariants", []):
                    instance_type = str(variant.get("InstanceType", ""))
                    if instance_type not in INSTANCE_TYPES:
                        continue  # not a GPU type we know (serverless, CPU)
                    version = variant.get("InferenceAmiVersion")
                    if not isinstance(version, str):
                        suggestion = default_inference_ami(instance_type)
                        yield Finding(
                            ID,
                            assembly.name,
                            stack.name,
                            config_id,
                            f"variant {variant.get('VariantName')} on {instance_type} pins no "
                            "InferenceAmiVersion: SageMaker's default AMI may ship a driver older "
                            f"than the image's CUDA {cuda_text(IMAGE_CUDA)}"
                            + (f"; pin {suggestion}" if suggestion else ""),
                        )
                        continue
                    for problem in ami_problems(version, instance_type):
                        yield Finding(ID, assembly.name, stack.name, config_id, problem)


RULE = RehearsalRule(
    id=ID,
    title="GPU variants pin an inference AMI whose driver runs the image and offers the type",
    sources=(
        Source(
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html",
            "By selecting an AMI version, you can ensure that your inference environment is "
            "compatible with specific software requirements, such as CUDA driver versions, "
            "Linux kernel versions, or Amazon Web Services Neuron driver versions.",
        ),
        Source(
            "https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html",
            "The compatible instance types column identifies additional instance families "
            "that support this AMI version. SageMaker AI does not automatically apply AMI "
            "overrides.",
        ),
    ),
    check=check,
)

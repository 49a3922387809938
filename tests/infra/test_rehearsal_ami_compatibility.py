"""ami-compatibility: GPU variants pin an AMI whose driver runs the image and offers the type."""

from __future__ import annotations

from typing import Any

import pytest
from rehearsal_support import assembly, resource, run, stack

from gptoss_infra.rehearsal.rules.ami_compatibility import RULE


def config(instance_type: str, ami: str | None) -> Any:
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "InstanceType": instance_type}
    if ami is not None:
        variant["InferenceAmiVersion"] = ami
    return stack(
        "S",
        {"Config": resource("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [variant]})},
    )


def test_no_pinned_ami_is_flagged_with_the_one_to_pin() -> None:
    # Finding 4: the default AMI's driver is older than the image's CUDA.
    findings = run(RULE, assembly("dev", config("ml.p5.4xlarge", None)))
    assert len(findings) == 1
    assert "al2023-ami-sagemaker-inference-gpu-4-1" in findings[0].message


def test_the_cuda_13_ami_passes() -> None:
    assert (
        run(
            RULE, assembly("dev", config("ml.p5.4xlarge", "al2023-ami-sagemaker-inference-gpu-4-1"))
        )
        == []
    )


@pytest.mark.parametrize(
    ("instance_type", "ami", "count"),
    [
        ("ml.p5.4xlarge", "al2-ami-sagemaker-inference-gpu-2", 1),  # driver 535: CUDA 12.2
        ("ml.g6e.xlarge", "al2-ami-sagemaker-inference-gpu-2", 2),  # and no g6e on that AMI
        ("ml.p5.4xlarge", "al2-ami-sagemaker-inference-gpu-9", 1),  # no such AMI
    ],
)
def test_an_old_driver_an_unoffered_type_or_an_unknown_ami_is_flagged(
    instance_type: str, ami: str, count: int
) -> None:
    assert len(run(RULE, assembly("dev", config(instance_type, ami)))) == count

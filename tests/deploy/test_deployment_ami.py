"""The inference AMI table: which AMI runs the CUDA 13.0 image on which instance types.

Encodes the SageMaker API reference (ProductionVariant.InferenceAmiVersion: gpu-2 has driver
535 / CUDA 12.2, gpu-3-1 driver 550 / CUDA 12.4, gpu-4-1 driver 580 / CUDA 13.0) and NVIDIA's
minimum-driver table (CUDA 13.0 needs 580.65.06).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import botocore
import pytest

from gptoss_deploy.ami import INFERENCE_AMIS, ami_problems, default_inference_ami
from gptoss_deploy.loading import from_preset
from gptoss_deploy.presets import PRESETS
from gptoss_deploy.validation import find_problems
from gptoss_facts.cuda import IMAGE_CUDA, cuda_supported_by_driver, parse_version


def test_every_preset_with_an_endpoint_pins_the_cuda_13_ami() -> None:
    for name, config in PRESETS.items():
        if config.sagemaker is None:
            continue
        assert default_inference_ami(config.sagemaker.instance_type) == (
            "al2023-ami-sagemaker-inference-gpu-4-1"
        ), name


def test_the_table_names_only_amis_the_sagemaker_api_accepts() -> None:
    service = Path(botocore.__file__).parent / "data/sagemaker/2017-07-24/service-2.json.gz"
    shapes = json.loads(gzip.decompress(service.read_bytes()))["shapes"]
    valid = set(shapes["ProductionVariantInferenceAmiVersion"]["enum"])
    assert set(INFERENCE_AMIS) <= valid
    documentation = shapes["ProductionVariant"]["members"]["InferenceAmiVersion"]["documentation"]
    for ami in INFERENCE_AMIS.values():
        block = documentation.split(ami.version, 1)[1].split("</dd>", 1)[0]
        assert f"NVIDIA driver version: {ami.driver_branch}" in block, ami.version
        assert f"CUDA version: {ami.cuda[0]}.{ami.cuda[1]}" in block, ami.version


@pytest.mark.parametrize(
    ("driver", "cuda"),
    [
        ("580.65.06", (13, 0)),
        ("580.65.05", (12, 9)),
        ("550.163.01", (12, 4)),
        ("535.54.03", (12, 2)),
    ],
)
def test_the_driver_decides_the_highest_cuda(driver: str, cuda: tuple[int, int]) -> None:
    version = parse_version(driver)
    assert version is not None
    assert cuda_supported_by_driver(version) == cuda


def test_an_older_driver_ami_is_refused_with_the_reason() -> None:
    problems = ami_problems("al2-ami-sagemaker-inference-gpu-2", "ml.p5.4xlarge")
    assert problems == [
        "al2-ami-sagemaker-inference-gpu-2 has NVIDIA driver 535 (CUDA 12.2), older than the "
        f"image's CUDA {IMAGE_CUDA[0]}.{IMAGE_CUDA[1]} runtime"
    ]
    assert ami_problems("al2023-ami-sagemaker-inference-gpu-4-1", "ml.p5.4xlarge") == []
    assert ami_problems("al2023-ami-sagemaker-inference-gpu-4-1", "ml.inf2.xlarge") == [
        "al2023-ami-sagemaker-inference-gpu-4-1 is not offered for ml.inf2.xlarge"
    ]


def test_validation_refuses_a_configuration_pinning_an_old_ami() -> None:
    config = from_preset(
        "gpt-oss-20b-g6e-xlarge",
        {"sagemaker": {"inference_ami_version": "al2-ami-sagemaker-inference-gpu-3-1"}},
    )
    fields = [problem.field for problem in find_problems(config)]
    assert "sagemaker.inference_ami_version" in fields


def test_validation_refuses_a_base_image_outside_ecr() -> None:
    config = from_preset(
        "gpt-oss-20b-g6e-xlarge", {"sagemaker": {"base_image_uri": "vllm/vllm-openai:v0.32.0"}}
    )
    assert [p.field for p in find_problems(config)] == ["sagemaker.base_image_uri"]

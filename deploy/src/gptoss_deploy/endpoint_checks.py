"""The endpoint's checks: instance type, parallelism, memory, storage key, scaling, and the
image and AMI sources. Each adds ``Problem``s for ``gptoss_deploy.validation`` to report.
"""

from __future__ import annotations

import re

from gptoss_deploy.ami import ami_problems, cuda_text, default_inference_ami
from gptoss_deploy.config import DeploymentConfig, Problem
from gptoss_deploy.memory import instances_that_fit, memory_plan
from gptoss_facts.cuda import IMAGE_CUDA
from gptoss_facts.gpus import MIN_COMPUTE_CAPABILITY
from gptoss_facts.instances import INSTANCE_TYPES
from gptoss_facts.models import TENSOR_PARALLEL_SIZES

# SageMaker pulls images from Amazon ECR only (CreateModel ContainerDefinition.Image).
ECR_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$"
)
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")


def check_instance(config: DeploymentConfig, out: list[Problem]) -> None:
    sm = config.sagemaker
    if sm is None:
        return
    field = "sagemaker.instance_type"
    instance = INSTANCE_TYPES.get(sm.instance_type)
    if instance is None:
        suggestions = instances_that_fit(sm, config.region) or sorted(INSTANCE_TYPES)[:6]
        out.append(
            Problem(
                field,
                f"{sm.instance_type!r} is not a SageMaker GPU instance type we know "
                "(gptoss_facts.instances lists GPU model, count, memory and local NVMe per type)",
                f"use one where {sm.model} fits in {config.region}, e.g. {', '.join(suggestions)}",
            )
        )
        return
    if not config.allow_unlisted_regions and not instance.offered_in(config.region):
        out.append(
            Problem(
                field,
                f"the AWS Price List lists no SageMaker hosting offer for {sm.instance_type} in "
                f"{config.region}",
                f"deploy to one of {', '.join(sorted(instance.hosting_regions))}, or set "
                "allow_unlisted_regions: true if AWS has added the region since",
            )
        )
    if instance.gpu.compute_capability < MIN_COMPUTE_CAPABILITY:
        major, minor = instance.gpu.compute_capability
        out.append(
            Problem(
                field,
                f"{instance.gpu.name} (compute capability {major}.{minor}) is older than Ampere; "
                "vLLM's gpt-oss MXFP4 kernels need 8.0 or newer (vllm #22288, #22331)",
                "use an Ampere or newer GPU (g5, g6, g6e, p4d, p5, ...)",
            )
        )


def check_parallelism(config: DeploymentConfig, out: list[Problem]) -> None:
    sm = config.sagemaker
    if sm is None or sm.instance_type not in INSTANCE_TYPES:
        return
    instance = INSTANCE_TYPES[sm.instance_type]
    gpus = instance.gpu_count
    if sm.inference_components:
        if sm.tensor_parallel_size is not None:
            out.append(
                Problem(
                    "sagemaker.tensor_parallel_size",
                    "is for a model on the variant; inference components size each copy",
                    "remove it and set gpus_per_copy",
                )
            )
        if sm.gpus_per_copy not in TENSOR_PARALLEL_SIZES or gpus % sm.gpus_per_copy:
            valid = [n for n in TENSOR_PARALLEL_SIZES if n <= gpus and gpus % n == 0]
            out.append(
                Problem(
                    "sagemaker.gpus_per_copy",
                    f"{sm.gpus_per_copy} GPUs per copy do not split {sm.instance_type}'s {gpus} "
                    "GPUs and gpt-oss's 64 attention / 8 KV heads evenly",
                    f"use one of {', '.join(map(str, valid))}",
                )
            )
        elif sm.max_copies * sm.gpus_per_copy > sm.max_instances * gpus:
            room = sm.max_instances * gpus // sm.gpus_per_copy
            out.append(
                Problem(
                    "sagemaker.max_copies",
                    f"{sm.max_copies} copies of {sm.gpus_per_copy} GPU(s) need more than the "
                    f"{sm.max_instances} x {gpus} GPUs of max_instances {sm.instance_type}",
                    f"set max_copies to at most {room}, or raise max_instances to "
                    f"{-(-sm.max_copies * sm.gpus_per_copy // gpus)}",
                )
            )
    elif sm.tensor_parallel_size is not None and (
        sm.tensor_parallel_size not in TENSOR_PARALLEL_SIZES or sm.tensor_parallel_size > gpus
    ):
        valid = [n for n in TENSOR_PARALLEL_SIZES if n <= gpus]
        out.append(
            Problem(
                "sagemaker.tensor_parallel_size",
                f"{sm.tensor_parallel_size} is not a power of two up to the {gpus} GPU(s) of "
                f"{sm.instance_type}",
                f"use one of {', '.join(map(str, valid))}, or remove it (default: all GPUs)",
            )
        )


def check_memory(config: DeploymentConfig, out: list[Problem]) -> None:
    sm = config.sagemaker
    if sm is None:
        return
    if sm.max_model_len > sm.model_spec.max_context:
        out.append(
            Problem(
                "sagemaker.max_model_len",
                f"{sm.max_model_len} is longer than {sm.model}'s {sm.model_spec.max_context}-token "
                "context",
                f"set at most {sm.model_spec.max_context}",
            )
        )
        return
    plan = memory_plan(sm)
    if plan is None or plan.fits or plan.gpus > plan.instance.gpu_count:
        return
    fixes = []
    if plan.context_that_fits >= 1024:
        fixes.append(f"lower max_model_len to {plan.context_that_fits}")
    if plan.sequences_that_fit >= 1:
        fixes.append(f"lower concurrency to {plan.sequences_that_fit}")
    bigger = instances_that_fit(sm, config.region)
    if bigger:
        fixes.append(f"use a larger instance type ({', '.join(bigger)})")
    if not fixes:
        fixes.append("choose gpt-oss-20b or a larger instance type")
    out.append(
        Problem(
            "sagemaker",
            f"the model does not fit: {plan.describe()}",
            "; or ".join(fixes),
        )
    )


def check_kms(config: DeploymentConfig, out: list[Problem]) -> None:
    sm = config.sagemaker
    if sm is None or sm.volume_kms_key_arn is None:
        return
    instance = INSTANCE_TYPES.get(sm.instance_type)
    if instance is not None and instance.local_nvme:
        out.append(
            Problem(
                "sagemaker.volume_kms_key_arn",
                f"{sm.instance_type} has local NVMe storage, encrypted by the instance's "
                "hardware; CreateEndpointConfig fails when a KmsKeyId is given for it",
                "remove volume_kms_key_arn (the NVMe volume is already encrypted at rest)",
            )
        )
    elif not KMS_KEY_ARN.match(sm.volume_kms_key_arn):
        out.append(
            Problem(
                "sagemaker.volume_kms_key_arn",
                f"{sm.volume_kms_key_arn!r} is not a KMS key or alias ARN",
                "use arn:aws:kms:<region>:<account>:key/<id>",
            )
        )


def check_scaling(config: DeploymentConfig, out: list[Problem]) -> None:
    sm = config.sagemaker
    if sm is None:
        return
    if sm.scale_to_zero and not sm.inference_components:
        out.append(
            Problem(
                "sagemaker.scale_to_zero",
                "scaling to zero needs inference components (a model on the variant keeps at "
                "least one instance)",
                "set inference_components: true (with min_copies: 0), or scale_to_zero: false",
            )
        )
    zero_copies = sm.inference_components and sm.min_copies == 0
    if (zero_copies or sm.min_instances == 0) and not sm.scale_to_zero:
        field = "sagemaker.min_copies" if zero_copies else "sagemaker.min_instances"
        out.append(
            Problem(
                field,
                "0 means scaling to zero, which is off",
                "set scale_to_zero: true (inference components only), or a minimum of 1",
            )
        )
    if sm.scale_to_zero and sm.inference_components and sm.min_copies != 0:
        out.append(
            Problem(
                "sagemaker.min_copies",
                f"is {sm.min_copies} while scale_to_zero is on",
                "set min_copies: 0 (the endpoint starts with one copy and scales down when idle)",
            )
        )
    if sm.min_instances > sm.max_instances:
        out.append(
            Problem(
                "sagemaker.min_instances",
                f"{sm.min_instances} is more than max_instances {sm.max_instances}",
                f"set max_instances to at least {sm.min_instances}",
            )
        )
    if sm.inference_components and sm.min_copies > sm.max_copies:
        out.append(
            Problem(
                "sagemaker.min_copies",
                f"{sm.min_copies} is more than max_copies {sm.max_copies}",
                f"set max_copies to at least {sm.min_copies}",
            )
        )


def check_sources(config: DeploymentConfig, out: list[Problem]) -> None:
    sm = config.sagemaker
    if sm is None:
        return
    if sm.base_image_uri is not None and not ECR_IMAGE.match(sm.base_image_uri):
        out.append(
            Problem(
                "sagemaker.base_image_uri",
                f"{sm.base_image_uri!r} is not an Amazon ECR image with a tag or digest",
                "copy vllm/vllm-openai:v0.32.0 into ECR and give its URI, or remove the field "
                "to pull it through the ECR pull-through cache",
            )
        )
    # An unknown instance type is reported by check_instance; no AMI question then.
    ami = sm.inference_ami_version or default_inference_ami(sm.instance_type)
    if sm.instance_type not in INSTANCE_TYPES:
        pass
    elif ami is None:
        out.append(
            Problem(
                "sagemaker.instance_type",
                f"no SageMaker inference AMI in gptoss_deploy.ami offers "
                f"{sm.instance_type} with a driver for CUDA {cuda_text(IMAGE_CUDA)}",
                "pick an instance type that al2023-ami-sagemaker-inference-gpu-4-1 offers",
            )
        )
    else:
        for message in ami_problems(ami, sm.instance_type):
            out.append(
                Problem(
                    "sagemaker.inference_ami_version",
                    message,
                    "remove the field to pin the default AMI for the instance type",
                )
            )
    if sm.image_uri is not None and not ECR_IMAGE.match(sm.image_uri):
        out.append(
            Problem(
                "sagemaker.image_uri",
                f"{sm.image_uri!r} is not an Amazon ECR image with a tag or digest; SageMaker "
                "hosting pulls only from ECR",
                "push the image to ECR (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>), "
                "or remove image_uri to build inference_container/",
            )
        )

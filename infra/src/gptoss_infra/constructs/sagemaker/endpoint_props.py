"""Props of GptOssEndpoint, each documented with its default and where the default comes from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from gptoss_facts import endpoint

from .data_capture import DataCaptureOptions
from .inference_image import InferenceImage
from .model_artifacts import ImportedModelArtifacts, ModelArtifacts

# The endpoint defaults and SageMaker's ranges, each with its source, are shared with the
# notebook deploy path: gptoss_facts.endpoint. The docstrings below state the same values
# (tests/infra/test_endpoint_props_defaults.py holds them to it).
DEFAULT_STARTUP_TIMEOUT = Duration.seconds(endpoint.STARTUP_TIMEOUT_S)
DEFAULT_DOWNLOAD_TIMEOUT = Duration.seconds(endpoint.DOWNLOAD_TIMEOUT_S)


@dataclass(frozen=True, kw_only=True)
class VpcOptions:
    """Run the model's instances in your VPC's private subnets.

    :param vpc: the VPC (required).
    :param subnets: where the ENIs go. Default: the VPC's private isolated subnets, else
        its private subnets with egress.
    :param security_groups: for the model's ENIs. Default: one new group with no inbound
        rules.
    :param create_endpoints: add the VPC endpoints SageMaker needs from private subnets:
        an S3 gateway endpoint (model data, required by the hosting VPC docs), ECR api and
        dkr (image pull) and CloudWatch Logs (container logs). Default: True; set False if
        the VPC already has them (private DNS names can exist once per VPC).
    :param runtime_endpoint: also add a ``sagemaker.runtime`` endpoint, needed only by
        clients inside this VPC that call InvokeEndpoint; the model itself never calls it.
        Default: False.
    """

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection | None = None
    security_groups: Sequence[ec2.ISecurityGroup] | None = None
    create_endpoints: bool = True
    runtime_endpoint: bool = False


@dataclass(frozen=True, kw_only=True)
class RollingUpdate:
    """Replace capacity in batches (RollingUpdatePolicy), with rollback on the alarms.

    :param maximum_batch_size: instances (or copies, with inference components) replaced
        per batch. Default: 1 (one GPU instance extra at a time).
    :param wait_interval: wait after each batch before the next, 0-3600 s. Default: 5 min.
    :param maximum_execution_timeout: whole update, 600-28800 s. Default: SageMaker's.
    :param rollback_maximum_batch_size: batch size when rolling back. Default: all at once
        (SageMaker's default).
    """

    maximum_batch_size: int = 1
    wait_interval: Duration = field(default_factory=lambda: Duration.minutes(5))
    maximum_execution_timeout: Duration | None = None
    rollback_maximum_batch_size: int | None = None


@dataclass(frozen=True, kw_only=True)
class BlueGreenUpdate:
    """Provision a new fleet, shift traffic, keep the old one until the bake ends.

    :param traffic_routing: ``ALL_AT_ONCE``, ``CANARY`` or ``LINEAR``. Default: ``ALL_AT_ONCE``.
    :param step_percent: canary size or linear step, in percent of capacity; required for
        CANARY and LINEAR. Default: none.
    :param wait_interval: bake time per step, 0-3600 s. Default: 5 min.
    :param termination_wait: keep the old fleet after the shift, 0-3600 s. Default: 5 min.
    :param maximum_execution_timeout: whole update, 600-14400 s. Default: SageMaker's.
    """

    traffic_routing: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"] = "ALL_AT_ONCE"
    step_percent: int | None = None
    wait_interval: Duration = field(default_factory=lambda: Duration.minutes(5))
    termination_wait: Duration = field(default_factory=lambda: Duration.minutes(5))
    maximum_execution_timeout: Duration | None = None


@dataclass(frozen=True, kw_only=True)
class DeploymentOptions:
    """DeploymentConfig of the endpoint (or of the inference component).

    :param strategy: Default: ``BlueGreenUpdate()`` (SageMaker's own default, made explicit).
        Inference components support ``RollingUpdate`` only.
    :param rollback_alarms: 1-10 alarms that roll an update back (AutoRollbackConfiguration);
        more can be added with ``GptOssEndpoint.add_rollback_alarm``. Default: none.
    """

    strategy: RollingUpdate | BlueGreenUpdate = field(default_factory=BlueGreenUpdate)
    rollback_alarms: Sequence[cloudwatch.IAlarm] = ()


@dataclass(frozen=True, kw_only=True)
class InferenceComponentOptions:
    """Serve the model as inference components: one accelerator per copy, copies scaled.

    :param name: InferenceComponentName. Default: derived from the construct path (set
        explicitly because CfnInferenceComponent exposes no name attribute).
    :param copy_count: copies created with the stack, >= 1 (SageMaker cannot create a
        component with 0 copies; autoscaling can scale it to 0 later). Default: 1.
    :param accelerators_per_copy: NumberOfAcceleratorDevicesRequired. Default: 1 (the 120b
        fits one 80 GB GPU: gpt-oss model card).
    :param min_memory_mb: host memory reserved per copy, MinMemoryRequiredInMb.
        Default: 32768 (vLLM's host-side process and the mapped safetensors pages; 8
        copies then reserve 256 GiB of an ml.p5.48xlarge's 2 TiB).
    :param min_instance_count: ManagedInstanceScaling minimum; 0 lets the endpoint scale
        to zero instances. Default: 1.
    :param max_instance_count: ManagedInstanceScaling maximum. Default: 1.
    """

    name: str | None = None
    copy_count: int = 1
    accelerators_per_copy: int = 1
    min_memory_mb: int = endpoint.COMPONENT_MIN_MEMORY_MB
    min_instance_count: int = 1
    max_instance_count: int = 1


@dataclass(frozen=True, kw_only=True)
class GptOssEndpointProps:
    """Everything GptOssEndpoint needs; only `artifacts` and `image` are required.

    :param artifacts: weights bucket and prefix (ModelArtifacts).
    :param image: serving image (InferenceImage).
    :param instance_type: Default: ``"ml.p5.4xlarge"`` (one H100 80 GB, EC2 accelerated
        computing specifications; the 120b fits one 80 GB GPU, gpt-oss model card;
        docs/sources.md).
    :param initial_instance_count: Default: 1.
    :param endpoint_name: Default: derived from the construct path (a literal name lets
        alarms and scaling targets refer to it without dependency cycles).
    :param variant_name: Default: ``"AllTraffic"`` (SageMaker SDK's name).
    :param served_model_name: GPTOSS_SERVED_MODEL_NAME. Default: the container's
        (``gpt-oss-120b`` from config.json).
    :param max_model_len: GPTOSS_MAX_MODEL_LEN, 1-131072. Default: the container's (131072).
    :param max_num_seqs: GPTOSS_MAX_NUM_SEQS. Default: vLLM's.
    :param tensor_parallel_size: GPTOSS_TENSOR_PARALLEL_SIZE, 1/2/4/8. Default: all GPUs.
    :param gpu_memory_utilization: GPTOSS_GPU_MEMORY_UTILIZATION in (0, 1].
        Default: the container's per-GPU profile.
    :param environment: further container variables (GPTOSS_*, SM_VLLM_*). Default: none.
    :param network_isolation: EnableNetworkIsolation. Default: True. Changing it replaces
        the model (CloudFormation: "Update requires: Replacement").
    :param vpc: run in a VPC. Default: none (SageMaker's service network).
    :param container_startup_health_check_timeout: 60-3600 s. Default: 1800 s.
    :param model_data_download_timeout: 60-3600 s. Default: 1800 s.
    :param has_local_nvme: whether the instance type has local NVMe storage. Default: from
        the SDK's instance table; required for types it does not list.
    :param volume_size_gb: EBS volume for EBS-only types, 1-512. Default: 128 on EBS-only
        types; never set on NVMe types (SageMaker rejects it).
    :param volume_encryption_key: KmsKeyId for the EBS volume. Default: the artifacts key on
        EBS-only types; never set on NVMe types (SageMaker rejects KmsKeyId there; NVMe
        instance storage is hardware-encrypted).
    :param inference_ami_version: ``InferenceAmiVersion`` of the production variant, the host
        AMI and so its NVIDIA driver. Default: SageMaker's default AMI for the instance type
        (older drivers than CUDA 13.0 needs on ml.p5 and ml.g6e: pin
        ``al2023-ami-sagemaker-inference-gpu-4-1``; ``gptoss_deploy.ami``).
    :param routing_strategy: Default: ``"LEAST_OUTSTANDING_REQUESTS"`` (LLM requests vary
        from milliseconds to minutes; random routing piles long ones on one instance).
    :param deployment: DeploymentConfig. Default: none (SageMaker's blue/green all at once).
    :param inference_component: serve as inference components. Default: none (one model
        per variant).
    :param data_capture: Default: none (prompts are user data).
    :param log_retention: for the pre-created endpoint log group. Default: one year.
    :param log_removal_policy: Default: ``DESTROY`` (a retained group would make the next
        deployment of the same endpoint name fail with "already exists").
    """

    artifacts: ModelArtifacts | ImportedModelArtifacts
    image: InferenceImage
    instance_type: str = "ml.p5.4xlarge"
    initial_instance_count: int = 1
    endpoint_name: str | None = None
    variant_name: str = endpoint.VARIANT_NAME
    served_model_name: str | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    tensor_parallel_size: int | None = None
    gpu_memory_utilization: float | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    network_isolation: bool = True
    vpc: VpcOptions | None = None
    container_startup_health_check_timeout: Duration = DEFAULT_STARTUP_TIMEOUT
    model_data_download_timeout: Duration = DEFAULT_DOWNLOAD_TIMEOUT
    has_local_nvme: bool | None = None
    volume_size_gb: int | None = None
    volume_encryption_key: kms.IKey | None = None
    inference_ami_version: str | None = None
    routing_strategy: str = endpoint.DEFAULT_ROUTING_STRATEGY
    deployment: DeploymentOptions | None = None
    inference_component: InferenceComponentOptions | None = None
    data_capture: DataCaptureOptions | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY

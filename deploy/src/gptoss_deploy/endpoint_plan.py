"""What the notebook deploy path creates, worked out before anything is sent.

``plan_endpoint`` turns the shared ``DeploymentConfig`` into the Model, EndpointConfig,
Endpoint (and, with inference components, InferenceComponent) requests the CDK construct
(``infra/src/gptoss_infra/constructs/sagemaker/endpoint.py``) would create for the same
configuration: the same container settings, network isolation, uncompressed S3-prefix
weights, timeouts, volume and routing rules, and cost tags. It needs no ``sagemaker``
package, so it is testable anywhere and shows a user exactly what will be created.

What only the CDK stack builds is not made here (execution role, KMS keys, log groups,
autoscaling, alarms, dashboard, data capture bucket): a configuration that asks for one of
those either gets a note on the plan (autoscaling: the endpoint stays at its initial size)
or a problem (data capture: it would silently capture nothing).

The request fields are the snake_case names of ``sagemaker.core.shapes``; nested values are
plain dicts, which those pydantic shapes accept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gptoss_aws.errors import InvalidConfigurationError
from gptoss_deploy.ami import default_inference_ami
from gptoss_deploy.config import (
    DeploymentConfig,
    Problem,
    SageMakerConfig,
)
from gptoss_deploy.memory import container_environment
from gptoss_deploy.validation import find_problems
from gptoss_facts import endpoint as endpoint_defaults  # the CDK construct's defaults too
from gptoss_facts.instances import INSTANCE_TYPES
from gptoss_facts.names import SAGEMAKER_NAME, SAGEMAKER_NAME_MAX

# s3://bucket/prefix/ (SageMaker reads an S3Prefix that ends in '/'; bucket naming rules).
_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([^/]+/)+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# To the millisecond, as the SageMaker SDK names its resources: two deployments in one
# second must not collide.
_STAMP = "%Y%m%d%H%M%S%f"


@dataclass(frozen=True)
class EndpointPlan:
    """The requests the deploy path sends, in order, and what it leaves to the CDK app."""

    region: str
    model_short_name: str
    instance_type: str
    endpoint_name: str
    model_name: str
    endpoint_config_name: str
    inference_component_name: str | None
    model: dict[str, Any]
    endpoint_config: dict[str, Any]
    endpoint: dict[str, Any]
    inference_component: dict[str, Any] | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def resource_tags(config: DeploymentConfig) -> list[dict[str, str]]:
    """The cost tags every resource of the CDK SageMaker stack carries."""
    tags = {**config.cost_tags, "component": "sagemaker"}
    return [{"key": key, "value": value} for key, value in tags.items()]


def stamped_name(base: str, at: datetime) -> str:
    """``<base>-<UTC timestamp>`` within SageMaker's 63 characters: model and endpoint-config
    names cannot be reused until deleted, so each deployment gets its own."""
    stamp = at.astimezone(UTC).strftime(_STAMP)[:-3]
    room = SAGEMAKER_NAME_MAX - len(stamp) - 1
    return f"{base[:room].rstrip('-')}-{stamp}"


def _input_problems(
    sm: SageMakerConfig,
    *,
    weights_s3_uri: str,
    execution_role_arn: str,
    startup_timeout_s: int,
    download_timeout_s: int,
) -> list[Problem]:
    problems = []
    if sm.image_uri is None:
        problems.append(
            Problem(
                "sagemaker.image_uri",
                "the notebook path cannot build the container image (the CDK app builds it "
                "as a Docker asset)",
                "push inference_container/ to ECR and pass image_uri=<account>.dkr.ecr."
                "<region>.amazonaws.com/<repo>:<tag>, or set it in the configuration",
            )
        )
    if not _S3_PREFIX.match(weights_s3_uri):
        problems.append(
            Problem(
                "weights_s3_uri",
                f"{weights_s3_uri!r} is not an S3 prefix (s3://bucket/prefix/ ending in '/')",
                "stage the uncompressed checkpoint under a prefix (the CDK stack's mirror job "
                "writes s3://<weights bucket>/models/<model>/) and pass that prefix",
            )
        )
    if not _ROLE_ARN.match(execution_role_arn):
        problems.append(
            Problem(
                "execution_role_arn",
                f"{execution_role_arn!r} is not an IAM role ARN",
                "pass arn:aws:iam::<account>:role/<name>, a role SageMaker can assume that "
                "reads the weights prefix and pulls the image",
            )
        )
    low, high = endpoint_defaults.TIMEOUT_RANGE_S
    for name, value in (
        ("startup_timeout_s", startup_timeout_s),
        ("download_timeout_s", download_timeout_s),
    ):
        if not low <= value <= high:
            problems.append(
                Problem(
                    name, f"{value} s is outside SageMaker's {low}-{high} s", f"use {low}-{high}"
                )
            )
    if sm.data_capture:
        problems.append(
            Problem(
                "sagemaker.data_capture",
                "the notebook path creates no capture bucket, so nothing would be captured",
                "deploy with the CDK app (make deploy), or set data_capture: false",
            )
        )
    return problems


def _notes(sm: SageMakerConfig) -> list[str]:
    notes = []
    low, high = (
        (sm.min_copies, sm.max_copies)
        if sm.inference_components
        else (sm.min_instances, sm.max_instances)
    )
    unit = "copies" if sm.inference_components else "instances"
    if high > low or sm.scale_to_zero:
        notes.append(
            f"autoscaling ({low}-{high} {unit}{', scale to zero' if sm.scale_to_zero else ''}) "
            "is not set up from a notebook: the endpoint keeps its initial size; the CDK "
            "app (make deploy) adds the scaling policies"
        )
    notes.append("no CloudWatch alarms, dashboard or rollback alarms: the CDK app creates those")
    return notes


def plan_endpoint(
    config: DeploymentConfig,
    *,
    weights_s3_uri: str,
    execution_role_arn: str,
    image_uri: str | None = None,
    endpoint_name: str | None = None,
    startup_timeout_s: int = endpoint_defaults.STARTUP_TIMEOUT_S,
    download_timeout_s: int = endpoint_defaults.DOWNLOAD_TIMEOUT_S,
    now: datetime | None = None,
) -> EndpointPlan:
    """Validate ``config`` (the same ``find_problems`` as ``cdk synth``, plus what this path
    needs) and return the requests; raise InvalidConfigurationError listing every problem.

    ``image_uri`` overrides ``config.sagemaker.image_uri`` (and goes through the same ECR
    check). ``endpoint_name`` defaults to the CDK stack's name for this environment
    (``config.names.endpoint``), so reports and alarms recognise it either way.
    """
    config = _with_image(config, image_uri)
    sm = config.sagemaker
    assert sm is not None  # _with_image refused a configuration without one
    endpoint = endpoint_name or config.names.endpoint
    problems = find_problems(config)
    problems += _input_problems(
        sm,
        weights_s3_uri=weights_s3_uri,
        execution_role_arn=execution_role_arn,
        startup_timeout_s=startup_timeout_s,
        download_timeout_s=download_timeout_s,
    )
    if endpoint_name is not None:
        problems += _endpoint_name_problems(endpoint_name)
    if problems:
        raise InvalidConfigurationError(f"deployment of {endpoint!r}", problems)

    at = now or datetime.now(UTC)
    tags = resource_tags(config)
    model_name = stamped_name(endpoint, at)
    config_name = stamped_name(endpoint, at)
    component = config.names.inference_component if sm.inference_components else None
    endpoint_config, inference_component = _hosting(
        sm,
        _Hosting(endpoint, config_name, model_name, component, execution_role_arn, tags),
        {
            "container_startup_health_check_timeout_in_seconds": startup_timeout_s,
            "model_data_download_timeout_in_seconds": download_timeout_s,
        },
    )
    return EndpointPlan(
        region=config.region,
        model_short_name=sm.model,
        instance_type=sm.instance_type,
        endpoint_name=endpoint,
        model_name=model_name,
        endpoint_config_name=config_name,
        inference_component_name=component,
        model=_model_request(sm, model_name, execution_role_arn, weights_s3_uri, tags),
        endpoint_config=endpoint_config,
        endpoint={"endpoint_name": endpoint, "endpoint_config_name": config_name, "tags": tags},
        inference_component=inference_component,
        notes=tuple(_notes(sm)),
    )


@dataclass(frozen=True)
class _Hosting:
    """The names and settings every hosting request of one deployment shares."""

    endpoint: str
    endpoint_config: str
    model: str
    component: str | None
    execution_role_arn: str
    tags: list[dict[str, str]]


def _hosting(
    sm: SageMakerConfig, names: _Hosting, timeouts: dict[str, int]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The EndpointConfig request, and the InferenceComponent one when the model is hosted
    as components (else the model sits on the variant and None is returned)."""
    variant = _variant(sm)
    endpoint_config: dict[str, Any] = {
        "endpoint_config_name": names.endpoint_config,
        "production_variants": [variant],
        "tags": names.tags,
    }
    if sm.volume_kms_key_arn is not None:
        endpoint_config["kms_key_id"] = sm.volume_kms_key_arn  # find_problems: EBS types only
    if names.component is None:
        variant.update(model_name=names.model, initial_variant_weight=1.0, **timeouts)
        return endpoint_config, None
    # Inference components: the variant hosts capacity, the component the model; the role
    # and isolation move to the endpoint config, the timeouts to the component.
    variant["managed_instance_scaling"] = _managed_instance_scaling(sm)
    endpoint_config["execution_role_arn"] = names.execution_role_arn
    endpoint_config["enable_network_isolation"] = True
    component = _component_request(
        sm, names.component, names.endpoint, names.model, timeouts, names.tags
    )
    return endpoint_config, component


def _with_image(config: DeploymentConfig, image_uri: str | None) -> DeploymentConfig:
    """``config`` with ``image_uri`` in place of its own; refused without an endpoint."""
    if config.sagemaker is None:
        raise InvalidConfigurationError(
            f"environment {config.environment!r}",
            [
                Problem(
                    "sagemaker", "is null: there is no endpoint to deploy", "pick a preset with one"
                )
            ],
        )
    if image_uri is None:
        return config
    sm = config.sagemaker.model_copy(update={"image_uri": image_uri})
    return config.model_copy(update={"sagemaker": sm})


def _endpoint_name_problems(name: str) -> list[Problem]:
    if SAGEMAKER_NAME.match(name) and len(name) <= SAGEMAKER_NAME_MAX:
        return []
    return [
        Problem(
            "endpoint_name",
            f"{name!r} is not a SageMaker name",
            f"use up to {SAGEMAKER_NAME_MAX} letters, digits and hyphens",
        )
    ]


def _model_request(
    sm: SageMakerConfig,
    model_name: str,
    execution_role_arn: str,
    weights_s3_uri: str,
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    return {
        "model_name": model_name,
        "execution_role_arn": execution_role_arn,
        # The container never needs the network: weights come from S3, the image is offline.
        "enable_network_isolation": True,
        "primary_container": {
            "image": sm.image_uri,
            "model_data_source": {
                "s3_data_source": {
                    "s3_uri": weights_s3_uri,
                    "s3_data_type": "S3Prefix",
                    # Uncompressed: a tar.gz of 61 GiB would be unpacked on the instance.
                    "compression_type": "None",
                }
            },
            "environment": {
                endpoint_defaults.CONTAINER_ENV["served_model_name"]: sm.model,
                **container_environment(sm),
            },
        },
        "tags": tags,
    }


def _variant(sm: SageMakerConfig) -> dict[str, Any]:
    """The production variant's capacity: instance type and count, routing, AMI, volume."""
    variant: dict[str, Any] = {
        "variant_name": endpoint_defaults.VARIANT_NAME,
        "instance_type": sm.instance_type,
        "initial_instance_count": max(1, sm.min_instances),
        "routing_config": {"routing_strategy": endpoint_defaults.DEFAULT_ROUTING_STRATEGY},
    }
    # The host AMI whose NVIDIA driver runs the image's CUDA (gptoss_deploy.ami; the CDK
    # stack pins the same); find_problems refused an instance type without one.
    ami = sm.inference_ami_version or default_inference_ami(sm.instance_type)
    if ami is not None:
        variant["inference_ami_version"] = ami
    if not INSTANCE_TYPES[sm.instance_type].local_nvme:  # find_problems checked it is known
        # SageMaker rejects VolumeSizeInGB on types with local NVMe instance storage.
        variant["volume_size_in_gb"] = endpoint_defaults.VOLUME_SIZE_GB
    return variant


def _managed_instance_scaling(sm: SageMakerConfig) -> dict[str, Any]:
    return {
        "status": "ENABLED",
        "min_instance_count": 0 if sm.scale_to_zero else sm.min_instances,
        "max_instance_count": sm.max_instances,
    }


def _component_request(
    sm: SageMakerConfig,
    component: str,
    endpoint: str,
    model_name: str,
    timeouts: dict[str, int],
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    return {
        "inference_component_name": component,
        "endpoint_name": endpoint,
        "variant_name": endpoint_defaults.VARIANT_NAME,
        "specification": {
            "model_name": model_name,
            "compute_resource_requirements": {
                "number_of_accelerator_devices_required": sm.gpus_per_copy,
                "min_memory_required_in_mb": endpoint_defaults.COMPONENT_MIN_MEMORY_MB,
            },
            "startup_parameters": timeouts,
        },
        # SageMaker cannot create a component with 0 copies.
        "runtime_config": {"copy_count": max(1, sm.min_copies)},
        "tags": tags,
    }

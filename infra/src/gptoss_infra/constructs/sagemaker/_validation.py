"""Every check on GptOssEndpointProps, collected into one error before anything is built."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Token
from aws_cdk import aws_kms as kms

from gptoss_facts.endpoint import (
    CONTAINER_ENV,
    ROUTING_STRATEGIES,
    TIMEOUT_RANGE_S,
    VOLUME_RANGE_GB,
    VOLUME_SIZE_GB,
)
from gptoss_facts.models import CONTEXT_LENGTH, TENSOR_PARALLEL_SIZES
from gptoss_facts.names import ENV_KEY, ENV_MAX_ENTRIES, ENV_MAX_VALUE

from .._common import PropErrors
from ._instances import instance_facts
from ._util import check_sagemaker_name
from .endpoint_props import BlueGreenUpdate, GptOssEndpointProps, RollingUpdate

# AutoRollbackConfiguration.Alarms: 1-10 (CreateEndpoint DeploymentConfig).
MAX_ROLLBACK_ALARMS = 10


@dataclass(frozen=True)
class Resolved:
    """What validation worked out: storage rules and the container environment."""

    has_local_nvme: bool
    gpu_count: int | None
    volume_size_gb: int | None
    volume_encryption_key: kms.IKey | None
    environment: dict[str, str]


def _one_of(values: tuple[int, ...]) -> str:
    """``(1, 2, 4, 8)`` -> ``"1, 2, 4 or 8"``."""
    *head, last = (str(v) for v in values)
    return f"{', '.join(head)} or {last}" if head else last


def _seconds_in(problems: PropErrors, name: str, value: Duration, low: int, high: int) -> None:
    seconds = value.to_seconds()
    problems.check(low <= seconds <= high, f"{name} is {seconds} s; SageMaker allows {low}-{high}")


def _environment(props: GptOssEndpointProps, problems: PropErrors) -> dict[str, str]:
    env: dict[str, str] = {}
    for attr, variable in CONTAINER_ENV.items():
        value = getattr(props, attr)
        if value is not None:
            env[variable] = str(value)
            problems.check(
                variable not in props.environment,
                f"{variable} is set both by {attr} and in environment; keep one",
            )
    for key, value in props.environment.items():
        problems.check(bool(ENV_KEY.match(key)), f"environment key {key!r} is not a valid name")
        problems.check(
            len(value) <= ENV_MAX_VALUE,
            f"environment {key} is {len(value)} characters; SageMaker allows {ENV_MAX_VALUE}",
        )
        env[key] = value
    problems.check(
        len(env) <= ENV_MAX_ENTRIES,
        f"{len(env)} environment variables; SageMaker allows {ENV_MAX_ENTRIES}",
    )
    if props.network_isolation:
        problems.check(
            env.get("GPTOSS_ALLOW_HUB_DOWNLOAD", "false").lower() != "true",
            "GPTOSS_ALLOW_HUB_DOWNLOAD=true cannot work with network_isolation: the container "
            "has no network; mirror the weights to S3 (WeightsMirror) instead",
        )
    if props.max_model_len is not None:
        problems.check(
            1 <= props.max_model_len <= CONTEXT_LENGTH,
            f"max_model_len is {props.max_model_len}; gpt-oss supports 1-{CONTEXT_LENGTH}",
        )
    if props.max_num_seqs is not None:
        problems.check(props.max_num_seqs >= 1, "max_num_seqs must be at least 1")
    if props.tensor_parallel_size is not None:
        problems.check(
            props.tensor_parallel_size in TENSOR_PARALLEL_SIZES,
            f"tensor_parallel_size is {props.tensor_parallel_size}; "
            f"use {_one_of(TENSOR_PARALLEL_SIZES)}",
        )
    if props.gpu_memory_utilization is not None:
        problems.check(
            0 < props.gpu_memory_utilization <= 1,
            f"gpu_memory_utilization is {props.gpu_memory_utilization}; use a fraction in (0, 1]",
        )
    return env


def _deployment(props: GptOssEndpointProps, problems: PropErrors) -> None:
    deployment = props.deployment
    if deployment is None:
        return
    problems.check(
        len(deployment.rollback_alarms) <= MAX_ROLLBACK_ALARMS,
        f"{len(deployment.rollback_alarms)} rollback alarms; "
        f"SageMaker allows 1-{MAX_ROLLBACK_ALARMS}",
    )
    strategy = deployment.strategy
    if isinstance(strategy, RollingUpdate):
        problems.check(strategy.maximum_batch_size >= 1, "rolling maximum_batch_size must be >= 1")
        _seconds_in(problems, "rolling wait_interval", strategy.wait_interval, 0, 3600)
        if strategy.maximum_execution_timeout is not None:
            _seconds_in(
                problems,
                "rolling maximum_execution_timeout",
                strategy.maximum_execution_timeout,
                600,
                28800,
            )
        if strategy.rollback_maximum_batch_size is not None:
            problems.check(
                strategy.rollback_maximum_batch_size >= 1,
                "rolling rollback_maximum_batch_size must be >= 1",
            )
    elif isinstance(strategy, BlueGreenUpdate):
        problems.check(
            props.inference_component is None,
            "inference components support rolling updates only; use RollingUpdate",
        )
        _seconds_in(problems, "blue/green wait_interval", strategy.wait_interval, 0, 3600)
        _seconds_in(problems, "blue/green termination_wait", strategy.termination_wait, 0, 3600)
        if strategy.maximum_execution_timeout is not None:
            _seconds_in(
                problems,
                "blue/green maximum_execution_timeout",
                strategy.maximum_execution_timeout,
                600,
                14400,
            )
        if strategy.traffic_routing == "ALL_AT_ONCE":
            problems.check(
                strategy.step_percent is None, "step_percent applies to CANARY and LINEAR only"
            )
        else:
            problems.check(
                strategy.step_percent is not None and 1 <= strategy.step_percent <= 100,
                f"{strategy.traffic_routing} needs step_percent between 1 and 100",
            )


def _components(props: GptOssEndpointProps, gpu_count: int | None, problems: PropErrors) -> None:
    ic = props.inference_component
    if ic is None:
        return
    check_sagemaker_name(problems, "inference_component.name", ic.name)
    problems.check(
        ic.copy_count >= 1,
        f"inference_component.copy_count is {ic.copy_count}; SageMaker cannot create a component "
        "with 0 copies: start at 1 and let autoscaling (min_capacity=0) scale it to zero",
    )
    problems.check(
        ic.accelerators_per_copy >= 1, "inference_component.accelerators_per_copy must be >= 1"
    )
    problems.check(ic.min_memory_mb >= 128, "inference_component.min_memory_mb must be >= 128")
    problems.check(
        ic.min_instance_count >= 0, "inference_component.min_instance_count must be >= 0"
    )
    problems.check(
        ic.max_instance_count >= max(1, ic.min_instance_count),
        "inference_component.max_instance_count must be >= 1 and >= min_instance_count",
    )
    problems.check(
        ic.min_instance_count <= props.initial_instance_count <= ic.max_instance_count,
        f"initial_instance_count {props.initial_instance_count} must lie between "
        f"inference_component min ({ic.min_instance_count}) and max ({ic.max_instance_count})",
    )
    if gpu_count is not None:
        problems.check(
            ic.accelerators_per_copy <= gpu_count,
            f"{ic.accelerators_per_copy} accelerators per copy, but {props.instance_type} "
            f"has {gpu_count}",
        )
        per_instance = gpu_count // max(1, ic.accelerators_per_copy)
        problems.check(
            ic.copy_count <= per_instance * props.initial_instance_count,
            f"{ic.copy_count} copies need more than the {per_instance} per instance x "
            f"{props.initial_instance_count} instances that {props.instance_type} offers",
        )


def validate_endpoint_props(props: GptOssEndpointProps) -> Resolved:
    problems = PropErrors("GptOssEndpoint props")
    check_sagemaker_name(problems, "endpoint_name", props.endpoint_name)
    check_sagemaker_name(problems, "variant_name", props.variant_name)
    problems.check(
        Token.is_unresolved(props.instance_type) or props.instance_type.startswith("ml."),
        f"instance_type {props.instance_type!r} must be a SageMaker type like 'ml.p5.4xlarge'",
    )
    problems.check(props.initial_instance_count >= 1, "initial_instance_count must be >= 1")
    low, high = TIMEOUT_RANGE_S
    _seconds_in(
        problems,
        "container_startup_health_check_timeout",
        props.container_startup_health_check_timeout,
        low,
        high,
    )
    _seconds_in(
        problems, "model_data_download_timeout", props.model_data_download_timeout, low, high
    )
    problems.check(
        props.routing_strategy in ROUTING_STRATEGIES,
        f"routing_strategy {props.routing_strategy!r}; use one of {', '.join(ROUTING_STRATEGIES)}",
    )

    facts = instance_facts(props.instance_type)
    has_nvme = props.has_local_nvme if props.has_local_nvme is not None else facts.has_local_nvme
    if has_nvme is None:
        problems.add(
            f"{props.instance_type} is not in the SDK's instance table, so its local storage is "
            "unknown: set has_local_nvme (True for types with NVMe instance storage, e.g. "
            "ml.p5.*, ml.g6e.*; False for EBS-only types)"
        )
    volume = props.volume_size_gb
    volume_key = props.volume_encryption_key
    if has_nvme:
        problems.check(
            volume is None,
            f"volume_size_gb is set, but {props.instance_type} has local NVMe storage and "
            "SageMaker rejects VolumeSizeInGB there; drop it",
        )
        problems.check(
            volume_key is None,
            f"volume_encryption_key is set, but {props.instance_type} has local NVMe storage: "
            "SageMaker rejects KmsKeyId on such instances (the NVMe storage is hardware-encrypted)",
        )
    elif has_nvme is False:
        volume = VOLUME_SIZE_GB if volume is None else volume
        low_gb, high_gb = VOLUME_RANGE_GB
        problems.check(
            low_gb <= volume <= high_gb,
            f"volume_size_gb is {volume}; SageMaker allows {low_gb}-{high_gb}",
        )
        volume_key = volume_key or props.artifacts.encryption_key

    environment = _environment(props, problems)
    _deployment(props, problems)
    _components(props, facts.gpu_count, problems)
    if props.data_capture is not None:
        props.data_capture.validate(problems)
    problems.raise_if_any()
    return Resolved(
        has_local_nvme=bool(has_nvme),
        gpu_count=facts.gpu_count,
        volume_size_gb=None if has_nvme else volume,
        volume_encryption_key=None if has_nvme else volume_key,
        environment=environment,
    )

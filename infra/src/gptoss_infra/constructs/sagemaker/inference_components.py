"""Inference-component mode: the variant hosts capacity, a component hosts the model copies.

Differences from a single-model variant (CreateEndpointConfig / CreateInferenceComponent
API reference; scale to zero: endpoint-auto-scaling-zero-instances.html):
- the variant has no ModelName; the endpoint config needs ExecutionRoleArn;
- the variant carries ManagedInstanceScaling (MinInstanceCount 0 allows scale to zero)
  and the routing strategy;
- start-up and download timeouts move to the component's StartupParameters;
- each copy asks for NumberOfAcceleratorDevicesRequired GPUs and MinMemoryRequiredInMb of
  host memory; RuntimeConfig.CopyCount must be >= 1 at creation;
- CfnInferenceComponent exposes no name attribute, so the name is always set here.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from .endpoint_props import InferenceComponentOptions, RollingUpdate


def component_variant(
    *,
    variant_name: str,
    instance_type: str,
    initial_instance_count: int,
    routing_strategy: str,
    volume_size_gb: int | None,
    options: InferenceComponentOptions,
    inference_ami_version: str | None = None,
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant_name,
        instance_type=instance_type,
        initial_instance_count=initial_instance_count,
        volume_size_in_gb=volume_size_gb,
        managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
            status="ENABLED",
            min_instance_count=options.min_instance_count,
            max_instance_count=options.max_instance_count,
        ),
        routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
            routing_strategy=routing_strategy
        ),
        # The host AMI is the variant's: every component on it shares the driver.
        inference_ami_version=inference_ami_version,
    )


def _rolling_policy(
    strategy: RollingUpdate,
) -> sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty:
    def size(value: int) -> sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty:
        return sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
            type="COPY_COUNT", value=value
        )

    return sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
        maximum_batch_size=size(strategy.maximum_batch_size),
        wait_interval_in_seconds=int(strategy.wait_interval.to_seconds()),
        maximum_execution_timeout_in_seconds=(
            int(strategy.maximum_execution_timeout.to_seconds())
            if strategy.maximum_execution_timeout
            else None
        ),
        rollback_maximum_batch_size=(
            size(strategy.rollback_maximum_batch_size)
            if strategy.rollback_maximum_batch_size
            else None
        ),
    )


class GptOssInferenceComponent(Construct):
    """One CfnInferenceComponent for the model on the endpoint's variant."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        endpoint_name: str,
        variant_name: str,
        model_name: str,
        options: InferenceComponentOptions,
        startup_timeout: Duration,
        download_timeout: Duration,
        rolling: RollingUpdate | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        deployment = None
        if rolling is not None:
            deployment = sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=_rolling_policy(rolling),
            )
        self.resource = sagemaker.CfnInferenceComponent(
            self,
            "Resource",
            inference_component_name=name,
            endpoint_name=endpoint_name,
            variant_name=variant_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=options.accelerators_per_copy,
                    min_memory_required_in_mb=options.min_memory_mb,
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    container_startup_health_check_timeout_in_seconds=int(
                        startup_timeout.to_seconds()
                    ),
                    model_data_download_timeout_in_seconds=int(download_timeout.to_seconds()),
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=options.copy_count
            ),
            deployment_config=deployment,
        )

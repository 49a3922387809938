"""GptOssSageMakerStack: image, endpoint, scaling, alarms, dashboard.

The weights live in GptOssWeightsStack, which this stack depends on; they are read through
that stack's exports. The model's weights URI is the ``WeightsS3Uri`` export (the value of
the weights gate's attribute) and its image is the ``Custom::GptOssImageReady`` gate's
``ImageUri``, so CloudFormation creates the model only once both are in place.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from gptoss_deploy.ami import default_inference_ami
from gptoss_deploy.capacity import assumed_quota
from gptoss_deploy.config import DeploymentConfig, ResourceNames, SageMakerConfig
from gptoss_deploy.memory import gpus_per_replica, resolved_utilization
from gptoss_facts.instances import INSTANCE_TYPES
from gptoss_infra.constructs._common import acknowledge
from gptoss_infra.constructs.sagemaker import (
    BlueGreenUpdate,
    DataCaptureOptions,
    DeploymentOptions,
    EndpointAlarms,
    EndpointAutoscaling,
    EndpointDashboard,
    GptOssEndpoint,
    GptOssEndpointProps,
    ImportedModelArtifacts,
    InferenceComponentOptions,
    InferenceImage,
    RollingUpdate,
)
from gptoss_infra.constructs.sagemaker.endpoint import (
    OPENAI_ROUTE_NAG_FINDING,
    OPENAI_ROUTE_NAG_REASON,
)
from gptoss_infra.stacks.alerts import AlarmTopic
from gptoss_infra.stacks.common import GptOssStack


def endpoint_props(
    config: SageMakerConfig,
    names: ResourceNames,
    *,
    artifacts: ImportedModelArtifacts,
    image: InferenceImage,
    data_capture: DataCaptureOptions | None,
) -> GptOssEndpointProps:
    """Map the configuration onto the endpoint construct's props.

    The container settings the memory check assumed (context length, tensor parallelism,
    GPU memory share) are passed explicitly, so the endpoint runs what was validated even
    if the container's defaults change.
    """
    instance = INSTANCE_TYPES[config.instance_type]
    component = None
    if config.inference_components:
        component = InferenceComponentOptions(
            name=names.inference_component,
            # SageMaker cannot create a component with 0 copies; scaling takes it to 0 later.
            copy_count=max(1, config.min_copies),
            accelerators_per_copy=config.gpus_per_copy,
            min_instance_count=0 if config.scale_to_zero else config.min_instances,
            max_instance_count=config.max_instances,
        )
    return GptOssEndpointProps(
        instance_type=config.instance_type,
        initial_instance_count=max(1, config.min_instances),
        endpoint_name=names.endpoint,
        served_model_name=config.model,
        max_model_len=config.max_model_len,
        tensor_parallel_size=gpus_per_replica(config, instance),
        gpu_memory_utilization=resolved_utilization(config, instance),
        has_local_nvme=instance.local_nvme,
        # The host AMI whose NVIDIA driver runs the image's CUDA (validated in the SDK).
        inference_ami_version=(
            config.inference_ami_version or default_inference_ami(config.instance_type)
        ),
        inference_component=component,
        # Inference components update copy by copy (rolling only); a model on the variant
        # gets SageMaker's default blue/green, made explicit so rollback alarms can attach.
        deployment=DeploymentOptions(
            strategy=RollingUpdate() if config.inference_components else BlueGreenUpdate()
        ),
        artifacts=artifacts,
        image=image,
        data_capture=data_capture,
    )


class GptOssSageMakerStack(GptOssStack):
    """gpt-oss on a SageMaker real-time endpoint, from weights to dashboard.

    Outputs (exports ``<project>-<env>:...``): ``EndpointName``, ``InferenceComponentName``
    (inference components only), ``ImageUri``, ``AlarmTopicArn``, ``EndpointInvokePolicyArn``
    (attach it to callers) and, with ``sagemaker.openai_route``, ``OpenAIBaseUrl`` (the
    endpoint's, or its inference component's, OpenAI-compatible base URL). Deploy it after
    GptOssWeightsStack (``build_app`` adds the dependency).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            component="sagemaker",
            description=f"gpt-oss {config.environment}: SageMaker endpoint with vLLM",
        )
        sm = config.sagemaker
        if sm is None:
            raise ValueError("GptOssSageMakerStack needs config.sagemaker")
        # The quota the update-capacity rehearsal and the summary check updates against:
        # the stated one, else what an update at full scale needs.
        self.add_facts(
            instance_quota={sm.instance_type: assumed_quota(sm)},
            instance_quota_stated=sm.instance_quota is not None,
        )
        names = config.names
        spec = sm.model_spec

        self.artifacts = ImportedModelArtifacts(
            self,
            "Weights",
            bucket_name=Fn.import_value(names.export("WeightsBucket")),
            key_arn=Fn.import_value(names.export("WeightsKeyArn")),
            weights_prefix=f"models/{spec.name}/",
            ready_uri=Fn.import_value(names.export("WeightsS3Uri")),
        )
        self.image = self._image(sm, names)
        data_capture = (
            DataCaptureOptions(
                bucket=self.artifacts.bucket, encryption_key=self.artifacts.encryption_key
            )
            if sm.data_capture
            else None
        )
        self.endpoint = GptOssEndpoint(
            self,
            "Endpoint",
            props=endpoint_props(
                sm,
                names,
                artifacts=self.artifacts,
                image=self.image,
                data_capture=data_capture,
            ),
        )
        self.autoscaling = self._autoscaling(sm)
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", emails=config.cost.alert_emails)
        self.alarms = EndpointAlarms(
            self, "Alarms", endpoint=self.endpoint, topic=self.alarm_topic.topic
        )
        for alarm in self.alarms.rollback_alarms:
            self.endpoint.add_rollback_alarm(alarm)
        self.dashboard = EndpointDashboard(
            self, "Dashboard", endpoint=self.endpoint, alarms=self.alarms.alarms
        )
        # A managed policy for callers (managed, not inline: the NIST 800-53 and HIPAA packs
        # flag inline policies). sagemaker:CallWithBearerToken is in it only when the
        # environment turns the OpenAI route on.
        self.invoke_policy = iam.ManagedPolicy(
            self,
            "InvokePolicy",
            description=f"Invoke the gpt-oss endpoint {names.endpoint}"
            + (" (also through its OpenAI-compatible route)" if sm.openai_route else ""),
            statements=self.endpoint.invoke_statements(openai_route=sm.openai_route),
        )
        if sm.openai_route:
            acknowledge(self.invoke_policy, [(OPENAI_ROUTE_NAG_FINDING, OPENAI_ROUTE_NAG_REASON)])
        self.add_facts(openai_route=sm.openai_route)

        self._outputs()

    def _image(self, sm: SageMakerConfig, names: ResourceNames) -> InferenceImage:
        """The given image, or one built in the cloud into this stack's repository."""
        if sm.image_uri:
            return InferenceImage(self, "Image", image_uri=sm.image_uri)
        return InferenceImage(
            self,
            "Image",
            repository_name=f"{names.prefix}/vllm",
            base_image_uri=sm.base_image_uri,
            dockerhub_secret_name=sm.dockerhub_secret_name,
            encryption_key=self.artifacts.encryption_key,
        )

    def _autoscaling(self, sm: SageMakerConfig) -> EndpointAutoscaling | None:
        """Autoscaling when the capacity can move: instances with a model on the variant,
        copies with inference components (whose instances follow through managed instance
        scaling)."""
        low, high = (
            (0 if sm.scale_to_zero else sm.min_copies, sm.max_copies)
            if sm.inference_components
            else (sm.min_instances, sm.max_instances)
        )
        if high <= low and not sm.scale_to_zero:
            return None
        scaling: dict[str, Any] = {}
        if sm.target_concurrent_requests is not None:
            scaling["target_concurrent_requests"] = sm.target_concurrent_requests
        return EndpointAutoscaling(
            self,
            "Autoscaling",
            endpoint=self.endpoint,
            min_capacity=low,
            max_capacity=high,
            **scaling,
        )

    def _outputs(self) -> None:
        self.output("EndpointName", self.endpoint.endpoint_name, "EndpointName", "endpoint name")
        if self.endpoint.inference_component_name is not None:
            self.output(
                "InferenceComponentName",
                self.endpoint.inference_component_name,
                "InferenceComponentName",
                "inference component to name in InvokeEndpoint",
            )
        self.output(
            "ImageUri",
            self.image.image_uri,
            "ImageUri",
            "serving image the model runs (the image gate's digest when built here)",
        )
        self.output(
            "AlarmTopicArn",
            self.alarm_topic.topic.topic_arn,
            "AlarmTopicArn",
            "encrypted SNS topic the endpoint alarms notify",
        )
        self.output(
            "EndpointInvokePolicyArn",
            self.invoke_policy.managed_policy_arn,
            # Not "InvokePolicyArn": the Bedrock stack of the same environment exports that.
            "EndpointInvokePolicyArn",
            "managed policy that invokes the endpoint (attach it to callers)",
        )
        if self.config.sagemaker is not None and self.config.sagemaker.openai_route:
            self.output(
                "OpenAIBaseUrl",
                self.endpoint.openai_base_url(self.config.region),
                "OpenAIBaseUrl",
                "OpenAI-compatible base URL (chat/completions) of the endpoint, or of its "
                "inference component; the API key is a SageMaker bearer token",
            )

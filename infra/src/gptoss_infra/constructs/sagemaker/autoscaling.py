"""Application Auto Scaling for a GptOssEndpoint: target tracking on concurrent requests.

Concurrency, not invocations per minute, is the load signal for an LLM: one request can
last a minute. SageMaker publishes it at high resolution (10 s), and Application Auto
Scaling has predefined metrics for it (PredefinedMetricType, Application Auto Scaling API
reference, checked against botocore's application-autoscaling model):
- variants: SageMakerVariantConcurrentRequestsPerModelHighResolution on
  sagemaker:variant:DesiredInstanceCount, resource endpoint/<name>/variant/<variant>;
- inference components: SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution
  on sagemaker:inference-component:DesiredCopyCount, resource inference-component/<name>.

Scale to zero (components only, min_capacity=0): target tracking scales in to zero copies
but cannot scale out of zero, so a step policy adds one copy when the
NoCapacityInvocationFailures alarm fires (endpoint-auto-scaling-zero-instances.html).
While the copy starts, a cold start of several minutes for the 120b (instance, 61 GiB
download, load), every call fails; clients must retry or route to Bedrock meanwhile.
"""

from __future__ import annotations

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from constructs import Construct

from .._common import PropErrors
from ._instances import instance_facts
from .endpoint import GptOssEndpoint

DEFAULT_SCALE_OUT_COOLDOWN = Duration.minutes(2)
DEFAULT_SCALE_IN_COOLDOWN = Duration.minutes(15)
DEFAULT_WAKE_COOLDOWN = Duration.minutes(10)
_PREDEFINED = appscaling.PredefinedMetric
_PER_COPY = _PREDEFINED.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION
_PER_MODEL = _PREDEFINED.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
COMPONENT_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
# Application Auto Scaling creates and uses this service-linked role for SageMaker
# targets (application-auto-scaling-service-linked-roles.html); no role of ours needed.
SERVICE_LINKED_ROLE = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


class EndpointAutoscaling(Construct):
    """Scale a GptOssEndpoint's instances (variant) or copies (inference components).

    :param endpoint: the endpoint (required).
    :param max_capacity: most instances or copies (required).
    :param min_capacity: fewest instances or copies. Default: 1. 0 (scale to zero) only
        with inference components.
    :param target_concurrent_requests: in-flight requests per model or copy to hold.
        Default: 32. The gpustack benchmark measured 52.7 ms per output token for the 120b
        on one H100 at ~150 concurrent streams (gpustack performance lab, gpt-oss-120b/h100,
        async scheduling run; docs/sources.md), about 19 tokens/s per user;
        32 keeps per-user speed interactive. Measure your own with bench/.
    :param scale_out_cooldown: Default: 2 minutes (the metric is 10-second data; a new
        GPU instance takes minutes, so one step at a time).
    :param scale_in_cooldown: Default: 15 minutes (scaling back in frees an instance that
        would take 10+ minutes to get back).
    :param wake_cooldown: cooldown of the scale-from-zero step policy. Default: 10 minutes:
        the alarm keeps invoking the policy while calls fail, and each invocation outside
        the cooldown would add another copy.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: GptOssEndpoint,
        max_capacity: int,
        min_capacity: int = 1,
        target_concurrent_requests: float = 32,
        scale_out_cooldown: Duration = DEFAULT_SCALE_OUT_COOLDOWN,
        scale_in_cooldown: Duration = DEFAULT_SCALE_IN_COOLDOWN,
        wake_cooldown: Duration = DEFAULT_WAKE_COOLDOWN,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_props(endpoint, min_capacity, max_capacity, target_concurrent_requests)
        ic = endpoint.props.inference_component
        if ic is not None and min_capacity == 0 and ic.min_instance_count > 0:
            Annotations.of(self).add_warning_v2(
                "gptoss:scale-to-zero-keeps-instances",
                "min_capacity is 0 but inference_component.min_instance_count is "
                f"{ic.min_instance_count}: copies go to zero, the GPU instances (and their "
                "cost) stay. Set min_instance_count=0 to release them.",
            )
        if endpoint.inference_component_name is not None:
            resource_id = f"inference-component/{endpoint.inference_component_name}"
            dimension = COMPONENT_DIMENSION
            metric = _PER_COPY
        else:
            resource_id = f"endpoint/{endpoint.endpoint_name}/variant/{endpoint.variant_name}"
            dimension = VARIANT_DIMENSION
            metric = _PER_MODEL
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension=dimension,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            role=iam.Role.from_role_arn(
                self,
                "ServiceLinkedRole",
                Stack.of(self).format_arn(
                    service="iam", region="", resource="role", resource_name=SERVICE_LINKED_ROLE
                ),
            ),
        )
        # The names are literals, so CloudFormation sees no reference: register the target
        # only once the endpoint (or component) exists.
        self.target.node.add_dependency(endpoint.scaling_resource)
        self.tracking = self.target.scale_to_track_metric(
            "ConcurrentRequests",
            target_value=target_concurrent_requests,
            predefined_metric=metric,
            scale_in_cooldown=scale_in_cooldown,
            scale_out_cooldown=scale_out_cooldown,
        )
        self.wake_alarm: cloudwatch.Alarm | None = None
        self.wake_policy: appscaling.StepScalingAction | None = None
        if min_capacity == 0:
            self._wake_from_zero(endpoint, wake_cooldown)

    def _wake_from_zero(self, endpoint: GptOssEndpoint, cooldown: Duration) -> None:
        """Target tracking cannot scale out of zero: a step policy adds one copy when a
        request finds none."""
        self.wake_policy = appscaling.StepScalingAction(
            self,
            "WakeFromZero",
            scaling_target=self.target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            cooldown=cooldown,
        )
        self.wake_policy.add_adjustment(adjustment=1, lower_bound=0)
        self.wake_alarm = cloudwatch.Alarm(
            self,
            "NoCapacityAlarm",
            alarm_name=f"{endpoint.endpoint_name}-no-capacity-wake",
            alarm_description=(
                "A request found no copy (scaled to zero): add one. Calls fail for the "
                "minutes the copy takes to start."
            ),
            metric=endpoint.metric_no_capacity_invocation_failures(period=Duration.minutes(1)),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.wake_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(self.wake_policy))


def _check_props(
    endpoint: GptOssEndpoint, min_capacity: int, max_capacity: int, target: float
) -> None:
    components = endpoint.inference_component_name is not None
    ic = endpoint.props.inference_component
    problems = PropErrors("EndpointAutoscaling props")
    problems.check(min_capacity >= 0, f"min_capacity is {min_capacity}; use 0 or more")
    problems.check(
        max_capacity >= max(1, min_capacity),
        f"max_capacity is {max_capacity}; it must be >= 1 and >= min_capacity",
    )
    problems.check(
        components or min_capacity >= 1,
        "min_capacity 0 (scale to zero) needs inference components: SageMaker scales only "
        "inference-component endpoints to zero; set props.inference_component",
    )
    problems.check(target > 0, "target_concurrent_requests must be positive")
    if ic is not None:
        gpus = _gpu_count(endpoint)
        if gpus is not None:
            most = ic.max_instance_count * (gpus // max(1, ic.accelerators_per_copy))
            problems.check(
                max_capacity <= most,
                f"max_capacity {max_capacity} copies cannot be placed: at most {most} fit "
                f"on {ic.max_instance_count} x {endpoint.props.instance_type}",
            )
    problems.raise_if_any()


def _gpu_count(endpoint: GptOssEndpoint) -> int | None:
    return instance_facts(endpoint.props.instance_type).gpu_count

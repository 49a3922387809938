"""Inference-component mode with scale to zero, and variant autoscaling, alarms and dashboard."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template
from harness import cfn_lint, nag_findings

from gptoss_infra.constructs.sagemaker import (
    DeploymentOptions,
    EndpointAlarms,
    EndpointAutoscaling,
    EndpointDashboard,
    GptOssEndpoint,
    GptOssEndpointProps,
    InferenceComponentOptions,
    InferenceImage,
    ModelArtifacts,
    RollingUpdate,
)

ECR_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss:1"


class Built:
    def __init__(self, *, components: bool) -> None:
        self.app = cdk.App()
        self.stack = cdk.Stack(self.app, "Components" if components else "Variant")
        artifacts = ModelArtifacts(self.stack, "Weights")
        image = InferenceImage(self.stack, "Image", image_uri=ECR_URI)
        self.endpoint = GptOssEndpoint(
            self.stack,
            "Endpoint",
            props=GptOssEndpointProps(
                artifacts=artifacts,
                image=image,
                instance_type="ml.p5.48xlarge" if components else "ml.p5.4xlarge",
                inference_component=(
                    InferenceComponentOptions(min_instance_count=0, max_instance_count=2)
                    if components
                    else None
                ),
                deployment=DeploymentOptions(strategy=RollingUpdate()),
            ),
        )
        key = kms.Key(self.stack, "TopicKey", enable_key_rotation=True)
        self.topic = sns.Topic(self.stack, "Topic", master_key=key)
        self.alarms = EndpointAlarms(self.stack, "Alarms", endpoint=self.endpoint, topic=self.topic)
        for alarm in self.alarms.rollback_alarms:
            self.endpoint.add_rollback_alarm(alarm)
        self.scaling = EndpointAutoscaling(
            self.stack,
            "Scaling",
            endpoint=self.endpoint,
            min_capacity=0 if components else 1,
            max_capacity=16 if components else 3,
        )
        self.dashboard = EndpointDashboard(
            self.stack, "Dashboard", endpoint=self.endpoint, alarms=self.alarms.alarms
        )
        self.template = Template.from_stack(self.stack)
        self.json: dict[str, Any] = dict(self.template.to_json())


@pytest.fixture(scope="module")
def components() -> Built:
    return Built(components=True)


@pytest.fixture(scope="module")
def variant() -> Built:
    return Built(components=False)


def _one(built: Built, resource_type: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = built.template.find_resources(resource_type).items()
    return logical_id, dict(resource)


def test_component_variant_has_no_model_and_scales_instances(components: Built) -> None:
    _, config = _one(components, "AWS::SageMaker::EndpointConfig")
    props = config["Properties"]
    (variant,) = props["ProductionVariants"]
    assert "ModelName" not in variant
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 2,
    }
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert "ContainerStartupHealthCheckTimeoutInSeconds" not in variant
    assert props["ExecutionRoleArn"]["Fn::GetAtt"][1] == "Arn"
    assert props["EnableNetworkIsolation"] is True


def test_component_has_one_gpu_per_copy_and_an_explicit_name(components: Built) -> None:
    _, component = _one(components, "AWS::SageMaker::InferenceComponent")
    props = component["Properties"]
    assert props["InferenceComponentName"] == components.endpoint.inference_component_name
    assert props["InferenceComponentName"].endswith("-ic")
    spec = props["Specification"]
    assert spec["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": 1,
        "MinMemoryRequiredInMb": 32768,
    }
    assert spec["StartupParameters"] == {
        "ContainerStartupHealthCheckTimeoutInSeconds": 1800,
        "ModelDataDownloadTimeoutInSeconds": 1800,
    }
    assert props["RuntimeConfig"] == {"CopyCount": 1}
    deployment = props["DeploymentConfig"]
    assert deployment["RollingUpdatePolicy"]["MaximumBatchSize"] == {
        "Type": "COPY_COUNT",
        "Value": 1,
    }
    assert len(deployment["AutoRollbackConfiguration"]["Alarms"]) == 3
    _, endpoint = _one(components, "AWS::SageMaker::Endpoint")
    assert "DeploymentConfig" not in endpoint["Properties"]


def test_component_scales_copies_on_high_resolution_concurrency(components: Built) -> None:
    _target_id, target = _one(components, "AWS::ApplicationAutoScaling::ScalableTarget")
    props = target["Properties"]
    name = components.endpoint.inference_component_name
    assert props["ResourceId"] == f"inference-component/{name}"
    assert props["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (props["MinCapacity"], props["MaxCapacity"]) == (0, 16)
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(
        props["RoleARN"]
    )
    component_id, _ = _one(components, "AWS::SageMaker::InferenceComponent")
    assert component_id in target["DependsOn"]
    components.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": (
                        "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
                    )
                },
                "TargetValue": 32,
                "ScaleInCooldown": 900,
                "ScaleOutCooldown": 120,
            },
        },
    )


def test_scale_to_zero_wakes_on_no_capacity_failures(components: Built) -> None:
    policies = components.template.find_resources(
        "AWS::ApplicationAutoScaling::ScalingPolicy", {"Properties": {"PolicyType": "StepScaling"}}
    )
    ((policy_id, policy),) = policies.items()
    config = policy["Properties"]["StepScalingPolicyConfiguration"]
    assert config["AdjustmentType"] == "ChangeInCapacity"
    assert config["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    assert config["Cooldown"] == 600
    components.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "NoCapacityInvocationFailures",
            "Namespace": "AWS/SageMaker",
            "Dimensions": [
                {
                    "Name": "InferenceComponentName",
                    "Value": components.endpoint.inference_component_name,
                }
            ],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
            "AlarmActions": [{"Ref": policy_id}],
        },
    )


def test_component_metrics_and_gpu_alarm_are_normalized(components: Built) -> None:
    gpu = components.endpoint.metric_gpu_memory_utilization()
    assert (gpu.namespace, gpu.metric_name) == (
        "/aws/sagemaker/InferenceComponents",
        "GPUMemoryUtilizationNormalized",
    )
    assert (
        components.endpoint.metric_concurrent_requests().metric_name == "ConcurrentRequestsPerCopy"
    )
    components.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "GPUMemoryUtilizationNormalized", "Threshold": 98},
    )


def test_component_log_group_is_precreated(components: Built) -> None:
    name = components.endpoint.inference_component_name
    components.template.has_resource_properties(
        "AWS::Logs::LogGroup", {"LogGroupName": f"/aws/sagemaker/InferenceComponents/{name}"}
    )


def test_variant_scales_instances_on_concurrency(variant: Built) -> None:
    _, target = _one(variant, "AWS::ApplicationAutoScaling::ScalableTarget")
    props = target["Properties"]
    assert props["ResourceId"] == f"endpoint/{variant.endpoint.endpoint_name}/variant/AllTraffic"
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (props["MinCapacity"], props["MaxCapacity"]) == (1, 3)
    variant.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": (
                            "SageMakerVariantConcurrentRequestsPerModelHighResolution"
                        )
                    }
                }
            )
        },
    )
    assert variant.scaling.wake_alarm is None


def test_alarms_cover_errors_latency_gpu_and_disk_and_notify(variant: Built) -> None:
    alarms = variant.template.find_resources("AWS::CloudWatch::Alarm")
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()}
    assert set(by_metric) == {
        "Invocation5XXErrors",
        "InvocationModelErrors",
        "ModelLatency",
        "GPUMemoryUtilization",
        "DiskUtilization",
    }
    assert by_metric["ModelLatency"]["ExtendedStatistic"] == "p99"
    assert by_metric["ModelLatency"]["Threshold"] == 50_000_000  # microseconds
    assert by_metric["GPUMemoryUtilization"]["Namespace"] == "/aws/sagemaker/Endpoints"
    assert by_metric["GPUMemoryUtilization"]["Threshold"] == 98  # one H100 on ml.p5.4xlarge
    assert by_metric["DiskUtilization"]["Threshold"] == 85
    topic_id, _ = _one(variant, "AWS::SNS::Topic")
    for props in by_metric.values():
        assert props["AlarmActions"] == [{"Ref": topic_id}]
        assert props["OKActions"] == [{"Ref": topic_id}]


def test_gpu_alarm_scales_with_gpus_on_variants() -> None:
    stack = cdk.Stack(cdk.App(), "Eight")
    endpoint = GptOssEndpoint(
        stack,
        "Endpoint",
        props=GptOssEndpointProps(
            artifacts=ModelArtifacts(stack, "Weights"),
            image=InferenceImage(stack, "Image", image_uri=ECR_URI),
            instance_type="ml.p5.48xlarge",
        ),
    )
    alarms = EndpointAlarms(stack, "Alarms", endpoint=endpoint)
    assert alarms.gpu_memory.metric.metric_name == "GPUMemoryUtilization"  # type: ignore[attr-defined]
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "GPUMemoryUtilization", "Threshold": 98 * 8}
    )


def test_dashboard_graphs_the_endpoint(components: Built) -> None:
    _, dashboard = _one(components, "AWS::CloudWatch::Dashboard")
    body = json.dumps(components.stack.resolve(dashboard["Properties"]["DashboardBody"]))
    for metric in (
        "Invocations",
        "Invocation5XXErrors",
        "ModelLatency",
        "ConcurrentRequestsPerCopy",
        "GPUMemoryUtilizationNormalized",
        "DiskUtilization",
        "NoCapacityInvocationFailures",
    ):
        assert metric in body, metric
    assert "alarm" in body


def test_autoscaling_rules() -> None:
    stack = cdk.Stack(cdk.App(), "BadScaling")
    endpoint = GptOssEndpoint(
        stack,
        "Endpoint",
        props=GptOssEndpointProps(
            artifacts=ModelArtifacts(stack, "Weights"),
            image=InferenceImage(stack, "Image", image_uri=ECR_URI),
        ),
    )
    with pytest.raises(ValueError, match="2 problems") as error:
        EndpointAutoscaling(stack, "Scaling", endpoint=endpoint, min_capacity=0, max_capacity=0)
    assert "needs inference components" in str(error.value)
    assert "max_capacity is 0" in str(error.value)


def test_too_many_copies_and_idle_instances_are_caught() -> None:
    stack = cdk.Stack(cdk.App(), "Copies")
    endpoint = GptOssEndpoint(
        stack,
        "Endpoint",
        props=GptOssEndpointProps(
            artifacts=ModelArtifacts(stack, "Weights"),
            image=InferenceImage(stack, "Image", image_uri=ECR_URI),
            instance_type="ml.p5.48xlarge",
            inference_component=InferenceComponentOptions(max_instance_count=1),
        ),
    )
    with pytest.raises(ValueError, match="at most 8 fit"):
        EndpointAutoscaling(stack, "TooMany", endpoint=endpoint, max_capacity=9)
    EndpointAutoscaling(stack, "Zero", endpoint=endpoint, min_capacity=0, max_capacity=8)
    Annotations.from_stack(stack).has_warning("/Copies/Zero", Match.string_like_regexp("instances"))


@pytest.mark.parametrize("name", ["components", "variant"])
def test_no_unacknowledged_nag_findings(name: str, request: pytest.FixtureRequest) -> None:
    built = request.getfixturevalue(name)
    assert [str(f) for f in nag_findings(built.stack)] == []


@pytest.mark.parametrize("name", ["components", "variant"])
def test_cfn_lint_is_clean(name: str, request: pytest.FixtureRequest) -> None:
    built = request.getfixturevalue(name)
    assert cfn_lint(built.json) == []

"""GptOssEndpoint with one model per variant: on NVMe (ml.p5.4xlarge) and EBS-in-a-VPC."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from harness import cfn_lint, deploy_to_moto, nag_findings

from gptoss_infra.constructs.sagemaker import (
    BlueGreenUpdate,
    DataCaptureOptions,
    DeploymentOptions,
    EndpointAlarms,
    GptOssEndpoint,
    GptOssEndpointProps,
    InferenceComponentOptions,
    InferenceImage,
    ModelArtifacts,
    RollingUpdate,
    VpcOptions,
)

ECR_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpt-oss:1"


def _base(stack_id: str) -> tuple[cdk.App, cdk.Stack, ModelArtifacts, InferenceImage]:
    app = cdk.App()
    stack = cdk.Stack(app, stack_id)
    return (
        app,
        stack,
        ModelArtifacts(stack, "Weights"),
        InferenceImage(stack, "Image", image_uri=ECR_URI),
    )


class Nvme:
    """The default preset's shape: ml.p5.4xlarge, blue/green with rollback alarms."""

    def __init__(self) -> None:
        self.app, self.stack, artifacts, image = _base("Nvme")
        self.endpoint = GptOssEndpoint(
            self.stack,
            "Endpoint",
            props=GptOssEndpointProps(
                artifacts=artifacts,
                image=image,
                endpoint_name="gpt-oss-120b-test",
                served_model_name="gpt-oss-120b",
                max_model_len=32768,
                gpu_memory_utilization=0.95,
                environment={"GPTOSS_LOG_LEVEL": "debug"},
                deployment=DeploymentOptions(
                    strategy=BlueGreenUpdate(traffic_routing="LINEAR", step_percent=50)
                ),
            ),
        )
        self.alarms = EndpointAlarms(self.stack, "Alarms", endpoint=self.endpoint)
        for alarm in self.alarms.rollback_alarms:
            self.endpoint.add_rollback_alarm(alarm)
        self.caller = iam.Role(self.stack, "Caller", assumed_by=iam.AccountRootPrincipal())
        self.endpoint.grant_invoke(self.caller)
        cdk.Validations.of(self.caller).acknowledge(
            *(
                cdk.Acknowledgment(id=f"{pack}-IAMNoInlinePolicy", reason="test caller")
                for pack in ("NIST.800.53.R5", "HIPAA.Security")
            )
        )
        self.template = Template.from_stack(self.stack)
        self.json: dict[str, Any] = dict(self.template.to_json())


class EbsInVpc:
    """An EBS-only type in private isolated subnets, with data capture and a rolling update."""

    def __init__(self) -> None:
        self.app, self.stack, artifacts, image = _base("Ebs")
        vpc = ec2.Vpc(
            self.stack,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="models", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
        )
        flow_key = kms.Key(self.stack, "FlowKey", enable_key_rotation=True)
        vpc.add_flow_log(
            "Flow",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(
                    self.stack,
                    "FlowLogs",
                    encryption_key=flow_key,
                    retention=logs.RetentionDays.ONE_YEAR,
                )
            ),
        )
        # The VPC stands in for the user's; its findings are not this construct's.
        cdk.Validations.of(vpc).acknowledge(
            *(
                cdk.Acknowledgment(id=f"{pack}-{rule}", reason="test VPC")
                for pack in ("NIST.800.53.R5", "HIPAA.Security")
                for rule in ("VPCDefaultSecurityGroupClosed", "IAMNoInlinePolicy")
            )
        )
        self.endpoint = GptOssEndpoint(
            self.stack,
            "Endpoint",
            props=GptOssEndpointProps(
                artifacts=artifacts,
                image=image,
                instance_type="ml.p3.2xlarge",
                has_local_nvme=False,
                initial_instance_count=2,
                vpc=VpcOptions(vpc=vpc),
                data_capture=DataCaptureOptions(
                    bucket=artifacts.bucket, encryption_key=artifacts.encryption_key
                ),
                deployment=DeploymentOptions(strategy=RollingUpdate(maximum_batch_size=1)),
            ),
        )
        self.template = Template.from_stack(self.stack)
        self.json = dict(self.template.to_json())


@pytest.fixture(scope="module")
def nvme() -> Nvme:
    return Nvme()


@pytest.fixture(scope="module")
def ebs() -> EbsInVpc:
    return EbsInVpc()


def _one(template: Template, resource_type: str) -> dict[str, Any]:
    (resource,) = template.find_resources(resource_type).values()
    return dict(resource["Properties"])


def test_model_is_isolated_and_loads_the_uncompressed_prefix(nvme: Nvme) -> None:
    model = _one(nvme.template, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True
    container = model["PrimaryContainer"]
    assert container["Image"] == ECR_URI
    s3 = container["ModelDataSource"]["S3DataSource"]
    assert s3["S3DataType"] == "S3Prefix"
    assert s3["CompressionType"] == "None"
    assert s3["S3Uri"]["Fn::Join"][1][-1] == "/models/gpt-oss-120b/"
    assert container["Environment"] == {
        "GPTOSS_SERVED_MODEL_NAME": "gpt-oss-120b",
        "GPTOSS_MAX_MODEL_LEN": "32768",
        "GPTOSS_GPU_MEMORY_UTILIZATION": "0.95",
        "GPTOSS_LOG_LEVEL": "debug",
    }
    assert "VpcConfig" not in model


def test_variant_has_timeouts_routing_and_no_storage_settings_on_nvme(nvme: Nvme) -> None:
    config = _one(nvme.template, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert variant["InstanceType"] == "ml.p5.4xlarge"
    assert variant["InitialInstanceCount"] == 1
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 1800
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 1800
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert "VolumeSizeInGB" not in variant
    assert "KmsKeyId" not in config
    assert "ExecutionRoleArn" not in config
    assert "ManagedInstanceScaling" not in variant


def test_endpoint_deploys_blue_green_with_rollback_alarms(nvme: Nvme) -> None:
    endpoint = _one(nvme.template, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == "gpt-oss-120b-test" == nvme.endpoint.endpoint_name
    deployment = endpoint["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "LINEAR"
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}
    alarms = deployment["AutoRollbackConfiguration"]["Alarms"]
    assert len(alarms) == 3
    assert all("Ref" in a["AlarmName"] for a in alarms)


def _role_statements(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith(prefix):
            return list(resource["Properties"]["PolicyDocument"]["Statement"])
    raise AssertionError(prefix)


def test_execution_role_is_least_privilege(nvme: Nvme) -> None:
    roles = nvme.template.find_resources("AWS::IAM::Role")
    execution = next(r for k, r in roles.items() if k.startswith("EndpointExecutionRole"))
    assert "ManagedPolicyArns" not in execution["Properties"]
    statements = _role_statements(nvme.json, "EndpointExecutionRole")
    actions = sorted(
        {
            a
            for s in statements
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
    )
    assert actions == sorted(
        [
            "s3:GetObject",
            "s3:ListBucket",
            "kms:Decrypt",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetImage",
            "ecr:GetAuthorizationToken",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:DescribeLogStreams",
            "cloudwatch:PutMetricData",
            "cloudwatch:DescribeAlarms",
        ]
    )
    metrics = next(s for s in statements if s["Action"] == "cloudwatch:PutMetricData")
    assert metrics["Condition"]["StringEquals"]["cloudwatch:namespace"] == [
        "/aws/sagemaker/Endpoints",
        "/aws/sagemaker/InferenceComponents",
    ]
    alarms = [s for s in statements if s["Action"] == "cloudwatch:DescribeAlarms"]
    assert all("Fn::GetAtt" in s["Resource"] for s in alarms)


def test_resources_wait_for_the_role_policy_and_log_group(nvme: Nvme) -> None:
    resources = nvme.json["Resources"]
    endpoint_id = next(k for k, r in resources.items() if r["Type"] == "AWS::SageMaker::Endpoint")
    depends = resources[endpoint_id]["DependsOn"]
    assert any(d.startswith("EndpointExecutionRoleDefaultPolicy") for d in depends)
    assert any(d.startswith("EndpointLogs") for d in depends)


def test_log_group_is_precreated_encrypted(nvme: Nvme) -> None:
    nvme.template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": "/aws/sagemaker/Endpoints/gpt-oss-120b-test", "RetentionInDays": 365},
    )
    group = _one(nvme.template, "AWS::Logs::LogGroup")
    assert "KmsKeyId" in group


def test_grant_invoke_covers_streaming(nvme: Nvme) -> None:
    (statement,) = _role_statements(nvme.json, "Caller")
    assert statement["Action"] == [
        "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointWithResponseStream",
    ]
    assert statement["Resource"] == {"Ref": "Endpoint8024A810"}


def test_metric_helpers_use_variant_dimensions(nvme: Nvme) -> None:
    stack = nvme.stack
    invocations = stack.resolve(nvme.endpoint.metric_invocations().dimensions)
    assert invocations == {"EndpointName": "gpt-oss-120b-test", "VariantName": "AllTraffic"}
    concurrency = nvme.endpoint.metric_concurrent_requests()
    assert concurrency.metric_name == "ConcurrentRequestsPerModel"
    gpu = nvme.endpoint.metric_gpu_memory_utilization()
    assert (gpu.namespace, gpu.metric_name) == ("/aws/sagemaker/Endpoints", "GPUMemoryUtilization")
    assert nvme.endpoint.metric_model_latency().statistic == "p99"
    with pytest.raises(ValueError, match="inference components only"):
        nvme.endpoint.metric_no_capacity_invocation_failures()


def test_ebs_type_gets_volume_and_kms_key(ebs: EbsInVpc) -> None:
    config = _one(ebs.template, "AWS::SageMaker::EndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert variant["VolumeSizeInGB"] == 128
    assert config["KmsKeyId"]["Fn::GetAtt"][1] == "Arn"
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 10
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input", "Output"]
    assert "KmsKeyId" in capture


def test_vpc_model_uses_private_subnets_and_endpoints(ebs: EbsInVpc) -> None:
    model = _one(ebs.template, "AWS::SageMaker::Model")
    vpc_config = model["VpcConfig"]
    assert len(vpc_config["Subnets"]) == 2
    assert len(vpc_config["SecurityGroupIds"]) == 1
    services = [
        json.dumps(r["Properties"]["ServiceName"])
        for r in ebs.template.find_resources("AWS::EC2::VPCEndpoint").values()
    ]
    assert len(services) == 4
    for name in ("s3", "ecr.api", "ecr.dkr", "logs"):
        assert any(name in s for s in services), name
    assert not any("runtime" in s for s in services)
    statements = _role_statements(ebs.json, "EndpointExecutionRole")
    assert any("ec2:CreateNetworkInterface" in json.dumps(s["Action"]) for s in statements)


def test_interface_endpoints_admit_only_the_model(ebs: EbsInVpc) -> None:
    for group in ebs.template.find_resources("AWS::EC2::SecurityGroupIngress").values():
        props = group["Properties"]
        assert "SourceSecurityGroupId" in props
        assert "CidrIp" not in props
        assert props["FromPort"] == props["ToPort"] == 443


def test_rolling_update_policy(ebs: EbsInVpc) -> None:
    endpoint = _one(ebs.template, "AWS::SageMaker::Endpoint")
    rolling = endpoint["DeploymentConfig"]["RollingUpdatePolicy"]
    assert rolling == {
        "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
        "WaitIntervalInSeconds": 300,
    }


@pytest.mark.parametrize("name", ["nvme", "ebs"])
def test_no_unacknowledged_nag_findings(name: str, request: pytest.FixtureRequest) -> None:
    built = request.getfixturevalue(name)
    assert [str(f) for f in nag_findings(built.stack)] == []


@pytest.mark.parametrize("name", ["nvme", "ebs"])
def test_cfn_lint_is_clean(name: str, request: pytest.FixtureRequest) -> None:
    built = request.getfixturevalue(name)
    assert cfn_lint(built.json) == []


def test_moto_creates_model_config_and_endpoint(nvme: Nvme) -> None:
    created = deploy_to_moto(nvme.json, "nvme")
    by_type = {r["Type"]: r for r in created.values()}
    endpoint = by_type["AWS::SageMaker::Endpoint"]["Description"]
    config = by_type["AWS::SageMaker::EndpointConfig"]["Description"]
    # moto names the endpoint after the stack, not EndpointName; the link is what counts.
    assert endpoint["EndpointConfigName"] == config["EndpointConfigName"]
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.p5.4xlarge"
    model = by_type["AWS::SageMaker::Model"]["Description"]
    # moto 5.2.5's CloudFormation drops EnableNetworkIsolation; the template test covers it.
    assert model["PrimaryContainer"]["Image"] == ECR_URI
    assert model["ExecutionRoleArn"].startswith("arn:aws:iam::")


# -- validation -------------------------------------------------------------------------


def _props(**overrides: Any) -> tuple[cdk.Stack, GptOssEndpointProps]:
    _, stack, artifacts, image = _base("Invalid")
    return stack, GptOssEndpointProps(artifacts=artifacts, image=image, **overrides)


def test_every_problem_is_reported_at_once() -> None:
    stack, props = _props(
        endpoint_name="bad_name",
        instance_type="p5.4xlarge",
        container_startup_health_check_timeout=cdk.Duration.seconds(30),
        model_data_download_timeout=cdk.Duration.hours(2),
        max_model_len=200_000,
        tensor_parallel_size=3,
        gpu_memory_utilization=1.5,
        routing_strategy="ROUND_ROBIN",
        environment={"GPTOSS_MAX_MODEL_LEN": "1", "GPTOSS_ALLOW_HUB_DOWNLOAD": "true"},
        has_local_nvme=True,
    )
    with pytest.raises(ValueError, match="10 problems in GptOssEndpoint props") as error:
        GptOssEndpoint(stack, "Endpoint", props=props)
    text = str(error.value)
    for expected in (
        "endpoint_name 'bad_name'",
        "must be a SageMaker type",
        "container_startup_health_check_timeout is 30 s",
        "model_data_download_timeout is 7200 s",
        "max_model_len is 200000",
        "tensor_parallel_size is 3",
        "gpu_memory_utilization is 1.5",
        "routing_strategy 'ROUND_ROBIN'",
        "GPTOSS_MAX_MODEL_LEN is set both",
        "GPTOSS_ALLOW_HUB_DOWNLOAD=true cannot work with network_isolation",
    ):
        assert expected in text


def test_nvme_instance_refuses_volume_and_kms_key() -> None:
    stack, props = _props(volume_size_gb=200, volume_encryption_key=kms.Key(cdk.Stack(), "K"))
    with pytest.raises(ValueError, match="2 problems") as error:
        GptOssEndpoint(stack, "Endpoint", props=props)
    assert "rejects VolumeSizeInGB" in str(error.value)
    assert "rejects KmsKeyId" in str(error.value)


def test_unknown_instance_type_needs_has_local_nvme() -> None:
    stack, props = _props(instance_type="ml.m5.xlarge")
    with pytest.raises(ValueError, match="set has_local_nvme"):
        GptOssEndpoint(stack, "Endpoint", props=props)


def test_deployment_and_component_rules() -> None:
    stack, props = _props(
        instance_type="ml.p5.48xlarge",
        inference_component=InferenceComponentOptions(copy_count=0, max_instance_count=1),
        deployment=DeploymentOptions(strategy=BlueGreenUpdate(traffic_routing="CANARY")),
    )
    with pytest.raises(ValueError, match="3 problems") as error:
        GptOssEndpoint(stack, "Endpoint", props=props)
    text = str(error.value)
    assert "rolling updates only" in text
    assert "CANARY needs step_percent" in text
    assert "copy_count is 0" in text


def test_too_many_copies_for_the_instance() -> None:
    stack, props = _props(
        instance_type="ml.p5.4xlarge",
        inference_component=InferenceComponentOptions(copy_count=2),
    )
    with pytest.raises(ValueError, match="2 copies need more than the 1 per instance"):
        GptOssEndpoint(stack, "Endpoint", props=props)


def test_rollback_alarm_needs_a_deployment_config() -> None:
    stack, props = _props()
    endpoint = GptOssEndpoint(stack, "Endpoint", props=props)
    alarms = EndpointAlarms(stack, "Alarms", endpoint=endpoint)
    with pytest.raises(ValueError, match=r"needs props\.deployment"):
        endpoint.add_rollback_alarm(alarms.invocation_5xx)

"""The shared harness on a tiny stack: known-bad resources are reported, good ones are not,
and a SageMaker model/endpoint config/endpoint is created in moto as configured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from harness import (
    NOT_IN_MOTO,
    REMOVED,
    Finding,
    cfn_lint,
    deploy_to_moto,
    moto_gpu_instance_types,
    moto_template,
    nag_findings,
    new_stack,
    template_of,
)
from moto import mock_aws

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gptoss:latest"


def sagemaker_stack(instance_type: str = "ml.p5.4xlarge", isolation: bool = True) -> cdk.Stack:
    stack = new_stack()
    model = sagemaker.CfnModel(
        stack,
        "Model",
        execution_role_arn=ROLE,
        primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(image=IMAGE),
        enable_network_isolation=isolation,
    )
    config = sagemaker.CfnEndpointConfig(
        stack,
        "Config",
        production_variants=[
            sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name="main",
                model_name=model.attr_model_name,
                instance_type=instance_type,
                initial_instance_count=1,
                routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                    routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                ),
            )
        ],
    )
    sagemaker.CfnEndpoint(stack, "Endpoint", endpoint_config_name=config.attr_endpoint_config_name)
    return stack


# -- nag_findings --------------------------------------------------------------------------


def test_nag_findings_reports_a_bare_bucket_in_every_pack() -> None:
    stack = new_stack()
    s3.Bucket(stack, "Bare")
    findings = nag_findings(stack)
    assert all(isinstance(f, Finding) and f.path == "Test/Bare/Resource" for f in findings)
    rules = {f.rule_id for f in findings}
    assert {"AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled",
            "HIPAA.Security-S3BucketLoggingEnabled"} <= rules  # fmt: skip
    assert {f.pack for f in findings} == {"AwsSolutions", "NIST.800.53.R5", "HIPAA.Security"}
    assert all(f.message and f.severity in ("error", "warning") for f in findings)


def test_nag_findings_includes_our_pack() -> None:
    findings = nag_findings(sagemaker_stack(isolation=False))
    assert [(f.rule_id, f.path, f.pack) for f in findings if f.pack == "GptOss"] == [
        ("GPTOSS-SM1", "Test/Model", "GptOss")
    ]


def test_acknowledged_findings_are_left_out() -> None:
    stack = new_stack()
    bucket = s3.Bucket(stack, "Bare")
    before = {f.rule_id for f in nag_findings(stack)}
    cdk.Validations.of(bucket).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-S1", reason="test: no access logs")
    )
    after = {f.rule_id for f in nag_findings(stack)}
    assert before - after == {"AwsSolutions-S1"}


def test_compliant_resources_have_no_findings_of_ours() -> None:
    findings = nag_findings(sagemaker_stack())
    assert [f for f in findings if f.pack == "GptOss"] == []


# -- cfn_lint ------------------------------------------------------------------------------


def test_cfn_lint_passes_a_valid_template() -> None:
    assert cfn_lint(template_of(sagemaker_stack())) == []


def test_cfn_lint_reports_an_unknown_instance_type() -> None:
    problems = cfn_lint(template_of(sagemaker_stack(instance_type="ml.p5.5xlarge")))
    assert problems
    assert any("ml.p5.5xlarge" in p and p.startswith("E") for p in problems)


def test_cfn_lint_reports_warnings_too() -> None:
    stack = new_stack()
    topic = cdk.CfnResource(stack, "Topic", type="AWS::SNS::Topic")
    queue = cdk.CfnResource(
        stack, "Queue", type="AWS::SQS::Queue", properties={"QueueName": topic.ref}
    )
    queue.add_dependency(topic)  # already implied by the Ref: W3005
    problems = cfn_lint(template_of(stack))
    assert any(p.startswith("W3005") for p in problems)
    assert cfn_lint(template_of(stack), ignore_checks=["W3005"]) == []


def test_cfn_lint_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template_of(sagemaker_stack(instance_type="ml.nope"))))
    assert cfn_lint(path)


# -- deploy_to_moto ------------------------------------------------------------------------


def test_sagemaker_resources_are_created_with_their_properties() -> None:
    resources = deploy_to_moto(template_of(sagemaker_stack()), "Test")
    by_type = {r["Type"]: r for r in resources.values()}
    model = by_type["AWS::SageMaker::Model"]["Description"]
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"]["Image"] == IMAGE
    config = by_type["AWS::SageMaker::EndpointConfig"]["Description"]
    (variant,) = config["ProductionVariants"]
    assert variant["InstanceType"] == "ml.p5.4xlarge"
    assert variant["ModelName"] == model["ModelName"]
    endpoint = by_type["AWS::SageMaker::Endpoint"]["Description"]
    assert endpoint["EndpointConfigName"] == config["EndpointConfigName"]
    assert all(r["Status"] == "CREATE_COMPLETE" for r in resources.values())


def test_moto_refuses_p5_without_the_patch() -> None:
    # Why the harness patches moto: its instance list stops at p3/g4dn.
    variant = {"VariantName": "main", "ModelName": "m", "InstanceType": "ml.p5.4xlarge",
               "InitialInstanceCount": 1}  # fmt: skip
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
        with pytest.raises(client.exceptions.ClientError, match="instanceType"):
            client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])  # type: ignore[list-item]
        with moto_gpu_instance_types():
            client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])  # type: ignore[list-item]
        with pytest.raises(client.exceptions.ClientError, match="instanceType"):
            client.create_endpoint_config(  # the patch is undone on exit
                EndpointConfigName="d",
                ProductionVariants=[variant],  # type: ignore[list-item]
            )


def test_unsupported_and_custom_resources_are_left_out_and_listed() -> None:
    stack = new_stack()
    profile = cdk.CfnResource(
        stack, "Profile", type="AWS::Bedrock::ApplicationInferenceProfile",
        properties={"InferenceProfileName": "p"},
    )  # fmt: skip
    custom = cdk.CfnResource(
        stack, "Custom", type="Custom::Thing", properties={"ServiceToken": "x"}
    )
    cdk.CfnResource(
        stack,
        "Queue",
        type="AWS::SQS::Queue",
        properties={
            "Tags": [
                {"Key": "profile", "Value": profile.get_att("InferenceProfileArn").to_string()},
                {"Key": "custom", "Value": custom.ref},
            ]
        },
    ).add_dependency(custom)
    resources = deploy_to_moto(template_of(stack), "Test")
    statuses = {lid: r["Status"] for lid, r in resources.items()}
    assert statuses == {"Profile": NOT_IN_MOTO, "Custom": REMOVED, "Queue": "CREATE_COMPLETE"}


def test_moto_template_drops_the_bootstrap_check_and_dangling_references() -> None:
    stack = new_stack()
    custom = cdk.CfnResource(
        stack, "Custom", type="Custom::Thing", properties={"ServiceToken": "x"}
    )
    topic = cdk.CfnResource(
        stack, "Topic", type="AWS::SNS::Topic", properties={"DisplayName": custom.ref}
    )
    topic.add_dependency(custom)
    template = template_of(stack)
    assert "BootstrapVersion" in template["Parameters"]
    body, removed = moto_template(template)
    assert "Parameters" not in body
    assert "Rules" not in body
    assert removed == {"Custom": ("Custom::Thing", REMOVED)}
    resource: dict[str, Any] = body["Resources"]["Topic"]
    assert "DependsOn" not in resource
    assert resource["Properties"]["DisplayName"] == "arn:aws:removed-by-harness:::Custom"


def test_state_survives_inside_a_callers_mock() -> None:
    with mock_aws():
        deploy_to_moto(template_of(sagemaker_stack()), "Test")
        client = boto3.client("sagemaker", region_name="us-east-1")
        assert len(client.list_endpoints()["Endpoints"]) == 1

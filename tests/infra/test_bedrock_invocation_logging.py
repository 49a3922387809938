"""InvocationLogging: the custom resource, the encrypted destinations and Bedrock's role."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from harness import cfn_lint, deploy_to_moto, nag_findings, new_stack

from gptoss_infra.constructs.bedrock import InvocationLogging

TEST_BUCKET_ACKS = {
    "NIST.800.53.R5-S3BucketReplicationEnabled": "test bucket: replication is the owner's choice",
    "HIPAA.Security-S3BucketReplicationEnabled": "test bucket: replication is the owner's choice",
}
ACCESS_LOG_BUCKET_ACKS = {
    **TEST_BUCKET_ACKS,
    "NIST.800.53.R5-S3DefaultEncryptionKMS": "S3 server access logs support SSE-S3 only",
    "HIPAA.Security-S3DefaultEncryptionKMS": "S3 server access logs support SSE-S3 only",
}


def acknowledge(scope: s3.Bucket, acks: dict[str, str]) -> None:
    cdk.Validations.of(scope).acknowledge(
        *(cdk.Acknowledgment(id=rule, reason=reason) for rule, reason in acks.items())
    )


def log_bucket(stack: cdk.Stack) -> s3.Bucket:
    """A bucket that passes the packs apart from replication (test-only acknowledgements)."""
    access_logs = s3.Bucket(
        stack,
        "AccessLogs",
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    acknowledge(access_logs, ACCESS_LOG_BUCKET_ACKS)
    bucket = s3.Bucket(
        stack,
        "Logs",
        encryption=s3.BucketEncryption.KMS,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="s3/",
    )
    acknowledge(bucket, TEST_BUCKET_ACKS)
    return bucket


@pytest.fixture(scope="module")
def cloudwatch_stack() -> cdk.Stack:
    stack = new_stack()
    InvocationLogging(stack, "InvocationLogging")
    return stack


@pytest.fixture(scope="module")
def both_stack() -> cdk.Stack:
    # Server access logs through a bucket policy, not the legacy ACL (cfn-lint W3045).
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    stack = cdk.Stack(app, "Test")
    InvocationLogging(stack, "InvocationLogging", bucket=log_bucket(stack))
    return stack


def sdk_call(resource: Mapping[str, Any], phase: str) -> dict[str, Any]:
    """The AwsSdkCall JSON of a Custom::AWS phase; a token becomes the JSON text of its
    intrinsic, e.g. '{"Ref": "Bucket"}'."""
    value = resource["Properties"][phase]
    if isinstance(value, str):
        return dict(json.loads(value))
    text = "".join(part if isinstance(part, str) else json.dumps(json.dumps(part))[1:-1]
                   for part in value["Fn::Join"][1])  # fmt: skip
    return dict(json.loads(text))


def test_custom_resource_puts_on_create_and_update_and_deletes_on_delete(
    cloudwatch_stack: cdk.Stack,
) -> None:
    (resource,) = Template.from_stack(cloudwatch_stack).find_resources("Custom::AWS").values()
    create, update = sdk_call(resource, "Create"), sdk_call(resource, "Update")
    assert create == update
    assert (create["service"], create["action"]) == (
        "bedrock",
        "PutModelInvocationLoggingConfiguration",
    )
    config = create["parameters"]["loggingConfig"]
    assert config["textDataDeliveryEnabled"] is True
    assert config["imageDataDeliveryEnabled"] is False
    assert set(config["cloudWatchConfig"]) == {"logGroupName", "roleArn"}
    assert "s3Config" not in config
    assert sdk_call(resource, "Delete") == {
        "action": "DeleteModelInvocationLoggingConfiguration",
        "service": "bedrock",
    }
    # The Lambda runtime's SDK has the bedrock client: no npm install during deployment.
    assert resource["Properties"]["InstallLatestAwsSdk"] is False


def test_log_group_is_encrypted_and_kept_for_a_year(cloudwatch_stack: cdk.Stack) -> None:
    template = Template.from_stack(cloudwatch_stack)
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "LogGroupName": "/gptoss/Test/bedrock/model-invocations",
                "RetentionInDays": 365,
                "KmsKeyId": {"Fn::GetAtt": [_id(template, "AWS::KMS::Key"), "Arn"]},
            },
            "DeletionPolicy": "Retain",
        },
    )
    (key,) = template.find_resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    (logs_statement,) = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowCloudWatchLogsForBedrockInvocationLogs"
    ]  # fmt: skip
    assert logs_statement["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    }
    arns = logs_statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    assert [a["Fn::Join"][1][-1] for a in arns] == [
        ":log-group:/gptoss/Test/bedrock/model-invocations",
        ":log-group:/gptoss/Test/bedrock/logging-provider",
    ]


def _id(template: Template, resource_type: str, prefix: str = "") -> str:
    (logical_id,) = [k for k in template.find_resources(resource_type) if k.startswith(prefix)]
    return logical_id


def test_bedrock_role_is_limited_to_this_account_and_the_log_stream(
    cloudwatch_stack: cdk.Stack,
) -> None:
    template = Template.from_stack(cloudwatch_stack)
    role = template.find_resources("AWS::IAM::Role")[
        _id(template, "AWS::IAM::Role", "InvocationLoggingLoggingRole")
    ]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert source_arn[2:] == [
        ":bedrock:",
        {"Ref": "AWS::Region"},
        ":",
        {"Ref": "AWS::AccountId"},
        ":*",
    ]
    policy = template.find_resources("AWS::IAM::ManagedPolicy")[
        _id(template, "AWS::IAM::ManagedPolicy", "InvocationLoggingLoggingPolicy")
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"]["Fn::Join"][1][-1].endswith(
        ":log-group:/gptoss/Test/bedrock/model-invocations:log-stream:aws/bedrock/modelinvocations"
    )


def test_provider_may_only_configure_logging_and_pass_the_role(cloudwatch_stack: cdk.Stack) -> None:
    template = Template.from_stack(cloudwatch_stack)
    policy = template.find_resources("AWS::IAM::ManagedPolicy")[
        _id(template, "AWS::IAM::ManagedPolicy", "InvocationLoggingProviderPolicy")
    ]
    sids = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert sids["ConfigureModelInvocationLogging"]["Action"] == [
        "bedrock:PutModelInvocationLoggingConfiguration",
        "bedrock:DeleteModelInvocationLoggingConfiguration",
    ]
    passing = sids["PassLoggingRoleToBedrock"]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}
    }
    # The provider function runs with our role and logs to our encrypted group.
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    role_id = _id(template, "AWS::IAM::Role", "InvocationLoggingProviderRole")
    assert function["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert "DependsOn" not in function  # redundant with the GetAtt (cfn-lint W3005)
    log_group_id = _id(template, "AWS::Logs::LogGroup", "InvocationLoggingProviderLogGroup")
    assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    template.resource_count_is("AWS::IAM::Policy", 0)


def test_bucket_destination_and_large_bodies(both_stack: cdk.Stack) -> None:
    template = Template.from_stack(both_stack)
    (resource,) = template.find_resources("Custom::AWS").values()
    config = sdk_call(resource, "Create")["parameters"]["loggingConfig"]
    bucket_ref = json.dumps({"Ref": _id(template, "AWS::S3::Bucket", "Logs")})
    assert config["s3Config"] == {"bucketName": bucket_ref, "keyPrefix": "bedrock-invocation-logs"}
    assert config["cloudWatchConfig"]["largeDataDeliveryS3Config"] == {
        "bucketName": bucket_ref,
        "keyPrefix": "bedrock-invocation-logs/large-data",
    }
    policies = template.find_resources("AWS::S3::BucketPolicy")
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (bedrock,) = [s for s in statements if s.get("Sid") == "AllowBedrockModelInvocationLogs"]
    assert bedrock["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert bedrock["Action"] == "s3:PutObject"
    logs_path, large_path = bedrock["Resource"]
    assert logs_path["Fn::Join"][1][-3:] == [
        "/bedrock-invocation-logs/AWSLogs/",
        {"Ref": "AWS::AccountId"},
        "/BedrockModelInvocationLogs/*",
    ]
    assert large_path["Fn::Join"][1][-1] == "/bedrock-invocation-logs/large-data/*"
    assert set(bedrock["Condition"]) == {"StringEquals", "ArnLike"}
    keys = template.find_resources("AWS::KMS::Key")
    key_statements = [s for k in keys.values() for s in k["Properties"]["KeyPolicy"]["Statement"]]
    assert any(
        s.get("Sid") == "AllowBedrockModelInvocationLogs" and s["Action"] == "kms:GenerateDataKey"
        for s in key_statements
    )


def test_bucket_only() -> None:
    stack = new_stack()
    InvocationLogging(stack, "InvocationLogging", bucket=log_bucket(stack), log_to_cloudwatch=False)
    template = Template.from_stack(stack)
    (resource,) = template.find_resources("Custom::AWS").values()
    config = sdk_call(resource, "Create")["parameters"]["loggingConfig"]
    assert "cloudWatchConfig" not in config
    assert "s3Config" in config
    assert "PassLoggingRoleToBedrock" not in json.dumps(template.to_json())


def test_invalid_props_are_reported_together() -> None:
    with pytest.raises(ValueError, match="2 problems in InvocationLogging props"):
        InvocationLogging(new_stack(), "L", log_to_cloudwatch=False, text_data=False)


def test_imported_keys_and_buckets_are_refused() -> None:
    # Their policies cannot be extended from here, so delivery would fail at deploy time.
    stack = new_stack()
    key = kms.Key.from_key_arn(stack, "K", "arn:aws:kms:us-east-1:123456789012:key/abc")
    with pytest.raises(ValueError, match="could not let CloudWatch Logs use encryption_key"):
        InvocationLogging(stack, "L", encryption_key=key)
    other = new_stack()
    bucket = s3.Bucket.from_bucket_name(other, "B", "someone-elses-bucket")
    with pytest.raises(ValueError, match="could not add the Bedrock statement"):
        InvocationLogging(other, "L", bucket=bucket)


def test_a_second_configuration_for_the_same_account_and_region_is_refused() -> None:
    app = cdk.App()
    InvocationLogging(cdk.Stack(app, "A"), "Logging")
    with pytest.raises(ValueError, match="per account and Region"):
        InvocationLogging(cdk.Stack(app, "B"), "Logging")
    # Different explicit regions are fine.
    InvocationLogging(
        cdk.Stack(app, "C", env=cdk.Environment(account="123456789012", region="us-west-2")), "L"
    )
    InvocationLogging(
        cdk.Stack(app, "D", env=cdk.Environment(account="123456789012", region="us-east-1")), "L"
    )


@pytest.mark.parametrize("fixture", ["cloudwatch_stack", "both_stack"])
def test_no_nag_findings_and_cfn_lint_clean(fixture: str, request: pytest.FixtureRequest) -> None:
    stack: cdk.Stack = request.getfixturevalue(fixture)
    assert nag_findings(stack) == []
    assert cfn_lint(Template.from_stack(stack).to_json()) == []


def test_destinations_deploy_in_moto(cloudwatch_stack: cdk.Stack) -> None:
    resources = deploy_to_moto(Template.from_stack(cloudwatch_stack).to_json(), "Test")
    groups = [r["Description"] for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert {g["logGroupName"]: g["retentionInDays"] for g in groups} == {
        "/gptoss/Test/bedrock/model-invocations": 365,
        "/gptoss/Test/bedrock/logging-provider": 365,
    }
    # (moto's CloudFormation ignores KmsKeyId; the template test above checks it.)
    roles = {
        r["Description"]["RoleName"]: r for r in resources.values() if r["Type"] == "AWS::IAM::Role"
    }
    assert len(roles) == 2

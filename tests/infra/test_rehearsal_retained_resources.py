"""retained-resources: what stack deletion leaves behind is listed; billable leftovers are
declared on purpose."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from rehearsal_support import assembly, resource, run, stack

from gptoss_infra.rehearsal.intent import METADATA_KEY, declare_retained
from gptoss_infra.rehearsal.rules.retained_resources import RULE, retained


def test_a_retained_bucket_nobody_declared_is_flagged_and_a_declared_one_is_listed() -> None:
    # Finding 1's leftovers: the weights bucket and key stayed behind after a rollback.
    resources = {
        "Bucket": resource("AWS::S3::Bucket", DeletionPolicy="Retain"),
        "Key": resource("AWS::KMS::Key", DeletionPolicy="RetainExceptOnCreate"),
        "Kept": resource(
            "AWS::Logs::LogGroup",
            DeletionPolicy="Retain",
            Metadata={METADATA_KEY: {"reason": "audit", "delete": "aws logs delete-log-group"}},
        ),
        "Topic": resource("AWS::SNS::Topic", DeletionPolicy="Retain"),
        "Gone": resource("AWS::S3::Bucket", DeletionPolicy="Delete"),
    }
    target = assembly("dev", stack("S", resources))
    assert sorted(f.resource for f in run(RULE, target)) == ["Bucket", "Key"]
    assert sorted(r.logical_id for r in retained(target)) == ["Bucket", "Kept", "Key", "Topic"]


def test_declare_retained_marks_each_retained_resource_with_its_delete_command() -> None:
    app = cdk.App()
    scope = cdk.Stack(app, "S")
    kms.Key(scope, "Key", removal_policy=cdk.RemovalPolicy.RETAIN)
    sns.Topic(scope, "Topic")
    assert declare_retained(scope, reason="kept for the test") == 1
    template = app.synth().get_stack_by_name("S").template
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert key["Metadata"][METADATA_KEY]["reason"] == "kept for the test"
    assert "schedule-key-deletion" in key["Metadata"][METADATA_KEY]["delete"]

"""What `make destroy` leaves behind: retained resources found in the assembly, their
physical ids asked from CloudFormation (moto) before the stacks go, and delete commands.

Encodes the CloudFormation user guide, DeletionPolicy attribute: with ``Retain``
"CloudFormation keeps the resource without deleting the resource or its contents when its
stack is deleted"; without a DeletionPolicy the resource is deleted with the stack. And the
S3 user guide: a bucket must be empty, every object version and delete marker included,
before DeleteBucket succeeds.
"""

from __future__ import annotations

import boto3
import pytest
from conftest import Synthesized
from harness import deploy_to_moto
from moto import mock_aws

from gptoss_infra.teardown import (
    StackTemplate,
    empty_bucket,
    environment_stacks,
    leftovers,
    read_templates,
    render,
)

TEMPLATE = {
    "Resources": {
        "Kept": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
        "Gone": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Delete"},
        "Default": {"Type": "AWS::S3::Bucket"},
    }
}


def cloudformation(region: str) -> object:
    return boto3.client("cloudformation", region_name=region)


def test_retained_resources_are_listed_with_their_name_and_a_delete_command() -> None:
    with mock_aws():
        created = deploy_to_moto(TEMPLATE, "Demo", region="us-east-1")
        bucket = created["Kept"]["PhysicalResourceId"]
        stacks = [StackTemplate("Demo", "us-east-1", TEMPLATE["Resources"])]
        (item,) = leftovers(stacks, cloudformation)
    assert (item.logical_id, item.physical_id, item.why) == (
        "Kept",
        bucket,
        "DeletionPolicy Retain",
    )
    assert f"empty-bucket {bucket} --region us-east-1" in item.command
    assert f"aws s3api delete-bucket --bucket {bucket}" in item.command


def test_a_stack_that_was_never_deployed_has_nothing_to_delete() -> None:
    with mock_aws():
        (item,) = leftovers(
            [StackTemplate("Absent", "us-east-1", TEMPLATE["Resources"])], cloudformation
        )
    assert item.physical_id is None
    assert "nothing to delete" in item.command


def test_empty_bucket_removes_every_version_so_the_bucket_can_be_deleted() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="weights")
        s3.put_bucket_versioning(Bucket="weights", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="weights", Key="a", Body=b"1")
        s3.put_object(Bucket="weights", Key="a", Body=b"2")
        s3.delete_object(Bucket="weights", Key="a")  # a delete marker
        with pytest.raises(s3.exceptions.ClientError, match="BucketNotEmpty"):
            s3.delete_bucket(Bucket="weights")
        assert empty_bucket(s3, "weights") == 3
        s3.delete_bucket(Bucket="weights")


def test_by_default_the_weights_stack_retains_nothing(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["gpt-oss-120b-p5-4xlarge"]
    templates = read_templates(synth.outdir)
    weights = [t for t in templates if t.name == synth.names.weights_stack]
    with mock_aws():
        assert leftovers(weights, cloudformation) == []
        # Whatever else an environment keeps was declared on purpose, and says why.
        for item in leftovers(templates, cloudformation):
            assert item.why.startswith("kept on purpose: "), item
    # The image build may create the account's pull-through cache rule: always named.
    assert "delete-pull-through-cache-rule" in render([], templates)


def test_keeping_the_weights_lists_bucket_logs_and_key(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["byo-image"]  # keep_weights_on_destroy, no mirror job
    templates = [t for t in read_templates(synth.outdir) if t.name == synth.names.weights_stack]
    with mock_aws():
        kept = leftovers(templates, cloudformation)
    assert sorted(item.resource_type for item in kept) == [
        "AWS::KMS::Key",
        "AWS::S3::Bucket",  # the access logs
        "AWS::S3::Bucket",  # the weights
    ]


def test_destroy_names_the_environment_stacks_never_the_shared_account_stack(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["prod"]
    templates = read_templates(synth.outdir)
    names = environment_stacks(templates, endpoint_only=False)
    assert synth.names.account_stack not in names
    assert {synth.names.weights_stack, synth.names.sagemaker_stack} <= set(names)
    assert environment_stacks(templates, endpoint_only=True) == [synth.names.sagemaker_stack]

"""Declaring, next to the code, that a resource is kept on stack deletion on purpose.

The retained-resources rule lists every resource whose DeletionPolicy keeps it, and flags
the billable ones that carry no declaration. A declaration is CloudFormation resource
metadata (``gptoss:retained``: why it is kept and the command that deletes it), so it is in
the template the rule and ``make destroy``'s listing read.
"""

from __future__ import annotations

from aws_cdk import CfnDeletionPolicy, CfnResource
from constructs import IConstruct

METADATA_KEY = "gptoss:retained"


def retain_on_purpose(scope: IConstruct, *, reason: str, delete_with: str) -> None:
    """Mark ``scope``'s CloudFormation resource (or ``scope`` itself) as kept on purpose.

    :param reason: why deleting the stack must not delete it.
    :param delete_with: the command (or console step) that deletes it when it is no
        longer wanted.
    """
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource to mark")
    resource.add_metadata(METADATA_KEY, {"reason": reason, "delete": delete_with})


# How to delete what a stack deletion left behind; <id> is the physical id that
# `aws cloudformation describe-stack-resources` lists for the logical id.
DELETE_COMMANDS: dict[str, str] = {
    "AWS::KMS::Key": "aws kms schedule-key-deletion --key-id <id> --pending-window-in-days 7",
    "AWS::Logs::LogGroup": "aws logs delete-log-group --log-group-name <id>",
    "AWS::DynamoDB::Table": "aws dynamodb delete-table --table-name <id>",
    "AWS::S3::Bucket": "empty every object version, then aws s3api delete-bucket --bucket <id>",
}


def declare_retained(scope: IConstruct, *, reason: str) -> int:
    """Mark every retained resource under ``scope`` as kept on purpose, each with its
    type's delete command; returns how many were marked."""
    marked = 0
    for child in scope.node.find_all():
        if not isinstance(child, CfnResource):
            continue
        if child.cfn_options.deletion_policy not in (
            CfnDeletionPolicy.RETAIN,
            CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE,
        ):
            continue
        command = DELETE_COMMANDS.get(child.cfn_resource_type, "delete it in the console")
        retain_on_purpose(child, reason=reason, delete_with=command)
        marked += 1
    return marked

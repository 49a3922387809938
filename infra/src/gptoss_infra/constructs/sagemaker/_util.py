"""Helpers of the SageMaker constructs: SageMaker names, log-group encryption."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Names, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from gptoss_facts.names import SAGEMAKER_NAME_MAX, sagemaker_name_problem

from .._common import PropErrors


def check_sagemaker_name(problems: PropErrors, field: str, value: str | None) -> None:
    """Add the problem of a literal SageMaker name (the rule: ``gptoss_facts.names``)."""
    if value is None or Token.is_unresolved(value):
        return
    problem = sagemaker_name_problem(field, value)
    if problem is not None:
        problems.add(problem)


def unique_sagemaker_name(scope: IConstruct, suffix: str = "") -> str:
    """A deterministic name from the construct path that fits SageMaker's 63 characters.

    Literal names (not CloudFormation tokens) let alarms, scaling targets and the
    inference component refer to the endpoint without a dependency cycle.
    """
    room = SAGEMAKER_NAME_MAX - len(suffix)
    base = Names.unique_resource_name(scope, max_length=room, separator="-")
    base = re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-") or "gptoss"
    base = re.sub(r"-{2,}", "-", base)
    return f"{base[:room].rstrip('-')}{suffix}"


def allow_log_encryption(key: kms.IKey, log_group_names: Sequence[str]) -> None:
    """Let CloudWatch Logs use `key` for the named log groups of this account and region.

    Logs encrypts with the key itself, so the key policy (not a role) must allow the
    regional logs principal; the ``kms:EncryptionContext:aws:logs:arn`` condition limits it
    to our own groups (CloudWatch Logs user guide, encrypt-log-data-kms.html: "you can
    restrict the key to a specific log group by adding the encryption context condition").
    Names are literal (a token would make the key depend on a group that depends on the
    key) and may end in ``*``: a group CloudFormation names is ``<stack name>-<id>-<suffix>``,
    so ``f"{stack.stack_name}-*"`` covers exactly this stack's unnamed groups. An imported
    key ignores this: its policy must already allow it.
    """
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:DescribeKey",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": [
                        stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=name,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                        for name in log_group_names
                    ]
                }
            },
        )
    )

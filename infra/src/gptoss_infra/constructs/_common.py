"""Helpers shared by every construct here: prop validation, nag acknowledgements, tags.

Validation follows aws-sagemaker-alpha and the SageMaker constructs here: every invalid prop
is collected and one ``ValueError`` lists them all, so a user fixes a configuration in one
synth instead of one synth per mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from aws_cdk import Acknowledgment, Token, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from gptoss_facts.problems import Problems

# Tag rules from the AWS tagging guide ("Tag naming limits and requirements"): keys 1-128
# and values 0-256 Unicode characters of letters, digits, spaces and _ . : / = + - @; the
# "aws:" prefix is reserved for AWS.
_TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256

# AWS Region names: us-east-1, eu-west-3, us-gov-west-1, ... (a typo such as "us-east1" is
# a configuration error, caught here rather than as an AccessDenied at run time).
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")


class PropErrors(Problems):
    """Every invalid prop of one construct; ``raise_if_any`` raises one ``ValueError`` that
    lists them all (``"2 problems in <what>:"``, one ``  - message`` line each)."""


def is_literal(value: object) -> bool:
    """True when ``value`` is known at synth time (not a CloudFormation token)."""
    return not Token.is_unresolved(value)


def check_tags(errors: PropErrors, field: str, tags: Mapping[str, str]) -> None:
    """AWS tag limits on every literal key and value."""
    for key, value in tags.items():
        if not is_literal(key) or not is_literal(value):
            continue
        if not 1 <= len(key) <= TAG_KEY_MAX or not _TAG_TEXT.match(key):
            errors.add(
                f"{field}: tag key {key!r} must be 1-{TAG_KEY_MAX} letters, digits, spaces "
                "or _ . : / = + - @"
            )
        elif key.lower().startswith("aws:"):
            errors.add(f"{field}: tag key {key!r} uses the reserved 'aws:' prefix")
        if len(value) > TAG_VALUE_MAX or not _TAG_TEXT.match(value):
            errors.add(
                f"{field}: tag value {value!r} of {key!r} must be at most {TAG_VALUE_MAX} "
                "letters, digits, spaces or _ . : / = + - @"
            )


def check_region(errors: PropErrors, field: str, region: str) -> None:
    if is_literal(region) and not REGION.match(region):
        errors.add(f"{field}: {region!r} is not an AWS Region name (for example 'us-west-2')")


def acknowledge(scope: IConstruct, findings: Iterable[tuple[str, str]]) -> None:
    """Acknowledge cdk-nag findings on ``scope`` and its children, each with its reason.

    cdk-nag 3.x reads CDK's native acknowledgements (``Validations.of(...).acknowledge``,
    aws-cdk-lib >= 2.262); each finding, with its ``[Action::...]`` or ``[Resource::...]``
    part, is acknowledged on its own (cdk-nag 3 has no prefix matching).
    """
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=rule, reason=reason) for rule, reason in findings)
    )


def attach_managed_policy(
    grantee: iam.IGrantable, policy: iam.IManagedPolicy
) -> iam.IManagedPolicy:
    """Attach ``policy`` to the role, user or group behind ``grantee`` and return it.

    Our grant methods attach customer managed policies instead of CDK's inline statements:
    the NIST 800-53 R5 and HIPAA packs flag inline policies (IAMNoInlinePolicy).
    """
    principal = grantee.grant_principal
    attach = getattr(principal, "add_managed_policy", None)
    if attach is None:
        raise ValueError(
            "the grantee's principal must be an IAM role, user or group "
            f"(got {type(principal).__name__}); attach the policy yourself instead"
        )
    attach(policy)
    return policy

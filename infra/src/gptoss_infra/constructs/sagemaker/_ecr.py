"""Amazon ECR facts the image construct needs: what an image URI looks like, the ARN of its
repository, and the grants for pulling through a pull-through cache rule."""

from __future__ import annotations

import re

from aws_cdk import Arn, ArnComponents, ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

# <registry-account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>(:<tag>|@sha256:<digest>)
# (ECR user guide, registries.html and docker-pull-ecr-image.html).
ECR_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)"
    r"\.amazonaws\.com(?:\.cn)?/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))$"
)
# What pulling an image takes on its repository (ECR user guide, repository policies).
PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
]


def parse_ecr_uri(uri: str) -> re.Match[str] | None:
    """The account, region, repository and tag or digest of an ECR image URI; None if not one."""
    return ECR_IMAGE_URI.match(uri)


def repository_arn(scope: Construct, match: re.Match[str]) -> str:
    return Arn.format(
        ArnComponents(
            service="ecr",
            region=match["region"],
            account=match["account"],
            resource="repository",
            resource_name=match["repository"],
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        ),
        Stack.of(scope),
    )


def pull_through_statements(
    stack: Stack, prefix: str, dockerhub_secret_name: str
) -> list[iam.PolicyStatement]:
    """What the build needs to create the pull-through cache rule and pull through it."""
    cache_repos = stack.format_arn(
        service="ecr",
        resource="repository",
        resource_name=f"{prefix}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
    registry = stack.format_arn(service="ecr", resource="registry", resource_name=None)
    return [
        # ECR user guide, pull-through-cache-iam: CreatePullThroughCacheRule (identity
        # policy), BatchImportUpstreamImage and CreateRepository for the cached images.
        iam.PolicyStatement(
            actions=["ecr:BatchImportUpstreamImage", "ecr:CreateRepository", *PULL_ACTIONS],
            resources=[cache_repos],
        ),
        iam.PolicyStatement(
            actions=["ecr:DescribePullThroughCacheRules", "ecr:CreatePullThroughCacheRule"],
            resources=[registry.replace(":registry", ":registry/*")],
        ),
        # Creating the first rule makes ECR create its service-linked role
        # AWSServiceRoleForECRPullThroughCache, which reads the secret (ECR user guide,
        # slr-pullthroughcache: GetSecretValue on ecr-pullthroughcache/* only).
        iam.PolicyStatement(
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name="aws-service-role/pullthroughcache.ecr.amazonaws.com/"
                    "AWSServiceRoleForECRPullThroughCache",
                )
            ],
            conditions={
                "StringEquals": {"iam:AWSServiceName": "pullthroughcache.ecr.amazonaws.com"}
            },
        ),
        iam.PolicyStatement(
            actions=["secretsmanager:DescribeSecret"],
            resources=[
                stack.format_arn(
                    service="secretsmanager",
                    resource="secret",
                    resource_name=f"{dockerhub_secret_name}-??????",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        ),
    ]

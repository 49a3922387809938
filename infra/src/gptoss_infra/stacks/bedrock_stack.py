"""GptOssBedrockStack: invoke policy, a tagged inference profile per team and an optional
enforced guardrail. Invocation logging is account-wide: see ``account_stack``."""

from __future__ import annotations

from constructs import Construct

from gptoss_deploy.config import DeploymentConfig
from gptoss_infra.constructs.bedrock.access import BedrockAccess
from gptoss_infra.constructs.bedrock.guardrail import GptOssGuardrail
from gptoss_infra.constructs.bedrock.inference_profiles import TeamProfile
from gptoss_infra.constructs.bedrock.mantle import mantle_base_url
from gptoss_infra.stacks.common import GptOssStack


class GptOssBedrockStack(GptOssStack):
    """Bedrock access to gpt-oss for this environment's region.

    Outputs (exports ``<project>-<env>:...``): ``InvokePolicyArn`` (attach it to callers),
    ``ProfileArn-<team>`` per team (pass it as ``modelId`` so calls carry the team's
    tags), ``GuardrailArn`` when a guardrail is enforced, and with ``bedrock.mantle``
    ``MantleBaseUrl`` and ``MantleProjectId-<team>`` per team (the OpenAI client's
    ``base_url`` and ``project``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            component="bedrock",
            description=f"gpt-oss {config.environment}: Bedrock access and team profiles",
        )
        bedrock = config.bedrock
        if bedrock is None:
            raise ValueError("GptOssBedrockStack needs config.bedrock")
        # The table's ids unless the environment overrides one (bedrock.model_ids): the
        # safeguard ids come from third-party sources only (gptoss_facts.models).
        model_ids = [bedrock.model_id(name) for name in bedrock.models]
        self.guardrail = GptOssGuardrail(self, "Guardrail") if bedrock.guardrail else None
        self.access = BedrockAccess(
            self,
            "Access",
            models=model_ids,
            teams=[
                TeamProfile(name=team, model=bedrock.model_id(model))
                for team, model in bedrock.teams.items()
            ],
            guardrail=self.guardrail,
            # With teams, the models are reachable only through their profiles (the
            # bedrock:InferenceProfileArn condition), so all spend carries team tags;
            # direct invocation is an explicit opt-in.
            require_inference_profile=bool(bedrock.teams) and not bedrock.allow_direct_invocation,
            # The same "<project>-<env>-<team>-<model>" the validation checked for length.
            profile_name_prefix=config.names.prefix,
            mantle=bedrock.mantle,
        )
        # Read by the synth summary and the rehearsal (profile-bypass): the opt-in is
        # visible in the template itself.
        self.add_facts(direct_invocation=not self.access.require_inference_profile)

        self.output(
            "InvokePolicyArn",
            self.access.policy.managed_policy_arn,
            "InvokePolicyArn",
            "managed policy that invokes the gpt-oss models (attach it to callers)",
        )
        for team, arn in self.access.profile_arns.items():
            self.output(
                f"ProfileArn{''.join(part.capitalize() for part in team.split('-'))}",
                arn,
                f"ProfileArn-{team}",
                f"application inference profile of team {team} (pass it as modelId)",
            )
        if self.access.mantle_projects:
            self.output(
                "MantleBaseUrl",
                mantle_base_url(config.region),
                "MantleBaseUrl",
                "OpenAI-compatible base URL of Bedrock Mantle (Responses, Chat Completions)",
            )
        for team, project in self.access.mantle_projects.items():
            self.output(
                f"MantleProjectId{''.join(part.capitalize() for part in team.split('-'))}",
                project.project_id,
                f"MantleProjectId-{team}",
                f"Bedrock Mantle project of team {team} (pass it as the OpenAI client's project)",
            )
        if self.guardrail is not None:
            self.output(
                "GuardrailArn",
                self.guardrail.as_ref().arn,
                "GuardrailArn",
                "guardrail every invocation must name (bedrock:GuardrailIdentifier)",
            )

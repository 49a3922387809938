"""GptOssBedrockStack: invoke policy, a tagged inference profile per team and an optional
enforced guardrail. Invocation logging is account-wide: see ``account_stack``."""

from __future__ import annotations

from constructs import Construct

from gptoss_deploy.config import DeploymentConfig
from gptoss_facts.models import get_model
from gptoss_infra.constructs.bedrock.access import BedrockAccess
from gptoss_infra.constructs.bedrock.guardrail import GptOssGuardrail
from gptoss_infra.constructs.bedrock.inference_profiles import TeamProfile
from gptoss_infra.stacks.common import GptOssStack


class GptOssBedrockStack(GptOssStack):
    """Bedrock access to gpt-oss for this environment's region.

    Outputs (exports ``<project>-<env>:...``): ``InvokePolicyArn`` (attach it to callers),
    ``ProfileArn-<team>`` per team (pass it as ``modelId`` so calls carry the team's
    tags), and ``GuardrailArn`` when a guardrail is enforced.
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
        model_ids = [get_model(name).bedrock_model_id for name in bedrock.models]
        self.guardrail = GptOssGuardrail(self, "Guardrail") if bedrock.guardrail else None
        self.access = BedrockAccess(
            self,
            "Access",
            models=model_ids,
            teams=[
                TeamProfile(name=team, model=get_model(model).bedrock_model_id)
                for team, model in bedrock.teams.items()
            ],
            guardrail=self.guardrail,
            # With teams, the models are reachable only through their profiles (the
            # bedrock:InferenceProfileArn condition), so all spend carries team tags;
            # direct invocation is an explicit opt-in.
            require_inference_profile=bool(bedrock.teams) and not bedrock.allow_direct_invocation,
            # The same "<project>-<env>-<team>-<model>" the validation checked for length.
            profile_name_prefix=config.names.prefix,
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
        if self.guardrail is not None:
            self.output(
                "GuardrailArn",
                self.guardrail.as_ref().arn,
                "GuardrailArn",
                "guardrail every invocation must name (bedrock:GuardrailIdentifier)",
            )

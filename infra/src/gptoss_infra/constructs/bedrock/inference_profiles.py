"""Application inference profiles: one per team, carrying the team's cost-allocation tags.

An application inference profile (CreateInferenceProfile with ``modelSource.copyFrom`` a
foundation-model ARN) is a model id of its own: callers pass its ARN as ``modelId``, Bedrock
bills the copied model's on-demand price, and the profile's tags reach Cost Explorer and the
Cost and Usage Report once the tag keys are activated as cost-allocation tags (Billing
console, "Cost allocation tags"; activation takes up to 24 hours and is not retroactive).
Bedrock user guide: "Set up a model invocation resource using inference profiles"
(inference-profiles-create) and "Prerequisites for inference profiles".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, CfnTag, Stack
from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

from .._common import PropErrors, check_tags, is_literal

# The tag every profile carries, so Cost Explorer can group Bedrock spend by team.
TEAM_TAG_KEY = "gptoss:team"
MODEL_TAG_KEY = "gptoss:model"

# AWS::Bedrock::ApplicationInferenceProfile InferenceProfileName: 1-64 characters matching
# ^([0-9a-zA-Z][ _-]?)+$ (CloudFormation resource schema). Team names use the same
# alphabet without spaces so a profile name built from them always passes.
PROFILE_NAME = re.compile(r"^([0-9a-zA-Z][ _-]?)+$")
PROFILE_NAME_MAX = 64
TEAM_NAME = re.compile(r"^[0-9a-zA-Z]([_-]?[0-9a-zA-Z])*$")
MODEL_ID = re.compile(r"^[a-z0-9-]+\.[a-zA-Z0-9.\-]+(:\d+)?$")


def foundation_model_arn(scope: Construct, model_id: str, region: str | None = None) -> str:
    """``arn:PARTITION:bedrock:REGION::foundation-model/MODEL`` (no account: AWS owns it)."""
    return Stack.of(scope).format_arn(
        service="bedrock",
        account="",
        region=region,
        resource="foundation-model",
        resource_name=model_id,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def model_short_name(model_id: str) -> str:
    """``openai.gpt-oss-120b-1:0`` -> ``gpt-oss-120b`` (for names and tags)."""
    name = model_id.split(".", 1)[-1]
    name = re.sub(r"-\d+:\d+$", "", name)
    return re.sub(r"[^0-9a-zA-Z-]", "-", name).strip("-")


def check_profile_name(errors: PropErrors, name: str) -> None:
    if is_literal(name):
        errors.check(
            len(name) <= PROFILE_NAME_MAX and bool(PROFILE_NAME.match(name)),
            f"profile name {name!r} must be 1-{PROFILE_NAME_MAX} letters, digits and single "
            "' ', '-' or '_' separators; pass a shorter profile_name_prefix or team name",
        )


@dataclass(frozen=True)
class TeamProfile:
    """A team that gets its own application inference profile.

    :param name: the team, used in the profile name and as the ``gptoss:team`` tag value;
        letters and digits with single ``-`` or ``_`` between them.
    :param tags: extra cost-allocation tags on the profile (for example a cost center).
        Default: none besides ``gptoss:team`` and ``gptoss:model``.
    :param model: the foundation model the profile copies.
        Default: the first model of ``BedrockAccess`` (gpt-oss-120b unless changed).
    """

    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None

    def validate(self, errors: PropErrors, field_name: str) -> None:
        errors.check(
            bool(TEAM_NAME.match(self.name)) and len(self.name) <= 40,
            f"{field_name}.name {self.name!r} must be 1-40 letters or digits with single "
            "'-' or '_' between them (it becomes part of the profile name)",
        )
        reserved = {TEAM_TAG_KEY, MODEL_TAG_KEY} & set(self.tags)
        errors.check(
            not reserved,
            f"{field_name}.tags must not set {sorted(reserved)}: the profile sets them itself",
        )
        check_tags(errors, f"{field_name}.tags", self.tags)


class TeamInferenceProfile(Construct):
    """One ``AWS::Bedrock::ApplicationInferenceProfile`` copying a foundation model.

    :param team: the team and its tags.
    :param model_id: the foundation model to copy, in this stack's region.
    :param profile_name: the profile name. Default: ``"<name_prefix>-<team>-<model>"``
        with ``name_prefix`` the stack name (profile names are unique per account and
        region, so two stacks with the same teams do not collide).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        team: TeamProfile,
        model_id: str,
        profile_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = profile_name or f"{stack.stack_name}-{team.name}-{model_short_name(model_id)}"
        errors = PropErrors(f"TeamInferenceProfile {team.name!r}")
        team.validate(errors, "team")
        check_profile_name(errors, name)
        errors.raise_if_any()

        self.team = team.name
        self.model_id = model_id
        self.model_arn = foundation_model_arn(self, model_id)
        tags = {TEAM_TAG_KEY: team.name, MODEL_TAG_KEY: model_short_name(model_id), **team.tags}
        self.resource = bedrock.CfnApplicationInferenceProfile(
            self,
            "Resource",
            inference_profile_name=name,
            description=f"gpt-oss for team {team.name}",
            model_source=bedrock.CfnApplicationInferenceProfile.InferenceProfileModelSourceProperty(
                copy_from=self.model_arn
            ),
            tags=[CfnTag(key=k, value=v) for k, v in sorted(tags.items())],
        )
        self.profile_arn: str = self.resource.attr_inference_profile_arn
        self.profile_id: str = self.resource.attr_inference_profile_id

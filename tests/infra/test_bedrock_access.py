"""BedrockAccess: the invoke policy, team inference profiles and grants."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from harness import cfn_lint, nag_findings, new_stack

from gptoss_infra.constructs.bedrock import (
    GPT_OSS_20B,
    GPT_OSS_120B,
    INVOKE_ACTIONS,
    BedrockAccess,
    TeamProfile,
)


def fm_arn(model: str, region: str | None = None) -> dict[str, Any]:
    """What CDK renders for the foundation-model ARN (partition and, unless given, region
    are tokens: the stacks are environment-agnostic)."""
    if region is None:
        parts: list[Any] = ["arn:", {"Ref": "AWS::Partition"}, ":bedrock:", {"Ref": "AWS::Region"},
                            f"::foundation-model/{model}"]  # fmt: skip
    else:
        parts = ["arn:", {"Ref": "AWS::Partition"}, f":bedrock:{region}::foundation-model/{model}"]
    return {"Fn::Join": ["", parts]}


def statements(template: Template, logical_prefix: str) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    (doc,) = [p for lid, p in policies.items() if lid.startswith(logical_prefix)]
    return list(doc["Properties"]["PolicyDocument"]["Statement"])


def by_sid(statement_list: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statement_list}


@pytest.fixture(scope="module")
def teams_stack() -> cdk.Stack:
    stack = new_stack()
    access = BedrockAccess(
        stack,
        "Access",
        teams=[
            TeamProfile("research", {"cost-center": "42"}),
            TeamProfile("ml_ops", model=GPT_OSS_20B),
        ],
    )
    role = iam.Role(stack, "App", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    access.grant_invoke(role)
    team_role = iam.Role(stack, "Research", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    access.grant_invoke(team_role, team="research")
    return stack


@pytest.fixture(scope="module")
def teams_template(teams_stack: cdk.Stack) -> Template:
    return Template.from_stack(teams_stack)


def test_policy_invokes_the_gpt_oss_foundation_models_by_exact_arn(
    teams_template: Template,
) -> None:
    direct = by_sid(statements(teams_template, "AccessInvokePolicy"))[
        "InvokeGptOssFoundationModels"
    ]
    assert direct["Effect"] == "Allow"
    assert direct["Action"] == list(INVOKE_ACTIONS)
    assert direct["Resource"] == [fm_arn(GPT_OSS_120B), fm_arn(GPT_OSS_20B)]
    assert "Condition" not in direct


def test_no_statement_has_a_wildcard_or_a_converse_action(teams_template: Template) -> None:
    policies = teams_template.find_resources("AWS::IAM::ManagedPolicy")
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert "*" not in json.dumps(statement)
            # bedrock:Converse is not an IAM action: InvokeModel authorises Converse.
            assert set(statement["Action"]) <= set(INVOKE_ACTIONS)


def test_one_tagged_profile_per_team_copying_its_model(teams_template: Template) -> None:
    teams_template.resource_count_is("AWS::Bedrock::ApplicationInferenceProfile", 2)
    teams_template.has_resource_properties(
        "AWS::Bedrock::ApplicationInferenceProfile",
        {
            "InferenceProfileName": "Test-research-gpt-oss-120b",
            "ModelSource": {"CopyFrom": fm_arn(GPT_OSS_120B)},
            "Tags": [
                {"Key": "cost-center", "Value": "42"},
                {"Key": "gptoss:model", "Value": "gpt-oss-120b"},
                {"Key": "gptoss:team", "Value": "research"},
            ],
        },
    )
    teams_template.has_resource_properties(
        "AWS::Bedrock::ApplicationInferenceProfile",
        {
            "InferenceProfileName": "Test-ml_ops-gpt-oss-20b",
            "ModelSource": {"CopyFrom": fm_arn(GPT_OSS_20B)},
        },
    )


def test_profile_arns_are_the_profiles_arn_attribute(teams_stack: cdk.Stack) -> None:
    access = teams_stack.node.find_child("Access")
    assert isinstance(access, BedrockAccess)
    assert sorted(access.profile_arns) == ["ml_ops", "research"]
    logical_id, attribute = teams_stack.resolve(access.profile_arns["research"])["Fn::GetAtt"]
    assert logical_id.startswith("AccessProfileResearch")
    assert attribute == "InferenceProfileArn"


def test_policy_allows_the_models_through_the_profiles_only_with_the_profile_condition(
    teams_template: Template,
) -> None:
    sids = by_sid(statements(teams_template, "AccessInvokePolicy"))
    through = sids["InvokeGptOssThroughTeamProfiles"]
    arns = through["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]
    assert [a["Fn::GetAtt"][1] for a in arns] == ["InferenceProfileArn"] * 2
    profiles = sids["InvokeTeamInferenceProfiles"]
    assert [r["Fn::GetAtt"][1] for r in profiles["Resource"]] == ["InferenceProfileArn"] * 2


def test_grant_invoke_attaches_the_managed_policy(teams_template: Template) -> None:
    roles = teams_template.find_resources("AWS::IAM::Role")
    (app,) = [r for lid, r in roles.items() if lid.startswith("App")]
    refs = [ref["Ref"] for ref in app["Properties"]["ManagedPolicyArns"]]
    (ref,) = refs
    assert ref.startswith("AccessInvokePolicy")
    teams_template.resource_count_is("AWS::IAM::Policy", 0)  # nothing inline


def test_team_grant_reaches_only_the_teams_profile(teams_template: Template) -> None:
    team = by_sid(statements(teams_template, "AccessTeamPolicyResearch"))
    assert set(team) == {"InvokeGptOssThroughTeamProfiles", "InvokeTeamInferenceProfiles"}
    through = team["InvokeGptOssThroughTeamProfiles"]
    assert through["Resource"] == fm_arn(GPT_OSS_120B)
    (profile_arn,) = through["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]
    assert profile_arn["Fn::GetAtt"][0].startswith("AccessProfileResearch")
    assert team["InvokeTeamInferenceProfiles"]["Resource"] == profile_arn
    roles = teams_template.find_resources("AWS::IAM::Role")
    (research,) = [r for lid, r in roles.items() if lid.startswith("Research")]
    (ref,) = research["Properties"]["ManagedPolicyArns"]
    assert ref["Ref"].startswith("AccessTeamPolicyResearch")


def test_require_inference_profile_drops_direct_model_access() -> None:
    stack = new_stack()
    BedrockAccess(stack, "Access", teams=[TeamProfile("a")], require_inference_profile=True)
    sids = by_sid(statements(Template.from_stack(stack), "AccessInvokePolicy"))
    assert set(sids) == {"InvokeGptOssThroughTeamProfiles", "InvokeTeamInferenceProfiles"}


def test_regions_choose_where_direct_invocation_is_allowed() -> None:
    stack = new_stack()
    BedrockAccess(stack, "Access", models=[GPT_OSS_120B], regions=["us-west-2", "us-east-1"])
    direct = by_sid(statements(Template.from_stack(stack), "AccessInvokePolicy"))
    assert direct["InvokeGptOssFoundationModels"]["Resource"] == [
        fm_arn(GPT_OSS_120B, "us-west-2"),
        fm_arn(GPT_OSS_120B, "us-east-1"),
    ]


def test_every_problem_is_reported_together() -> None:
    with pytest.raises(ValueError, match="problems in BedrockAccess props") as error:
        BedrockAccess(
            new_stack(),
            "Access",
            models=["gpt-oss", GPT_OSS_120B, GPT_OSS_120B],
            regions=["us-east1"],
            teams=[
                TeamProfile("a b"),
                TeamProfile("dup"),
                TeamProfile("dup", {"gptoss:team": "x", "aws:cost": "y"}),
                TeamProfile("other", model=GPT_OSS_20B),
            ],
        )
    message = str(error.value)
    for expected in (
        "'gpt-oss' is not a Bedrock model id",
        "models has duplicates",
        "'us-east1' is not an AWS Region name",
        "teams[0].name 'a b'",
        "duplicate team names ['dup']",
        "must not set ['gptoss:team']",
        "reserved 'aws:' prefix",
        "teams[3].model 'openai.gpt-oss-20b-1:0' is not one of models",
    ):
        assert expected in message, expected


def test_team_names_must_give_distinct_construct_ids() -> None:
    with pytest.raises(ValueError, match=r"\['ml_ops', 'ml-ops'\] differ only in case"):
        BedrockAccess(new_stack(), "Access", teams=[TeamProfile("ml_ops"), TeamProfile("ml-ops")])


def test_profile_names_must_fit_bedrocks_limit() -> None:
    with pytest.raises(ValueError, match="profile name 'Long-") as error:
        BedrockAccess(
            new_stack(), "Access", profile_name_prefix="Long-" + "x" * 50, teams=[TeamProfile("a")]
        )
    assert "shorter profile_name_prefix" in str(error.value)


def test_require_inference_profile_needs_a_team() -> None:
    with pytest.raises(ValueError, match="needs at least one team"):
        BedrockAccess(new_stack(), "Access", require_inference_profile=True)


def test_grant_invoke_refuses_a_principal_without_managed_policies() -> None:
    stack = new_stack()
    access = BedrockAccess(stack, "Access", teams=[TeamProfile("a")])
    with pytest.raises(ValueError, match="role, user or group"):
        access.grant_invoke(iam.AccountRootPrincipal())
    with pytest.raises(ValueError, match="unknown team 'b'"):
        access.grant_invoke(iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()), team="b")


def test_metrics_are_bedrock_runtime_metrics_per_model() -> None:
    access = BedrockAccess(new_stack(), "Access")
    metric = access.metric_output_token_count(GPT_OSS_20B)
    assert (metric.namespace, metric.metric_name) == ("AWS/Bedrock", "OutputTokenCount")
    assert metric.dimensions == {"ModelId": GPT_OSS_20B}
    assert access.metric_invocations().dimensions == {"ModelId": GPT_OSS_120B}
    assert access.metric_input_token_count().statistic == "Sum"


def test_no_nag_findings_and_cfn_lint_clean(teams_stack: cdk.Stack) -> None:
    assert nag_findings(teams_stack) == []
    assert cfn_lint(Template.from_stack(teams_stack).to_json()) == []

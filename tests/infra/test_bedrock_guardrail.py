"""The optional guardrail and its enforcement with bedrock:GuardrailIdentifier."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from harness import cfn_lint, nag_findings, new_stack

from gptoss_infra.constructs.bedrock import (
    INVOKE_ACTIONS,
    BedrockAccess,
    GptOssGuardrail,
    GuardrailRef,
    TeamProfile,
)

GUARDRAIL_ARN = "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123"


def policy_statements(template: Template, prefix: str) -> dict[str, dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    (policy,) = [p for lid, p in policies.items() if lid.startswith(prefix)]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


@pytest.fixture(scope="module")
def guarded() -> cdk.Stack:
    stack = new_stack()
    guardrail = GptOssGuardrail(stack, "Guardrail")
    access = BedrockAccess(stack, "Access", teams=[TeamProfile("a")], guardrail=guardrail)
    role = iam.Role(stack, "App", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    access.grant_invoke(role, team="a")
    return stack


def test_guardrail_has_the_content_filters_and_a_numeric_version(guarded: cdk.Stack) -> None:
    template = Template.from_stack(guarded)
    (guardrail,) = template.find_resources("AWS::Bedrock::Guardrail").values()
    filters = guardrail["Properties"]["ContentPolicyConfig"]["FiltersConfig"]
    by_type = {f["Type"]: (f["InputStrength"], f["OutputStrength"]) for f in filters}
    assert by_type == {
        "SEXUAL": ("MEDIUM", "MEDIUM"),
        "VIOLENCE": ("MEDIUM", "MEDIUM"),
        "HATE": ("MEDIUM", "MEDIUM"),
        "INSULTS": ("MEDIUM", "MEDIUM"),
        "MISCONDUCT": ("MEDIUM", "MEDIUM"),
        "PROMPT_ATTACK": ("HIGH", "NONE"),  # prompt attacks are checked on inputs only
    }
    assert guardrail["Properties"]["Name"] == "Test-gptoss"
    (version,) = template.find_resources("AWS::Bedrock::GuardrailVersion").values()
    assert version["Properties"]["GuardrailIdentifier"]["Fn::GetAtt"][1] == "GuardrailId"


def condition_value() -> dict[str, Any]:
    arn = {"Fn::GetAtt": ["Guardrail91D61981", "GuardrailArn"]}
    version = {"Fn::GetAtt": ["GuardrailVersionFD7632EA", "Version"]}
    return {"Fn::Join": [":", [arn, version]]}


@pytest.mark.parametrize("policy", ["AccessInvokePolicy", "AccessTeamPolicyA"])
def test_every_allow_requires_the_guardrail_and_a_deny_covers_the_rest(
    guarded: cdk.Stack, policy: str
) -> None:
    sids = policy_statements(Template.from_stack(guarded), policy)
    allows = [
        s
        for s in sids.values()
        if s["Effect"] == "Allow" and s["Action"] != "bedrock:ApplyGuardrail"
    ]
    assert allows
    for allow in allows:
        assert (
            allow["Condition"]["StringEquals"]["bedrock:GuardrailIdentifier"] == condition_value()
        )
    deny = sids["DenyInvokeWithoutGuardrail"]
    assert deny["Effect"] == "Deny"
    assert deny["Action"] == list(INVOKE_ACTIONS)
    assert deny["Condition"] == {
        "StringNotEquals": {"bedrock:GuardrailIdentifier": condition_value()}
    }
    allowed_resources: list[Any] = []
    for allow in allows:
        resource = allow["Resource"]
        allowed_resources += resource if isinstance(resource, list) else [resource]
    denied = deny["Resource"] if isinstance(deny["Resource"], list) else [deny["Resource"]]
    assert set(map(str, denied)) == set(map(str, allowed_resources))
    apply = sids["ApplyGptOssGuardrail"]
    assert apply["Action"] == "bedrock:ApplyGuardrail"
    assert apply["Resource"] == {"Fn::GetAtt": ["Guardrail91D61981", "GuardrailArn"]}


def test_an_existing_guardrail_by_arn_and_version() -> None:
    stack = new_stack()
    BedrockAccess(stack, "Access", guardrail=GuardrailRef(GUARDRAIL_ARN, "3"))
    sids = policy_statements(Template.from_stack(stack), "AccessInvokePolicy")
    direct = sids["InvokeGptOssFoundationModels"]
    assert direct["Condition"] == {
        "StringEquals": {"bedrock:GuardrailIdentifier": f"{GUARDRAIL_ARN}:3"}
    }
    assert sids["ApplyGptOssGuardrail"]["Resource"] == GUARDRAIL_ARN


def test_draft_and_non_arns_are_refused() -> None:
    with pytest.raises(ValueError, match="2 problems") as error:
        BedrockAccess(new_stack(), "Access", guardrail=GuardrailRef("abc123", "DRAFT"))
    assert "must be a guardrail ARN" in str(error.value)
    assert "DRAFT changes under the condition" in str(error.value)


def test_guardrail_props_are_validated_together() -> None:
    with pytest.raises(ValueError, match="3 problems in GptOssGuardrail props"):
        GptOssGuardrail(
            new_stack(),
            "G",
            guardrail_name="no spaces allowed",
            filter_strength="EXTREME",
            blocked_input_message="",
        )


def test_no_nag_findings_and_cfn_lint_clean(guarded: cdk.Stack) -> None:
    assert nag_findings(guarded) == []
    assert cfn_lint(Template.from_stack(guarded).to_json()) == []

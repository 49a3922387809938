"""GptOssBedrockStack: least-privilege invoke policy, tagged team profiles; invocation logging
in the account stack."""

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Synthesized

from gptoss_deploy.loading import from_preset
from gptoss_infra.stacks import build_app


def bedrock(synth: Synthesized) -> dict[str, Any]:
    return synth.template(synth.names.bedrock_stack)


def of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


@pytest.fixture(scope="module")
def prod(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["prod"]


def test_the_invoke_policy_names_exact_actions_and_model_arns(prod: Synthesized) -> None:
    template = bedrock(prod)
    (policy,) = [
        p
        for p in of_type(template, "AWS::IAM::ManagedPolicy")
        if "gpt-oss" in p.get("Description", "") and "Invoke" in p["Description"]
    ]
    statements = policy["PolicyDocument"]["Statement"]
    allowed = {a for s in statements if s["Effect"] == "Allow" for a in _list(s["Action"])}
    # bedrock:Converse is not an IAM action: InvokeModel authorises it.
    assert allowed == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:ApplyGuardrail",
    }
    text = json.dumps(statements)
    assert '"*"' not in text
    assert "bedrock:*" not in text
    assert "foundation-model/openai.gpt-oss-120b-1:0" in text
    assert "foundation-model/openai.gpt-oss-20b-1:0" in text


def test_the_guardrail_is_enforced_by_condition(prod: Synthesized) -> None:
    (policy,) = [
        p
        for p in of_type(bedrock(prod), "AWS::IAM::ManagedPolicy")
        if "Invoke the gpt-oss" in p.get("Description", "")
    ]
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert len(denies) == 1
    assert "bedrock:GuardrailIdentifier" in denies[0]["Condition"]["StringNotEquals"]


def test_each_team_gets_a_tagged_profile_exported_by_team(prod: Synthesized) -> None:
    profiles = {
        p["InferenceProfileName"]: {t["Key"]: t["Value"] for t in p["Tags"]}
        for p in of_type(bedrock(prod), "AWS::Bedrock::ApplicationInferenceProfile")
    }
    assert set(profiles) == {"gptoss-prod-search-gpt-oss-120b", "gptoss-prod-support-gpt-oss-20b"}
    assert profiles["gptoss-prod-support-gpt-oss-20b"]["gptoss:team"] == "support"
    assert profiles["gptoss-prod-support-gpt-oss-20b"]["environment"] == "prod"
    template = prod.assertions(prod.names.bedrock_stack)
    for team in ("search", "support"):
        template.has_output(
            f"ProfileArn{team.capitalize()}", {"Export": {"Name": f"gptoss-prod:ProfileArn-{team}"}}
        )
    template.has_output("GuardrailArn", {"Export": {"Name": "gptoss-prod:GuardrailArn"}})


def test_invocation_logging_is_the_account_stacks_not_the_environments(prod: Synthesized) -> None:
    # One setting per account and region: an environment's stack must not own it.
    assert not of_type(bedrock(prod), "Custom::AWS")
    account = prod.template(prod.names.account_stack)
    assert of_type(account, "Custom::AWS"), "no custom resource turns invocation logging on"
    groups = of_type(account, "AWS::Logs::LogGroup")
    assert groups
    assert all("KmsKeyId" in group for group in groups)
    manifest = json.loads((prod.outdir / "manifest.json").read_text())
    properties = manifest["artifacts"][prod.names.account_stack]["properties"]
    assert properties["terminationProtection"] is True


def test_with_teams_the_models_are_reachable_only_through_the_profiles(prod: Synthesized) -> None:
    (policy,) = [
        p
        for p in of_type(bedrock(prod), "AWS::IAM::ManagedPolicy")
        if "Invoke the gpt-oss" in p.get("Description", "")
    ]
    model_statements = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and "foundation-model" in json.dumps(s["Resource"])
    ]
    assert model_statements
    for statement in model_statements:
        assert "bedrock:InferenceProfileArn" in json.dumps(statement["Condition"])
    assert bedrock(prod)["Metadata"]["gptoss"]["direct_invocation"] is False


def test_direct_invocation_is_an_explicit_opt_in(tmp_path: Path) -> None:
    config = from_preset("bedrock-only", {"bedrock": {"allow_direct_invocation": True}})
    build_app(config, outdir=str(tmp_path), rule_packs=False).synth()
    template = json.loads((tmp_path / f"{config.names.bedrock_stack}.template.json").read_text())
    assert template["Metadata"]["gptoss"]["direct_invocation"] is True
    (policy,) = [
        p
        for p in of_type(template, "AWS::IAM::ManagedPolicy")
        if "Invoke the gpt-oss" in p.get("Description", "")
    ]
    sids = {s.get("Sid") for s in policy["PolicyDocument"]["Statement"]}
    assert "InvokeGptOssFoundationModels" in sids


def test_profiles_copy_models_in_the_configured_region(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["bedrock-only"]
    profiles = of_type(bedrock(synth), "AWS::Bedrock::ApplicationInferenceProfile")
    # One per model by default: with profile-only access, each model needs one.
    assert len(profiles) == 2
    for profile in profiles:
        assert f":bedrock:{synth.config.region}::foundation-model/" in json.dumps(
            profile["ModelSource"]
        )


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]

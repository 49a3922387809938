"""GptOssBedrockStack: least-privilege invoke policy, tagged team profiles, logging."""

import json
from typing import Any

import pytest
from conftest import Synthesized


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


def test_invocation_logging_goes_to_an_encrypted_log_group(prod: Synthesized) -> None:
    template = bedrock(prod)
    assert of_type(template, "Custom::AWS"), "no custom resource turns invocation logging on"
    groups = of_type(template, "AWS::Logs::LogGroup")
    assert groups
    assert all("KmsKeyId" in group for group in groups)


def test_profiles_copy_models_in_the_configured_region(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["bedrock-only"]
    (profile,) = of_type(bedrock(synth), "AWS::Bedrock::ApplicationInferenceProfile")
    assert f":bedrock:{synth.config.region}::foundation-model/" in json.dumps(
        profile["ModelSource"]
    )


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]

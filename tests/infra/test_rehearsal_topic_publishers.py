"""topic-publishers: the services that publish to a topic may, and may use its key."""

from __future__ import annotations

from typing import Any

from rehearsal_support import assembly, resource, run, stack

from gptoss_infra.rehearsal.rules.topic_publishers import RULE

SSL_ONLY = {
    "Sid": "AllowPublishThroughSSLOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sns:Publish",
    "Resource": {"Ref": "Topic"},
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
CLOUDWATCH_PUBLISH = {
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": {"Ref": "Topic"},
}
KEY_FOR = {
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
}


def key_statement(service: str) -> dict[str, Any]:
    return {**KEY_FOR, "Principal": {"Service": service}}


def alarm_stack(topic_statements: list[Any] | None, key_statements: list[Any]) -> Any:
    resources: dict[str, Any] = {
        "Key": resource("AWS::KMS::Key", {"KeyPolicy": {"Statement": key_statements}}),
        "Topic": resource("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}),
        "Alarm": resource("AWS::CloudWatch::Alarm", {"AlarmActions": [{"Ref": "Topic"}]}),
    }
    if topic_statements is not None:
        resources["Policy"] = resource(
            "AWS::SNS::TopicPolicy",
            {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Statement": topic_statements}},
        )
    return stack("S", resources)


def test_a_deny_only_topic_policy_drops_alarm_notifications() -> None:
    # Finding 2: enforce_ssl's policy replaced the default one, nothing allowed CloudWatch.
    findings = run(
        RULE, assembly("dev", alarm_stack([SSL_ONLY], [key_statement("cloudwatch.amazonaws.com")]))
    )
    assert [f.resource for f in findings] == ["Topic"]
    assert "cloudwatch.amazonaws.com" in findings[0].message


def test_an_allow_for_cloudwatch_and_its_key_statement_pass() -> None:
    ok = alarm_stack([SSL_ONLY, CLOUDWATCH_PUBLISH], [key_statement("cloudwatch.amazonaws.com")])
    assert run(RULE, assembly("dev", ok)) == []


def test_without_a_topic_policy_the_default_applies_but_the_key_still_must_allow() -> None:
    findings = run(
        RULE, assembly("dev", alarm_stack(None, [key_statement("budgets.amazonaws.com")]))
    )
    assert [f.resource for f in findings] == ["Key"]
    assert "kms:GenerateDataKey, kms:Decrypt" in findings[0].message


def test_an_unconditional_deny_beats_the_allow() -> None:
    deny = {**CLOUDWATCH_PUBLISH, "Effect": "Deny", "Principal": "*"}
    findings = run(
        RULE,
        assembly(
            "dev",
            alarm_stack([CLOUDWATCH_PUBLISH, deny], [key_statement("cloudwatch.amazonaws.com")]),
        ),
    )
    assert len(findings) == 1


def test_an_aws_managed_key_cannot_serve_a_service_publisher() -> None:
    resources = {
        "Topic": resource("AWS::SNS::Topic", {"KmsMasterKeyId": "alias/aws/sns"}),
        "Alarm": resource("AWS::CloudWatch::Alarm", {"OKActions": [{"Ref": "Topic"}]}),
    }
    findings = run(RULE, assembly("dev", stack("S", resources)))
    assert len(findings) == 1
    assert "alias/aws/sns" in findings[0].message


def test_budget_subscribers_need_budgets_allowed() -> None:
    budget = resource(
        "AWS::Budgets::Budget",
        {
            "NotificationsWithSubscribers": [
                {"Subscribers": [{"SubscriptionType": "SNS", "Address": {"Ref": "Topic"}}]}
            ]
        },
    )
    resources = {
        "Key": resource(
            "AWS::KMS::Key", {"KeyPolicy": {"Statement": [key_statement("budgets.amazonaws.com")]}}
        ),
        "Topic": resource("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}),
        "Budget": budget,
        "Policy": resource(
            "AWS::SNS::TopicPolicy",
            {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Statement": [SSL_ONLY]}},
        ),
    }
    findings = run(RULE, assembly("cost", stack("S", resources)))
    assert len(findings) == 1
    assert "budgets.amazonaws.com" in findings[0].message
    allowed = {**CLOUDWATCH_PUBLISH, "Principal": {"Service": "budgets.amazonaws.com"}}
    resources["Policy"]["Properties"]["PolicyDocument"]["Statement"].append(allowed)
    assert run(RULE, assembly("cost", stack("S", resources))) == []

"""CostControls: a monthly COST budget alerting through a KMS-encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from harness import cfn_lint, deploy_to_moto, nag_findings, new_stack

from gptoss_infra.constructs.cost import CostControls


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    stack = new_stack()
    CostControls(
        stack,
        "Cost",
        monthly_limit_usd=2500,
        alert_emails=["finops@example.com", "ml@example.com"],
        cost_filters={"gptoss:project": ["gpt-oss"]},
    )
    return stack


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def only(template: Template, resource_type: str) -> Mapping[str, Any]:
    (resource,) = template.find_resources(resource_type).values()
    return resource


def test_monthly_cost_budget_with_actual_and_forecast_alerts(template: Template) -> None:
    budget = only(template, "AWS::Budgets::Budget")["Properties"]
    data = budget["Budget"]
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    assert data["BudgetLimit"] == {"Amount": 2500, "Unit": "USD"}
    assert data["BudgetName"] == "Test-gptoss-monthly"
    assert data["FilterExpression"] == {
        "Tags": {"Key": "gptoss:project", "Values": ["gpt-oss"], "MatchOptions": ["EQUALS"]}
    }
    notifications = [
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
        for n in budget["NotificationsWithSubscribers"]
    ]
    assert notifications == [("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
    topic_id = next(iter(template.find_resources("AWS::SNS::Topic")))
    for notification in budget["NotificationsWithSubscribers"]:
        assert notification["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert notification["Subscribers"] == [
            {"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}
        ]


def test_topic_is_encrypted_tls_only_and_budgets_may_publish(template: Template) -> None:
    topic = only(template, "AWS::SNS::Topic")["Properties"]
    key_id = next(iter(template.find_resources("AWS::KMS::Key")))
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    statements = only(template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"][
        "Statement"
    ]
    sids = {s.get("Sid"): s for s in statements}
    publish = sids["AWSBudgetsSNSPublishingPermissions"]
    assert publish["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert publish["Action"] == "SNS:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert publish["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1] == [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":budgets::",
        {"Ref": "AWS::AccountId"},
        ":*",
    ]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in str(s) for s in statements)


def test_key_lets_budgets_encrypt_for_the_topic(template: Template) -> None:
    key = only(template, "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True
    (statement,) = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowBudgetsToPublishEncrypted"
    ]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert statement["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}


def test_emails_subscribe_to_the_topic_and_the_budget_waits_for_the_policy(
    template: Template,
) -> None:
    subscriptions = template.find_resources("AWS::SNS::Subscription")
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions.values()) == [
        "finops@example.com",
        "ml@example.com",
    ]
    budget = only(template, "AWS::Budgets::Budget")
    policy_id = next(iter(template.find_resources("AWS::SNS::TopicPolicy")))
    assert policy_id in budget["DependsOn"]


def test_several_tag_filters_are_anded() -> None:
    stack = new_stack()
    CostControls(
        stack, "Cost", monthly_limit_usd=10, thresholds=(100,), forecast_threshold=None,
        cost_filters={"team": ["a", "b"], "gptoss:project": ["gpt-oss"]},
    )  # fmt: skip
    data = only(Template.from_stack(stack), "AWS::Budgets::Budget")["Properties"]["Budget"]
    assert [term["Tags"]["Key"] for term in data["FilterExpression"]["And"]] == [
        "gptoss:project",
        "team",
    ]


def test_every_problem_is_reported_together() -> None:
    with pytest.raises(ValueError, match="6 problems in CostControls props") as error:
        CostControls(
            new_stack(),
            "Cost",
            monthly_limit_usd=0,
            alert_emails=["not-an-email"],
            thresholds=(10, 20, 30, 40, 40, 2000),
            budget_name="a:b",
        )
    message = str(error.value)
    assert "monthly_limit_usd must be > 0" in message
    assert "threshold 2000 must be a percentage" in message
    assert "thresholds has duplicates" in message
    assert "7 notifications" in message
    assert "'not-an-email' is not an e-mail address" in message
    assert "budget_name 'a:b'" in message


def test_no_nag_findings_and_cfn_lint_clean(stack: cdk.Stack, template: Template) -> None:
    assert nag_findings(stack) == []
    assert cfn_lint(template.to_json()) == []


def test_topic_and_key_deploy_in_moto(template: Template) -> None:
    resources = deploy_to_moto(template.to_json(), "Test")
    (topic,) = [r for r in resources.values() if r["Type"] == "AWS::SNS::Topic"]
    (key,) = [r for r in resources.values() if r["Type"] == "AWS::KMS::Key"]
    assert topic["Description"]["KmsMasterKeyId"] == key["Description"]["Arn"]
    assert key["Description"]["KeyRotationEnabled"] is True

"""LedgerTable: the SDK's DynamoDB ledger layout, protected, encrypted, and usable by the SDK."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from harness import cfn_lint, deploy_to_moto, nag_findings, new_stack
from moto import mock_aws

from gptoss_aws.budgets import Budget
from gptoss_aws.errors import BudgetExceededError
from gptoss_aws.ledger.dynamodb import DynamoDBLedger, create_table
from gptoss_aws.types import CallRecord
from gptoss_infra.constructs.cost import LedgerTable


class _Recorder:
    """Stands in for the DynamoDB client: keeps what the SDK's create_table sends."""

    def __init__(self) -> None:
        self.request: dict[str, Any] = {}

    def create_table(self, **request: Any) -> None:
        self.request = request

    def get_waiter(self, name: str) -> Any:
        class _Waiter:
            def wait(self, **_: Any) -> None:
                return None

        return _Waiter()


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    stack = new_stack()
    ledger = LedgerTable(stack, "Ledger")
    app = iam.Role(stack, "App", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    ledger.grant_read_write(app)
    reports = iam.Role(stack, "Reports", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    ledger.grant_read(reports)
    return stack


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def table(template: Template) -> Mapping[str, Any]:
    (resource,) = template.find_resources("AWS::DynamoDB::Table").values()
    return resource


def test_key_schema_is_exactly_what_the_sdk_creates(template: Template) -> None:
    sdk = _Recorder()
    create_table("ledger", client=sdk)
    properties = table(template)["Properties"]
    for field in ("KeySchema", "BillingMode"):
        assert properties[field] == sdk.request[field], field
    assert sorted(properties["AttributeDefinitions"], key=str) == sorted(
        sdk.request["AttributeDefinitions"], key=str
    )
    assert sorted(properties["GlobalSecondaryIndexes"], key=lambda i: i["IndexName"]) == sorted(
        sdk.request["GlobalSecondaryIndexes"], key=lambda i: i["IndexName"]
    )


def test_table_is_encrypted_recoverable_and_protected(template: Template) -> None:
    resource = table(template)
    properties = resource["Properties"]
    key_id = next(iter(template.find_resources("AWS::KMS::Key")))
    assert properties["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    assert resource["DeletionPolicy"] == "Retain"


def test_grants_are_managed_policies_naming_both_indexes(template: Template) -> None:
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    by_prefix = {
        lid.split("Policy")[0]: p["Properties"]["PolicyDocument"]["Statement"]
        for lid, p in policies.items()
    }
    read_write, read = by_prefix["LedgerReadWrite"], by_prefix["LedgerRead"]
    table_statement = read_write[0]
    assert "dynamodb:UpdateItem" in table_statement["Action"]
    assert "dynamodb:ConditionCheckItem" in table_statement["Action"]
    suffixes = [r["Fn::Join"][1][-1] for r in table_statement["Resource"][1:]]
    assert suffixes == ["/index/by_day", "/index/open", "/index/pending"]
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem"} & set(read[0]["Action"])
    assert read[1]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    template.resource_count_is("AWS::IAM::Policy", 0)


def test_table_name_and_validation() -> None:
    stack = new_stack()
    LedgerTable(stack, "L", table_name="gptoss-ledger")
    assert table(Template.from_stack(stack))["Properties"]["TableName"] == "gptoss-ledger"
    with pytest.raises(ValueError, match="table_name 'x'"):
        LedgerTable(new_stack(), "L", table_name="x")


def test_no_nag_findings_and_cfn_lint_clean(stack: cdk.Stack, template: Template) -> None:
    assert nag_findings(stack) == []
    assert cfn_lint(template.to_json()) == []


def test_the_sdk_ledger_works_on_the_deployed_table(template: Template) -> None:
    with mock_aws():
        resources = deploy_to_moto(template.to_json(), "Test")
        (deployed,) = [r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
        indexes = {i["IndexName"] for i in deployed["Description"]["GlobalSecondaryIndexes"]}
        assert indexes == {"by_day", "open", "pending"}
        ledger = DynamoDBLedger(deployed["PhysicalResourceId"], region="us-east-1")
        budget = Budget(name="team-a", limit=Decimal("1.00"), scope={"team": "a"})
        call = CallRecord.model_validate(
            {
                "backend": "bedrock",
                "model": "gpt-oss-120b",
                "region": "us-east-1",
                "tags": {"team": "a"},
                "status": "reserved",
                "cost_basis": "per_token",
                "reserved_usd": Decimal("0.60"),
                "reserved_tokens": 1000,
            }
        )
        reserved = ledger.reserve(call, [budget])
        with pytest.raises(BudgetExceededError):
            ledger.reserve(call.model_copy(update={"id": "second"}), [budget])
        ledger.settle(
            reserved.model_copy(
                update={
                    "status": "ok",
                    "cost_usd": Decimal("0.25"),
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "ended_at": reserved.started_at + timedelta(seconds=1),
                }
            )
        )
        (row,) = ledger.query(since=reserved.started_at - timedelta(minutes=1))
        assert row.cost_usd == Decimal("0.25")
        assert ledger.budget_usage(budget).charged == Decimal("0.25")

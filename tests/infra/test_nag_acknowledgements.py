"""All Bedrock and cost constructs together: no unacknowledged finding in the four packs,
cfn-lint clean, and every acknowledgement they make is needed and explained."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match, Template
from constructs import IConstruct
from harness import (
    AcknowledgedFinding,
    Finding,
    acknowledgements,
    cfn_lint,
    nag_findings,
    new_stack,
)
from test_bedrock_invocation_logging import log_bucket

from gptoss_infra.constructs.bedrock import (
    GPT_OSS_20B,
    BedrockAccess,
    GptOssGuardrail,
    InvocationLogging,
    TeamProfile,
)
from gptoss_infra.constructs.cost import (
    CostControls,
    CostDashboard,
    LedgerTable,
    apply_cost_allocation_tags,
)


def build() -> cdk.Stack:
    stack = new_stack()
    guardrail = GptOssGuardrail(stack, "Guardrail")
    access = BedrockAccess(
        stack,
        "Access",
        teams=[TeamProfile("research"), TeamProfile("ml_ops", model=GPT_OSS_20B)],
        guardrail=guardrail,
    )
    app_role = iam.Role(stack, "AppRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    access.grant_invoke(app_role, team="research")
    InvocationLogging(stack, "InvocationLogging")
    CostControls(stack, "Cost", monthly_limit_usd=1000, alert_emails=["finops@example.com"])
    ledger = LedgerTable(stack, "Ledger")
    ledger.grant_read_write(app_role)
    CostDashboard(stack, "Dashboard")
    apply_cost_allocation_tags(stack, {"gptoss:project": "gpt-oss"})
    return stack


def build_with_bucket() -> cdk.Stack:
    """Invocation logs to a bucket too (its large-data grant has an acknowledgement)."""
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    stack = cdk.Stack(app, "Test")
    InvocationLogging(stack, "InvocationLogging", bucket=log_bucket(stack))
    return stack


class _Recorder:
    def __init__(self, scope: IConstruct, into: list[AcknowledgedFinding]) -> None:
        self._path = scope.node.path
        self._into = into

    def acknowledge(self, *rules: cdk.Acknowledgment) -> None:
        self._into.extend(AcknowledgedFinding(self._path, r.id, r.reason) for r in rules)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[AcknowledgedFinding]:
    """Build with Validations.of(...).acknowledge recorded instead of applied."""
    into: list[AcknowledgedFinding] = []
    monkeypatch.setattr(
        cdk.Validations, "of", classmethod(lambda cls, scope: _Recorder(scope, into))
    )
    return into


def test_everything_together_has_no_unacknowledged_finding_and_lints_clean() -> None:
    stack = build()
    assert nag_findings(stack) == []
    assert cfn_lint(Template.from_stack(stack).to_json()) == []
    annotations = Annotations.from_stack(stack)
    assert annotations.find_warning("*", Match.any_value()) == []
    assert annotations.find_error("*", Match.any_value()) == []


def _covers(ack: AcknowledgedFinding, finding: Finding) -> bool:
    under = finding.path == ack.path or finding.path.startswith(ack.path + "/")
    return under and finding.rule_id == ack.rule_id


@pytest.mark.parametrize("builder", [build, build_with_bucket])
def test_each_acknowledgement_is_needed(
    recorded: list[AcknowledgedFinding], builder: Callable[[], cdk.Stack]
) -> None:
    findings = nag_findings(builder())
    for ack in recorded:
        assert any(_covers(ack, f) for f in findings), f"{ack.rule_id} on {ack.path} is stale"
    for finding in findings:
        assert any(_covers(ack, finding) for ack in recorded), str(finding)


def test_each_acknowledgement_has_a_reason() -> None:
    acks = acknowledgements(build())
    assert {(a.path, a.rule_id) for a in acks} == {
        ("Test/InvocationLogging/ProviderPolicy", "AwsSolutions-IAM5[Resource::*]"),
        ("Test/AWS679f53fac002430cb0da5b7982bd2287", "NIST.800.53.R5-LambdaInsideVPC"),
        ("Test/AWS679f53fac002430cb0da5b7982bd2287", "HIPAA.Security-LambdaInsideVPC"),
        ("Test/AWS679f53fac002430cb0da5b7982bd2287", "NIST.800.53.R5-LambdaConcurrency"),
        ("Test/AWS679f53fac002430cb0da5b7982bd2287", "HIPAA.Security-LambdaConcurrency"),
        ("Test/AWS679f53fac002430cb0da5b7982bd2287", "NIST.800.53.R5-LambdaDLQ"),
        ("Test/AWS679f53fac002430cb0da5b7982bd2287", "HIPAA.Security-LambdaDLQ"),
        ("Test/Ledger/Table", "NIST.800.53.R5-DynamoDBInBackupPlan"),
        ("Test/Ledger/Table", "HIPAA.Security-DynamoDBInBackupPlan"),
    }
    assert all(len(a.reason) > 40 for a in acks)

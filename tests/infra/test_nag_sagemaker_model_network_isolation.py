"""GPTOSS-SM1: a SageMaker model without network isolation fails; one with it passes."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sagemaker as sagemaker
from cdk_nag import NagRuleCompliance
from harness import nag_findings, new_stack

from gptoss_infra.nag import GptOssNagPack
from gptoss_infra.nag.rules.sagemaker_model_network_isolation import RULE, check

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gptoss:latest"


def model(stack: cdk.Stack, construct_id: str, **props: object) -> sagemaker.CfnModel:
    return sagemaker.CfnModel(
        stack,
        construct_id,
        execution_role_arn=ROLE,
        primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(image=IMAGE),
        **props,  # type: ignore[arg-type]
    )


def ours(stack: cdk.Stack) -> list[str]:
    return [f"{f.rule_id} {f.path}" for f in nag_findings(stack, packs=(GptOssNagPack,))]


def test_model_with_network_isolation_is_compliant() -> None:
    stack = new_stack()
    isolated = model(stack, "Isolated", enable_network_isolation=True)
    assert check(isolated) == NagRuleCompliance.COMPLIANT
    assert ours(stack) == []


@pytest.mark.parametrize("isolation", [None, False])
def test_model_without_network_isolation_is_non_compliant(isolation: bool | None) -> None:
    stack = new_stack()
    open_model = model(stack, "Open", enable_network_isolation=isolation)
    assert check(open_model) == NagRuleCompliance.NON_COMPLIANT
    assert ours(stack) == ["GPTOSS-SM1 Test/Open"]


def test_isolation_from_a_parameter_is_non_compliant() -> None:
    # Only the literal true is verifiable; a parameter could be set to false at deploy time.
    stack = new_stack()
    flag = cdk.CfnParameter(stack, "Isolate", type="String", default="true")
    model(stack, "Param", enable_network_isolation=cdk.Token.as_any(flag.value_as_string))
    assert ours(stack) == ["GPTOSS-SM1 Test/Param"]


def test_other_resources_are_not_applicable() -> None:
    stack = new_stack()
    queue = cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue")
    assert check(queue) == NagRuleCompliance.NOT_APPLICABLE


def test_finding_can_be_acknowledged_with_a_reason() -> None:
    stack = new_stack()
    open_model = model(stack, "Open")
    cdk.Validations.of(open_model).acknowledge(
        cdk.Acknowledgment(id="GPTOSS-SM1", reason="test: a public-image model")
    )
    assert ours(stack) == []


def test_registered_pack_fails_synthesis() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Test")
    model(stack, "Open")
    cdk.Validations.of(app).add_plugins(GptOssNagPack(app))
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    assert "GPTOSS-SM1" in str(failure.value)
    assert "Test/Open" in str(failure.value)


def test_registered_pack_lets_a_compliant_app_synthesize() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Test")
    model(stack, "Isolated", enable_network_isolation=True)
    cdk.Validations.of(app).add_plugins(GptOssNagPack(app))
    assert app.synth().get_stack_by_name("Test").template["Resources"]


def test_rule_metadata() -> None:
    assert RULE.suffix == "SM1"
    assert "EnableNetworkIsolation" in RULE.info

"""GPTOSS-SM2: instance-backed endpoint variants must route to the least busy instance."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from cdk_nag import NagMessageLevel, NagRuleCompliance
from harness import nag_findings, new_stack

from gptoss_infra.nag import GptOssNagPack
from gptoss_infra.nag.rules.sagemaker_endpoint_least_outstanding_requests import RULE, check

LOR = {"routingStrategy": "LEAST_OUTSTANDING_REQUESTS"}


def config(
    stack: cdk.Stack, construct_id: str, *variants: dict[str, Any]
) -> sagemaker.CfnEndpointConfig:
    return sagemaker.CfnEndpointConfig(stack, construct_id, production_variants=list(variants))


def variant(name: str = "main", **extra: Any) -> dict[str, Any]:
    return {"variantName": name, "modelName": "m", "instanceType": "ml.p5.4xlarge",
            "initialInstanceCount": 1, **extra}  # fmt: skip


def ours(stack: cdk.Stack) -> list[str]:
    return [
        f"{f.rule_id} {f.path} {f.severity}" for f in nag_findings(stack, packs=(GptOssNagPack,))
    ]


def test_least_outstanding_requests_is_compliant() -> None:
    stack = new_stack()
    good = config(stack, "Good", variant(routingConfig=LOR), variant("b", routingConfig=LOR))
    assert check(good) == NagRuleCompliance.COMPLIANT
    assert ours(stack) == []


def test_default_or_random_routing_is_non_compliant() -> None:
    stack = new_stack()
    default = config(stack, "Default", variant())
    random = config(stack, "Random", variant(routingConfig={"routingStrategy": "RANDOM"}))
    mixed = config(stack, "Mixed", variant(routingConfig=LOR), variant("b"))
    for resource in (default, random, mixed):
        assert check(resource) == NagRuleCompliance.NON_COMPLIANT
    assert ours(stack) == [
        "GPTOSS-SM2 Test/Default warning",
        "GPTOSS-SM2 Test/Mixed warning",
        "GPTOSS-SM2 Test/Random warning",
    ]


def test_serverless_variants_are_not_applicable() -> None:
    stack = new_stack()
    serverless = config(
        stack,
        "Serverless",
        {
            "variantName": "s",
            "modelName": "m",
            "serverlessConfig": {"maxConcurrency": 1, "memorySizeInMb": 2048},
        },
    )
    assert check(serverless) == NagRuleCompliance.NOT_APPLICABLE
    assert ours(stack) == []


def test_rule_is_a_warning() -> None:
    assert RULE.suffix == "SM2"
    assert RULE.level == NagMessageLevel.WARN

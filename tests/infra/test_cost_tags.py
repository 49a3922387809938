"""apply_cost_allocation_tags: every taggable resource gets the tags; the profile's own stay."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template
from harness import new_stack

from gptoss_infra.constructs.bedrock import BedrockAccess, TeamProfile
from gptoss_infra.constructs.cost import LedgerTable, apply_cost_allocation_tags


def test_tags_reach_every_taggable_resource_and_keep_the_team_tags() -> None:
    stack = new_stack()
    BedrockAccess(stack, "Access", teams=[TeamProfile("research")])
    LedgerTable(stack, "Ledger")
    apply_cost_allocation_tags(stack, {"gptoss:project": "gpt-oss", "cost-center": "42"})
    template = Template.from_stack(stack)
    (profile,) = template.find_resources("AWS::Bedrock::ApplicationInferenceProfile").values()
    assert profile["Properties"]["Tags"] == [
        {"Key": "cost-center", "Value": "42"},
        {"Key": "gptoss:model", "Value": "gpt-oss-120b"},
        {"Key": "gptoss:project", "Value": "gpt-oss"},
        {"Key": "gptoss:team", "Value": "research"},
    ]
    for resource_type in ("AWS::DynamoDB::Table", "AWS::KMS::Key"):
        (resource,) = template.find_resources(resource_type).values()
        assert {"Key": "gptoss:project", "Value": "gpt-oss"} in resource["Properties"]["Tags"]


def test_invalid_and_reserved_tags_are_refused_together() -> None:
    with pytest.raises(ValueError, match="3 problems in cost-allocation tags") as error:
        apply_cost_allocation_tags(
            new_stack(), {"aws:owner": "x", "gptoss:team": "y", "ok": "bad\u0007value"}
        )
    message = str(error.value)
    assert "reserved 'aws:' prefix" in message
    assert "['gptoss:team'] are set per inference profile" in message
    assert "tag value" in message

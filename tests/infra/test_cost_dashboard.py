"""CostDashboard: Bedrock token metrics, the estimated cost, and the SDK's EMF metrics."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from harness import cfn_lint, deploy_to_moto, nag_findings, new_stack

from gptoss_aws.errors import UnpricedError
from gptoss_aws.pricing.records import TokenPrice
from gptoss_aws.telemetry import DEFAULT_NAMESPACE
from gptoss_infra.constructs.bedrock import GPT_OSS_20B, GPT_OSS_120B, GPT_OSS_MODELS
from gptoss_infra.constructs.cost import CostDashboard


def body(template: Template) -> dict[str, Any]:
    """The dashboard body JSON, with the region token written as REGION."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    value = dashboard["Properties"]["DashboardBody"]
    if isinstance(value, dict):
        value = "".join(p if isinstance(p, str) else "REGION" for p in value["Fn::Join"][1])
    return dict(json.loads(value))


# The bundled catalog holds no Bedrock price (docs/costs.md), so the construct's arithmetic
# is checked with prices the test states; they are not AWS prices.
STATED = {
    model: TokenPrice(
        Decimal("0.15"), Decimal("0.60"), "stated by the test (not an AWS price)", date(2026, 1, 1)
    )
    for model in GPT_OSS_MODELS
}


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    stack = new_stack()
    CostDashboard(stack, "Dashboard", token_prices=STATED)
    return stack


@pytest.fixture(scope="module")
def widgets(stack: cdk.Stack) -> list[dict[str, Any]]:
    return list(body(Template.from_stack(stack))["widgets"])


def titled(widgets: list[dict[str, Any]], title: str) -> dict[str, Any]:
    (widget,) = [w for w in widgets if w["properties"].get("title") == title]
    properties: dict[str, Any] = widget["properties"]
    return properties


def test_bedrock_tokens_and_invocations_per_model(widgets: list[dict[str, Any]]) -> None:
    tokens = titled(widgets, "Bedrock tokens per model")["metrics"]
    assert [m[:4] for m in tokens] == [
        ["AWS/Bedrock", "InputTokenCount", "ModelId", GPT_OSS_120B],
        ["AWS/Bedrock", "OutputTokenCount", "ModelId", GPT_OSS_120B],
        ["AWS/Bedrock", "InputTokenCount", "ModelId", GPT_OSS_20B],
        ["AWS/Bedrock", "OutputTokenCount", "ModelId", GPT_OSS_20B],
    ]
    assert all(m[4]["stat"] == "Sum" and m[4]["period"] == 3600 for m in tokens)
    invocations = titled(widgets, "Bedrock invocations per model")["metrics"]
    assert [m[1] for m in invocations] == ["Invocations", "Invocations"]


def test_estimated_cost_uses_the_sdk_catalog_price_with_its_source(
    widgets: list[dict[str, Any]],
) -> None:
    price = STATED[GPT_OSS_120B]
    metrics = titled(widgets, "Bedrock estimated cost (USD)")["metrics"]
    expressions = [m[0] for m in metrics if isinstance(m[0], dict) and "expression" in m[0]]
    (first, _second) = expressions
    assert (
        first["expression"]
        == f"(tin0 * {price.input_per_1m} + tout0 * {price.output_per_1m}) / 1000000"
    )
    assert price.source in first["label"]
    assert price.as_of.isoformat() in first["label"]
    assert (
        titled(widgets, "Bedrock estimated cost over the time range (USD)")["setPeriodToTimeRange"]
        is True
    )


def test_sdk_metrics_are_searched_in_the_sdk_namespace(widgets: list[dict[str, Any]]) -> None:
    tokens = titled(widgets, "SDK tokens (input, output; reasoning is part of output)")["metrics"]
    expressions = [m[0]["expression"] for m in tokens]
    schema = f"{{{DEFAULT_NAMESPACE},backend,endpoint,model}}"
    assert expressions == [
        f"SEARCH('{schema} MetricName=\"InputTokens\"', 'Sum', 3600)",
        f"SEARCH('{schema} MetricName=\"OutputTokens\"', 'Sum', 3600)",
        f"SEARCH('{schema} MetricName=\"ReasoningTokens\"', 'Sum', 3600)",
    ]
    total = titled(widgets, "SDK cost over the time range (USD)")["metrics"][0][0]["expression"]
    assert total == f"SUM(SEARCH('{schema} MetricName=\"CostUSD\"', 'Sum', 3600))"


def test_without_prices_there_is_no_estimate() -> None:
    stack = new_stack()
    CostDashboard(stack, "Dashboard", models=[GPT_OSS_20B])
    titles = [w["properties"].get("title") for w in body(Template.from_stack(stack))["widgets"]]
    assert "Bedrock estimated cost (USD)" not in titles
    assert "SDK cost over the time range (USD)" in titles


def test_a_pending_price_replaces_the_estimate_with_its_note() -> None:
    stack = new_stack()
    CostDashboard(stack, "D", price_pending="no price for us-west-2: run the refresh")
    widgets = body(Template.from_stack(stack))["widgets"]
    titles = [w["properties"].get("title") for w in widgets]
    assert "Bedrock estimated cost (USD)" not in titles
    notes = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert any("price pending" in n and "us-west-2: run the refresh" in n for n in notes)
    priced = new_stack()
    CostDashboard(priced, "D", token_prices=STATED)
    assert "price pending" not in json.dumps(body(Template.from_stack(priced)))


def test_a_partly_priced_dashboard_shows_the_estimate_and_names_the_unpriced_models() -> None:
    # Issue 12: a safeguard model has no bundled price while gpt-oss has one; the priced
    # models keep their estimate and the note names the rest (never a $0 line for them).
    stack = new_stack()
    CostDashboard(
        stack, "D", token_prices=STATED, price_pending="no price for openai.gpt-oss-safeguard-20b"
    )
    widgets = body(Template.from_stack(stack))["widgets"]
    titles = [w["properties"].get("title") for w in widgets]
    assert "Bedrock estimated cost (USD)" in titles
    notes = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert any("price pending" in n and "gpt-oss-safeguard-20b" in n for n in notes)


def test_bundled_prices_refuse_what_the_catalog_lacks() -> None:
    with pytest.raises(UnpricedError, match="us-west-2"):
        CostDashboard.bundled_prices([GPT_OSS_120B], "us-west-2")
    with pytest.raises(ValueError, match="region must be a literal"):
        CostDashboard.bundled_prices([GPT_OSS_120B], cdk.Aws.REGION)


def test_invalid_props_are_reported_together() -> None:
    prices = {GPT_OSS_120B: STATED[GPT_OSS_120B]}
    with pytest.raises(ValueError, match="3 problems") as error:
        CostDashboard(
            new_stack(), "D", models=[], token_prices=prices, period=cdk.Duration.seconds(90)
        )
    assert "token_prices names models not in models" in str(error.value)
    assert prices[GPT_OSS_120B].input_per_1m > Decimal(0)


def test_no_nag_findings_cfn_lint_clean_and_deploys(stack: cdk.Stack) -> None:
    template = Template.from_stack(stack).to_json()
    assert nag_findings(stack) == []
    assert cfn_lint(template) == []
    (dashboard,) = deploy_to_moto(template, "Test").values()
    assert dashboard["Status"] == "CREATE_COMPLETE"

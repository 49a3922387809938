"""GptOssCostStack: the budget on this environment's tags, the ledger table, the dashboard."""

from typing import Any

from conftest import Synthesized


def cost(synth: Synthesized) -> dict[str, Any]:
    return synth.template(synth.names.cost_stack)


def of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_the_budget_has_the_configured_limit_and_counts_this_environment(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["gpt-oss-20b-g6e-xlarge"]
    (budget,) = of_type(cost(synth), "AWS::Budgets::Budget")
    assert budget["Budget"]["BudgetName"] == "gptoss-dev-monthly"
    assert budget["Budget"]["BudgetLimit"] == {"Amount": 4000, "Unit": "USD"}
    assert "gptoss" in str(budget["Budget"])
    assert "'dev'" in str(budget["Budget"])
    thresholds = sorted(
        n["Notification"]["Threshold"] for n in budget["NotificationsWithSubscribers"]
    )
    assert thresholds == [50, 80, 100, 100]  # actual spend, plus the forecast at 100


def test_the_alert_topic_is_encrypted_and_exported(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["gpt-oss-120b-p5-4xlarge"]
    (topic,) = of_type(cost(synth), "AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic
    synth.assertions(synth.names.cost_stack).has_output(
        "AlertTopicArn", {"Export": {"Name": "gptoss-dev:AlertTopicArn"}}
    )


def test_the_ledger_table_has_the_name_the_sdk_reads(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["gpt-oss-120b-p5-4xlarge"]
    (table,) = of_type(cost(synth), "AWS::DynamoDB::Table")
    assert table["TableName"] == "gptoss-dev-ledger"
    (table_id,) = [
        k for k, r in cost(synth)["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"
    ]
    synth.assertions(synth.names.cost_stack).has_output(
        "LedgerTableName",
        {"Value": {"Ref": table_id}, "Export": {"Name": "gptoss-dev:LedgerTableName"}},
    )


def test_no_ledger_table_when_turned_off(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["byo-image"]
    assert of_type(cost(synth), "AWS::DynamoDB::Table") == []
    assert "LedgerTableName" not in cost(synth).get("Outputs", {})


def test_the_dashboard_says_the_bedrock_price_is_pending_instead_of_estimating(
    synthesized: dict[str, Synthesized],
) -> None:
    # The bundled catalog holds no Bedrock price in any region (docs/costs.md), so no preset's
    # dashboard may carry an estimate: it charts tokens and names what fills the price.
    for preset, region in (
        ("gpt-oss-20b-g6e-xlarge", "us-east-1"),
        ("gpt-oss-120b-p5-4xlarge", "us-west-2"),
    ):
        (board,) = of_type(cost(synthesized[preset]), "AWS::CloudWatch::Dashboard")
        text = str(board["DashboardBody"])
        assert "Bedrock estimated cost (USD)" not in text
        assert "price pending" in text
        assert f"gptoss-aws prices refresh --region {region}" in text
        assert board["DashboardName"] == "gptoss-dev-tokens-and-cost"


def test_the_deployed_ledger_table_exists_in_moto(synthesized: dict[str, Synthesized]) -> None:
    from harness import deploy_to_moto

    synth = synthesized["gpt-oss-120b-p5-4xlarge"]
    created = deploy_to_moto(cost(synth), synth.names.cost_stack, region=synth.config.region)
    (table,) = [r for r in created.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert table["Description"]["TableName"] == "gptoss-dev-ledger"
    assert table["Description"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

"""GptOssCostStack: the budget with its encrypted alert topic, the SDK's ledger table and
the tokens-and-cost dashboard."""

from __future__ import annotations

from constructs import Construct

from gptoss_aws.errors import UnpricedError
from gptoss_deploy.config import DeploymentConfig
from gptoss_facts.models import MODELS
from gptoss_infra.constructs.cost import CostControls, CostDashboard, LedgerTable
from gptoss_infra.stacks.common import GptOssStack


class GptOssCostStack(GptOssStack):
    """Budgets over everything carrying this environment's cost tags, and the ledger table.

    Outputs (exports ``<project>-<env>:...``): ``BudgetName``, ``AlertTopicArn`` and, with
    ``cost.ledger_table``, ``LedgerTableName`` (``gptoss_aws.ledger.dynamodb`` writes to it).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            component="cost",
            description=f"gpt-oss {config.environment}: budget alerts and the team ledger",
        )
        cost = config.cost
        names = config.names
        # The budget counts spend tagged with this project *and* environment; the tags only
        # count once activated as cost-allocation tags (docs/infrastructure.md says how).
        self.controls = CostControls(
            self,
            "Budget",
            monthly_limit_usd=float(cost.monthly_budget_usd),
            alert_emails=cost.alert_emails,
            thresholds=cost.alert_thresholds_percent,
            cost_filters={"project": [config.project], "environment": [config.environment]},
            budget_name=names.budget,
        )
        self.output("BudgetName", names.budget, "BudgetName", "AWS Budgets budget name")
        self.output(
            "AlertTopicArn",
            self.controls.topic.topic_arn,
            "AlertTopicArn",
            "encrypted SNS topic that receives budget alerts",
        )
        self.ledger: LedgerTable | None = None
        if cost.ledger_table:
            self.ledger = LedgerTable(self, "Ledger", table_name=names.ledger_table)
            self.output(
                "LedgerTableName",
                self.ledger.table_name,
                "LedgerTableName",
                "DynamoDB table of the SDK's team ledger (gptoss_aws.ledger.dynamodb)",
            )

        # Tokens of the Bedrock models this environment uses (all gpt-oss if none), and
        # what the SDK records for every backend. The Bedrock cost estimate needs a price
        # per model for the region; a model without one (no price in the bundled catalog,
        # e.g. the safeguard models, whose prices AWS publishes nowhere we can cite yet)
        # is charted as tokens only rather than with a guess.
        models = (
            [config.bedrock.model_id(name) for name in config.bedrock.models]
            if config.bedrock
            else [MODELS[name].bedrock_model_id for name in MODELS]
        )
        prices = {}
        unpriced = []
        for model in models:
            try:
                prices.update(CostDashboard.bundled_prices([model], config.region))
            except UnpricedError:
                unpriced.append(model)
        pending = None
        if unpriced:
            # The dashboard is synthesized from the bundled catalog only, so a refreshed
            # price on the deploying machine does not reach it; the SDK's own cost metrics do.
            pending = (
                f"The SDK's bundled catalog has no Bedrock price in {config.region} for "
                f"{', '.join(unpriced)}, so this dashboard charts their tokens only. Priced "
                "costs are in the SDK rows below (CostUSD) and in `gptoss-aws costs` once "
                f"`gptoss-aws prices refresh --region {config.region}` has filled them "
                "(docs/costs.md)."
            )
        self.dashboard = CostDashboard(
            self,
            "Dashboard",
            models=models,
            token_prices=prices or None,
            price_pending=pending,
            mantle=bool(config.bedrock and config.bedrock.mantle),
            dashboard_name=f"{names.prefix}-tokens-and-cost",
        )

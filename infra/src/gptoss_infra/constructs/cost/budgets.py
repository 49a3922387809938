"""A monthly AWS Budget with alerts through an encrypted SNS topic.

- AWS Budgets publishes to an SNS topic in the same account whose policy allows
  ``budgets.amazonaws.com`` ``SNS:Publish``, limited with ``aws:SourceAccount`` and
  ``aws:SourceArn`` ``arn:aws:budgets::ACCOUNT:*`` (AWS Cost Management user guide,
  "Creating an Amazon SNS topic for budget notifications", budgets-sns-policy).
- A KMS-encrypted topic also needs the key policy to let the publishing service use the key
  (``kms:GenerateDataKey*``, ``kms:Decrypt``; Amazon SNS developer guide, "Enable
  compatibility between event sources from AWS services and encrypted topics").
- A budget has at most 5 notifications, each with at most 1 SNS and 10 e-mail subscribers
  (AWS Budgets quotas, budgets-limits); the e-mail addresses here subscribe to the topic,
  so every channel sees the same alerts. SNS sends each address a confirmation first.
- Budgets are evaluated about three times a day on billing data that lags by up to 24 hours
  (budgets-managing-costs): an alert is a signal, not a hard stop. The SDK's ledger
  (``gptoss_aws.budgets``) is the hard per-call limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from gptoss_facts.names import BUDGET_NAME_FORBIDDEN, BUDGET_NAME_MAX

from ...rehearsal.intent import declare_retained
from .._common import PropErrors, check_tags, is_literal

MAX_NOTIFICATIONS = 5  # per budget (AWS Budgets quotas)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CostControls(Construct):
    """A monthly COST budget that alerts at percentage thresholds of its limit.

    :param monthly_limit_usd: the budget's monthly limit in USD.
    :param alert_emails: addresses subscribed to the alert topic. Default: none (add
        subscriptions to ``.topic`` yourself).
    :param thresholds: percentages of the limit that alert on actual spend.
        Default: ``(50, 80, 100)``.
    :param forecast_threshold: percentage of the limit that alerts on *forecasted* spend
        (early warning), or ``None``. Default: ``100``. Counts towards the 5 notifications.
    :param cost_filters: tag key -> values the budget counts (values of one key are ORed,
        keys are ANDed), e.g. ``{"gptoss:project": ["gpt-oss"]}``; the keys must be
        activated cost-allocation tags. Default: none, the whole account's spend.
    :param budget_name: the budget's name. Default: ``"<stack name>-gptoss-monthly"``.
    :param encryption_key: key for the topic. Default: a new key with rotation enabled.
    :param removal_policy: what happens to the key when the stack is deleted.
        Default: ``RemovalPolicy.RETAIN`` (CDK's default for keys).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        monthly_limit_usd: float,
        alert_emails: Sequence[str] = (),
        thresholds: Sequence[float] = (50, 80, 100),
        forecast_threshold: float | None = 100,
        cost_filters: Mapping[str, Sequence[str]] | None = None,
        budget_name: str | None = None,
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = budget_name or f"{stack.stack_name}-gptoss-monthly"
        _check_props(
            name, monthly_limit_usd, alert_emails, thresholds, forecast_threshold, cost_filters
        )
        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            description="Encrypts the gpt-oss budget alert topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.topic = self._alert_topic(alert_emails)
        declare_retained(
            self,
            reason="CDK's default for keys: a deleted key makes anything still encrypted "
            "with it unreadable.",
        )
        subscriber = budgets.CfnBudget.SubscriberProperty(
            subscription_type="SNS", address=self.topic.topic_arn
        )
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(
                    amount=float(monthly_limit_usd), unit="USD"
                ),
                filter_expression=_tag_expression(cost_filters) if cost_filters else None,
            ),
            notifications_with_subscribers=_notifications(
                thresholds, forecast_threshold, subscriber
            ),
        )
        # Budgets checks that it may publish when the budget is created: wait for the topic
        # policy (the topic itself is already referenced).
        topic_policy = self.topic.node.try_find_child("Policy")
        if topic_policy is not None:
            self.budget.node.add_dependency(topic_policy)
        self.budget_name = name

    def _alert_topic(self, alert_emails: Sequence[str]) -> sns.Topic:
        """The encrypted topic AWS Budgets publishes to, and may use the key for."""
        stack = Stack.of(self)
        source = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:budgets::{stack.account}:*"},
        }
        self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsToPublishEncrypted",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions=source,
            )
        )
        topic = sns.Topic(
            self,
            "AlertTopic",
            display_name="gpt-oss budget alerts",
            master_key=self.encryption_key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSBudgetsSNSPublishingPermissions",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[topic.topic_arn],
                conditions=source,
            )
        )
        for email in alert_emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic


def _check_props(
    name: str,
    monthly_limit_usd: float,
    alert_emails: Sequence[str],
    thresholds: Sequence[float],
    forecast_threshold: float | None,
    cost_filters: Mapping[str, Sequence[str]] | None,
) -> None:
    errors = PropErrors("CostControls props")
    errors.check(monthly_limit_usd > 0, f"monthly_limit_usd must be > 0 (got {monthly_limit_usd})")
    errors.check(bool(thresholds), "thresholds must hold at least one percentage")
    for threshold in (*thresholds, *([] if forecast_threshold is None else [forecast_threshold])):
        errors.check(
            0 < threshold <= 1000,
            f"threshold {threshold} must be a percentage in (0, 1000]",
        )
    errors.check(
        len(set(thresholds)) == len(thresholds), f"thresholds has duplicates: {thresholds}"
    )
    count = len(thresholds) + (forecast_threshold is not None)
    errors.check(
        count <= MAX_NOTIFICATIONS,
        f"{count} notifications (thresholds plus forecast) exceed AWS Budgets' "
        f"{MAX_NOTIFICATIONS} per budget",
    )
    for email in alert_emails:
        errors.check(bool(_EMAIL.match(email)), f"alert_emails: {email!r} is not an e-mail address")
    if is_literal(name):
        errors.check(
            1 <= len(name) <= BUDGET_NAME_MAX and not any(c in name for c in BUDGET_NAME_FORBIDDEN),
            f"budget_name {name!r} must be 1-{BUDGET_NAME_MAX} characters without "
            + " or ".join(f"'{c}'" for c in BUDGET_NAME_FORBIDDEN),
        )
    for key, values in (cost_filters or {}).items():
        errors.check(bool(values), f"cost_filters[{key!r}] must list at least one value")
        for value in values:
            check_tags(errors, "cost_filters", {key: value})
    errors.raise_if_any()


def _notifications(
    thresholds: Sequence[float],
    forecast_threshold: float | None,
    subscriber: budgets.CfnBudget.SubscriberProperty,
) -> list[budgets.CfnBudget.NotificationWithSubscribersProperty]:
    """One ACTUAL notification per threshold, ascending, then the FORECASTED one."""
    kinds = [("ACTUAL", t) for t in sorted(thresholds)]
    if forecast_threshold is not None:
        kinds.append(("FORECASTED", forecast_threshold))
    return [
        budgets.CfnBudget.NotificationWithSubscribersProperty(
            notification=budgets.CfnBudget.NotificationProperty(
                notification_type=kind,
                comparison_operator="GREATER_THAN",
                threshold=float(threshold),
                threshold_type="PERCENTAGE",
            ),
            subscribers=[subscriber],
        )
        for kind, threshold in kinds
    ]


def _tag_expression(filters: Mapping[str, Sequence[str]]) -> budgets.CfnBudget.ExpressionProperty:
    """Cost Explorer expression: each key's values ORed (one Tags term), keys ANDed."""
    terms = [
        budgets.CfnBudget.ExpressionProperty(
            tags=budgets.CfnBudget.TagValuesProperty(
                key=key, values=list(values), match_options=["EQUALS"]
            )
        )
        for key, values in sorted(filters.items())
    ]
    if len(terms) == 1:
        return terms[0]
    return budgets.CfnBudget.ExpressionProperty(and_=terms)

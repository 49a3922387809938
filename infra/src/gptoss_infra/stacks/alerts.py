"""The encrypted SNS topic the endpoint's alarms notify.

CloudWatch alarms without an action notify no one (the NIST 800-53 and HIPAA packs flag
them: CloudWatchAlarmAction). CloudWatch publishes to a KMS-encrypted topic only if the
key policy lets ``cloudwatch.amazonaws.com`` use the key (Amazon SNS developer guide,
"Enable compatibility between event sources from AWS services and encrypted topics") and
the topic policy, which replaces the default one, allows it ``sns:Publish``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from gptoss_infra.rehearsal.intent import declare_retained


class AlarmTopic(Construct):
    """An SNS topic for CloudWatch alarm notifications, encrypted with its own key, TLS only.

    :param emails: addresses subscribed to the topic (SNS asks each to confirm).
        Default: none.
    :param removal_policy: for the key. Default: ``DESTROY``: the key only encrypts
        notifications in flight, and KMS still waits 7 days (``pending_window``) before it
        deletes a key, so deleting the environment leaves nothing billable behind.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        emails: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the gpt-oss endpoint alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.topic = sns.Topic(
            self, "Topic", master_key=self.key, enforce_ssl=True, display_name="gpt-oss alarms"
        )
        # enforce_ssl creates a topic policy, and a topic policy replaces SNS's default one
        # (which let the account's services publish): CloudWatch needs its own Allow
        # (AWS Knowledge Center, cloudwatch-receive-sns-for-alarm-trigger), limited to this
        # account's alarms in this region.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        declare_retained(
            self,
            reason="A deleted key makes any alarm message still encrypted with it unreadable.",
        )

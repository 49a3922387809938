"""topic-publishers: every service that publishes to one of our topics may, and may use
the topic's key.

- A topic policy (``AWS::SNS::TopicPolicy``) replaces the topic's default policy, so the
  publishing service needs an explicit Allow of ``sns:Publish``: ``cloudwatch.amazonaws.com``
  for alarm actions, ``budgets.amazonaws.com`` for budget notifications,
  ``events.amazonaws.com`` for EventBridge targets. A topic without a policy keeps the
  default one, which lets the owning account's services publish.
- An SSE-KMS topic also needs the key policy to allow that principal
  ``kms:GenerateDataKey*`` and ``kms:Decrypt``; an AWS managed key (``alias/aws/sns``)
  cannot be changed, so services cannot publish to a topic it encrypts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..assembly import StackTemplate, resolve_target
from ..policies import action_matches, allows, as_list, service_principals
from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "topic-publishers"
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def _publishers(stack: StackTemplate) -> dict[str, set[str]]:
    """topic logical id -> service principals that publish to it."""
    found: dict[str, set[str]] = {}

    def add(value: Any, service: str) -> None:
        target = resolve_target(value)
        if target is not None and stack.resources.get(target, {}).get("Type") == "AWS::SNS::Topic":
            found.setdefault(target, set()).add(service)

    for _, alarm in stack.of_type("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
        props = alarm.get("Properties", {})
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            for action in as_list(props.get(key)):
                add(action, "cloudwatch.amazonaws.com")
    for _, budget in stack.of_type("AWS::Budgets::Budget"):
        for notification in as_list(
            budget.get("Properties", {}).get("NotificationsWithSubscribers")
        ):
            for subscriber in as_list(notification.get("Subscribers")):
                if isinstance(subscriber, Mapping) and subscriber.get("SubscriptionType") == "SNS":
                    add(subscriber.get("Address"), "budgets.amazonaws.com")
    for _, rule in stack.of_type("AWS::Events::Rule"):
        for target in as_list(rule.get("Properties", {}).get("Targets")):
            if isinstance(target, Mapping):
                add(target.get("Arn"), "events.amazonaws.com")
    return found


def _topic_policies(stack: StackTemplate, topic: str) -> list[Mapping[str, Any]]:
    documents = []
    for _, policy in stack.of_type("AWS::SNS::TopicPolicy"):
        props = policy.get("Properties", {})
        if any(resolve_target(t) == topic for t in as_list(props.get("Topics"))):
            documents.append(props.get("PolicyDocument", {}))
    for _, policy in stack.of_type("AWS::SNS::TopicInlinePolicy"):
        props = policy.get("Properties", {})
        if resolve_target(props.get("TopicArn")) == topic:
            documents.append(props.get("PolicyDocument", {}))
    return documents


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _granted(statements: list[Mapping[str, Any]], service: str, action: str) -> bool:
    allowed = any(
        allows(s, action) and (service in service_principals(s) or "*" in service_principals(s))
        for s in statements
    )
    # An unconditional Deny for the service (or everyone) overrides any Allow.
    denied = any(
        s.get("Effect") == "Deny"
        and not s.get("Condition")
        and (service in service_principals(s) or "*" in service_principals(s))
        and any(action_matches(str(a), action) for a in as_list(s.get("Action")))
        for s in statements
    )
    return allowed and not denied


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    for assembly in rehearsal.assemblies:
        for stack in assembly.stacks:
            for topic, services in sorted(_publishers(stack).items()):
                policies = _topic_policies(stack, topic)
                key_value = stack.properties(topic).get("KmsMasterKeyId")
                key = resolve_target(key_value)
                for service in sorted(services):
                    if policies and not _granted(
                        [s for d in policies for s in _statements(d)], service, "sns:Publish"
                    ):
                        yield Finding(
                            ID,
                            assembly.name,
                            stack.name,
                            topic,
                            f"the topic policy replaces SNS's default policy and does not allow "
                            f"{service} sns:Publish: its notifications are dropped",
                        )
                    if isinstance(key_value, str) and "alias/aws/sns" in key_value:
                        yield Finding(
                            ID,
                            assembly.name,
                            stack.name,
                            topic,
                            f"encrypted with the AWS managed key alias/aws/sns, whose policy "
                            f"cannot allow {service}: use a customer managed key",
                        )
                    elif key is not None and key in stack.resources:
                        statements = _statements(stack.properties(key).get("KeyPolicy", {}))
                        missing = [a for a in KEY_ACTIONS if not _granted(statements, service, a)]
                        if missing:
                            yield Finding(
                                ID,
                                assembly.name,
                                stack.name,
                                key,
                                f"the key of topic {topic} does not allow {service} "
                                f"{', '.join(missing)}: SNS cannot encrypt what it publishes",
                            )


RULE = RehearsalRule(
    id=ID,
    title="Topics accept publishes from the services that notify them, and so do their keys",
    sources=(
        Source(
            "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
            "#compatibility-with-aws-services",
            "To allow these event sources to work with encrypted topics, you must perform the "
            "following steps: use a customer managed key, and add a statement to its key "
            "policy that allows the service principal kms:GenerateDataKey* and kms:Decrypt.",
        ),
        Source(
            "https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger",
            "SNS uses access policies to restrict the sources that can publish messages to the "
            "topic. [...] The policy update grants permissions to the CloudWatch alarms "
            "service to publish messages to the SNS topic.",
        ),
        Source(
            "https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html",
            "Your budget must have permissions to send a notification to your topic.",
        ),
    ),
    check=check,
)

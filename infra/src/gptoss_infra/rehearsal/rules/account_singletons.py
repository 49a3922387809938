"""account-singletons: a setting AWS keeps once per account and region has one owner.

Bedrock model invocation logging is one configuration per account and Region; a stack
that puts it overwrites every other, and the stack's deletion removes it for all. The rule
finds every resource that sets such a setting, across all environments of a run, and
requires that

- it sits in an account-level stack (``Metadata.gptoss.component == "account"``), never in
  an environment's stack, so deleting an environment cannot change it;
- all claimants in the same account and region are one stack with one template (the same
  stack name deployed from several environments is one owner; two names, or two different
  templates under one name, fight over the setting);
- that stack has termination protection, so ``cdk destroy`` cannot delete it by accident.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..assembly import Assembly, StackTemplate
from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "account-singletons"


def _calls(resource: Mapping[str, Any], action: str) -> bool:
    """An AwsCustomResource whose create or update calls ``action``."""
    if not str(resource.get("Type", "")).startswith("Custom::"):
        return False
    props = resource.get("Properties", {})
    text = json.dumps([props.get("Create"), props.get("Update")]).lower()
    return action.lower() in text


# Setting name -> how to recognise a resource that sets it.
SINGLETONS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "bedrock-invocation-logging": lambda r: (
        _calls(r, "PutModelInvocationLoggingConfiguration")
        or r.get("Type") == "AWS::Bedrock::ModelInvocationLoggingConfiguration"
    ),
    "apigateway-account": lambda r: r.get("Type") == "AWS::ApiGateway::Account",
}


def _digest(stack: StackTemplate) -> str:
    return hashlib.sha256(json.dumps(stack.template, sort_keys=True).encode()).hexdigest()[:12]


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    # (setting, account, region) -> [(assembly, stack, logical id)]
    claims: dict[tuple[str, str, str], list[tuple[Assembly, StackTemplate, str]]] = {}
    for assembly in rehearsal.assemblies:
        for stack in assembly.stacks:
            for logical_id, resource in stack.resources.items():
                for setting, matches in SINGLETONS.items():
                    if matches(resource):
                        key = (setting, stack.account, stack.region)
                        claims.setdefault(key, []).append((assembly, stack, logical_id))
    for (setting, account, region), owners in sorted(claims.items(), key=lambda kv: kv[0]):
        names = sorted({stack.name for _, stack, _ in owners})
        templates = {(stack.name, _digest(stack)) for _, stack, _ in owners}
        for assembly, stack, logical_id in owners:
            if stack.gptoss.get("component") != "account":
                yield Finding(
                    ID,
                    assembly.name,
                    stack.name,
                    logical_id,
                    f"{setting} is one setting per account and region, but this environment's "
                    "stack sets it: deleting the environment changes it for every other one",
                )
            elif not stack.termination_protection:
                yield Finding(
                    ID,
                    assembly.name,
                    stack.name,
                    logical_id,
                    f"the account-level stack that owns {setting} has no termination protection",
                )
            if len(names) > 1:
                yield Finding(
                    ID,
                    assembly.name,
                    stack.name,
                    logical_id,
                    f"{setting} in {account}/{region} is also set by "
                    f"{', '.join(n for n in names if n != stack.name)}: the last deployed wins",
                )
            elif len(templates) > 1:
                yield Finding(
                    ID,
                    assembly.name,
                    stack.name,
                    logical_id,
                    f"{setting}: the environments deploy {stack.name} with different "
                    "templates, so each deploy rewrites the others' setting",
                )


RULE = RehearsalRule(
    id=ID,
    title="Account-wide settings (Bedrock invocation logging) have one owner stack",
    sources=(
        Source(
            "https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html",
            "You can use model invocation logging to collect invocation logs, model input "
            "data, and model output data for all invocations in your AWS account used in "
            "Amazon Bedrock in a Region.",
        ),
        Source(
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
            "using-cfn-protect-stacks.html",
            "You can prevent a stack from being accidentally deleted by enabling termination "
            "protection on the stack. If a user attempts to delete a stack with termination "
            "protection enabled, the deletion fails and the stack--including its status--"
            "remains unchanged.",
        ),
    ),
    check=check,
)

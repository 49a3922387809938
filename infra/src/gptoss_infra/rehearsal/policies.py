"""Policy documents found in a template, and the IAM matching the rules need.

IAM matches actions case-insensitively with ``*`` and ``?`` wildcards (IAM user guide,
"IAM JSON policy elements: Action"); principals, actions, resources and condition values
may each be a string or a list.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .assembly import StackTemplate

# Where each resource type keeps its policy documents.
_DOCUMENT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::SNS::TopicInlinePolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::Logs::ResourcePolicy": ("PolicyDocument",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
}
IDENTITY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role")


@dataclass(frozen=True)
class Document:
    """One policy document: where it is and what kind (identity, resource, trust)."""

    stack: StackTemplate
    logical_id: str
    resource_type: str
    identity: bool
    body: Mapping[str, Any]

    @property
    def statements(self) -> list[Mapping[str, Any]]:
        return [s for s in as_list(self.body.get("Statement")) if isinstance(s, Mapping)]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def documents(stack: StackTemplate) -> Iterator[Document]:
    """Every policy document of ``stack``, inline role policies included."""
    for logical_id, resource in stack.resources.items():
        kind = str(resource.get("Type"))
        props = resource.get("Properties", {})
        if not isinstance(props, Mapping):
            continue
        for name in _DOCUMENT_PROPERTIES.get(kind, ()):
            body = props.get(name)
            if isinstance(body, Mapping):
                yield Document(
                    stack,
                    logical_id,
                    kind,
                    kind in IDENTITY_TYPES and name != "AssumeRolePolicyDocument",
                    body,
                )
        if kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for inline in as_list(props.get("Policies")):
                if isinstance(inline, Mapping) and isinstance(
                    inline.get("PolicyDocument"), Mapping
                ):
                    yield Document(stack, logical_id, kind, True, inline["PolicyDocument"])


def action_matches(pattern: str, action: str) -> bool:
    """Whether the policy's action ``pattern`` covers ``action`` (case-insensitive)."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def allows(statement: Mapping[str, Any], action: str) -> bool:
    """An Allow statement whose Action covers ``action`` (NotAction counts when it
    does not exclude it)."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(action_matches(str(a), action) for a in as_list(statement["NotAction"]))
    return any(action_matches(str(a), action) for a in as_list(statement.get("Action")))


def service_principals(statement: Mapping[str, Any]) -> set[str]:
    """Service principals named by the statement; ``*`` for an anonymous principal."""
    principal = statement.get("Principal")
    if principal == "*":
        return {"*"}
    if not isinstance(principal, Mapping):
        return set()
    names = {str(p) for p in as_list(principal.get("Service")) if isinstance(p, str)}
    if "*" in as_list(principal.get("AWS")):
        names.add("*")
    return names


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    conditions = statement.get("Condition", {})
    keys: set[str] = set()
    if isinstance(conditions, Mapping):
        for block in conditions.values():
            if isinstance(block, Mapping):
                keys.update(str(k) for k in block)
    return keys

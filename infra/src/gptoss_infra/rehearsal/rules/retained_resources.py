"""retained-resources: what a stack deletion leaves behind is listed, and nothing billable
is left behind unless it was kept on purpose.

CloudFormation keeps a resource whose ``DeletionPolicy`` is ``Retain`` (or
``RetainExceptOnUpdate``) when the stack is deleted, and ``Snapshot`` keeps a snapshot:
the account goes on paying for them with nothing left that owns them. A retained resource
of a billable type needs a ``gptoss:retained`` declaration (``intent.retain_on_purpose``)
that says why and how to delete it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..assembly import Assembly
from ..intent import METADATA_KEY
from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "retained-resources"
KEEPING = ("Retain", "RetainExceptOnCreate", "Snapshot")

# Types that cost money while they exist, and what is billed (each service's pricing page).
BILLABLE: dict[str, str] = {
    "AWS::S3::Bucket": "storage per GB-month",
    "AWS::KMS::Key": "a monthly fee per customer managed key",
    "AWS::Logs::LogGroup": "stored log data per GB-month",
    "AWS::DynamoDB::Table": "storage (and provisioned capacity)",
    "AWS::DynamoDB::GlobalTable": "storage (and provisioned capacity)",
    "AWS::ECR::Repository": "image storage per GB-month",
    "AWS::EFS::FileSystem": "storage per GB-month",
    "AWS::RDS::DBInstance": "instance hours and storage",
    "AWS::SecretsManager::Secret": "a monthly fee per secret",
}


@dataclass(frozen=True)
class Retained:
    assembly: str
    stack: str
    logical_id: str
    resource_type: str
    policy: str
    declaration: Mapping[str, Any] | None

    @property
    def billable(self) -> bool:
        return self.resource_type in BILLABLE


def retained(assembly: Assembly) -> list[Retained]:
    """Every resource of ``assembly`` that a stack deletion leaves behind."""
    out = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.resources.items():
            policy = resource.get("DeletionPolicy")
            if policy not in KEEPING:
                continue
            metadata = resource.get("Metadata", {})
            declaration = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
            out.append(
                Retained(
                    assembly.name,
                    stack.name,
                    logical_id,
                    str(resource.get("Type")),
                    str(policy),
                    declaration if isinstance(declaration, Mapping) else None,
                )
            )
    return out


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    for assembly in rehearsal.assemblies:
        for item in retained(assembly):
            if item.billable and item.declaration is None:
                yield Finding(
                    ID,
                    assembly.name,
                    item.stack,
                    item.logical_id,
                    f"{item.resource_type} has DeletionPolicy {item.policy}: deleting the stack "
                    f"leaves it behind, still billed ({BILLABLE[item.resource_type]}), and "
                    "nothing declares that on purpose (gptoss:retained: reason and how to delete)",
                )


RULE = RehearsalRule(
    id=ID,
    title="Resources kept on stack deletion are listed; billable ones are kept on purpose",
    sources=(
        Source(
            "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
            "aws-attribute-deletionpolicy.html",
            "Retain: Keeps the resource without deleting the resource or its contents when "
            "its stack is deleted. [...] resources that are retained continue to exist and "
            "continue to incur applicable charges until you delete those resources.",
        ),
    ),
    check=check,
)

"""logs-key-scope: a key that CloudWatch Logs may use is limited to our own log groups.

CloudWatch Logs encrypts with the key itself, so the key policy allows the regional logs
principal. Without the ``kms:EncryptionContext:aws:logs:arn`` condition, or with one that
matches every group (``log-group:*``), any log group in the account and region can be
associated with the key and encrypt (and so let its readers decrypt) with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..policies import as_list, service_principals
from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "logs-key-scope"
CONTEXT_KEY = "kms:encryptioncontext:aws:logs:arn"


def _values(statement: object) -> list[str]:
    """The condition's values, each flattened to text (tokens become their JSON)."""
    conditions = statement.get("Condition", {}) if isinstance(statement, dict) else {}
    out: list[str] = []
    for block in conditions.values() if isinstance(conditions, dict) else []:
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            if key.lower() == CONTEXT_KEY:
                out += [v if isinstance(v, str) else json.dumps(v) for v in as_list(value)]
    return out


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    for assembly in rehearsal.assemblies:
        for stack in assembly.stacks:
            for key_id, key in stack.of_type("AWS::KMS::Key"):
                policy = key.get("Properties", {}).get("KeyPolicy", {})
                for index, statement in enumerate(as_list(policy.get("Statement"))):
                    if statement.get("Effect") != "Allow":
                        continue
                    principals = json.dumps(sorted(service_principals(statement)))
                    if "logs." not in principals and "logs.amazonaws.com" not in principals:
                        continue
                    where = statement.get("Sid") or f"statement {index}"
                    values = _values(statement)
                    if not values:
                        yield Finding(
                            ID,
                            assembly.name,
                            stack.name,
                            key_id,
                            f"{where} lets CloudWatch Logs use the key for any log group: add "
                            "the kms:EncryptionContext:aws:logs:arn condition",
                        )
                    elif any(v.rstrip('"]}').endswith("log-group:*") for v in values):
                        yield Finding(
                            ID,
                            assembly.name,
                            stack.name,
                            key_id,
                            f"{where} limits CloudWatch Logs to log-group:*, every log group of "
                            "the account and region: name our own groups",
                        )


RULE = RehearsalRule(
    id=ID,
    title="Keys CloudWatch Logs may use are limited to our own log groups",
    sources=(
        Source(
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
            "CloudWatch Logs now supports encryption context, using "
            "kms:EncryptionContext:aws:logs:arn as the key and the ARN of the log group as the "
            "value for that key. [...] restrict the key to be used with a single account and "
            "log group",
        ),
    ),
    check=check,
)

"""Small hand-made templates for the rehearsal's rule tests, and helpers to run one rule."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from gptoss_infra.rehearsal import Assembly, Finding, Rehearsal, RehearsalRule, StackTemplate

ACCOUNT = "123456789012"


def stack(
    name: str,
    resources: Mapping[str, Any],
    *,
    region: str = "us-east-1",
    account: str = ACCOUNT,
    gptoss: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    termination_protection: bool = False,
) -> StackTemplate:
    template: dict[str, Any] = {"Resources": copy.deepcopy(dict(resources))}
    if outputs:
        template["Outputs"] = copy.deepcopy(dict(outputs))
    if gptoss is not None:
        template["Metadata"] = {"gptoss": dict(gptoss)}
    return StackTemplate(name, name, account, region, template, termination_protection)


def assembly(name: str, *stacks: StackTemplate) -> Assembly:
    return Assembly.of(name, tuple(stacks))


def run(rule: RehearsalRule, *assemblies: Assembly) -> list[Finding]:
    return rule.run(Rehearsal(list(assemblies)))


def run_with_notes(rule: RehearsalRule, *assemblies: Assembly) -> tuple[list[Finding], list[str]]:
    rehearsal = Rehearsal(list(assemblies))
    return rule.run(rehearsal), rehearsal.notes


def resource(
    kind: str, properties: Mapping[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"Type": kind, "Properties": dict(properties or {}), **extra}

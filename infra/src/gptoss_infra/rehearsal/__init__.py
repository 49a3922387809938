"""The deployment rehearsal: AWS's documented behaviour checked on synthesized templates.

cfn-lint and cdk-nag check shapes; moto creates resources. None of them knows which
resource must exist before which, who may publish to a topic, how much capacity an update
needs, or which settings are account-wide. Each rule here encodes one documented AWS
behaviour (its module cites the page and the sentence) and reads every environment's cloud
assembly together::

    python -m gptoss_infra.rehearsal                       # every infra/environments/*.json
    python -m gptoss_infra.rehearsal --assembly cdk.out    # assemblies already synthesized
"""

from __future__ import annotations

from collections.abc import Sequence

from .assembly import Assembly, StackTemplate, read_assembly
from .rule import Finding, Rehearsal, RehearsalRule, Source
from .rules import ALL_RULES


def rehearse(
    assemblies: Sequence[Assembly], rules: Sequence[RehearsalRule] = ALL_RULES
) -> tuple[list[Finding], list[str]]:
    """Every finding of ``rules`` over ``assemblies``, and the run's notes."""
    rehearsal = Rehearsal(list(assemblies))
    findings = [finding for rule in rules for finding in rule.run(rehearsal)]
    return findings, rehearsal.notes


__all__ = [
    "ALL_RULES",
    "Assembly",
    "Finding",
    "Rehearsal",
    "RehearsalRule",
    "Source",
    "StackTemplate",
    "read_assembly",
    "rehearse",
]

"""What one rule of our pack is: an id suffix, its messages, its level and its check.

cdk-nag builds the finding id as ``<pack name>-<suffix>`` (``GPTOSS-SM1``) and reports
``info`` (``info`` and ``explanation`` with ``verbose=True``). Each rule lives in its own
module under ``gptoss_infra.nag.rules``, as cdk-nag's own rules do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnResource, Stack
from cdk_nag import NagMessageLevel, NagRuleCompliance

Check = Callable[[CfnResource], NagRuleCompliance]


@dataclass(frozen=True)
class GptOssRule:
    """A rule of :class:`~gptoss_infra.nag.pack.GptOssNagPack`.

    :param suffix: the rule id after the pack name, e.g. ``"SM1"``.
    :param info: why the rule was triggered (one line, shown with every finding).
    :param explanation: why the rule exists and how to fix the resource.
    :param level: ``NagMessageLevel.ERROR`` or ``WARN``; either fails synthesis when the
        pack is registered with ``Validations.of(app).add_plugins`` (cdk-nag 3 reports
        every unacknowledged finding as a violation), the level is the report's severity.
    :param check: returns COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE for one resource.
    """

    suffix: str
    info: str
    explanation: str
    level: NagMessageLevel
    check: Check


def cfn_properties(node: CfnResource) -> dict[str, Any]:
    """The resource's CloudFormation ``Properties`` (PascalCase), tokens resolved.

    Like cdk-nag's rules, this sees properties set through the L1's attributes, not raw
    ``add_property_override`` overrides (cdk-nag README, "Rules and Property Overrides").
    """
    rendered = node._render_properties(node._cfn_properties)
    resolved = Stack.of(node).resolve(rendered)
    return dict(resolved) if isinstance(resolved, dict) else {}

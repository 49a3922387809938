"""GptOssNagPack: our cdk-nag 3 rule pack (rule ids ``GPTOSS-<suffix>``).

Register it like the published packs (cdk-nag 3 removed Aspects and NagSuppressions)::

    Validations.of(app).add_plugins(GptOssNagPack(app))

and acknowledge a finding on a construct with its reason::

    Validations.of(model).acknowledge(Acknowledgment(id="GPTOSS-SM1", reason="..."))

cdk-nag's ``NagPack`` walks the construct tree, calls ``check_resource`` for every
``CfnResource`` and ``apply_rule`` turns a NON_COMPLIANT result that is not acknowledged
on the resource or an ancestor into a violation; any violation fails synthesis.
"""

from __future__ import annotations

from typing import cast

import jsii
from aws_cdk import CfnResource
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from .rule import GptOssRule
from .rules import ALL_RULES

PACK_NAME = "GPTOSS"


@jsii.implements(IApplyRule)
class _RuleApplication:
    """One rule applied to one resource, in the shape ``NagPack.applyRule`` reads (jsii
    reads these as properties, so they must be properties, not plain attributes)."""

    def __init__(self, rule: GptOssRule, node: CfnResource) -> None:
        self._rule = rule
        self._node = node

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return self._rule.level

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.suffix

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        return self._rule.check(node)


class GptOssNagPack(NagPack):
    """The gpt-oss project's rules (see ``gptoss_infra.nag.rules``).

    :param scope: the app; only needed with ``write_suppressions_to_cloud_formation``.
    :param verbose: include each rule's explanation in findings. Default: ``False``.
    :param rules: the rules to run. Default: all of them (``ALL_RULES``).
    """

    def __init__(
        self,
        scope: IConstruct | None = None,
        *,
        verbose: bool | None = None,
        rules: tuple[GptOssRule, ...] = ALL_RULES,
    ) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK_NAME
        self._rules = rules

    @property
    def name(self) -> str:
        return "GptOss"

    def _check_resource(self, node: CfnResource) -> None:
        for rule in self._rules:
            self._apply_rule(cast(IApplyRule, _RuleApplication(rule, node)))

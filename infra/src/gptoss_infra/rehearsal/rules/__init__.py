"""The rehearsal's rules, one per module (as cdk-nag keeps its rules)."""

from __future__ import annotations

from ..rule import RehearsalRule
from . import (
    account_singletons,
    ami_compatibility,
    creation_order,
    iam_vocabulary,
    logs_key_scope,
    profile_bypass,
    retained_resources,
    topic_publishers,
    update_capacity,
)

ALL_RULES: tuple[RehearsalRule, ...] = (
    creation_order.RULE,
    topic_publishers.RULE,
    update_capacity.RULE,
    account_singletons.RULE,
    ami_compatibility.RULE,
    profile_bypass.RULE,
    iam_vocabulary.RULE,
    logs_key_scope.RULE,
    retained_resources.RULE,
)

__all__ = ["ALL_RULES"]

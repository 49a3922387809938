"""Cost-allocation tags on every taggable resource of a scope.

Tags only show up in Cost Explorer and the Cost and Usage Report once their keys are
activated as cost-allocation tags in the Billing console (AWS Billing user guide,
"Activating user-defined cost allocation tags"; up to 24 hours, not retroactive).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Tags
from constructs import IConstruct

from .._common import PropErrors, check_tags
from ..bedrock.inference_profiles import MODEL_TAG_KEY, TEAM_TAG_KEY

# Tags the inference profiles set per profile; a scope-wide value would overwrite them.
RESERVED_KEYS = (TEAM_TAG_KEY, MODEL_TAG_KEY)


def apply_cost_allocation_tags(scope: IConstruct, tags: Mapping[str, str]) -> None:
    """Tag every taggable resource under ``scope`` (CDK ``Tags.of``, applied at synth).

    Raises ``ValueError`` listing every invalid key or value, and any of the per-profile
    keys ``gptoss:team`` / ``gptoss:model``.
    """
    errors = PropErrors("cost-allocation tags")
    errors.check(bool(tags), "give at least one tag")
    check_tags(errors, "tags", tags)
    reserved = sorted(set(tags) & set(RESERVED_KEYS))
    errors.check(
        not reserved,
        f"tags {reserved} are set per inference profile; use another key for scope-wide tags",
    )
    errors.raise_if_any()
    for key, value in tags.items():
        Tags.of(scope).add(key, value)

"""GPTOSS-SM2: instance-backed endpoint variants should route to the least busy instance.

SageMaker's default routing is random; ``RoutingConfig.RoutingStrategy:
LEAST_OUTSTANDING_REQUESTS`` sends each request to the instance with the fewest requests
in flight (SageMaker developer guide, "Routing strategies"; API ProductionVariantRoutingConfig).
LLM requests vary from milliseconds to minutes, so random routing queues short requests
behind long generations on one instance while another idles. Serverless variants have no
instances to choose between and are not checked.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from cdk_nag import NagMessageLevel, NagRuleCompliance

from ..rule import GptOssRule, cfn_properties

ENDPOINT_CONFIG_TYPE = "AWS::SageMaker::EndpointConfig"
STRATEGY = "LEAST_OUTSTANDING_REQUESTS"


def check(node: CfnResource) -> NagRuleCompliance:
    if node.cfn_resource_type != ENDPOINT_CONFIG_TYPE:
        return NagRuleCompliance.NOT_APPLICABLE
    variants = cfn_properties(node).get("ProductionVariants")
    if not isinstance(variants, list):
        return NagRuleCompliance.NON_COMPLIANT  # an intrinsic: cannot be verified
    checked = [v for v in variants if not (isinstance(v, dict) and "ServerlessConfig" in v)]
    if not checked:
        return NagRuleCompliance.NOT_APPLICABLE
    for variant in checked:
        routing = variant.get("RoutingConfig") if isinstance(variant, dict) else None
        if not isinstance(routing, dict) or routing.get("RoutingStrategy") != STRATEGY:
            return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT


RULE = GptOssRule(
    suffix="SM2",
    info=(
        "An instance-backed SageMaker endpoint variant does not use "
        "RoutingConfig.RoutingStrategy LEAST_OUTSTANDING_REQUESTS."
    ),
    explanation=(
        "The default (random) routing queues short LLM requests behind long generations on "
        "one instance while another is idle. Set RoutingConfig: {RoutingStrategy: "
        "LEAST_OUTSTANDING_REQUESTS} on every instance-backed production variant."
    ),
    level=NagMessageLevel.WARN,
    check=check,
)

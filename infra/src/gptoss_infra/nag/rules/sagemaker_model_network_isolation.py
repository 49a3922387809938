"""GPTOSS-SM1: a SageMaker model must run with network isolation.

No published pack checks ``AWS::SageMaker::Model`` ``EnableNetworkIsolation``: the
AwsSolutions SM rules cover notebook instances, and the NIST 800-53 R5, HIPAA and PCI packs
check endpoint-configuration encryption only (cdk-nag RULES.md). With isolation the model
container makes no outbound network calls, so a compromised or malicious image (or a
prompt that drives a tool-calling model) cannot exfiltrate data or fetch code; gpt-oss
weights then come from S3 (``ModelDataSource``), which SageMaker downloads before start.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from cdk_nag import NagMessageLevel, NagRuleCompliance

from ..rule import GptOssRule, cfn_properties

MODEL_TYPE = "AWS::SageMaker::Model"


def check(node: CfnResource) -> NagRuleCompliance:
    if node.cfn_resource_type != MODEL_TYPE:
        return NagRuleCompliance.NOT_APPLICABLE
    # Only the literal boolean true passes: a parameter or condition could turn it off.
    if cfn_properties(node).get("EnableNetworkIsolation") is True:
        return NagRuleCompliance.COMPLIANT
    return NagRuleCompliance.NON_COMPLIANT


RULE = GptOssRule(
    suffix="SM1",
    info="The SageMaker model does not enable network isolation (EnableNetworkIsolation: true).",
    explanation=(
        "Without network isolation the inference container can open outbound connections: "
        "a compromised image or a tool-calling prompt could exfiltrate prompts and outputs "
        "or download code. Set EnableNetworkIsolation to the literal true and load the "
        "weights from S3 (ModelDataSource); changing it replaces the model."
    ),
    level=NagMessageLevel.ERROR,
    check=check,
)

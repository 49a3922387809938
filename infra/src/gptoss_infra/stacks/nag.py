"""The rule packs every synthesis runs, and the findings acknowledged at stack level.

cdk-nag 3 registers packs as CDK policy-validation plugins (Validations.of(app).add_plugins);
a finding nobody acknowledged fails synthesis. The constructs acknowledge what they own,
next to the code that causes it (including the stack-scoped singletons they create, such as
the AwsCustomResource provider); the stacks themselves add no resource that needs one.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

from gptoss_infra.nag import GptOssNagPack


def add_rule_packs(app: App) -> None:
    """AwsSolutions, NIST 800-53 rev 5 and HIPAA Security from cdk-nag, plus our own pack
    (a SageMaker model without network isolation fails synthesis: no cdk-nag pack checks it)."""
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app),
        NIST80053R5Checks(app),
        HIPAASecurityChecks(app),
        GptOssNagPack(app),
    )

"""Build the CDK app for one deployment configuration."""

from __future__ import annotations

from typing import Any

from aws_cdk import App

from gptoss_deploy.config import DeploymentConfig
from gptoss_deploy.validation import validate
from gptoss_infra.stacks.account_stack import GptOssAccountStack
from gptoss_infra.stacks.bedrock_stack import GptOssBedrockStack
from gptoss_infra.stacks.cost_stack import GptOssCostStack
from gptoss_infra.stacks.nag import add_rule_packs
from gptoss_infra.stacks.sagemaker_stack import GptOssSageMakerStack
from gptoss_infra.stacks.weights_stack import GptOssWeightsStack


def build_app(
    config: DeploymentConfig,
    *,
    outdir: str | None = None,
    rule_packs: bool = True,
    context: dict[str, Any] | None = None,
) -> App:
    """The app with one stack per component ``config`` enables, validated first.

    :param config: the deployment; ``gptoss_deploy.validation`` checks it before any
        construct exists and raises InvalidConfigurationError listing every problem.
    :param outdir: cloud assembly directory. Default: CDK's (``cdk.out``, or what the CLI
        passes in CDK_OUTDIR).
    :param rule_packs: register the cdk-nag packs and ours. Default: ``True``; tests that
        only assert template shapes turn them off to save time.
    :param context: extra CDK context. Default: none.
    """
    validate(config)
    app = App(outdir=outdir, context=context)
    names = config.names
    # Cost first: it does not depend on the others, and the budget must exist even when a
    # later stack fails to deploy.
    GptOssCostStack(app, names.cost_stack, config=config)
    if config.bedrock is not None:
        GptOssBedrockStack(app, names.bedrock_stack, config=config)
        if config.bedrock.invocation_logging:
            # Shared by every environment of the account and region (see account_stack).
            GptOssAccountStack(app, names.account_stack, config=config)
    if config.sagemaker is not None:
        # Weights first and in their own stack: deleting the endpoint keeps them, and the
        # model is created only after their gate verified them (read through exports).
        weights = GptOssWeightsStack(app, names.weights_stack, config=config)
        sagemaker = GptOssSageMakerStack(app, names.sagemaker_stack, config=config)
        sagemaker.add_stack_dependency(weights, "the model reads the verified weights' exports")
    if rule_packs:
        add_rule_packs(app)
    return app

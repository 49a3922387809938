"""The app's stacks: weights, SageMaker endpoint, Bedrock access and cost controls."""

from gptoss_infra.stacks.app import build_app
from gptoss_infra.stacks.bedrock_stack import GptOssBedrockStack
from gptoss_infra.stacks.cost_stack import GptOssCostStack
from gptoss_infra.stacks.sagemaker_stack import GptOssSageMakerStack
from gptoss_infra.stacks.weights_stack import GptOssWeightsStack

__all__ = [
    "GptOssBedrockStack",
    "GptOssCostStack",
    "GptOssSageMakerStack",
    "GptOssWeightsStack",
    "build_app",
]

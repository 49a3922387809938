"""Bedrock access to gpt-oss: invoke policy, team inference profiles, guardrail, invocation logs."""

from .access import (
    BEDROCK_NAMESPACE,
    GPT_OSS_20B,
    GPT_OSS_120B,
    GPT_OSS_MODELS,
    INVOKE_ACTIONS,
    BedrockAccess,
    bedrock_metric,
)
from .guardrail import GptOssGuardrail, GuardrailRef
from .inference_profiles import (
    MODEL_TAG_KEY,
    TEAM_TAG_KEY,
    TeamInferenceProfile,
    TeamProfile,
    foundation_model_arn,
)
from .invocation_logging import InvocationLogging

__all__ = [
    "BEDROCK_NAMESPACE",
    "GPT_OSS_20B",
    "GPT_OSS_120B",
    "GPT_OSS_MODELS",
    "INVOKE_ACTIONS",
    "MODEL_TAG_KEY",
    "TEAM_TAG_KEY",
    "BedrockAccess",
    "GptOssGuardrail",
    "GuardrailRef",
    "InvocationLogging",
    "TeamInferenceProfile",
    "TeamProfile",
    "bedrock_metric",
    "foundation_model_arn",
]

"""gptoss-aws: gpt-oss on SageMaker, Bedrock and OpenAI-compatible servers, with costs."""

from gptoss_aws.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    GptOssError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
    UnpricedError,
)
from gptoss_aws.models import GPT_OSS_20B, GPT_OSS_120B, MODELS, ModelSpec, get_model
from gptoss_aws.types import CallRecord, ChatCompletion, ChatCompletionChunk, Cost, Usage

__version__ = "0.1.0"

__all__ = [
    "GPT_OSS_20B",
    "GPT_OSS_120B",
    "MODELS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BudgetExceededError",
    "CallRecord",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ConfigurationError",
    "Cost",
    "GptOssError",
    "InvalidRequestError",
    "ModelError",
    "ModelNotReadyError",
    "ModelSpec",
    "NotFoundError",
    "PermissionDeniedError",
    "ThrottledError",
    "UnpricedError",
    "Usage",
    "__version__",
    "get_model",
]

"""gptoss-aws: gpt-oss on SageMaker, Bedrock and OpenAI-compatible servers, with costs."""

from gptoss_aws.budgets import Budget, load_budgets
from gptoss_aws.client import AsyncGptOss, GptOss
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
from gptoss_aws.ledger import open_ledger
from gptoss_aws.models import GPT_OSS_20B, GPT_OSS_120B, MODELS, ModelSpec, get_model
from gptoss_aws.pricing.catalog import PriceBook
from gptoss_aws.retry import RetryPolicy
from gptoss_aws.tracking import CallIntent, Tracker
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
    "AsyncGptOss",
    "AuthenticationError",
    "Budget",
    "BudgetExceededError",
    "CallIntent",
    "CallRecord",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ConfigurationError",
    "Cost",
    "GptOss",
    "GptOssError",
    "InvalidRequestError",
    "ModelError",
    "ModelNotReadyError",
    "ModelSpec",
    "NotFoundError",
    "PermissionDeniedError",
    "PriceBook",
    "RetryPolicy",
    "ThrottledError",
    "Tracker",
    "UnpricedError",
    "Usage",
    "__version__",
    "get_model",
    "load_budgets",
    "open_ledger",
]

"""gptoss-aws: gpt-oss on SageMaker, Bedrock and OpenAI-compatible servers, with costs.

The names here are the ones the README and sdk/README.md use: the clients, the cost
ledger and its budgets, prices, reports and exporters, the response types and every error
(with openai-python's names). Everything else is reached through its subpackage
(``gptoss_aws.backends``, ``ledger``, ``pricing``, ``reports``, ``costing``, ``models``...);
modules whose names start with an underscore are internal.
"""

from gptoss_aws.budgets import Budget, load_budgets
from gptoss_aws.client import AsyncGptOss, GptOss
from gptoss_aws.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConfigurationError,
    ConflictError,
    GptOssError,
    InternalServerError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    OpenAIError,
    PermissionDeniedError,
    RateLimitError,
    ThrottledError,
    UnpricedError,
    UnprocessableEntityError,
)
from gptoss_aws.ledger import open_ledger
from gptoss_aws.openai_wrapper import async_openai_client, gptoss_error, openai_client
from gptoss_aws.pricing.catalog import PriceBook
from gptoss_aws.pricing.records import TokenPrice
from gptoss_aws.reports.allocators import aws_allocator
from gptoss_aws.reports.plot import plot_spend
from gptoss_aws.retry import RetryPolicy
from gptoss_aws.telemetry import EmfExporter, OtelSpanExporter
from gptoss_aws.tracking import Tracker
from gptoss_aws.types import (
    CallRecord,
    ChatCompletion,
    ChatCompletionChunk,
    Cost,
    Response,
    ResponseStreamEvent,
    Usage,
)

__version__ = "0.1.0"

# Exported at the top before the surface was curated; still importable from here so code
# written then keeps working, but documented (and listed) only where they live.
_MOVED = {
    "GPT_OSS_20B": "gptoss_aws.models",
    "GPT_OSS_120B": "gptoss_aws.models",
    "MODELS": "gptoss_aws.models",
    "ModelSpec": "gptoss_aws.models",
    "get_model": "gptoss_aws.models",
    "CallIntent": "gptoss_aws.tracking",
}


def __getattr__(name: str) -> object:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'gptoss_aws' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncGptOss",
    "AuthenticationError",
    "BadRequestError",
    "Budget",
    "BudgetExceededError",
    "CallRecord",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ConfigurationError",
    "ConflictError",
    "Cost",
    "EmfExporter",
    "GptOss",
    "GptOssError",
    "InternalServerError",
    "InvalidRequestError",
    "ModelError",
    "ModelNotReadyError",
    "NotFoundError",
    "OpenAIError",
    "OtelSpanExporter",
    "PermissionDeniedError",
    "PriceBook",
    "RateLimitError",
    "Response",
    "ResponseStreamEvent",
    "RetryPolicy",
    "ThrottledError",
    "TokenPrice",
    "Tracker",
    "UnpricedError",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
    "async_openai_client",
    "aws_allocator",
    "gptoss_error",
    "load_budgets",
    "open_ledger",
    "openai_client",
    "plot_spend",
]

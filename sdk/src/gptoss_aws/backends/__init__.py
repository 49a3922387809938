"""The three ways to reach gpt-oss: a SageMaker endpoint, Bedrock, an OpenAI-compatible server.

Each backend turns a validated ``ChatRequest`` into a ``ChatCompletion`` or a stream of
``ChatCompletionChunk`` and maps its transport's failures onto ``gptoss_aws.errors``.
Retries, budgets and the ledger live above them, in ``gptoss_aws._resources``, so all three
behave the same.
"""

from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends.base import BackendBase, BackendResult, Target

__all__ = ["BackendBase", "BackendResult", "ChatRequest", "Target"]

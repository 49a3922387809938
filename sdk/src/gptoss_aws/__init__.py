"""gptoss-aws: gpt-oss on SageMaker, Bedrock and OpenAI-compatible servers, with costs."""

from gptoss_aws.models import GPT_OSS_20B, GPT_OSS_120B, MODELS, ModelSpec, get_model

__version__ = "0.1.0"

__all__ = ["GPT_OSS_20B", "GPT_OSS_120B", "MODELS", "ModelSpec", "__version__", "get_model"]

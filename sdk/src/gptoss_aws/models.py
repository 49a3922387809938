"""The gpt-oss models the SDK calls: the shared facts of gptoss_facts.models, re-exported."""

from gptoss_facts.models import (
    CONTEXT_LENGTH,
    GPT_OSS_20B,
    GPT_OSS_120B,
    MODELS,
    ModelSpec,
    get_model,
)

__all__ = ["CONTEXT_LENGTH", "GPT_OSS_20B", "GPT_OSS_120B", "MODELS", "ModelSpec", "get_model"]

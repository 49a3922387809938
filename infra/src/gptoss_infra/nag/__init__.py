"""Our cdk-nag rule pack: checks no published pack has (SageMaker model network isolation)."""

from .pack import PACK_NAME, GptOssNagPack
from .rule import GptOssRule
from .rules import ALL_RULES

__all__ = ["ALL_RULES", "PACK_NAME", "GptOssNagPack", "GptOssRule"]

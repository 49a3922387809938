"""The rules of GptOssNagPack, one per module (as cdk-nag keeps its own)."""

from ..rule import GptOssRule
from .sagemaker_endpoint_least_outstanding_requests import RULE as SAGEMAKER_ENDPOINT_LOR
from .sagemaker_model_network_isolation import RULE as SAGEMAKER_MODEL_NETWORK_ISOLATION

ALL_RULES: tuple[GptOssRule, ...] = (SAGEMAKER_MODEL_NETWORK_ISOLATION, SAGEMAKER_ENDPOINT_LOR)

__all__ = ["ALL_RULES", "SAGEMAKER_ENDPOINT_LOR", "SAGEMAKER_MODEL_NETWORK_ISOLATION"]

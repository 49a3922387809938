"""Prices: the bundled catalog, the Price List refresh cache and user overrides."""

from gptoss_aws._bedrock_arn import is_application_inference_profile
from gptoss_aws.pricing._model_names import canonical_model
from gptoss_aws.pricing.catalog import PriceBook, PriceRow
from gptoss_aws.pricing.inference_profiles import (
    inference_profile_region,
    resolve_inference_profile,
)
from gptoss_aws.pricing.records import InstancePrice, TokenPrice

__all__ = [
    "InstancePrice",
    "PriceBook",
    "PriceRow",
    "TokenPrice",
    "canonical_model",
    "inference_profile_region",
    "is_application_inference_profile",
    "resolve_inference_profile",
]

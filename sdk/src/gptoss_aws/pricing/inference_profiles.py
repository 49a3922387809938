"""Find the model an application inference profile ARN points to, so its calls can be priced.

Teams tag Bedrock spend by calling through application inference profiles (the ARN is
passed as modelId). The ARN names no model; Bedrock's GetInferenceProfile lists the model
ARNs the profile routes to (``models[].modelArn``). LiteLLM could not price these (#18258).

A profile's model never changes after it is created (CreateInferenceProfile copies it from
``copyFrom``), so answers are cached for the life of the process.
"""

from __future__ import annotations

import threading
from typing import Any

from gptoss_aws._bedrock_arn import (
    FOUNDATION_MODEL,
    split_arn,
)
from gptoss_aws.errors import ConfigurationError, NotFoundError, UnpricedError

_cache: dict[str, str] = {}
_lock = threading.Lock()


def inference_profile_region(arn: str) -> str:
    """The region in a profile ARN. Cross-region routing is billed at the source region,
    the one the profile (and the call) lives in."""
    parts = split_arn(arn)
    if parts is None or not parts.region:
        raise ConfigurationError(f"{arn!r} is not an inference profile ARN")
    return parts.region


def _model_id_from_arn(model_arn: str) -> str:
    # arn:aws:bedrock:us-east-1::foundation-model/openai.gpt-oss-120b-1:0
    arn = split_arn(model_arn)
    if arn is None or arn.kind != FOUNDATION_MODEL or not arn.resource_id:
        raise UnpricedError(
            f"inference profile model {model_arn!r} is not a foundation-model ARN; "
            "add a price override for it"
        )
    return arn.resource_id


def resolve_inference_profile(arn: str, bedrock_client: Any) -> str:
    """The Bedrock model id an inference profile routes to, e.g. "openai.gpt-oss-120b-1:0".

    ``bedrock_client`` is a boto3 ``bedrock`` (control plane) client in the profile's region.
    A profile listing more than one model (a cross-region copy lists the same model once per
    region) must name one model id, or we refuse to guess which price applies.
    """
    with _lock:
        cached = _cache.get(arn)
    if cached is not None:
        return cached
    try:
        response = bedrock_client.get_inference_profile(inferenceProfileIdentifier=arn)
    except bedrock_client.exceptions.ResourceNotFoundException as exc:
        raise NotFoundError(
            f"no inference profile {arn}: {exc}", backend="bedrock", status_code=404
        ) from exc
    model_ids = {_model_id_from_arn(m["modelArn"]) for m in response.get("models", [])}
    if len(model_ids) != 1:
        raise UnpricedError(
            f"inference profile {arn} routes to {sorted(model_ids) or 'no models'}; "
            "cannot tell which model's price applies; price its calls with the model id you "
            "mean (PriceBook.token_price(model_id, region))."
        )
    (model_id,) = model_ids
    with _lock:
        _cache[arn] = model_id
    return model_id


def clear_cache() -> None:
    with _lock:
        _cache.clear()

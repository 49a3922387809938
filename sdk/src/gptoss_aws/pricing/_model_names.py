"""Turn whatever names a model (short name, hub id, Bedrock id, cross-region profile id,
foundation-model ARN) into the one key prices are filed under.

Application inference profile ARNs name no model: they must be resolved through Bedrock
first (`inference_profiles.resolve_inference_profile`). Failing to do that is what breaks
LiteLLM's cost tracking for profile ARNs (LiteLLM #18258).
"""

from __future__ import annotations

from gptoss_aws._bedrock_arn import APPLICATION_INFERENCE_PROFILE, names_a_model, split_arn
from gptoss_aws.errors import UnpricedError
from gptoss_facts.models import get_any_model

# Geographic cross-region inference profiles ("us.openai.gpt-oss-120b-1:0") run the same
# model and are billed at the price of the source region, the one the call was made from
# (Bedrock user guide, "Supported Regions and models for inference profiles" and
# "Increase throughput with cross-Region inference": priced at the source region).
# "global." profiles are left out on purpose: global routing can carry its own price
# (the Price List has separate *_Global usage types for some models), so they are priced
# only if a layer names them explicitly.
GEO_PREFIXES = ("us", "eu", "apac", "jp", "au", "ca", "us-gov")


def _known(name: str) -> str | None:
    """The short name of gpt-oss or gpt-oss-safeguard under any of its ids: the runtime
    ("openai.gpt-oss-120b-1:0") and the Mantle one, which has no "-1:0"
    ("openai.gpt-oss-120b"), file under the same key, since a Mantle call is priced as
    Bedrock's per-token price for that model (see backends/bedrock_mantle.py)."""
    for candidate in (name, name + "-1:0"):
        try:
            return get_any_model(candidate).name
        except KeyError:
            continue
    return None


def _strip_arn(model: str) -> str:
    """arn:aws:bedrock:us-east-1::foundation-model/openai.gpt-oss-120b-1:0 -> the id;
    arn:aws:bedrock:us-east-1:123:inference-profile/us.openai.gpt-oss-120b-1:0 -> the id."""
    arn = split_arn(model)
    if arn is None:
        return model
    if arn.kind == APPLICATION_INFERENCE_PROFILE:
        raise UnpricedError(
            f"{model} is an application inference profile: it names no model, so it cannot "
            "be priced until it is resolved to the model it copies. Call "
            "gptoss_aws.pricing.resolve_inference_profile(arn, bedrock_client) and price the "
            "model id it returns (the client does this for you)."
        )
    return arn.resource_id if names_a_model(arn) else model


def canonical_model(model: str) -> str:
    """The key a model's prices are filed under: the short name for gpt-oss models
    ("gpt-oss-120b"), otherwise the name exactly as given (overrides may price anything)."""
    if not model or not isinstance(model, str):
        raise UnpricedError(f"no model named ({model!r}); cannot look up a price")
    bare = _strip_arn(model.strip())
    known = _known(bare)
    if known:
        return known
    prefix, dot, rest = bare.partition(".")
    if dot and prefix in GEO_PREFIXES:
        known = _known(rest)
        if known:
            return known
    return bare

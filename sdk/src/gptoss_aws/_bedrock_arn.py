"""Bedrock ARNs, parsed in one place: the backend, the price lookup and the inference
profile resolver all read model ids and regions out of them.

``arn:aws:bedrock:REGION:ACCOUNT:KIND/ID`` (IAM user guide, "Amazon Resource Names";
Bedrock's kinds in the Service Authorization Reference, "Actions, resources, and condition
keys for Amazon Bedrock"): ``foundation-model/openai.gpt-oss-120b-1:0`` (no account),
``inference-profile/us.openai.gpt-oss-120b-1:0`` (a cross-region profile: its id names the
model), ``application-inference-profile/abc123`` (names no model: resolve it with
GetInferenceProfile). The id may itself contain colons (``...-1:0``), so the ARN is split
at most five times.
"""

from __future__ import annotations

from dataclasses import dataclass

FOUNDATION_MODEL = "foundation-model"
INFERENCE_PROFILE = "inference-profile"
APPLICATION_INFERENCE_PROFILE = "application-inference-profile"


@dataclass(frozen=True)
class BedrockArn:
    region: str
    account: str
    kind: str  # the resource type before the slash, e.g. "foundation-model"
    resource_id: str  # after the slash, e.g. "openai.gpt-oss-120b-1:0"


def split_arn(text: str) -> BedrockArn | None:
    """The parts of an ARN; None for anything that is not one (a bare model id)."""
    if not text.startswith("arn:"):
        return None
    parts = text.split(":", 5)
    if len(parts) < 6:
        return None
    kind, _, resource_id = parts[5].partition("/")
    return BedrockArn(region=parts[3], account=parts[4], kind=kind, resource_id=resource_id)


def names_a_model(arn: BedrockArn) -> bool:
    """Foundation-model and cross-region profile ARNs carry the model id they run."""
    return arn.kind in (FOUNDATION_MODEL, INFERENCE_PROFILE) and bool(arn.resource_id)


def is_application_inference_profile(text: str) -> bool:
    arn = split_arn(text)
    return arn is not None and arn.kind == APPLICATION_INFERENCE_PROFILE

"""Where gpt-oss is offered on AWS: the one region table the catalog, the price checks and the
deployment validation share.

Bedrock serves both gpt-oss models in-region in these 12 commercial regions (Amazon Bedrock
user guide, "Supported foundation models in Amazon Bedrock", docs.aws.amazon.com/bedrock/
latest/userguide/models-supported.html, OpenAI rows) and in AWS GovCloud (US) (AWS Machine
Learning blog, "Run NVIDIA Nemotron and OpenAI GPT OSS models on Amazon Bedrock in AWS
GovCloud (US)"; model id ``us-gov.openai.gpt-oss-120b-1:0``). The blog names the partition,
not a region: us-gov-west-1 (GovCloud US-West) is listed; us-gov-east-1 is left out until a
source names it (deployments there pass with allow_unlisted_regions).
At run time ListFoundationModels in the region is the truth; this table is what we check
configurations and prices against before anything is deployed.
"""

from __future__ import annotations

MODELS_SUPPORTED_PAGE = (
    "Amazon Bedrock user guide, 'Supported foundation models in Amazon Bedrock' "
    "(models-supported), OpenAI gpt-oss rows"
)
GOVCLOUD_SOURCE = (
    "AWS Machine Learning blog, 'Run NVIDIA Nemotron and OpenAI GPT OSS models on Amazon "
    "Bedrock in AWS GovCloud (US)'"
)

BEDROCK_GPT_OSS_REGIONS: dict[str, str] = {
    **{
        region: MODELS_SUPPORTED_PAGE
        for region in (
            "us-east-1",
            "us-east-2",
            "us-west-2",  # the launch region (AWS News Blog, 2025-08-05)
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-3",
            "eu-central-1",
            "eu-north-1",
            "eu-south-1",
            "eu-west-1",
            "eu-west-2",
            "sa-east-1",
        )
    },
    "us-gov-west-1": GOVCLOUD_SOURCE,
}

# The Bedrock service tiers (Bedrock user guide, "Service tiers for optimizing performance and
# cost"; What's New 2025-11-18: gpt-oss-120b and -20b included). Our names on the left; the
# value Converse's ServiceTier.type takes on the right (API reference, ServiceTier: "priority
# | default | flex | reserved"). "standard" is what the pricing page and the user guide call
# the tier the API names "default".
SERVICE_TIERS: dict[str, str] = {
    "standard": "default",
    "flex": "flex",
    "priority": "priority",
    "reserved": "reserved",
}
# Tiers billed per token, which a call can be priced at; Reserved is billed per 1K
# tokens-per-minute reserved, per month (same user guide page), so a reserved-tier call has no
# per-token price of its own unless the user states an effective one.
PER_TOKEN_TIERS = ("standard", "flex", "priority")
DEFAULT_TIER = "standard"


def canonical_tier(tier: str | None) -> str:
    """Our name for a tier from any spelling a caller or AWS uses ("default" -> "standard")."""
    from gptoss_aws.errors import ConfigurationError

    if tier is None:
        return DEFAULT_TIER
    name = str(tier).strip().lower()
    if name == "default":
        return DEFAULT_TIER
    if name in SERVICE_TIERS:
        return name
    raise ConfigurationError(
        f"service_tier {tier!r} is not a Bedrock service tier: use one of "
        f"{', '.join(SERVICE_TIERS)} (or 'default', AWS's name for standard)"
    )

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

# Where the bedrock-mantle endpoint (Bedrock's OpenAI-compatible Responses and Chat
# Completions endpoint, https://bedrock-mantle.{region}.api.aws/v1) runs. Amazon Bedrock user
# guide, "Supported Regions and endpoints" for bedrock-mantle (endpoint
# ``bedrock-mantle.<region>.api.aws`` in each row); the newer "Endpoints and Region
# availability" page (endpoints-region-availability.html) says "The `bedrock-mantle` endpoint
# is available in a subset of those Regions" and confirms the first nine below (its stored
# copy ends there) while listing us-west-1, ca-central-1, ca-west-1, eu-central-2, eu-south-2,
# eu-west-3, ap-east-2, ap-northeast-2 and ap-northeast-3 as not supported. Which gpt-oss
# models each of these regions serves on Mantle is not on either page: GET /v1/models in the
# region is the truth.
MANTLE_REGIONS_PAGE = (
    "Amazon Bedrock user guide, bedrock-mantle 'Supported Regions and endpoints' "
    "(docs.aws.amazon.com/bedrock/latest/userguide/endpoints-region-availability.html)"
)
BEDROCK_MANTLE_REGIONS: dict[str, str] = {
    region: MANTLE_REGIONS_PAGE
    for region in (
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "eu-west-1",
        "eu-west-2",
        "ap-northeast-1",
        "ap-south-1",
        "ap-southeast-3",
        "sa-east-1",
    )
}


def check_mantle_region(region: str | None) -> str:
    """``region`` if bedrock-mantle runs there; otherwise a ConfigurationError listing where
    it does (and how to go ahead when AWS has added a region since)."""
    from gptoss_aws.errors import ConfigurationError

    if not region:
        raise ConfigurationError(
            "Bedrock Mantle needs a region: pass region=..., or set AWS_REGION; it runs in "
            + ", ".join(BEDROCK_MANTLE_REGIONS)
        )
    if region not in BEDROCK_MANTLE_REGIONS:
        raise ConfigurationError(
            f"the bedrock-mantle endpoint is not listed in {region!r}: it runs in "
            f"{', '.join(BEDROCK_MANTLE_REGIONS)} ({MANTLE_REGIONS_PAGE}). If AWS has added "
            "the region since, pass base_url='https://bedrock-mantle.<region>.api.aws/v1'."
        )
    return region


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

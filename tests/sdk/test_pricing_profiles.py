"""Application inference profile ARNs resolve to the model they copy (LiteLLM #18258).

moto has no Bedrock inference profiles: a real boto3 bedrock client with botocore's Stubber,
whose responses are validated against the service model.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import stated_prices
from botocore.stub import Stubber

from gptoss_aws.errors import NotFoundError, UnpricedError
from gptoss_aws.pricing import (
    PriceBook,
    inference_profile_region,
    is_application_inference_profile,
    resolve_inference_profile,
)
from gptoss_aws.pricing.inference_profiles import clear_cache

ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/t3am0a1b2c3d"
MODEL_ARN = "arn:aws:bedrock:{region}::foundation-model/openai.gpt-oss-120b-1:0"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def _profile(*model_arns: str) -> dict[str, Any]:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return {
        "inferenceProfileName": "team-search",
        "description": "search team, copied from the 120b model",
        "createdAt": now,
        "updatedAt": now,
        "inferenceProfileArn": ARN,
        "models": [{"modelArn": arn} for arn in model_arns],
        "inferenceProfileId": "t3am0a1b2c3d",
        "status": "ACTIVE",
        "type": "APPLICATION",
    }


def _client() -> Any:
    return boto3.client("bedrock", region_name="us-east-1")


def test_a_profile_resolves_to_its_model_and_is_priced() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "get_inference_profile",
            _profile(MODEL_ARN.format(region="us-east-1")),
            {"inferenceProfileIdentifier": ARN},
        )
        model_id = resolve_inference_profile(ARN, client)
        stub.assert_no_pending_responses()
    assert model_id == "openai.gpt-oss-120b-1:0"
    region = inference_profile_region(ARN)
    assert region == "us-east-1"
    book = PriceBook.load().with_override(stated_prices.document(region))
    assert book.token_price(model_id, region).output_per_1m == stated_prices.OUTPUT_120B


def test_the_answer_is_cached_so_bedrock_is_asked_once() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_inference_profile", _profile(MODEL_ARN.format(region="us-east-1")))
        first = resolve_inference_profile(ARN, client)
        # No second response is queued: a second API call would raise in the Stubber.
        second = resolve_inference_profile(ARN, client)
    assert first == second == "openai.gpt-oss-120b-1:0"


def test_a_cross_region_copy_lists_the_same_model_per_region_and_still_resolves() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "get_inference_profile",
            _profile(*(MODEL_ARN.format(region=r) for r in ("us-east-1", "us-west-2"))),
        )
        assert resolve_inference_profile(ARN, client) == "openai.gpt-oss-120b-1:0"


def test_a_profile_over_two_different_models_is_not_guessed() -> None:
    client = _client()
    other = "arn:aws:bedrock:us-east-1::foundation-model/openai.gpt-oss-20b-1:0"
    with Stubber(client) as stub:
        stub.add_response(
            "get_inference_profile", _profile(MODEL_ARN.format(region="us-east-1"), other)
        )
        with pytest.raises(UnpricedError, match="cannot tell which model"):
            resolve_inference_profile(ARN, client)


def test_an_unknown_profile_is_not_found() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_inference_profile",
            service_error_code="ResourceNotFoundException",
            service_message="profile not found",
            http_status_code=404,
        )
        with pytest.raises(NotFoundError, match="no inference profile"):
            resolve_inference_profile(ARN, client)


def test_profile_arns_are_told_apart_from_model_ids() -> None:
    assert is_application_inference_profile(ARN)
    assert not is_application_inference_profile("us.openai.gpt-oss-120b-1:0")
    assert not is_application_inference_profile(MODEL_ARN.format(region="us-east-1"))


def test_one_arn_parser_serves_the_backend_and_the_price_lookup() -> None:
    from gptoss_aws._bedrock_arn import split_arn
    from gptoss_aws.backends.bedrock import parse_model
    from gptoss_aws.pricing import canonical_model

    foundation = "arn:aws:bedrock:us-east-1::foundation-model/openai.gpt-oss-120b-1:0"
    arn = split_arn(foundation)
    assert arn is not None
    assert (arn.region, arn.account, arn.kind, arn.resource_id) == (
        "us-east-1",
        "",
        "foundation-model",
        "openai.gpt-oss-120b-1:0",
    )
    assert split_arn("openai.gpt-oss-120b-1:0") is None
    assert split_arn("arn:aws:bedrock") is None
    assert parse_model(foundation) == (foundation, "gpt-oss-120b")
    assert canonical_model(foundation) == "gpt-oss-120b"
    assert parse_model(ARN) == (ARN, None)
    assert inference_profile_region(ARN) == split_arn(ARN).region  # type: ignore[union-attr]

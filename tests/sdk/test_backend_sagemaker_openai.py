"""SageMaker's OpenAI-compatible route (``GptOss.sagemaker_openai``) and its bearer token.

AWS, "Invoke endpoints with OpenAI-compatible APIs"
(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html):

- "SageMaker AI endpoints expose an `/openai/v1/chat/completions` path that accepts Chat
  Completions requests and returns responses directly from the container, including
  streaming"; the inference-component form is ``.../endpoints/{ENDPOINT_NAME}/
  inference-components/{IC_NAME}/openai/v1``;
- "The bearer token is a base64-encoded SigV4 pre-signed URL ... constructs a request to the
  SageMaker AI service for the `CallWithBearerToken` action, signs it locally ... No network
  call is made during token generation"; lifetimes "anywhere between 1 second and 12 hours";
- "The `model` field is passed through to the container ... you can leave this field empty".

The route runs through the runtime stand-in (tests/support/sagemaker_standin: the token check
and the forwarding to ``/v1/chat/completions``) in front of a replaying container (the
recorded vLLM answers). DescribeEndpoint is botocore's Stubber.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import anyio
import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber
from sagemaker_standin import SageMakerRuntimeStandIn
from sagemaker_standin.bearer import check_bearer
from sagemaker_token import mint_token
from test_backend_vllm_replay import CONTENT, ReplayServer

from gptoss_aws import AsyncGptOss, GptOss, Tracker, open_ledger
from gptoss_aws.backends._auth import (
    SageMakerBearerAuth,
    sagemaker_bearer_token,
)
from gptoss_aws.backends.sagemaker_openai import SageMakerOpenAIBackend
from gptoss_aws.errors import AuthenticationError, ConfigurationError, NotFoundError
from gptoss_aws.ledger import Ledger
from gptoss_aws.types import CallRecord

REGION = "us-east-1"
ENDPOINT = "chat-ep"
COMPONENT = "chat-ic"
MESSAGES = [{"role": "user", "content": "Hello there"}]
AT = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


# ---- the token -------------------------------------------------------------------------------


def decode(token: str) -> tuple[str, dict[str, str]]:
    assert token.startswith("sagemaker-api-key-")
    url = base64.b64decode(token.removeprefix("sagemaker-api-key-"), validate=True).decode()
    parts = urlsplit("https://" + url)
    return f"{parts.hostname}{parts.path}", {k: v[-1] for k, v in parse_qs(parts.query).items()}


def test_the_token_decodes_to_the_documented_presigned_url() -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT):
        token = sagemaker_bearer_token(REGION, credentials, expires_s=3600)
    where, query = decode(token)
    assert where == "sagemaker.amazonaws.com/"
    assert query["Action"] == "CallWithBearerToken"
    assert query["Version"] == "1"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"] == "AKIDEXAMPLE/20261202/us-east-1/sagemaker/aws4_request"
    assert (query["X-Amz-Date"], query["X-Amz-Expires"]) == ("20261202T100000Z", "3600")
    assert query["X-Amz-SignedHeaders"] == "host"
    # The signature, recomputed independently: botocore presigns the same request.
    request = AWSRequest(
        method="POST",
        url="https://sagemaker.amazonaws.com/",
        headers={"host": "sagemaker.amazonaws.com"},
        params={"Action": "CallWithBearerToken"},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT):
        botocore.auth.SigV4QueryAuth(credentials, "sagemaker", REGION, expires=3600).add_auth(
            request
        )
    assert (
        query["X-Amz-Signature"] == parse_qs(urlsplit(str(request.url)).query)["X-Amz-Signature"][0]
    )
    # The test suite's own twin of the SageMaker SDK's generator agrees byte for byte.
    assert token == mint_token(REGION, expires_s=3600, signed_at=AT, credentials=credentials)


def test_the_stand_in_accepts_it_for_its_region_only() -> None:
    token = sagemaker_bearer_token(REGION)
    assert check_bearer(f"Bearer {token}", REGION) is None
    refusal = check_bearer(f"Bearer {token}", "eu-west-1")
    assert refusal is not None
    assert refusal.status == 403


@pytest.mark.parametrize("expires", [0, 43201, -5, 1.5, True])
def test_a_lifetime_outside_one_second_to_twelve_hours_is_refused(expires: Any) -> None:
    with pytest.raises(ConfigurationError, match="expires_s"):
        sagemaker_bearer_token(REGION, expires_s=expires)


def test_the_auth_reuses_a_token_and_remints_before_expiry_or_on_new_credentials() -> None:
    now = [1000.0]
    credentials = Credentials("AKIDEXAMPLE", "secret", token="session-1")
    auth = SageMakerBearerAuth(REGION, credentials, expires_s=3600, clock=lambda: now[0])
    first = auth.token()
    now[0] += 3600 - 301  # more than the refresh margin (300 s) left
    assert auth.token() == first
    now[0] += 2  # inside the margin: a fresh token
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT):
        second = auth.token()
    assert second != first
    credentials.token = "session-2"  # rotated credentials bound the token's validity
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT):
        third = auth.token()
    assert third != second
    assert decode(third)[1]["X-Amz-Security-Token"] == "session-2"


# ---- the route, through the stand-in ----------------------------------------------------------


@pytest.fixture
def container() -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    yield replay
    replay.stop()


@pytest.fixture
def standin(container: ReplayServer) -> Iterator[SageMakerRuntimeStandIn]:
    with SageMakerRuntimeStandIn(
        {ENDPOINT: container.url}, inference_components={COMPONENT: container.url}, region=REGION
    ) as running:
        yield running


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(tmp_path / "ledger.sqlite3")
    yield opened
    opened.close()


def route(cls: Any, standin: SageMakerRuntimeStandIn, ledger: Ledger, **kwargs: Any) -> Any:
    kwargs.setdefault("instance_type", "ml.g6e.xlarge")
    return cls.sagemaker_openai(
        kwargs.pop("endpoint", ENDPOINT),
        REGION,
        endpoint_url=standin.url,
        tracker=Tracker(ledger=ledger),
        tags={"team": "e2e"},
        max_retries=0,
        **kwargs,
    )


def comparable(row: CallRecord) -> dict[str, Any]:
    """A row without what differs between any two calls (ids, times) and the backend."""
    skip = {"id", "backend", "started_at", "ended_at", "latency_ms", "ttft_ms", "process_id"}
    return {k: v for k, v in row.model_dump().items() if k not in skip}


def test_a_call_goes_to_the_containers_chat_path_with_a_minted_token(
    container: ReplayServer, standin: SageMakerRuntimeStandIn, ledger: Ledger
) -> None:
    answer = route(GptOss, standin, ledger).chat.completions.create(
        messages=MESSAGES, max_tokens=64
    )
    assert answer.choices[0].message.content == CONTENT
    [seen] = container.seen
    assert seen.path == "/v1/chat/completions"
    assert "model" not in seen.json()  # "you can leave this field empty"
    [(url, _)] = standin.openai_forwarded
    assert url == container.url + "/v1/chat/completions"


def test_an_inference_component_is_in_the_path(
    container: ReplayServer, standin: SageMakerRuntimeStandIn, ledger: Ledger
) -> None:
    client = route(GptOss, standin, ledger, inference_component=COMPONENT, variant="AllTraffic")
    assert client.backend.url == (
        f"{standin.url}/endpoints/{ENDPOINT}/inference-components/{COMPONENT}"
        "/openai/v1/chat/completions"
    )
    client.chat.completions.create(messages=MESSAGES)
    [row] = ledger.query()
    assert (row.inference_component, row.variant) == (COMPONENT, "AllTraffic")


def test_rows_match_invoke_endpoint_rows_but_for_the_backend(
    container: ReplayServer, standin: SageMakerRuntimeStandIn, ledger: Ledger
) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=standin.url)
    invoke = GptOss.sagemaker(
        ENDPOINT,
        runtime_client=runtime,
        instance_type="ml.g6e.xlarge",
        model="gpt-oss-20b",
        tracker=Tracker(ledger=ledger),
        tags={"team": "e2e"},
        max_retries=0,
    )
    openai_route = route(GptOss, standin, ledger, model="gpt-oss-20b")
    for client in (invoke, openai_route):
        client.chat.completions.create(messages=MESSAGES, max_tokens=64)
        with client.chat.completions.create(messages=MESSAGES, stream=True) as stream:
            for _ in stream:
                pass
    rows = sorted(ledger.query(), key=lambda r: (r.stream, r.backend))
    assert [r.backend for r in rows] == ["sagemaker", "sagemaker_openai"] * 2
    assert comparable(rows[0]) == comparable(rows[1])
    assert comparable(rows[2]) == comparable(rows[3])
    assert rows[1].cost_basis == "instance_hours"
    assert rows[1].model == "gpt-oss-20b"


def test_the_placement_comes_from_describe_endpoint(
    standin: SageMakerRuntimeStandIn, ledger: Ledger
) -> None:
    control = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(control)
    stubber.add_response(
        "describe_endpoint",
        {
            "EndpointName": ENDPOINT,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}",
            "EndpointConfigName": "chat-config",
            "EndpointStatus": "InService",
            "CreationTime": AT,
            "LastModifiedTime": AT,
        },
        {"EndpointName": ENDPOINT},
    )
    stubber.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "chat-config",
            "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint-config/c",
            "ProductionVariants": [{"VariantName": "AllTraffic", "InstanceType": "ml.g6e.2xlarge"}],
            "CreationTime": AT,
        },
        {"EndpointConfigName": "chat-config"},
    )
    with stubber:
        client = route(GptOss, standin, ledger, instance_type=None, sagemaker_client=control)
        client.chat.completions.create(messages=MESSAGES)
        client.chat.completions.create(messages=MESSAGES)  # looked up once
    rows = ledger.query()
    assert {(r.variant, r.instance_type) for r in rows} == {("AllTraffic", "ml.g6e.2xlarge")}
    stubber.assert_no_pending_responses()


def test_async_parity_and_streaming(
    container: ReplayServer, standin: SageMakerRuntimeStandIn, ledger: Ledger
) -> None:
    async def main() -> str:
        async with route(AsyncGptOss, standin, ledger) as client:
            stream = await client.chat.completions.create(messages=MESSAGES, stream=True)
            parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            return "".join(parts)

    assert anyio.run(main) == CONTENT
    [row] = ledger.query()
    assert (row.backend, row.stream, row.usage_source) == ("sagemaker_openai", True, "reported")


def test_sagemakers_refusals_map_as_invoke_endpoints_do(
    standin: SageMakerRuntimeStandIn, ledger: Ledger
) -> None:
    with pytest.raises(NotFoundError, match="Endpoint nope of account"):
        route(GptOss, standin, ledger, endpoint="nope").chat.completions.create(messages=MESSAGES)
    client = route(GptOss, standin, ledger)
    # A token minted for another region: the stand-in refuses the credential scope.
    client.backend.auth = SageMakerBearerAuth("eu-west-1")
    with pytest.raises(AuthenticationError, match="sagemaker_openai: InvalidSignatureException"):
        client.chat.completions.create(messages=MESSAGES)
    rows = ledger.query()
    assert [r.status for r in rows] == ["error", "error"]


def test_responses_are_refused_with_a_pointer_to_invoke_endpoint() -> None:
    backend = SageMakerOpenAIBackend(ENDPOINT, region=REGION, instance_type="ml.g6e.xlarge")
    assert not backend.serves_responses()
    with pytest.raises(ConfigurationError, match=r"GptOss\.sagemaker\(\.\.\.\)\.responses"):
        backend.check_responses(None)
    assert backend.url == (
        f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{ENDPOINT}"
        "/openai/v1/chat/completions"
    )

"""httpx ``Auth`` for AWS's OpenAI-compatible surfaces: SigV4, a bearer token, and
SageMaker's locally minted bearer token.

* ``SigV4Auth(service, region, credentials)`` signs the exact request httpx sends (method,
  URL, headers, body bytes) with botocore's signer. Credentials come from a boto3 Session (so
  profiles, SSO and assumed roles work, and refreshable credentials are re-read on every
  request) or are given directly. Bedrock's OpenAI-compatible paths take "either your AWS
  credentials or ... an Amazon Bedrock API key"
  (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-chat-completions.html).
* ``BearerToken(token)`` sets ``Authorization: Bearer <token>``; ``token`` may be a callable,
  asked on every request (a Bedrock API key from a secret store, a SageMaker token).
* ``sagemaker_bearer_token(region, credentials, expires_s)`` mints the token of SageMaker's
  OpenAI-compatible route without a network call, and ``SageMakerBearerAuth`` re-mints it
  before it expires. AWS, "Invoke endpoints with OpenAI-compatible APIs"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html):
  "The bearer token is a base64-encoded SigV4 pre-signed URL ... constructs a request to the
  SageMaker AI service for the `CallWithBearerToken` action, signs it locally ... No network
  call is made during token generation"; the lifetime may be set "anywhere between 1 second
  and 12 hours", and "The token's effective lifetime is the lesser of the `expiry` value and
  the remaining validity of the AWS credentials used to sign it." The exact layout follows
  the SageMaker Python SDK's generator (aws/sagemaker-python-sdk, sagemaker-core
  ``token_generator.py``): a presigned ``POST https://sagemaker.amazonaws.com/?Action=
  CallWithBearerToken`` for service ``sagemaker``, the URL without ``https://`` plus
  ``&Version=1``, base64-encoded, prefixed ``sagemaker-api-key-``.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, TypeAlias

import botocore.auth
import httpx
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from gptoss_aws.errors import AuthenticationError, ConfigurationError

if TYPE_CHECKING:
    import boto3

CredentialSource: TypeAlias = "boto3.Session | Credentials | ReadOnlyCredentials | None"

SAGEMAKER_TOKEN_PREFIX = "sagemaker-api-key-"  # noqa: S105 (a prefix, not a secret)
SAGEMAKER_TOKEN_HOST = "sagemaker.amazonaws.com"  # noqa: S105 (a host name)
# "valid up to 12 hours"; "anywhere between 1 second and 12 hours" (page above).
SAGEMAKER_TOKEN_MAX_S = 43200
SAGEMAKER_TOKEN_MIN_S = 1
# A cached token is replaced this long before it would expire, so a request (and its
# retries) never leaves with a token that runs out in flight; capped at half its lifetime.
REFRESH_MARGIN_S = 300.0

# Headers a hop may add or rewrite after signing (httpx adds its own connection and
# encoding headers; botocore itself leaves user-agent, expect and x-amzn-trace-id out).
_UNSIGNED = frozenset(
    {
        "authorization",
        "connection",
        "accept-encoding",
        "user-agent",
        "expect",
        "x-amzn-trace-id",
        "transfer-encoding",
    }
)
_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


def frozen_credentials(source: CredentialSource) -> ReadOnlyCredentials:
    """The credentials to sign one request with, read now (refreshable ones refresh)."""
    if source is None:
        import boto3

        source = boto3.Session()
    if isinstance(source, ReadOnlyCredentials):
        return source
    if isinstance(source, Credentials):
        return source.get_frozen_credentials()
    found = source.get_credentials()
    if found is None:
        raise AuthenticationError(
            "no AWS credentials to sign with: configure a profile, environment variables or "
            "an instance role (boto3's usual chain), or pass session= / api_key=",
        )
    return found.get_frozen_credentials()


class SigV4Auth(httpx.Auth):
    """AWS Signature Version 4 over the exact request httpx sends (``service`` is the
    signing name: ``bedrock`` for bedrock-runtime, ``bedrock-mantle`` for Mantle)."""

    requires_request_body = True

    def __init__(self, service: str, region: str, credentials: CredentialSource = None) -> None:
        if not service or not region:
            raise ConfigurationError("SigV4Auth needs a service name and a region")
        self.service = service
        self.region = region
        self.credentials = credentials

    def sign(self, request: httpx.Request) -> httpx.Request:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _UNSIGNED}
        aws = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        signer = botocore.auth.SigV4Auth(
            frozen_credentials(self.credentials), self.service, self.region
        )
        signer.add_auth(aws)
        for name in _SIGNATURE_HEADERS:
            value = aws.headers.get(name)
            if value is not None:
                request.headers[name] = value
        return request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield self.sign(request)


class BearerToken(httpx.Auth):
    """``Authorization: Bearer <token>``; a callable is asked on every request."""

    def __init__(self, token: str | Callable[[], str]) -> None:
        if not token:
            raise ConfigurationError("the bearer token is empty")
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token() if callable(self.token) else self.token
        if not token:
            raise AuthenticationError("the bearer token provider returned an empty token")
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def sagemaker_bearer_token(
    region: str, credentials: CredentialSource = None, expires_s: int = SAGEMAKER_TOKEN_MAX_S
) -> str:
    """A bearer token for SageMaker's OpenAI-compatible route, minted locally (no call).

    ``credentials``: a boto3 Session, botocore credentials, or None for boto3's default
    chain. ``expires_s`` must be within AWS's 1 second .. 12 hours."""
    if isinstance(expires_s, bool) or not isinstance(expires_s, int):
        raise ConfigurationError(f"expires_s must be whole seconds, got {expires_s!r}")
    if not SAGEMAKER_TOKEN_MIN_S <= expires_s <= SAGEMAKER_TOKEN_MAX_S:
        raise ConfigurationError(
            f"expires_s must be between {SAGEMAKER_TOKEN_MIN_S} and {SAGEMAKER_TOKEN_MAX_S} "
            f"seconds (AWS: 'anywhere between 1 second and 12 hours'), got {expires_s}"
        )
    if not region:
        raise ConfigurationError("sagemaker_bearer_token needs the endpoint's region")
    request = AWSRequest(
        method="POST",
        url=f"https://{SAGEMAKER_TOKEN_HOST}/",
        headers={"host": SAGEMAKER_TOKEN_HOST},
        params={"Action": "CallWithBearerToken"},
    )
    botocore.auth.SigV4QueryAuth(
        frozen_credentials(credentials), "sagemaker", region, expires=expires_s
    ).add_auth(request)
    presigned = str(request.url).removeprefix("https://") + "&Version=1"
    return SAGEMAKER_TOKEN_PREFIX + base64.b64encode(presigned.encode()).decode()


class SageMakerBearerAuth(httpx.Auth):
    """SageMaker's bearer token, minted locally and re-minted before it expires or when the
    signing credentials change (their remaining validity bounds the token's)."""

    def __init__(
        self,
        region: str,
        credentials: CredentialSource = None,
        expires_s: int = SAGEMAKER_TOKEN_MAX_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not SAGEMAKER_TOKEN_MIN_S <= expires_s <= SAGEMAKER_TOKEN_MAX_S:
            raise ConfigurationError(
                f"expires_s must be between {SAGEMAKER_TOKEN_MIN_S} and "
                f"{SAGEMAKER_TOKEN_MAX_S} seconds, got {expires_s}"
            )
        self.region = region
        self.credentials = credentials
        self.expires_s = expires_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float, tuple[str | None, str | None]] | None = None

    def token(self) -> str:
        frozen = frozen_credentials(self.credentials)
        identity: tuple[str | None, str | None] = (frozen.access_key, frozen.token)
        now = self._clock()
        margin = min(REFRESH_MARGIN_S, self.expires_s / 2)
        with self._lock:
            cached = self._cached
            if cached is None or cached[2] != identity or now >= cached[1] - margin:
                token = sagemaker_bearer_token(self.region, frozen, self.expires_s)
                self._cached = (token, now + self.expires_s, identity)
                return token
            return cached[0]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request

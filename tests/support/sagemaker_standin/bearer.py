"""The bearer token of SageMaker's OpenAI-compatible route, checked as far as a stand-in can.

AWS, "Invoke endpoints with OpenAI-compatible APIs"
(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html):

- "SageMaker AI OpenAI-compatible endpoints use bearer token authentication. The SageMaker
  AI Python SDK includes a token generator that creates short-lived tokens (valid up to 12
  hours)";
- "The bearer token is a base64-encoded SigV4 pre-signed URL ... constructs a request to the
  SageMaker AI service for the `CallWithBearerToken` action, signs it locally".

The exact layout is the SDK's (sagemaker-core token_generator.py): ``"sagemaker-api-key-"
+ base64("sagemaker.amazonaws.com/?Action=CallWithBearerToken&X-Amz-...&Version=1")``,
signed for service ``sagemaker``. The stand-in checks the prefix, the encoding, the action,
the credential scope (service and region) and the expiry. It cannot check the signature or
the caller's IAM permissions (``sagemaker:CallWithBearerToken`` and
``sagemaker:InvokeEndpoint``); those are AWS's. AWS does not document the error replies of
this route: the codes below are the usual AWS ones (NOT CONFIRMED against the service).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

PREFIX = "sagemaker-api-key-"
HOST = "sagemaker.amazonaws.com"
ACTION = "CallWithBearerToken"
# "valid up to 12 hours" (the page above).
MAX_LIFETIME = timedelta(hours=12)
_SIGV4_TIME = "%Y%m%dT%H%M%SZ"


class Refusal(NamedTuple):
    status: int
    code: str
    message: str


def check_bearer(
    authorization: str | None, region: str, now: datetime | None = None
) -> Refusal | None:
    """None when the header carries a well-formed, unexpired token for ``region``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(PREFIX):
        return Refusal(
            401,
            "MissingAuthenticationTokenException",
            f"send 'Authorization: Bearer {PREFIX}...', a token from the SageMaker SDK's "
            "generate_token (sagemaker.core.token_generator)",
        )
    query = _presigned_query(token.removeprefix(PREFIX))
    if query is None:
        return Refusal(
            403,
            "InvalidSignatureException",
            f"the token after {PREFIX!r} is not a base64-encoded presigned URL for {HOST}",
        )
    return _check_query(query, region, now or datetime.now(UTC))


def _presigned_query(encoded: str) -> dict[str, str] | None:
    try:
        url = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    parts = urlsplit(f"https://{url}")
    if parts.hostname != HOST:
        return None
    return {k: v[-1] for k, v in parse_qs(parts.query).items()}


def _check_query(query: dict[str, str], region: str, now: datetime) -> Refusal | None:
    if query.get("Action") != ACTION or query.get("Version") != "1":
        return Refusal(
            403, "AccessDeniedException", f"the token does not presign Action={ACTION} (Version=1)"
        )
    scope = query.get("X-Amz-Credential", "").split("/")
    if len(scope) != 5 or scope[2:] != [region, "sagemaker", "aws4_request"]:
        return Refusal(
            403,
            "InvalidSignatureException",
            "the token's credential scope must be "
            f"<key>/<date>/{region}/sagemaker/aws4_request; mint it for {region}",
        )
    try:
        signed = datetime.strptime(query["X-Amz-Date"], _SIGV4_TIME).replace(tzinfo=UTC)
        lifetime = timedelta(seconds=int(query["X-Amz-Expires"]))
    except (KeyError, ValueError):
        return Refusal(
            403, "InvalidSignatureException", "the token lacks a valid X-Amz-Date or X-Amz-Expires"
        )
    if lifetime > MAX_LIFETIME:
        return Refusal(
            403,
            "InvalidSignatureException",
            f"X-Amz-Expires is {lifetime}; tokens are valid up to 12 hours",
        )
    if signed + lifetime <= now:
        return Refusal(
            403,
            "ExpiredTokenException",
            f"the bearer token expired at {signed + lifetime:%Y-%m-%dT%H:%M:%SZ}; "
            "generate a new one",
        )
    return None

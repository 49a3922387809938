"""Mint SageMaker OpenAI-route bearer tokens for tests, the way the SageMaker SDK does.

A test-only twin of sagemaker-core's token_generator (the SDK's own minting lives in
``gptoss_aws.backends._auth``): a SigV4 presigned ``POST https://sagemaker.amazonaws.com/
?Action=CallWithBearerToken`` for service ``sagemaker``, ``&Version=1`` appended, base64, and
the ``sagemaker-api-key-`` prefix. AWS: "The bearer token is a base64-encoded SigV4
pre-signed URL" and tokens are "valid up to 12 hours"
(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html).
"""

from __future__ import annotations

import base64
from datetime import datetime
from unittest import mock

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PREFIX = "sagemaker-api-key-"
HOST = "sagemaker.amazonaws.com"


def mint_token(
    region: str = "us-east-1",
    *,
    expires_s: int = 43200,
    signed_at: datetime | None = None,
    action: str = "CallWithBearerToken",
    credentials: Credentials | None = None,
) -> str:
    """A bearer token; ``signed_at`` back-dates the signature (for expiry tests)."""
    request = AWSRequest(
        method="POST",
        url=f"https://{HOST}/",
        headers={"host": HOST},
        params={"Action": action},
    )
    signer = SigV4QueryAuth(
        credentials or Credentials("testing", "testing"), "sagemaker", region, expires=expires_s
    )
    if signed_at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
            signer.add_auth(request)
    presigned = str(request.url).removeprefix("https://") + "&Version=1"
    return PREFIX + base64.b64encode(presigned.encode()).decode()


def bearer(token: str | None = None, region: str = "us-east-1") -> dict[str, str]:
    """The Authorization header, minting a fresh token unless one is given."""
    return {"Authorization": f"Bearer {token or mint_token(region)}"}

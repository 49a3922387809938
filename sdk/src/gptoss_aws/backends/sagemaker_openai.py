"""A SageMaker endpoint (or one inference component on it) through SageMaker's
OpenAI-compatible route, ``/openai/v1/chat/completions``, with a bearer token.

AWS, "Invoke endpoints with OpenAI-compatible APIs"
(https://docs.aws.amazon.com/sagemaker/latest/dg/realtime-endpoints-openai-compatible.html):

* "SageMaker AI endpoints expose an `/openai/v1/chat/completions` path that accepts Chat
  Completions requests and returns responses directly from the container, including
  streaming. OpenAI-compatible endpoints are available on all endpoints and inference
  components". Base URL ``https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/
  {ENDPOINT_NAME}/openai/v1``; "To invoke a specific inference component, include its name in
  the URL path": ``.../endpoints/{ENDPOINT_NAME}/inference-components/{IC_NAME}/openai/v1``.
* "SageMaker AI OpenAI-compatible endpoints use bearer token authentication" with
  short-lived tokens "valid up to 12 hours", minted locally (``_auth.SageMakerBearerAuth``,
  re-minted before expiry). The caller needs "the `sagemaker:CallWithBearerToken` and
  `sagemaker:InvokeEndpoint` permissions".
* "The `model` field is passed through to the container ... you can leave this field empty
  or set it to match the model name your container expects": ``model=`` is sent only when
  given, exactly as ``GptOss.sagemaker`` sends it.
* Only Chat Completions is documented on the route; Responses on SageMaker goes through
  InvokeEndpoint (``GptOss.sagemaker`` with the container's CustomAttributes routing), so it
  is refused here with that pointer.

Cost: instance-hours, like ``GptOss.sagemaker``: the placement (variant, instance type) is
resolved by the SageMaker backend itself (DescribeEndpoint / DescribeEndpointConfig /
DescribeInferenceComponent, or declared), so a row of this route matches a row of
InvokeEndpoint for the same endpoint but for the backend name.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio.to_thread
import httpx
from botocore.exceptions import ClientError

from gptoss_aws.backends._auth import SAGEMAKER_TOKEN_MAX_S, SageMakerBearerAuth
from gptoss_aws.backends._aws import map_aws_error
from gptoss_aws.backends.base import DEFAULT_TIMEOUT, ChatCompletionsOnly, Target
from gptoss_aws.backends.openai_compat import OpenAICompatibleBackend
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.backends.sagemaker import SageMakerBackend

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_sagemaker import SageMakerClient

RESPONSES_REFUSAL = (
    "SageMaker's OpenAI-compatible route serves /openai/v1/chat/completions only (AWS, "
    "'Invoke endpoints with OpenAI-compatible APIs'); call Responses through InvokeEndpoint "
    "with GptOss.sagemaker(...).responses.create(...), which the container routes by "
    "CustomAttributes."
)


class SageMakerOpenAIBackend(ChatCompletionsOnly, OpenAICompatibleBackend):
    name = "sagemaker_openai"
    cost_basis = BackendCostBasis.INSTANCE_HOURS
    telemetry_provider = "aws.sagemaker"  # as InvokeEndpoint calls of the same endpoint
    title = "SageMaker (OpenAI-compatible route)"
    cli_flag, cli_metavar = "--sagemaker-openai", "ENDPOINT"
    cli_help = "a SageMaker endpoint through its /openai/v1 route (bearer token)"
    responses_hint = RESPONSES_REFUSAL

    def __init__(
        self,
        endpoint_name: str,
        *,
        inference_component: str | None = None,
        region: str | None = None,
        session: boto3.Session | None = None,
        instance_type: str | None = None,
        variant: str | None = None,
        model: str | None = None,
        endpoint_url: str | None = None,
        token_expires_s: int = SAGEMAKER_TOKEN_MAX_S,
        sagemaker_client: SageMakerClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        # The SageMaker backend checks the names, resolves the region and, when asked,
        # the placement: one implementation of both ways into an endpoint.
        self.placement = SageMakerBackend(
            endpoint_name,
            inference_component=inference_component,
            region=region,
            session=session,
            instance_type=instance_type,
            variant=variant,
            model=model,
            sagemaker_client=sagemaker_client,
            timeout=timeout,
        )
        self.endpoint_name = endpoint_name
        self.inference_component = inference_component
        self.region = self.placement.region
        root = (endpoint_url or f"https://runtime.sagemaker.{self.region}.amazonaws.com").rstrip(
            "/"
        )
        path = f"/endpoints/{quote(endpoint_name, safe='')}"
        if inference_component:
            path += f"/inference-components/{quote(inference_component, safe='')}"
        super().__init__(
            f"{root}{path}/openai/v1",
            model=model,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
            headers=headers,
            auth=SageMakerBearerAuth(self.region, self.placement.session, token_expires_s),
        )

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> SageMakerOpenAIBackend:
        return cls(
            value,
            inference_component=args.inference_component,
            region=args.region,
            instance_type=args.instance_type,
            model=args.model,
            timeout=args.timeout,
        )

    def target(self) -> Target:
        return dataclasses.replace(self.placement.target(), backend=self.name)

    def _error(self, response: httpx.Response) -> Exception:
        """SageMaker's own refusals (an unknown endpoint, a bad or expired token) carry
        ``x-amzn-ErrorType`` and map as InvokeEndpoint's do; anything else is the
        container's answer, relayed as is, mapped as any OpenAI-compatible server's."""
        kind = response.headers.get("x-amzn-errortype")
        if not kind:
            return super()._error(response)
        try:
            body: Any = response.json()
        except ValueError:
            body = {"message": response.text}
        message = body.get("message") or body.get("Message") if isinstance(body, dict) else None
        error = ClientError(
            {
                "Error": {"Code": kind.split(":", 1)[0], "Message": str(message or response.text)},
                "ResponseMetadata": {
                    "HTTPStatusCode": response.status_code,
                    "RequestId": response.headers.get("x-amzn-requestid", ""),
                    "HTTPHeaders": dict(response.headers),
                    "HostId": "",
                    "RetryAttempts": 0,
                },
            },
            "OpenAIChatCompletions",
        )
        return map_aws_error(error, self.name)

    async def atarget(self) -> Target:
        # DescribeEndpoint is a boto3 call: off the event loop, as the SageMaker backend does.
        return await anyio.to_thread.run_sync(self.target)

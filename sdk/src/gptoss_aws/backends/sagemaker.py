"""A SageMaker real-time endpoint running the gpt-oss container (vLLM's OpenAI server).

The request body is the OpenAI chat-completions body; the container routes
``/invocations`` by its shape. Non-streamed calls use InvokeEndpoint; streamed calls use
InvokeEndpointWithResponseStream, whose PayloadPart events carry the container's SSE bytes
cut at arbitrary places (one part may end mid-event or hold several events:
strands-agents #4035), so they go through the byte-level ``SSEDecoder`` and nothing else.

For the cost record the backend needs the instance type and the variant: they are looked
up once, lazily, with DescribeEndpoint / DescribeEndpointConfig (and
DescribeInferenceComponent when calling a component), unless the user declared them.
Lacking sagemaker:Describe* permissions is not fatal: the record then has no instance
type, and pricing decides what that means.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from gptoss_aws.backends._aws import AwsBackend, map_aws_error
from gptoss_aws.backends._openai_wire import parse_openai_completion
from gptoss_aws.backends._request import ChatRequest
from gptoss_aws.backends._responses_request import ResponsesRequest
from gptoss_aws.backends._responses_wire import ResponseEventParser, ResponsesResult, parse_response
from gptoss_aws.backends._sse_stream import SSEChunkStream, SSEStream
from gptoss_aws.backends.base import (
    DEFAULT_TIMEOUT,
    BackendResult,
    ChunkStream,
    EventStream,
    Target,
    short_model_name,
)
from gptoss_aws.backends.registry import BackendCostBasis
from gptoss_aws.errors import ConfigurationError, ModelError, NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

log = logging.getLogger(__name__)


@dataclass
class _Shared:
    """State the copies made by with_timeout() share: the lazily resolved placement."""

    lock: threading.Lock
    resolved: tuple[str | None, str | None] | None = None  # (variant, instance_type)


class SageMakerBackend(AwsBackend):
    name = "sagemaker"
    cost_basis = BackendCostBasis.INSTANCE_HOURS
    # The GenAI semantic conventions' provider registry has no SageMaker entry; the
    # convention allows custom values (open-telemetry/semantic-conventions-genai).
    telemetry_provider = "aws.sagemaker"
    title = "SageMaker"
    cli_flag, cli_metavar, cli_help = "--sagemaker", "ENDPOINT", "a SageMaker endpoint name"
    runtime_service = "sagemaker-runtime"
    control_service = "sagemaker"

    def __init__(
        self,
        endpoint_name: str,
        *,
        inference_component: str | None = None,
        region: str | None = None,
        session: boto3.Session | None = None,
        config: Config | None = None,
        instance_type: str | None = None,
        variant: str | None = None,
        model: str | None = None,
        custom_attributes: str | None = None,
        runtime_client: SageMakerRuntimeClient | None = None,
        sagemaker_client: SageMakerClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not endpoint_name:
            raise ConfigurationError("endpoint_name is required")
        self.endpoint_name = endpoint_name
        self.inference_component = inference_component
        self._init_aws(session, region, config, timeout, runtime_client, sagemaker_client)
        self.instance_type = instance_type
        self.variant = variant
        self.model = model
        self.custom_attributes = custom_attributes
        self._shared = _Shared(lock=threading.Lock())

    @classmethod
    def from_cli(cls, value: str, args: argparse.Namespace) -> SageMakerBackend:
        return cls(
            value,
            inference_component=args.inference_component,
            region=args.region,
            instance_type=args.instance_type,
            model=args.model,
            timeout=args.timeout,
        )

    # -- clients ------------------------------------------------------------------------

    @property
    def runtime(self) -> SageMakerRuntimeClient:
        return cast("SageMakerRuntimeClient", self._client("runtime"))

    @property
    def control(self) -> SageMakerClient:
        return cast("SageMakerClient", self._client("control"))

    # -- placement, for the cost record ---------------------------------------------------

    def target(self) -> Target:
        variant, instance_type = self._placement()
        return Target(
            backend="sagemaker",
            model=short_model_name(self.model),
            model_id=self.model,
            endpoint=self.endpoint_name,
            variant=variant,
            inference_component=self.inference_component,
            instance_type=instance_type,
            region=self.region,
        )

    def _placement(self) -> tuple[str | None, str | None]:
        if self.instance_type is not None and (
            self.variant is not None or self.inference_component is None
        ):
            return self.variant, self.instance_type
        with self._shared.lock:
            if self._shared.resolved is None:
                try:
                    self._shared.resolved = self._describe()
                except PermissionDeniedError as exc:
                    log.warning(
                        "cannot describe endpoint %s (%s); pass instance_type= to price its calls",
                        self.endpoint_name,
                        exc,
                    )
                    self._shared.resolved = (self.variant, self.instance_type)
            variant, instance_type = self._shared.resolved
        return self.variant or variant, self.instance_type or instance_type

    def _describe(self) -> tuple[str | None, str | None]:
        try:
            variant = self.variant
            if self.inference_component and variant is None:
                component = self.control.describe_inference_component(
                    InferenceComponentName=self.inference_component
                )
                variant = component.get("VariantName")
            endpoint = self.control.describe_endpoint(EndpointName=self.endpoint_name)
            config = self.control.describe_endpoint_config(
                EndpointConfigName=endpoint["EndpointConfigName"]
            )
        except ClientError as exc:
            mapped = map_aws_error(exc, "sagemaker")
            if isinstance(mapped, NotFoundError):
                raise NotFoundError(
                    f"sagemaker: no endpoint {self.endpoint_name!r}"
                    + (
                        f" / inference component {self.inference_component!r}"
                        if self.inference_component
                        else ""
                    )
                    + f" in {self.region}: {mapped.message}",
                    backend="sagemaker",
                    body=mapped.body,
                ) from exc
            raise mapped from exc
        variants = config.get("ProductionVariants", [])
        if variant is None and len(variants) == 1:
            variant = variants[0].get("VariantName")
        types = {v.get("InstanceType") for v in variants if variant in (None, v.get("VariantName"))}
        instance_type = types.pop() if len(types) == 1 else None
        return variant, instance_type

    # -- calls ----------------------------------------------------------------------------

    def _invoke_args(self, request: ChatRequest | dict[str, Any], accept: str) -> dict[str, Any]:
        body = request if isinstance(request, dict) else request.openai_body(self.model)
        args: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "Body": json.dumps(body).encode(),
            "ContentType": "application/json",
            "Accept": accept,
        }
        if self.inference_component:
            args["InferenceComponentName"] = self.inference_component
        elif self.variant:
            args["TargetVariant"] = self.variant
        if self.custom_attributes:
            args["CustomAttributes"] = self.custom_attributes
        return args

    def _invoke_json(self, args: dict[str, Any]) -> Any:
        """InvokeEndpoint, and the JSON the container answered with."""
        try:
            raw = self.runtime.invoke_endpoint(**args)["Body"].read()
        except Exception as exc:
            raise map_aws_error(exc, "sagemaker") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ModelError(
                f"sagemaker: the endpoint answered with non-JSON: {raw[:200]!r}",
                backend="sagemaker",
                body=raw,
            ) from exc

    def complete(self, request: ChatRequest) -> BackendResult:
        data = self._invoke_json(self._invoke_args(request, "application/json"))
        return parse_openai_completion(data, "sagemaker")

    def open_stream(self, request: ChatRequest) -> ChunkStream:
        try:
            response = self.runtime.invoke_endpoint_with_response_stream(
                **self._invoke_args(request, "text/event-stream")
            )
        except Exception as exc:
            raise map_aws_error(exc, "sagemaker") from exc
        events = response["Body"]
        return SSEChunkStream(_payload_bytes(events), events.close, "sagemaker")

    # -- the Responses API, through InvokeEndpoint -----------------------------------------
    # SageMaker's OpenAI-compatible route forwards only chat completions ("The container must
    # implement the `/v1/chat/completions` path", https://docs.aws.amazon.com/sagemaker/latest/
    # dg/realtime-endpoints-openai-compatible.html), so Responses goes through /invocations:
    # CustomAttributes, "an opaque value that is forwarded verbatim" (SageMaker API reference,
    # InvokeEndpoint), carries route=/v1/responses, which the container routes
    # (inference_container gptoss_container/routing.py).

    def responses_custom_attributes(self) -> str:
        return responses_custom_attributes(self.custom_attributes)

    def check_responses(self, request: ResponsesRequest) -> None:
        attributes = self.responses_custom_attributes()
        if len(attributes) > CUSTOM_ATTRIBUTES_MAX or not attributes.isascii():
            raise ConfigurationError(
                f"custom_attributes plus {RESPONSES_ROUTE!r} make {len(attributes)} characters; "
                f"InvokeEndpoint's CustomAttributes takes at most {CUSTOM_ATTRIBUTES_MAX} "
                "visible US-ASCII characters: shorten custom_attributes"
            )

    def _responses_invoke_args(self, request: ResponsesRequest, accept: str) -> dict[str, Any]:
        args = self._invoke_args(request.body(self.model), accept)
        args["CustomAttributes"] = self.responses_custom_attributes()
        return args

    def send_responses(self, request: ResponsesRequest) -> ResponsesResult:
        data = self._invoke_json(self._responses_invoke_args(request, "application/json"))
        return parse_response(data, "sagemaker")

    def stream_responses(self, request: ResponsesRequest) -> EventStream:
        try:
            response = self.runtime.invoke_endpoint_with_response_stream(
                **self._responses_invoke_args(request, "text/event-stream")
            )
        except Exception as exc:
            raise map_aws_error(exc, "sagemaker") from exc
        events = response["Body"]
        return SSEStream(_payload_bytes(events), events.close, ResponseEventParser("sagemaker"))


RESPONSES_ROUTE = "route=/v1/responses"
# InvokeEndpoint's CustomAttributes: "no more than 1024 visible US-ASCII characters"
# (botocore's sagemaker-runtime model: max 1024, pattern \p{ASCII}*).
CUSTOM_ATTRIBUTES_MAX = 1024


def responses_custom_attributes(user: str | None) -> str:
    """``route=/v1/responses``, then the caller's own attributes (any ``route=`` of theirs,
    e.g. ``route=/v1/chat/completions`` for their chat calls, is replaced). The container
    splits pairs on ``,`` or ``;``."""
    kept = [
        piece.strip()
        for piece in re.split(r"[,;]", user or "")
        if piece.strip() and piece.partition("=")[0].strip().lower() != "route"
    ]
    return ",".join([RESPONSES_ROUTE, *kept])


def _payload_bytes(events: Any) -> Iterator[bytes]:
    """The bytes of each PayloadPart; stream errors mapped onto ours."""
    try:
        for event in events:
            part = event.get("PayloadPart")
            if part is not None:
                yield part.get("Bytes", b"")
    except Exception as exc:
        raise map_aws_error(exc, "sagemaker") from exc

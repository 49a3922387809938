"""boto3 plumbing shared by the SageMaker and Bedrock backends.

Credentials and region come from boto3's usual chain (arguments, environment, profile,
instance role). Clients get botocore's retries switched off (``total_max_attempts=1``): the
SDK's ``RetryPolicy`` is the only retry layer, so attempts are never multiplied and
``max_retries`` counts the same on every backend. A ``config`` the user passes is merged
over ours and wins, retries included (if you turn botocore retries back on, set
``max_retries=0`` on the client). ``timeout`` becomes botocore's read timeout, i.e. the
longest wait for the next bytes, like httpx's read timeout on the OpenAI-compatible path.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Literal, Self

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.loaders import create_loader

from gptoss_aws.backends._http_errors import error_for_status
from gptoss_aws.backends.base import BackendBase
from gptoss_aws.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    GptOssError,
    InvalidRequestError,
    ModelError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from gptoss_aws.types import Backend

CONNECT_TIMEOUT = 10.0
# Control-plane calls (DescribeEndpoint, GetInferenceProfile) answer in well under a second;
# their read timeout does not follow the generation timeout of the runtime client.
CONTROL_TIMEOUT = 60.0


def make_session(session: boto3.Session | None, region: str | None) -> boto3.Session:
    if session is not None:
        return session
    return boto3.Session(region_name=region) if region else boto3.Session()


def resolve_region(session: boto3.Session, region: str | None, service: str) -> str:
    """The region to call. A name that is no AWS region at all (a typo) is refused here;
    whether the service runs there is AWS's to answer."""
    name = region or session.region_name
    if not name:
        raise ConfigurationError(
            "no AWS region: pass region=..., or set AWS_REGION / AWS_DEFAULT_REGION, "
            "or a region in your AWS profile"
        )
    # botocore's partition data lists every region; the service's endpoint data, where it
    # has any (bedrock-runtime has none: it is resolved by rules), may list newer ones.
    known: set[str] = set()
    for partition in create_loader().load_data("partitions")["partitions"]:
        known.update(r for r in partition.get("regions", {}) if not r.startswith("aws-"))
    for partition in session.get_available_partitions():
        known.update(session.get_available_regions(service, partition_name=partition))
    if known and name not in known:
        raise ConfigurationError(
            f"unknown region {name!r}: AWS regions look like us-east-1 or eu-west-3 "
            f"(botocore knows {len(known)})"
        )
    return name


def client_config(timeout: float, user_config: Config | None) -> Config:
    from gptoss_aws import __version__

    ours = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        read_timeout=timeout,
        connect_timeout=min(timeout, CONNECT_TIMEOUT),
        user_agent_extra=f"gptoss-aws/{__version__}",
    )
    return ours.merge(user_config) if user_config is not None else ours


# Error codes (lower-cased: stream events spell them in camelCase) -> our class. ModelError
# and friends are decided by the container's own status instead, see map_aws_error.
_BY_CODE: dict[str, type[APIStatusError]] = {
    "validationerror": InvalidRequestError,
    "validationexception": InvalidRequestError,
    "resourcenotfoundexception": NotFoundError,
    "accessdeniedexception": PermissionDeniedError,
    "accessdenied": PermissionDeniedError,
    "unrecognizedclientexception": AuthenticationError,
    "invalidsignatureexception": AuthenticationError,
    "incompletesignature": AuthenticationError,
    "invalidclienttokenid": AuthenticationError,
    "expiredtokenexception": AuthenticationError,
    "expiredtoken": AuthenticationError,
    "missingauthenticationtoken": AuthenticationError,
    "throttlingexception": ThrottledError,
    "throttling": ThrottledError,
    "toomanyrequestsexception": ThrottledError,
    # Bedrock: tokens- or requests-per-minute quota; it clears, so treat it as throttling.
    "servicequotaexceededexception": ThrottledError,
    "modelnotreadyexception": ModelNotReadyError,
    "serviceunavailable": ModelNotReadyError,
    "serviceunavailableexception": ModelNotReadyError,
    "internalfailure": ModelError,
    "internalserverexception": ModelError,
    "internaldependencyexception": ModelError,
    "internalstreamfailure": ModelError,
}
_MODEL_ERRORS = frozenset(
    {"modelerror", "modelerrorexception", "modelstreamerror", "modelstreamerrorexception"}
)
# SageMaker answers ValidationError for a missing endpoint or inference component.
_NOT_FOUND_HINTS = ("not found", "could not find", "does not exist")


def map_aws_error(exc: Exception, backend: Backend) -> Exception:
    """botocore's exception -> ours; anything already ours or unknown passes through."""
    if isinstance(exc, GptOssError):
        return exc
    if isinstance(exc, ClientError):
        return _map_client_error(exc, backend)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return APITimeoutError(f"{backend}: timed out: {exc}", backend=backend)
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ResponseStreamingError):
        return APIConnectionError(f"{backend}: connection failed: {exc}", backend=backend)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigurationError(
            f"no usable AWS credentials ({exc}): configure them as for the AWS CLI "
            "(environment, profile or instance role)"
        )
    if isinstance(exc, NoRegionError):
        return ConfigurationError(f"no AWS region: {exc}")
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return APITimeoutError(f"{backend}: timed out reading the stream: {exc}", backend=backend)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        # An event stream is read straight from urllib3: a connection that breaks mid-way
        # raises its ProtocolError, not a botocore one.
        return APIConnectionError(f"{backend}: the stream broke: {exc}", backend=backend)
    if isinstance(exc, BotoCoreError):
        # urllib3 protocol errors and the like surface as generic BotoCoreErrors.
        return APIConnectionError(f"{backend}: {exc}", backend=backend)
    return exc


def _map_client_error(exc: ClientError, backend: Backend) -> APIError:
    response: dict[str, Any] = dict(exc.response)
    error = response.get("Error") or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or exc)
    meta = response.get("ResponseMetadata") or {}
    request_id = meta.get("RequestId")
    http_status = int(meta.get("HTTPStatusCode") or 0)
    lowered = code.lower()
    if lowered in _MODEL_ERRORS:
        # The container's own status says whose fault it was: a 400 from vLLM is a bad
        # request (not worth retrying); a 5xx is a model failure (worth it).
        original = response.get("OriginalStatusCode") or response.get("originalStatusCode")
        status = int(original) if original else 500
        detail = response.get("OriginalMessage") or response.get("originalMessage") or message
        mapped = error_for_status(
            status, f"{code}: {detail}", backend=backend, body=response, request_id=request_id
        )
        return mapped
    if lowered == "modeltimeoutexception":
        # Bedrock's 408: the model took too long. A timeout, retried like one.
        return APITimeoutError(f"{backend}: {code}: {message}", backend=backend, body=response)
    cls = _BY_CODE.get(lowered)
    if cls is InvalidRequestError and any(h in message.lower() for h in _NOT_FOUND_HINTS):
        cls = NotFoundError
    if cls is None:
        return error_for_status(
            http_status or 500,
            f"{code}: {message}",
            backend=backend,
            body=response,
            request_id=request_id,
        )
    kwargs: dict[str, Any] = {"backend": backend, "body": response, "request_id": request_id}
    if http_status and cls is ModelError:
        kwargs["status_code"] = http_status
    return cls(f"{backend}: {code}: {message}", **kwargs)


class AwsBackend(BackendBase):
    """Session, region and lazily built boto3 clients of the SageMaker and Bedrock backends.

    A client the caller injected is used as it is; ours are built on first use, the runtime
    one with ``timeout`` as its read timeout (rebuilt by ``with_timeout``).
    """

    runtime_service: ClassVar[str]
    control_service: ClassVar[str]

    def _init_aws(
        self,
        session: boto3.Session | None,
        region: str | None,
        config: Config | None,
        timeout: float,
        runtime_client: Any | None,
        control_client: Any | None,
    ) -> None:
        self.session = make_session(session, region)
        self.region: str = (
            runtime_client.meta.region_name
            if runtime_client is not None
            else resolve_region(self.session, region, self.runtime_service)
        )
        self.config = config
        self.timeout = timeout
        self._injected = runtime_client is not None
        self._clients: dict[str, Any] = {}
        if runtime_client is not None:
            self._clients["runtime"] = runtime_client
        if control_client is not None:
            self._clients["control"] = control_client

    def _client(self, role: Literal["runtime", "control"]) -> Any:
        client = self._clients.get(role)
        if client is None:
            runtime = role == "runtime"
            client = self._clients[role] = self.session.client(
                self.runtime_service if runtime else self.control_service,  # type: ignore[call-overload]
                region_name=self.region,
                config=client_config(self.timeout if runtime else CONTROL_TIMEOUT, self.config),
            )
        return client

    def with_timeout(self, timeout: float) -> Self:
        clone = copy.copy(self)
        clone.timeout = timeout
        clone._clients = dict(self._clients)
        if not self._injected:
            clone._clients.pop("runtime", None)  # rebuilt with the new read timeout
        return clone

"""Deploy gpt-oss from a notebook with the sagemaker v3 SDK, or find the CDK stack's endpoint.

Install with ``pip install "gptoss-aws[sagemaker]"`` (SageMaker Studio already has the
``sagemaker`` package). Three calls::

    from gptoss_deploy import from_preset
    from gptoss_deploy.sagemaker import deploy, endpoint_from_stack_outputs, teardown

    config = from_preset("gpt-oss-20b-g6e-xlarge", {"environment": "studio"})
    endpoint = deploy(config, image_uri=..., weights_s3_uri=..., execution_role_arn=...)
    client = endpoint.client()          # a GptOss for the endpoint, tracked in the ledger
    teardown(endpoint)

``deploy`` validates with the same ``find_problems`` the CDK app runs at synth, then creates
the Model, EndpointConfig and Endpoint (and InferenceComponent) that
``gptoss_deploy.endpoint_plan`` lays out, through ``sagemaker.core.resources``.
Who deployed with CDK instead reads the stack's outputs with
``endpoint_from_stack_outputs("GptossDev-SageMaker", boto3.client("cloudformation"))``.

The ``sagemaker`` package is imported only inside these functions: importing this module
never loads it. Only ``sagemaker.core`` is imported, which needs no region at import
(``sagemaker.serve`` does: it creates boto3 clients at import time).

SageMaker Python SDK telemetry is on by default. It is read from the SDK defaults file
(``SageMaker.PythonSDK.Modules.TelemetryOptOut``, sagemaker/core/config/config_schema.py),
at ``~/.config/sagemaker/config.yaml`` or wherever ``SAGEMAKER_USER_CONFIG_OVERRIDE``
points. To turn it off, write ``TELEMETRY_OPT_OUT_YAML`` to that file (or call
``write_telemetry_opt_out(path)`` and set the variable); the tests do.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import boto3

from gptoss_aws.errors import ConfigurationError, GptOssError
from gptoss_deploy.config import DeploymentConfig
from gptoss_deploy.endpoint_plan import (
    EndpointPlan,
    plan_endpoint,
)
from gptoss_facts import endpoint as endpoint_defaults
from gptoss_facts.models import ALL_MODELS

if TYPE_CHECKING:
    from gptoss_aws.client import GptOss

log = logging.getLogger(__name__)

# The install line the notebooks use: the SDK's extra, which is gptoss-deploy[sagemaker].
EXTRA = "gptoss-aws[sagemaker]"
TELEMETRY_OPT_OUT_ENV = "SAGEMAKER_USER_CONFIG_OVERRIDE"
TELEMETRY_OPT_OUT_YAML = (
    "# SageMaker Python SDK defaults: no usage telemetry (config_schema TelemetryOptOut).\n"
    "SchemaVersion: '1.0'\n"
    "SageMaker:\n"
    "  PythonSDK:\n"
    "    Modules:\n"
    "      TelemetryOptOut: true\n"
)
# Seconds between DescribeEndpoint calls while waiting; the SageMaker SDK's own default
# (Endpoint.wait_for_status poll=5) would make ~700 calls over a one-hour GPU start.
DEFAULT_POLL_S = 30
# The CDK stack's outputs (infra/src/gptoss_infra/stacks/sagemaker_stack.py).
STACK_OUTPUTS = (
    "EndpointName",
    "InferenceComponentName",
    "WeightsS3Uri",
    "MirrorProject",
    "AlarmTopicArn",
)


class CloudFormationClientLike(Protocol):
    """What ``endpoint_from_stack_outputs`` uses of ``boto3.client("cloudformation")``."""

    @property
    def meta(self) -> Any: ...

    def describe_stacks(self, *, StackName: str) -> Any: ...  # noqa: N803 - boto3's name


class DeploymentError(GptOssError):
    """Creating or waiting for the endpoint failed; ``endpoint`` names what was created,
    so ``teardown(error.endpoint)`` removes it."""

    def __init__(self, message: str, endpoint: DeployedEndpoint) -> None:
        super().__init__(message)
        self.endpoint = endpoint


@dataclass(frozen=True)
class DeployedEndpoint:
    """A gpt-oss endpoint to call: deployed from here, or read from the CDK stack."""

    endpoint_name: str
    region: str
    model: str | None
    """Short model name (``gpt-oss-20b``), sent as the body's ``model`` and recorded."""
    instance_type: str | None = None
    inference_component_name: str | None = None
    model_name: str | None = None
    """The SageMaker Model resource (notebook deployments only)."""
    endpoint_config_name: str | None = None
    weights_s3_uri: str | None = None
    stack_name: str | None = None
    """The CDK stack that owns the endpoint; ``teardown`` leaves such endpoints alone."""
    outputs: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    notes: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    """The resources this deployment created (``"Model"``, ``"EndpointConfig"``,
    ``"Endpoint"``, ``"InferenceComponent"``): ``teardown`` deletes these and nothing else,
    so a failed deploy never removes an endpoint of the same name it did not make."""

    def client(self, **kwargs: Any) -> GptOss:
        """``GptOss.sagemaker`` for this endpoint; keyword arguments pass through
        (``tracker=``, ``tags=``, ``session=``...)."""
        from gptoss_aws.client import GptOss

        placement: dict[str, Any] = {}
        if self.instance_type is not None:
            # Known placement: no DescribeEndpoint call is needed to price the calls.
            placement = {
                "instance_type": self.instance_type,
                "variant": endpoint_defaults.VARIANT_NAME,
            }
        return GptOss.sagemaker(
            self.endpoint_name,
            self.inference_component_name,
            region=kwargs.pop("region", self.region),
            model=kwargs.pop("model", self.model),
            **{**placement, **kwargs},
        )


def _sagemaker_core() -> ModuleType:
    """``sagemaker.core.resources``, imported on first use (the extra is optional)."""
    try:
        return importlib.import_module("sagemaker.core.resources")
    except ImportError as exc:
        raise ImportError(
            f"the notebook deploy path needs the sagemaker v3 SDK: pip install '{EXTRA}' "
            f"(import failed: {exc})"
        ) from exc


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """sagemaker.core shows its waits with rich's Live panel, which warns in a notebook
    without ipywidgets; the panel still renders, so the warning is only noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message='install "ipywidgets"', category=UserWarning)
        yield


def write_telemetry_opt_out(path: Path) -> Path:
    """Write the SageMaker SDK defaults file that turns its telemetry off; point
    ``SAGEMAKER_USER_CONFIG_OVERRIDE`` at it (or write it to ~/.config/sagemaker/config.yaml)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TELEMETRY_OPT_OUT_YAML, encoding="utf-8")
    return path


def deploy(
    config: DeploymentConfig,
    *,
    weights_s3_uri: str,
    execution_role_arn: str,
    image_uri: str | None = None,
    endpoint_name: str | None = None,
    session: boto3.Session | None = None,
    wait: bool = True,
    poll_s: int = DEFAULT_POLL_S,
    timeout_s: int | None = None,
    startup_timeout_s: int = endpoint_defaults.STARTUP_TIMEOUT_S,
    download_timeout_s: int = endpoint_defaults.DOWNLOAD_TIMEOUT_S,
) -> DeployedEndpoint:
    """Create the endpoint ``config`` describes and (``wait``) return once it is InService.

    Raises InvalidConfigurationError (every problem, before anything is created) or
    DeploymentError (after; ``teardown(error.endpoint)`` cleans up). ``timeout_s``: give up
    waiting after this long (default: wait until SageMaker reports InService or Failed;
    SageMaker fails the endpoint itself when the download or health-check timeout passes).
    With inference components the endpoint is always waited for, since a component can
    only be placed on an InService endpoint; ``wait`` then covers the component.
    """
    plan = plan_endpoint(
        config,
        weights_s3_uri=weights_s3_uri,
        execution_role_arn=execution_role_arn,
        image_uri=image_uri,
        endpoint_name=endpoint_name,
        startup_timeout_s=startup_timeout_s,
        download_timeout_s=download_timeout_s,
    )
    for note in plan.notes:
        log.info("%s: %s", plan.endpoint_name, note)  # also on the result's .notes
    return run_plan(plan, session=session, wait=wait, poll_s=poll_s, timeout_s=timeout_s)


def _deployed(
    plan: EndpointPlan, weights_s3_uri: str, created_at: datetime, created: tuple[str, ...]
) -> DeployedEndpoint:
    return DeployedEndpoint(
        endpoint_name=plan.endpoint_name,
        region=plan.region,
        model=plan.model_short_name,
        instance_type=plan.instance_type,
        inference_component_name=plan.inference_component_name,
        model_name=plan.model_name,
        endpoint_config_name=plan.endpoint_config_name,
        weights_s3_uri=weights_s3_uri,
        created_at=created_at,
        notes=plan.notes,
        created=created,
    )


def run_plan(
    plan: EndpointPlan,
    *,
    session: boto3.Session | None = None,
    wait: bool = True,
    poll_s: int = DEFAULT_POLL_S,
    timeout_s: int | None = None,
) -> DeployedEndpoint:
    """Send a plan's requests through ``sagemaker.core.resources``, in order."""
    resources = _sagemaker_core()
    where: dict[str, Any] = {"session": session, "region": plan.region}
    weights = plan.model["primary_container"]["model_data_source"]["s3_data_source"]["s3_uri"]
    started = datetime.now(UTC)
    created: list[str] = []
    step = "Model"
    with _quiet_progress():
        try:
            resources.Model.create(**plan.model, **where)
            created.append(step)
            step = "EndpointConfig"
            resources.EndpointConfig.create(**plan.endpoint_config, **where)
            created.append(step)
            step = "Endpoint"
            endpoint = resources.Endpoint.create(**plan.endpoint, **where)
            created.append(step)
            if wait or plan.inference_component is not None:
                endpoint.wait_for_status("InService", poll=poll_s, timeout=timeout_s)
            if plan.inference_component is not None:
                step = "InferenceComponent"
                component = resources.InferenceComponent.create(**plan.inference_component, **where)
                created.append(step)
                if wait:
                    component.wait_for_status("InService", poll=poll_s, timeout=timeout_s)
        except Exception as exc:
            made = ", ".join(created) or "nothing"
            raise DeploymentError(
                f"{step} of {plan.endpoint_name} failed: {exc}. Created so far: {made}; "
                "teardown(error.endpoint) removes exactly those",
                _deployed(plan, weights, started, tuple(created)),
            ) from exc
    return _deployed(plan, weights, started, tuple(created))


def _not_found(exc: Exception) -> bool:
    # DescribeX / DeleteX on a missing resource: SageMaker answers ValidationException
    # ("Could not find ..."), some operations ResourceNotFound.
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("ValidationException", "ResourceNotFound") or "Could not find" in str(exc)


def teardown(
    endpoint: DeployedEndpoint,
    *,
    session: boto3.Session | None = None,
    wait: bool = True,
    poll_s: int = 5,
) -> list[str]:
    """Delete what ``deploy`` created (component, endpoint, endpoint config, model: the
    ``created`` list, nothing else); return what was deleted. Resources already gone are
    skipped, so a second call is harmless.

    An endpoint read from a CDK stack is refused: deleting a stack's resources behind its
    back leaves the stack unable to update; ``npx cdk destroy <stack>`` removes them."""
    if endpoint.stack_name is not None:
        raise ConfigurationError(
            f"{endpoint.endpoint_name} belongs to CloudFormation stack {endpoint.stack_name}: "
            f"remove it with `npx cdk destroy {endpoint.stack_name}` (or delete the stack)"
        )
    resources = _sagemaker_core()
    where: dict[str, Any] = {"session": session, "region": endpoint.region}
    deleted: list[str] = []

    def remove(kind: str, name: str | None, waits: bool) -> None:
        if name is None or kind not in endpoint.created:
            return
        key = {
            "InferenceComponent": "inference_component_name",
            "Endpoint": "endpoint_name",
            "EndpointConfig": "endpoint_config_name",
            "Model": "model_name",
        }[kind]
        try:
            resource = getattr(resources, kind).get(**{key: name}, **where)
            resource.delete()
            if waits and wait:
                resource.wait_for_delete(poll=poll_s)
        except Exception as exc:
            if _not_found(exc):
                log.info("%s %s is already gone", kind, name)
                return
            raise
        deleted.append(f"{kind} {name}")

    # The component sits on the endpoint, the endpoint uses the config, the config the model.
    with _quiet_progress():
        remove("InferenceComponent", endpoint.inference_component_name, waits=True)
        remove("Endpoint", endpoint.endpoint_name, waits=True)
        remove("EndpointConfig", endpoint.endpoint_config_name, waits=False)
        remove("Model", endpoint.model_name, waits=False)
    return deleted


def _model_from_weights(uri: str | None) -> str | None:
    # The stack stages weights under models/<model>/ (sagemaker_stack.py, ModelArtifacts).
    if uri is None:
        return None
    parts = [part for part in uri.split("/") if part]
    for name in ALL_MODELS:
        if len(parts) >= 2 and parts[-2:] == ["models", name]:
            return name
    return None


def endpoint_from_stack_outputs(
    stack_name: str, cloudformation_client: CloudFormationClientLike
) -> DeployedEndpoint:
    """The endpoint of a deployed CDK SageMaker stack (``<Project><Env>-SageMaker``, e.g.
    ``GptossDev-SageMaker``: ``DeploymentConfig.names.sagemaker_stack``), from its outputs.

    The model is read from the weights prefix the stack stages (``models/<model>/``); the
    instance type is left to ``DescribeEndpoint`` when the client first prices a call."""
    stacks = cloudformation_client.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise ConfigurationError(f"no CloudFormation stack {stack_name!r}")
    stack = stacks[0]
    status = stack.get("StackStatus", "")
    if not status.endswith("_COMPLETE") or status.startswith(("DELETE", "ROLLBACK")):
        raise ConfigurationError(
            f"stack {stack_name} is {status}: wait for the deployment to finish (or fix it)"
        )
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", []) if "OutputKey" in o
    }
    if "EndpointName" not in outputs:
        raise ConfigurationError(
            f"stack {stack_name} has no EndpointName output (outputs: "
            f"{', '.join(sorted(outputs)) or 'none'}); pass the SageMaker stack, named like "
            "GptossDev-SageMaker (config.names.sagemaker_stack)"
        )
    weights = outputs.get("WeightsS3Uri")
    return DeployedEndpoint(
        endpoint_name=outputs["EndpointName"],
        region=cloudformation_client.meta.region_name,
        model=_model_from_weights(weights),
        inference_component_name=outputs.get("InferenceComponentName"),
        weights_s3_uri=weights,
        stack_name=stack_name,
        outputs={k: v for k, v in outputs.items() if k in STACK_OUTPUTS},
        created_at=stack.get("CreationTime"),
    )

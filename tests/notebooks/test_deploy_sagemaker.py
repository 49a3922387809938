"""The deploy-from-notebook path (gptoss_deploy.sagemaker) against moto.

moto stores what the sagemaker v3 SDK creates, and its API models check the requests'
shapes; what moto does not keep (EnableNetworkIsolation, for one) is read from the
requests themselves, captured with a botocore event hook on the session. Runs in
.venv-notebooks, where the ``sagemaker`` package is installed.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import REGION, moto_sagemaker_fixes
from moto import mock_aws

from gptoss_aws.errors import ConfigurationError
from gptoss_deploy import InvalidConfigurationError, from_preset
from gptoss_deploy.config import DeploymentConfig
from gptoss_deploy.endpoint_plan import plan_endpoint, stamped_name
from gptoss_deploy.memory import container_environment
from gptoss_deploy.sagemaker import (
    EXTRA,
    TELEMETRY_OPT_OUT_ENV,
    DeployedEndpoint,
    DeploymentError,
    deploy,
    endpoint_from_stack_outputs,
    teardown,
)
from gptoss_facts import endpoint as endpoint_facts
from gptoss_facts.instances import INSTANCE_TYPES
from gptoss_facts.names import SAGEMAKER_NAME

ACCOUNT = "123456789012"  # moto's default account
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/gptoss-vllm:1"
WEIGHTS = "s3://gptoss-weights/models/gpt-oss-20b/"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/gptoss-sagemaker-execution"
PRESET = "gpt-oss-20b-g6e-xlarge"  # us-east-1, one L40S


def config(**overrides: Any) -> DeploymentConfig:
    return from_preset(PRESET, {"environment": "nbtest", **overrides})


class Recorder:
    """The SageMaker requests a boto3 session sends, by operation, as sent."""

    def __init__(self, session: boto3.Session) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        session.events.register("provide-client-params.sagemaker", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, json.loads(json.dumps(params, default=str))))

    def one(self, operation: str) -> dict[str, Any]:
        found = [params for name, params in self.calls if name == operation]
        assert len(found) == 1, f"{len(found)} {operation} calls"
        return found[0]


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws(), moto_sagemaker_fixes():
        yield boto3.Session(region_name=REGION)


def test_deploy_creates_what_the_cdk_construct_creates(session: boto3.Session) -> None:
    recorder = Recorder(session)
    endpoint = deploy(
        config(),
        image_uri=IMAGE,
        weights_s3_uri=WEIGHTS,
        execution_role_arn=ROLE,
        session=session,
        poll_s=1,
    )
    assert endpoint.endpoint_name == "gptoss-nbtest-gpt-oss-20b"  # config.names.endpoint
    assert endpoint.created == ("Model", "EndpointConfig", "Endpoint")
    assert (endpoint.model, endpoint.instance_type, endpoint.region) == (
        "gpt-oss-20b",
        "ml.g6e.xlarge",
        REGION,
    )

    model = recorder.one("CreateModel")
    assert model["EnableNetworkIsolation"] is True
    assert model["ExecutionRoleArn"] == ROLE
    container = model["PrimaryContainer"]
    assert container["Image"] == IMAGE
    assert container["ModelDataSource"] == {
        "S3DataSource": {"S3Uri": WEIGHTS, "S3DataType": "S3Prefix", "CompressionType": "None"}
    }
    sm = config().sagemaker
    assert sm is not None
    # The same variables the CDK stack passes (endpoint_props: served model name plus the
    # settings the memory check assumed).
    assert container["Environment"] == {
        "GPTOSS_SERVED_MODEL_NAME": "gpt-oss-20b",
        **container_environment(sm),
    }
    variant = recorder.one("CreateEndpointConfig")["ProductionVariants"][0]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": endpoint.model_name,
        "InstanceType": "ml.g6e.xlarge",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": 1800,
        "ModelDataDownloadTimeoutInSeconds": 1800,
        "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
        # The AMI whose NVIDIA driver runs the image's CUDA 13.0, as the CDK stack pins it.
        "InferenceAmiVersion": "al2023-ami-sagemaker-inference-gpu-4-1",
    }  # ml.g6e has local NVMe: no VolumeSizeInGB, no KmsKeyId
    tags = {t["Key"]: t["Value"] for t in recorder.one("CreateEndpoint")["Tags"]}
    assert tags == {"project": "gptoss", "environment": "nbtest", "component": "sagemaker"}

    described = session.client("sagemaker").describe_endpoint(EndpointName=endpoint.endpoint_name)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == endpoint.endpoint_config_name


def test_client_of_a_deployed_endpoint_needs_no_lookup(session: boto3.Session) -> None:
    endpoint = deploy(
        config(), image_uri=IMAGE, weights_s3_uri=WEIGHTS, execution_role_arn=ROLE, session=session
    )
    client = endpoint.client(tracker=None)
    target = client.backend.target()
    assert (target.endpoint, target.instance_type, target.variant, target.model) == (
        endpoint.endpoint_name,
        "ml.g6e.xlarge",
        "AllTraffic",
        "gpt-oss-20b",
    )


def test_every_problem_is_reported_before_anything_is_created(session: boto3.Session) -> None:
    bad = config(sagemaker={"model": "gpt-oss-120b", "data_capture": True})
    with pytest.raises(InvalidConfigurationError) as caught:
        deploy(
            bad,
            weights_s3_uri="s3://bucket/models/gpt-oss-120b",  # no trailing '/'
            execution_role_arn="gptoss-role",
            session=session,
        )
    fields = {problem.field for problem in caught.value.problems}
    assert fields == {
        "sagemaker",  # does not fit (the same find_problems as cdk synth)
        "sagemaker.image_uri",
        "sagemaker.data_capture",
        "weights_s3_uri",
        "execution_role_arn",
    }
    assert session.client("sagemaker").list_models()["Models"] == []


def test_image_uri_goes_through_the_ecr_check() -> None:
    with pytest.raises(InvalidConfigurationError, match=r"sagemaker\.image_uri.*ECR"):
        plan_endpoint(
            config(),
            image_uri="vllm/vllm-openai:latest",
            weights_s3_uri=WEIGHTS,
            execution_role_arn=ROLE,
        )


def test_teardown_deletes_what_deploy_created_and_is_idempotent(session: boto3.Session) -> None:
    endpoint = deploy(
        config(), image_uri=IMAGE, weights_s3_uri=WEIGHTS, execution_role_arn=ROLE, session=session
    )
    deleted = teardown(endpoint, session=session, poll_s=1)
    assert deleted == [
        f"Endpoint {endpoint.endpoint_name}",
        f"EndpointConfig {endpoint.endpoint_config_name}",
        f"Model {endpoint.model_name}",
    ]
    sagemaker = session.client("sagemaker")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    assert teardown(endpoint, session=session, poll_s=1) == []


def test_a_failed_deploy_never_tears_down_what_it_did_not_create(
    session: boto3.Session,
) -> None:
    refusing: list[str] = []

    def refuse(**_: Any) -> None:
        # What SageMaker answers for a second endpoint of the same name (moto accepts it).
        if refusing:
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": refusing[0]}},
                "CreateEndpoint",
            )

    # Before the first client exists: botocore copies a session's handlers into each client.
    session.events.register("before-call.sagemaker.CreateEndpoint", refuse)
    first = deploy(
        config(), image_uri=IMAGE, weights_s3_uri=WEIGHTS, execution_role_arn=ROLE, session=session
    )
    refusing.append(f"Cannot create already existing endpoint {first.endpoint_name}")
    with pytest.raises(DeploymentError, match="Endpoint of gptoss-nbtest-gpt-oss-20b") as caught:
        deploy(
            config(),
            image_uri=IMAGE,
            weights_s3_uri=WEIGHTS,
            execution_role_arn=ROLE,
            session=session,
        )
    second = caught.value.endpoint
    assert second.created == ("Model", "EndpointConfig")
    assert teardown(second, session=session) == [
        f"EndpointConfig {second.endpoint_config_name}",
        f"Model {second.model_name}",
    ]
    sagemaker = session.client("sagemaker")
    assert sagemaker.describe_endpoint(EndpointName=first.endpoint_name)["EndpointStatus"] == (
        "InService"
    )
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == [first.model_name]


def test_inference_components_plan() -> None:
    ic = from_preset("gpt-oss-120b-ic-p5-48xlarge", {"environment": "nbtest"})
    plan = plan_endpoint(ic, image_uri=IMAGE, weights_s3_uri=WEIGHTS, execution_role_arn=ROLE)
    variant = plan.endpoint_config["production_variants"][0]
    # The variant hosts capacity only; the model, timeouts and role move (CDK construct:
    # inference_components.py).
    assert "model_name" not in variant
    assert "container_startup_health_check_timeout_in_seconds" not in variant
    assert variant["managed_instance_scaling"] == {
        "status": "ENABLED",
        "min_instance_count": 1,
        "max_instance_count": 1,
    }
    assert plan.endpoint_config["execution_role_arn"] == ROLE
    assert plan.endpoint_config["enable_network_isolation"] is True
    component = plan.inference_component
    assert component is not None
    assert component["inference_component_name"] == "gptoss-nbtest-gpt-oss-120b-ic"
    assert component["specification"]["model_name"] == plan.model_name
    assert component["specification"]["compute_resource_requirements"] == {
        "number_of_accelerator_devices_required": 1,
        "min_memory_required_in_mb": 32768,
    }
    # The preset's copies (2-7: a rolling batch of one copy is 50%, within SageMaker's
    # bounds, and the eighth GPU takes the update's new copy), as the CDK stack creates them.
    sm = ic.sagemaker
    assert sm is not None
    assert (sm.min_copies, sm.max_copies) == (2, 7)
    assert component["runtime_config"] == {"copy_count": 2}
    assert any("autoscaling (2-7 copies)" in note for note in plan.notes)
    # The host AMI belongs to the variant, whatever the components on it.
    assert variant["inference_ami_version"] == "al2023-ami-sagemaker-inference-gpu-4-1"


def test_instance_types_without_nvme_get_the_cdk_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    ebs_only = dataclasses.replace(INSTANCE_TYPES["ml.g6e.xlarge"], local_nvme=False)
    monkeypatch.setitem(INSTANCE_TYPES, "ml.g6e.xlarge", ebs_only)
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234"
    plan = plan_endpoint(
        config(sagemaker={"volume_kms_key_arn": key}),
        image_uri=IMAGE,
        weights_s3_uri=WEIGHTS,
        execution_role_arn=ROLE,
    )
    assert plan.endpoint_config["production_variants"][0]["volume_size_in_gb"] == 128
    assert plan.endpoint_config["kms_key_id"] == key


def test_names_fit_sagemaker() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert stamped_name("gptoss-dev-gpt-oss-20b", at) == "gptoss-dev-gpt-oss-20b-20260102030405678"
    long = stamped_name("a" * 60 + "-b", at)
    assert len(long) == 63
    assert SAGEMAKER_NAME.fullmatch(long)


def test_defaults_are_the_shared_endpoint_facts() -> None:
    """The notebook path takes its defaults where the CDK construct takes them:
    gptoss_facts.endpoint (the source-text comparison with infra is gone with the copy)."""
    plan = plan_endpoint(config(), image_uri=IMAGE, weights_s3_uri=WEIGHTS, execution_role_arn=ROLE)
    variant = plan.endpoint_config["production_variants"][0]
    assert variant["variant_name"] == endpoint_facts.VARIANT_NAME
    assert variant["routing_config"] == {
        "routing_strategy": endpoint_facts.DEFAULT_ROUTING_STRATEGY
    }
    assert variant["container_startup_health_check_timeout_in_seconds"] == (
        endpoint_facts.STARTUP_TIMEOUT_S
    )
    assert variant["model_data_download_timeout_in_seconds"] == endpoint_facts.DOWNLOAD_TIMEOUT_S


# ---- a stack deployed with CDK ------------------------------------------------------------


def stack_template(outputs: dict[str, str]) -> str:
    """A stand-in for the CDK SageMaker stack: its outputs, on a resource moto can create."""
    return json.dumps(
        {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


def test_endpoint_from_stack_outputs(session: boto3.Session) -> None:
    cloudformation = session.client("cloudformation")
    outputs = {
        "EndpointName": "gptoss-dev-gpt-oss-120b",
        "InferenceComponentName": "gptoss-dev-gpt-oss-120b-ic",
        "WeightsS3Uri": "s3://gptossdev-weights/models/gpt-oss-120b/",
        "MirrorProject": "gptoss-dev-mirror",
        "AlarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
    }
    cloudformation.create_stack(
        StackName="GptossDev-SageMaker", TemplateBody=stack_template(outputs)
    )
    endpoint = endpoint_from_stack_outputs("GptossDev-SageMaker", cloudformation)
    assert endpoint == DeployedEndpoint(
        endpoint_name="gptoss-dev-gpt-oss-120b",
        region=REGION,
        model="gpt-oss-120b",
        inference_component_name="gptoss-dev-gpt-oss-120b-ic",
        weights_s3_uri="s3://gptossdev-weights/models/gpt-oss-120b/",
        stack_name="GptossDev-SageMaker",
        outputs=outputs,
        created_at=endpoint.created_at,
    )
    # The stack owns it: teardown refuses and says how to remove it.
    with pytest.raises(ConfigurationError, match="npx cdk destroy GptossDev-SageMaker"):
        teardown(endpoint, session=session)


def test_a_stack_without_an_endpoint_is_named(session: boto3.Session) -> None:
    cloudformation = session.client("cloudformation")
    template = stack_template({"LedgerTableName": "gptoss-dev-ledger"})
    cloudformation.create_stack(StackName="GptossDev-Cost", TemplateBody=template)
    with pytest.raises(ConfigurationError, match=r"no EndpointName output.*LedgerTableName"):
        endpoint_from_stack_outputs("GptossDev-Cost", cloudformation)


# ---- the optional extra -------------------------------------------------------------------


def test_import_gptoss_aws_never_loads_sagemaker() -> None:
    """Importing the SDK and the deploy module loads no sagemaker module and needs no region
    (sagemaker.serve would: it creates boto3 clients at import)."""
    code = (
        "import sys, gptoss_aws, gptoss_deploy.sagemaker;"
        "loaded = [m for m in sys.modules if m == 'sagemaker' or m.startswith('sagemaker.')];"
        "assert not loaded, loaded"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_missing_extra_says_what_to_install(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sagemaker.core.resources", None)
    with pytest.raises(ImportError, match=re.escape(EXTRA)):
        deploy(
            config(),
            image_uri=IMAGE,
            weights_s3_uri=WEIGHTS,
            execution_role_arn=ROLE,
            session=session,
        )


def test_sagemaker_telemetry_is_off_in_tests() -> None:
    """The defaults file the fixtures point SAGEMAKER_USER_CONFIG_OVERRIDE at is the one the
    sagemaker SDK reads for its telemetry switch (config_schema TELEMETRY_OPT_OUT_PATH)."""
    config_module = importlib.import_module("sagemaker.core.config.config")  # untyped package
    assert TELEMETRY_OPT_OUT_ENV == "SAGEMAKER_USER_CONFIG_OVERRIDE"
    loaded = config_module.load_sagemaker_config()
    assert loaded["SageMaker"]["PythonSDK"]["Modules"]["TelemetryOptOut"] is True

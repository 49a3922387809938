"""GptOssSageMakerStack: the synthesized endpoint matches the configuration."""

import json
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match
from conftest import Synthesized
from harness import deploy_to_moto
from moto import mock_aws

from gptoss_deploy.memory import container_environment


def sagemaker(synth: Synthesized) -> dict[str, Any]:
    return synth.template(synth.names.sagemaker_stack)


def weights(synth: Synthesized) -> dict[str, Any]:
    return synth.template(synth.names.weights_stack)


def resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources(template, kind)
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


@pytest.fixture(scope="module")
def default(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["gpt-oss-120b-p5-4xlarge"]


@pytest.fixture(scope="module")
def components(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["gpt-oss-120b-ic-p5-48xlarge"]


def test_the_model_is_network_isolated_and_loads_the_uncompressed_prefix(
    default: Synthesized,
) -> None:
    model = one(sagemaker(default), "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is True
    source = model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
    assert source["S3Uri"] == {"Fn::ImportValue": "gptoss-dev:WeightsS3Uri"}


def test_the_model_waits_for_both_gates(default: Synthesized) -> None:
    """The model's weights URI is an export whose value is the weights gate's attribute, and
    its image is the image gate's attribute: CloudFormation creates a resource only after
    the resources (and stacks) whose values it references exist."""
    exported = weights(default)["Outputs"]["WeightsS3Uri"]
    assert exported["Export"]["Name"] == "gptoss-dev:WeightsS3Uri"
    gate_id = exported["Value"]["Fn::GetAtt"][0]
    assert weights(default)["Resources"][gate_id]["Type"] == "Custom::GptOssWeightsReady"
    template = sagemaker(default)
    image = one(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    image_gate = image["Fn::GetAtt"]
    assert image_gate[1] == "ImageUri"
    assert template["Resources"][image_gate[0]]["Type"] == "Custom::GptOssImageReady"
    manifest = json.loads((default.outdir / "manifest.json").read_text())
    dependencies = manifest["artifacts"][default.names.sagemaker_stack]["dependencies"]
    assert default.names.weights_stack in dependencies


def test_the_weights_gate_verifies_the_mirrored_revision(default: Synthesized) -> None:
    gate = one(weights(default), "Custom::GptOssWeightsReady")
    assert gate["Kind"] == "weights"
    assert (gate["RepoId"], gate["Revision"]) == ("openai/gpt-oss-120b", "main")
    assert gate["Prefix"] == "models/gpt-oss-120b/"
    assert gate["ManifestKey"] == "models/gpt-oss-120b.manifest.json"
    assert str(gate["ServiceTimeout"]) == "3600"


def test_every_endpoint_pins_the_ami_whose_driver_runs_cuda_13(
    synthesized: dict[str, Synthesized],
) -> None:
    for name, synth in synthesized.items():
        if synth.config.sagemaker is None:
            continue
        (variant,) = one(sagemaker(synth), "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
        assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1", name


def test_the_container_runs_the_settings_the_memory_check_validated(default: Synthesized) -> None:
    sm = default.config.sagemaker
    assert sm is not None
    environment = one(sagemaker(default), "AWS::SageMaker::Model")["PrimaryContainer"][
        "Environment"
    ]
    assert container_environment(sm).items() <= environment.items()
    assert environment["GPTOSS_SERVED_MODEL_NAME"] == "gpt-oss-120b"


def test_the_endpoint_config_has_the_instance_and_no_kms_key_on_nvme(default: Synthesized) -> None:
    config = one(sagemaker(default), "AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" not in config
    (variant,) = config["ProductionVariants"]
    assert variant["InstanceType"] == "ml.p5.4xlarge"
    assert variant["InitialInstanceCount"] == 1
    assert "VolumeSizeInGB" not in variant  # SageMaker rejects it on NVMe instance types
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert variant["ModelName"]


def test_the_endpoint_has_the_configured_name_and_is_exported(default: Synthesized) -> None:
    template = default.assertions(default.names.sagemaker_stack)
    template.has_resource_properties(
        "AWS::SageMaker::Endpoint", {"EndpointName": "gptoss-dev-gpt-oss-120b"}
    )
    template.has_output(
        "EndpointName",
        {"Value": "gptoss-dev-gpt-oss-120b", "Export": {"Name": "gptoss-dev:EndpointName"}},
    )
    template.has_output("ImageUri", {"Export": {"Name": "gptoss-dev:ImageUri"}})
    stored = default.assertions(default.names.weights_stack)
    stored.has_output("WeightsS3Uri", {"Export": {"Name": "gptoss-dev:WeightsS3Uri"}})
    stored.has_output("MirrorProject", {"Export": {"Name": "gptoss-dev:MirrorProject"}})


def test_instances_scale_between_the_configured_bounds(default: Synthesized) -> None:
    target = one(sagemaker(default), "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    assert target["ResourceId"] == "endpoint/gptoss-dev-gpt-oss-120b/variant/AllTraffic"


def test_every_alarm_notifies_the_encrypted_alarm_topic(default: Synthesized) -> None:
    template = sagemaker(default)
    topic_ids = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    assert len(topic_ids) == 1
    topic = template["Resources"][topic_ids[0]]["Properties"]
    assert "KmsMasterKeyId" in topic
    for alarm in resources(template, "AWS::CloudWatch::Alarm"):
        assert alarm["AlarmActions"] == [{"Ref": topic_ids[0]}]


def test_the_weights_mirror_copies_the_configured_model(default: Synthesized) -> None:
    project = one(weights(default), "AWS::CodeBuild::Project")
    assert "openai/gpt-oss-120b" in str(project)


def test_inference_components_take_one_gpu_per_copy(components: Synthesized) -> None:
    template = sagemaker(components)
    (variant,) = one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert "ModelName" not in variant  # the component names the model, not the variant
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 1,
        "MaxInstanceCount": 1,
    }
    assert one(template, "AWS::SageMaker::EndpointConfig")["ExecutionRoleArn"]
    component = one(template, "AWS::SageMaker::InferenceComponent")
    assert component["InferenceComponentName"] == "gptoss-dev-gpt-oss-120b-ic"
    assert component["RuntimeConfig"] == {"CopyCount": 2}  # min_copies: a batch of 1 is 50%
    requirements = component["Specification"]["ComputeResourceRequirements"]
    assert requirements["NumberOfAcceleratorDevicesRequired"] == 1


def test_copies_scale_from_2_to_7(components: Synthesized) -> None:
    target = one(sagemaker(components), "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    # 2 copies keep a rolling batch of 1 within 50%; 7 of 8 GPUs leave one for the new copy.
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 7)
    components.assertions(components.names.sagemaker_stack).has_output(
        "InferenceComponentName",
        {
            "Value": "gptoss-dev-gpt-oss-120b-ic",
            "Export": {"Name": "gptoss-dev:InferenceComponentName"},
        },
    )


def test_scale_to_zero_lets_copies_and_instances_reach_zero(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["scale-to-zero"]
    template = sagemaker(synth)
    (variant,) = one(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["ManagedInstanceScaling"]["MinInstanceCount"] == 0
    assert variant["InitialInstanceCount"] == 1  # created with one, scaled down when idle
    target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["MinCapacity"] == 0
    assert one(template, "AWS::SageMaker::InferenceComponent")["RuntimeConfig"] == {"CopyCount": 1}
    synth.assertions(synth.names.sagemaker_stack).has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "NoCapacityInvocationFailures"}
    )
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert {p["PolicyType"] for p in policies} == {"TargetTrackingScaling", "StepScaling"}


def test_a_given_image_replaces_the_build_and_mirror_and_capture_is_on(
    synthesized: dict[str, Synthesized],
) -> None:
    synth = synthesized["byo-image"]
    template = sagemaker(synth)
    model = one(template, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"]["Image"] == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/gptoss:1.0"
    )
    assert resources(template, "AWS::CodeBuild::Project") == []
    assert resources(template, "Custom::GptOssImageReady") == []
    assert resources(weights(synth), "AWS::CodeBuild::Project") == []  # no mirror job
    config = one(template, "AWS::SageMaker::EndpointConfig")
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] > 0
    synth.assertions(synth.names.sagemaker_stack).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_the_20b_preset_runs_the_20b_at_full_context(synthesized: dict[str, Synthesized]) -> None:
    synth = synthesized["gpt-oss-20b-g6e-xlarge"]
    template = synth.assertions(synth.names.sagemaker_stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {"Environment": Match.object_like({"GPTOSS_MAX_MODEL_LEN": "131072"})}
            )
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.g6e.xlarge"})]},
    )


# --- moto: create the stack, then ask SageMaker what exists ----------------------------


@pytest.mark.parametrize("name", ["gpt-oss-120b-p5-4xlarge", "gpt-oss-20b-g6e-xlarge"])
def test_the_stack_deploys_into_moto_with_the_configured_properties(
    synthesized: dict[str, Synthesized], name: str
) -> None:
    synth = synthesized[name]
    sm = synth.config.sagemaker
    assert sm is not None
    region = synth.config.region
    with mock_aws():
        # The weights stack first: the SageMaker stack imports its exports.
        deploy_to_moto(weights(synth), synth.names.weights_stack, region=region)
        exports = {
            e["Name"]: e["Value"]
            for e in boto3.client("cloudformation", region_name=region).list_exports()["Exports"]
        }
        created = deploy_to_moto(sagemaker(synth), synth.names.sagemaker_stack, region=region)
    by_type = {r["Type"]: r for r in created.values() if r["Description"] is not None}

    model = by_type["AWS::SageMaker::Model"]["Description"]
    # moto 5.2.5's CloudFormation handler passes only ExecutionRoleArn, PrimaryContainer,
    # VpcConfig, Containers and Tags to CreateModel, so EnableNetworkIsolation is checked
    # on the template (test_the_model_is_network_isolated_...), not here.
    container = model["PrimaryContainer"]
    assert container_environment(sm).items() <= container["Environment"].items()
    uri = container["ModelDataSource"]["S3DataSource"]["S3Uri"]
    # The weights gate's attribute, through the export (moto cannot run the gate: the
    # harness stands in a placeholder named after it).
    assert uri == exports[f"{synth.names.prefix}:WeightsS3Uri"]
    assert "WeightsReady" in uri
    role = by_type["AWS::IAM::Role"]["PhysicalResourceId"]
    assert model["ExecutionRoleArn"].endswith(f"/{role}")

    config = by_type["AWS::SageMaker::EndpointConfig"]["Description"]
    (variant,) = config["ProductionVariants"]
    assert variant["InstanceType"] == sm.instance_type
    assert variant["InitialInstanceCount"] == sm.min_instances
    assert variant["ModelName"] == model["ModelName"]

    endpoint = by_type["AWS::SageMaker::Endpoint"]["Description"]
    # moto names CloudFormation-created endpoints after the stack and logical id (it does
    # not read EndpointName); the name is asserted on the template above.
    assert endpoint["EndpointConfigName"] == config["EndpointConfigName"]
    assert endpoint["EndpointStatus"] == "InService"

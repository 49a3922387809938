"""creation-order: the model takes its weights and image from readiness gates (or after them)."""

from __future__ import annotations

from typing import Any

from rehearsal_support import assembly, resource, run, stack

from gptoss_infra.rehearsal.rules.creation_order import IMAGE_GATE, RULE, WEIGHTS_GATE

BUCKET_URI = {"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/models/gpt-oss-120b/"]]}
ASSET_IMAGE = {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.us-east-1.${AWS::URLSuffix}/repo:tag"}


def model(image: Any, s3_uri: Any, **extra: Any) -> dict[str, Any]:
    return resource(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Image": image,
                "ModelDataSource": {"S3DataSource": {"S3Uri": s3_uri, "S3DataType": "S3Prefix"}},
            }
        },
        **extra,
    )


def gates() -> dict[str, Any]:
    return {
        "Bucket": resource("AWS::S3::Bucket"),
        "WeightsGate": resource(WEIGHTS_GATE, {"Bucket": {"Ref": "Bucket"}}),
        "ImageGate": resource(IMAGE_GATE),
    }


def test_a_model_on_a_bare_bucket_and_an_asset_image_fails_twice() -> None:
    # The shape of the templates before issue 8: nothing orders the model after the copy.
    resources = {"Bucket": resource("AWS::S3::Bucket"), "Model": model(ASSET_IMAGE, BUCKET_URI)}
    findings = run(RULE, assembly("dev", stack("S", resources)))
    assert [f.resource for f in findings] == ["Model", "Model"]
    assert "image" in findings[0].message
    assert "model data" in findings[1].message


def test_values_derived_from_the_gates_pass() -> None:
    resources = {
        **gates(),
        "Model": model(
            {"Fn::GetAtt": ["ImageGate", "ImageUri"]}, {"Fn::GetAtt": ["WeightsGate", "S3Uri"]}
        ),
    }
    assert run(RULE, assembly("dev", stack("S", resources))) == []


def test_depends_on_both_gates_passes_and_one_gate_is_not_enough() -> None:
    ordered = {
        **gates(),
        "Model": model(ASSET_IMAGE, BUCKET_URI, DependsOn=["WeightsGate", "ImageGate"]),
    }
    assert run(RULE, assembly("dev", stack("S", ordered))) == []
    half = {**gates(), "Model": model(ASSET_IMAGE, BUCKET_URI, DependsOn="WeightsGate")}
    findings = run(RULE, assembly("dev", stack("S", half)))
    assert len(findings) == 1
    assert "image" in findings[0].message


def test_a_gate_further_down_the_closure_counts() -> None:
    # Model -> Role -> Policy -> (DependsOn) gates: CloudFormation still creates them first.
    resources = {
        **gates(),
        "Policy": resource("AWS::IAM::Policy", {}, DependsOn=["WeightsGate", "ImageGate"]),
        "Role": resource("AWS::IAM::Role", {}, DependsOn="Policy"),
        "Model": model(ASSET_IMAGE, BUCKET_URI, DependsOn="Role"),
    }
    assert run(RULE, assembly("dev", stack("S", resources))) == []


def test_across_stacks_an_export_of_the_gate_counts_and_an_export_of_the_bucket_does_not() -> None:
    weights = stack(
        "Weights",
        gates(),
        outputs={
            "Ready": {
                "Value": {"Fn::GetAtt": ["WeightsGate", "S3Uri"]},
                "Export": {"Name": "w:uri"},
            },
            "Raw": {"Value": {"Ref": "Bucket"}, "Export": {"Name": "w:bucket"}},
            "Image": {
                "Value": {"Fn::GetAtt": ["ImageGate", "ImageUri"]},
                "Export": {"Name": "w:img"},
            },
        },
    )
    good = stack(
        "SageMaker", {"Model": model({"Fn::ImportValue": "w:img"}, {"Fn::ImportValue": "w:uri"})}
    )
    assert run(RULE, assembly("dev", weights, good)) == []
    bad = stack(
        "SageMaker",
        {
            "Model": model(
                {"Fn::ImportValue": "w:img"},
                {"Fn::Join": ["", ["s3://", {"Fn::ImportValue": "w:bucket"}, "/m/"]]},
            )
        },
    )
    findings = run(RULE, assembly("dev", weights, bad))
    assert len(findings) == 1
    assert "model data" in findings[0].message


def test_an_inference_component_with_an_inline_container_is_checked() -> None:
    component = resource(
        "AWS::SageMaker::InferenceComponent",
        {"Specification": {"Container": {"Image": ASSET_IMAGE, "ArtifactUrl": BUCKET_URI}}},
    )
    findings = run(
        RULE, assembly("prod", stack("S", {"Bucket": resource("AWS::S3::Bucket"), "IC": component}))
    )
    assert [f.resource for f in findings] == ["IC", "IC"]

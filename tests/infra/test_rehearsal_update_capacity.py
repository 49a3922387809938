"""update-capacity: updates need no more instances than the quota and keep batch bounds."""

from __future__ import annotations

from typing import Any

from rehearsal_support import assembly, resource, run, stack

from gptoss_infra.rehearsal.rules.update_capacity import RULE, all_updates


def variant_endpoint(
    instance_type: str,
    count: int,
    quota: int | None,
    deployment: Any = None,
    max_capacity: int | None = None,
) -> Any:
    resources: dict[str, Any] = {
        "Config": resource(
            "AWS::SageMaker::EndpointConfig",
            {
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "InstanceType": instance_type,
                        "InitialInstanceCount": count,
                    }
                ]
            },
        ),
        "Endpoint": resource(
            "AWS::SageMaker::Endpoint",
            {
                "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
                "DeploymentConfig": deployment,
            },
        ),
    }
    if max_capacity is not None:
        resources["Target"] = resource(
            "AWS::ApplicationAutoScaling::ScalableTarget",
            {
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "MinCapacity": count,
                "MaxCapacity": max_capacity,
            },
        )
    gptoss = (
        {}
        if quota is None
        else {"instance_quota": {instance_type: quota}, "instance_quota_stated": True}
    )
    return stack("S", resources, gptoss=gptoss)


def component_endpoint(
    min_copies: int, max_copies: int, max_instances: int, batch: int, quota: int
) -> Any:
    resources = {
        "Config": resource(
            "AWS::SageMaker::EndpointConfig",
            {
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "InstanceType": "ml.p5.48xlarge",
                        "InitialInstanceCount": 1,
                        "ManagedInstanceScaling": {
                            "Status": "ENABLED",
                            "MinInstanceCount": 1,
                            "MaxInstanceCount": max_instances,
                        },
                    }
                ]
            },
        ),
        "Endpoint": resource(
            "AWS::SageMaker::Endpoint",
            {"EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]}},
        ),
        "Component": resource(
            "AWS::SageMaker::InferenceComponent",
            {
                "EndpointName": {"Fn::GetAtt": ["Endpoint", "EndpointName"]},
                "Specification": {
                    "ComputeResourceRequirements": {"NumberOfAcceleratorDevicesRequired": 1}
                },
                "RuntimeConfig": {"CopyCount": min_copies},
                "DeploymentConfig": {
                    "RollingUpdatePolicy": {
                        "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": batch}
                    }
                },
            },
        ),
        "Target": resource(
            "AWS::ApplicationAutoScaling::ScalableTarget",
            {
                "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
                "MinCapacity": min_copies,
                "MaxCapacity": max_copies,
            },
        ),
    }
    return stack("S", resources, gptoss={"instance_quota": {"ml.p5.48xlarge": quota}})


def test_blue_green_on_one_instance_needs_a_quota_of_two() -> None:
    # Finding 3, dev: the green fleet starts before the blue one stops.
    findings = run(RULE, assembly("dev", variant_endpoint("ml.p5.4xlarge", 1, quota=1)))
    assert len(findings) == 1
    assert "2 at once, more than the quota of 1" in findings[0].message
    assert run(RULE, assembly("dev", variant_endpoint("ml.p5.4xlarge", 1, quota=2))) == []


def test_blue_green_counts_the_autoscaling_maximum() -> None:
    (update,) = all_updates(
        assembly("small", variant_endpoint("ml.g6e.xlarge", 1, quota=4, max_capacity=2))
    )
    assert (
        update.plan.steady_instances,
        update.plan.peak_instances,
        update.plan.extra_instances,
    ) == (2, 4, 2)


def test_a_template_without_a_quota_is_a_finding() -> None:
    findings = run(RULE, assembly("dev", variant_endpoint("ml.p5.4xlarge", 1, quota=None)))
    assert len(findings) == 1
    assert "states no instance quota" in findings[0].message


def test_rolling_instance_batches_stay_within_5_to_50_percent() -> None:
    rolling = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 0,
        }
    }
    one = run(
        RULE, assembly("x", variant_endpoint("ml.g6e.xlarge", 1, quota=9, deployment=rolling))
    )
    assert len(one) == 1
    assert "over the 50%" in one[0].message
    many = run(
        RULE,
        assembly(
            "x", variant_endpoint("ml.g6e.xlarge", 2, quota=99, deployment=rolling, max_capacity=30)
        ),
    )
    assert len(many) == 1
    assert "under the 5%" in many[0].message
    assert (
        run(RULE, assembly("x", variant_endpoint("ml.g6e.xlarge", 2, quota=3, deployment=rolling)))
        == []
    )


def test_rolling_copies_need_two_copies_and_a_free_accelerator() -> None:
    # Finding 3, prod: 1 copy of 1 is 100%, and 8 copies fill the one allowed instance.
    findings = run(
        RULE, assembly("prod", component_endpoint(1, 8, max_instances=1, batch=1, quota=1))
    )
    messages = " | ".join(f.message for f in findings)
    assert len(findings) == 3, messages
    assert "over the 50%" in messages
    assert "0 free accelerator" in messages
    assert "more than the quota of 1" in messages
    assert (
        run(RULE, assembly("prod", component_endpoint(2, 7, max_instances=1, batch=1, quota=1)))
        == []
    )
    # Or: room for a second instance, if the quota allows it.
    assert (
        run(RULE, assembly("prod", component_endpoint(2, 8, max_instances=2, batch=1, quota=2)))
        == []
    )

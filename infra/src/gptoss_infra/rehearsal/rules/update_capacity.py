"""update-capacity: an endpoint update needs no more instances than the quota allows, and
its batch sizes are within SageMaker's documented bounds.

Read from the template: the variant's instance type and counts (and managed instance
scaling), the autoscaling targets' maxima, the endpoint's or inference component's
DeploymentConfig, and the instance quota the stack states in ``Metadata.gptoss``. The
arithmetic is ``gptoss_deploy.capacity``'s, shared with configuration validation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gptoss_deploy import capacity
from gptoss_facts.instances import INSTANCE_TYPES

from ..assembly import Assembly, StackTemplate, resolve_target
from ..rule import Finding, Rehearsal, RehearsalRule, Source

ID = "update-capacity"


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _targets(stack: StackTemplate, dimension: str) -> list[Mapping[str, Any]]:
    return [
        r.get("Properties", {})
        for _, r in stack.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
        if r.get("Properties", {}).get("ScalableDimension") == dimension
    ]


@dataclass(frozen=True)
class EndpointUpdate:
    """One endpoint (or inference component) and what its update needs."""

    stack: str
    resource: str
    plan: capacity.UpdatePlan
    quota: int | None
    quota_stated: bool


def _batch(policy: Mapping[str, Any]) -> int:
    size = policy.get("MaximumBatchSize", {})
    return _int(size.get("Value"), 1) if isinstance(size, Mapping) else 1


def updates(stack: StackTemplate) -> Iterator[EndpointUpdate]:
    """What each endpoint and inference component of ``stack`` needs when updated."""
    quotas = stack.gptoss.get("instance_quota", {})
    stated = bool(stack.gptoss.get("instance_quota_stated", False))
    variant_targets = _targets(stack, "sagemaker:variant:DesiredInstanceCount")
    copy_targets = _targets(stack, "sagemaker:inference-component:DesiredCopyCount")
    for endpoint_id, endpoint in stack.of_type("AWS::SageMaker::Endpoint"):
        props = endpoint.get("Properties", {})
        config_id = resolve_target(props.get("EndpointConfigName"))
        variants = stack.properties(config_id or "").get("ProductionVariants", [])
        for variant in variants if isinstance(variants, list) else []:
            instance_type = str(variant.get("InstanceType"))
            quota = quotas.get(instance_type) if isinstance(quotas, Mapping) else None
            count = _int(variant.get("InitialInstanceCount"), 1)
            managed = variant.get("ManagedInstanceScaling") or {}
            components = [
                (cid, c)
                for cid, c in stack.of_type("AWS::SageMaker::InferenceComponent")
                if resolve_target(c.get("Properties", {}).get("EndpointName")) == endpoint_id
            ]
            if managed.get("Status") == "ENABLED" or components:
                max_instances = _int(managed.get("MaxInstanceCount"), count)
                instance = INSTANCE_TYPES.get(instance_type)
                gpus = instance.gpu_count if instance else 1
                for component_id, component in components:
                    cprops = component.get("Properties", {})
                    spec = cprops.get("Specification", {})
                    per_copy = _int(
                        spec.get("ComputeResourceRequirements", {}).get(
                            "NumberOfAcceleratorDevicesRequired"
                        ),
                        1,
                    )
                    copies = _int(cprops.get("RuntimeConfig", {}).get("CopyCount"), 1)
                    low, high = copies, copies
                    if copy_targets:
                        low = _int(copy_targets[0].get("MinCapacity"), low)
                        high = _int(copy_targets[0].get("MaxCapacity"), high)
                    policy = (cprops.get("DeploymentConfig") or {}).get("RollingUpdatePolicy")
                    # Without a policy SageMaker brings the new copies up before it stops the
                    # old ones: count it as a batch of every copy.
                    batch = _batch(policy) if isinstance(policy, Mapping) else high
                    plan = capacity.rolling_copies(
                        instance_type,
                        gpus_per_instance=gpus,
                        gpus_per_copy=per_copy,
                        min_copies=low,
                        max_copies=high,
                        batch=batch,
                        max_instances=max_instances,
                    )
                    yield EndpointUpdate(stack.name, component_id, plan, quota, stated)
                continue
            high = count
            for target in variant_targets:
                high = max(high, _int(target.get("MaxCapacity"), high))
            low = min([count] + [_int(t.get("MinCapacity"), count) for t in variant_targets])
            deployment = props.get("DeploymentConfig") or {}
            rolling = deployment.get("RollingUpdatePolicy")
            plan = (
                capacity.rolling(instance_type, low, high, _batch(rolling))
                if isinstance(rolling, Mapping)
                # No DeploymentConfig: "When you update your endpoint, Amazon SageMaker AI
                # automatically uses a blue/green deployment".
                else capacity.blue_green(instance_type, high)
            )
            yield EndpointUpdate(stack.name, endpoint_id, plan, quota, stated)


def all_updates(assembly: Assembly) -> list[EndpointUpdate]:
    return [update for stack in assembly.stacks for update in updates(stack)]


def check(rehearsal: Rehearsal) -> Iterator[Finding]:
    for assembly in rehearsal.assemblies:
        for update in all_updates(assembly):
            plan = update.plan
            for problem in plan.problems:
                yield Finding(
                    ID, assembly.name, update.stack, update.resource, f"{plan.policy}: {problem}"
                )
            if update.quota is None:
                yield Finding(
                    ID,
                    assembly.name,
                    update.stack,
                    update.resource,
                    f"the template states no instance quota for {plan.instance_type}; "
                    f"{plan.describe()}: state the quota (sagemaker.instance_quota)",
                )
            elif plan.peak_instances > update.quota:
                yield Finding(
                    ID,
                    assembly.name,
                    update.stack,
                    update.resource,
                    f"{plan.describe()}, more than the quota of {update.quota}",
                )


RULE = RehearsalRule(
    id=ID,
    title="Updates fit the instance quota and SageMaker's batch-size bounds",
    sources=(
        Source(
            "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html",
            "In a blue/green deployment, SageMaker AI provisions a new fleet with the updates "
            "(the green fleet). [...] Once the green fleet operates smoothly for a set "
            "evaluation period (called the baking period), SageMaker AI terminates the blue fleet.",
        ),
        Source(
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_RollingUpdatePolicy.html",
            "Batch size for each rolling step to provision capacity and turn on traffic on the "
            "new endpoint fleet, and terminate capacity on the old endpoint fleet. Value must "
            "be between 5% to 50% of the variant's total instance count.",
        ),
        Source(
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/"
            "API_InferenceComponentRollingUpdatePolicy.html",
            "For each step, SageMaker AI provisions capacity on the new endpoint fleet, routes "
            "traffic to that fleet, and terminates capacity on the old endpoint fleet. The "
            "value must be between 5% to 50% of the copy count of the inference component.",
        ),
    ),
    check=check,
)

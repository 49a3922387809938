"""How many instances an endpoint update starts, and whether its batch sizes are valid.

Shared by the configuration check (``validation``), the CDK summary and the rehearsal,
so all three count the same way. The rules, from the SageMaker API reference and guide:

- Blue/green (SageMaker's default for endpoint updates): "SageMaker AI provisions a new
  fleet with the updates (the green fleet) [...] Once the green fleet operates smoothly
  for a set evaluation period (called the baking period), SageMaker AI terminates the blue
  fleet" (deployment-guardrails-blue-green.html): up to twice the instances at once.
- Rolling, endpoint variant: MaximumBatchSize "must be between 5% to 50% of the variant's
  total instance count" (API_RollingUpdatePolicy); each batch provisions new capacity
  before it terminates old: peak = instances + batch.
- Rolling, inference component: MaximumBatchSize "must be between 5% to 50% of the copy
  count of the inference component" (API_InferenceComponentRollingUpdatePolicy); new
  copies start before old ones stop, on free accelerators of the endpoint's instances,
  which managed instance scaling may add up to its MaxInstanceCount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gptoss_deploy.config import DeploymentConfig, Problem, SageMakerConfig
from gptoss_facts.instances import INSTANCE_TYPES

Policy = Literal["blue/green", "rolling", "rolling copies"]
MIN_BATCH_SHARE = 0.05
MAX_BATCH_SHARE = 0.50


@dataclass(frozen=True)
class UpdatePlan:
    """The capacity one update of an endpoint (or inference component) needs."""

    policy: Policy
    instance_type: str
    steady_instances: int
    """Instances at the highest autoscaling point, before any update."""
    peak_instances: int
    """Instances running at once during the update at that point."""
    limit_instances: int | None = None
    """What the endpoint itself may grow to during an update (managed instance scaling
    maximum for inference components); None when only the account quota limits it."""
    problems: tuple[str, ...] = field(default=())
    """Documented bounds the policy breaks, each a sentence with its fix."""

    @property
    def extra_instances(self) -> int:
        return self.peak_instances - self.steady_instances

    def describe(self) -> str:
        return (
            f"{self.policy} update of {self.steady_instances} x {self.instance_type} starts "
            f"{self.extra_instances} extra instance(s): {self.peak_instances} at once"
        )


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _batch_problems(what: str, batch: int, low: int, high: int) -> list[str]:
    problems = []
    if low >= 1 and batch > MAX_BATCH_SHARE * low:
        problems.append(
            f"a batch of {batch} is {100 * batch / low:.0f}% of {low} {what}, over the 50% "
            f"SageMaker allows: keep at least {2 * batch} {what}, or a smaller batch"
        )
    if batch < MIN_BATCH_SHARE * high:
        problems.append(
            f"a batch of {batch} is {100 * batch / high:.1f}% of {high} {what}, under the 5% "
            f"SageMaker allows: use a batch of at least {_ceil_div(high, 20)}"
        )
    return problems


def blue_green(instance_type: str, max_instances: int) -> UpdatePlan:
    return UpdatePlan("blue/green", instance_type, max_instances, 2 * max_instances)


def rolling(instance_type: str, min_instances: int, max_instances: int, batch: int) -> UpdatePlan:
    problems = _batch_problems("instances", batch, max(1, min_instances), max_instances)
    return UpdatePlan(
        "rolling", instance_type, max_instances, max_instances + batch, None, tuple(problems)
    )


def rolling_copies(
    instance_type: str,
    *,
    gpus_per_instance: int,
    gpus_per_copy: int,
    min_copies: int,
    max_copies: int,
    batch: int,
    max_instances: int,
) -> UpdatePlan:
    """A rolling inference-component update at the highest copy count."""
    steady = _ceil_div(max_copies * gpus_per_copy, gpus_per_instance)
    peak = _ceil_div((max_copies + batch) * gpus_per_copy, gpus_per_instance)
    problems = _batch_problems("copies", batch, max(1, min_copies), max_copies)
    if peak > max_instances:
        free = max_instances * gpus_per_instance - max_copies * gpus_per_copy
        problems.append(
            f"at {max_copies} copies the {max_instances} instance(s) managed instance scaling "
            f"allows have {free} free accelerator(s), and a batch of {batch} needs "
            f"{batch * gpus_per_copy}: raise max_instances to {peak}, or lower max_copies to "
            f"{(max_instances * gpus_per_instance) // gpus_per_copy - batch}"
        )
    return UpdatePlan("rolling copies", instance_type, steady, peak, max_instances, tuple(problems))


# Copies (inference components) or instances replaced per rolling batch: the smallest
# batch, so an update needs the least spare capacity (RollingUpdatePolicy.MaximumBatchSize).
UPDATE_BATCH = 1


def update_plan(sm: SageMakerConfig) -> UpdatePlan | None:
    """The update policy the CDK app gives this endpoint, and what it needs.

    A model on the variant updates blue/green: the only policy that can run on a
    one-instance endpoint (a rolling batch of 1 is 100% of 1 instance, over the 50% bound)
    at the price of a second instance during the bake. Inference components update by
    rolling copies (the only policy they have). None when the instance type is unknown.
    """
    instance = INSTANCE_TYPES.get(sm.instance_type)
    if instance is None:
        return None
    if sm.inference_components:
        return rolling_copies(
            sm.instance_type,
            gpus_per_instance=instance.gpu_count,
            gpus_per_copy=sm.gpus_per_copy,
            min_copies=sm.min_copies,
            max_copies=sm.max_copies,
            batch=UPDATE_BATCH,
            max_instances=sm.max_instances,
        )
    return blue_green(sm.instance_type, sm.max_instances)


def assumed_quota(sm: SageMakerConfig) -> int | None:
    """The stated quota, else what an update at full scale needs (the quota to request)."""
    if sm.instance_quota is not None:
        return sm.instance_quota
    plan = update_plan(sm)
    return plan.peak_instances if plan is not None else None


_SHAPE_FIELDS = frozenset(
    {
        "sagemaker.instance_type",
        "sagemaker.gpus_per_copy",
        "sagemaker.min_copies",
        "sagemaker.max_copies",
        "sagemaker.min_instances",
        "sagemaker.scale_to_zero",
    }
)


def check_update_capacity(config: DeploymentConfig, out: list[Problem]) -> None:
    """Validation check: the update policy fits the documented batch bounds, the managed
    instance scaling maximum and the stated instance quota."""
    sm = config.sagemaker
    # The shape checks before this one already explain a wrong copy, GPU or instance count;
    # an update plan of that shape would only repeat them.
    if sm is None or any(p.field in _SHAPE_FIELDS for p in out):
        return
    plan = update_plan(sm)
    if plan is None:
        return
    field_name = "sagemaker.max_copies" if sm.inference_components else "sagemaker.max_instances"
    for problem in plan.problems:
        # A scale-to-zero endpoint runs 1 copy after a cold start, where no rolling batch
        # is within 5-50%: it accepts interruptions by design, so the bound is reported by
        # the rehearsal (update-capacity) rather than refused here.
        if sm.scale_to_zero and "over the 50%" in problem:
            continue
        what, _, fix = problem.partition(": ")
        out.append(Problem(field_name, f"the {plan.policy} update: {what}", fix))
    if sm.instance_quota is not None and plan.peak_instances > sm.instance_quota:
        out.append(
            Problem(
                "sagemaker.instance_quota",
                f"{plan.describe()}, more than the quota of {sm.instance_quota}",
                f"request a quota of {plan.peak_instances} for '{sm.instance_type} for "
                "endpoint usage' in Service Quotas, or lower max_instances"
                + (" / max_copies" if sm.inference_components else ""),
            )
        )

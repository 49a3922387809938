"""Update capacity: how many instances an endpoint update starts, and validation refusing
policies SageMaker would reject or the quota cannot hold."""

from __future__ import annotations

import pytest

from gptoss_aws.errors import InvalidConfigurationError
from gptoss_deploy.capacity import assumed_quota, rolling, rolling_copies, update_plan
from gptoss_deploy.loading import from_preset
from gptoss_deploy.validation import find_problems, validate


def test_a_single_instance_endpoint_updates_blue_green_and_needs_a_second_instance() -> None:
    config = from_preset("gpt-oss-120b-p5-4xlarge", {"sagemaker": {"max_instances": 1}})
    assert config.sagemaker is not None
    plan = update_plan(config.sagemaker)
    assert plan is not None
    assert (plan.policy, plan.steady_instances, plan.peak_instances, plan.extra_instances) == (
        "blue/green",
        1,
        2,
        1,
    )
    assert assumed_quota(config.sagemaker) == 2  # nothing stated: what the update needs


def test_a_quota_below_the_update_is_refused_with_the_number_to_request() -> None:
    config = from_preset(
        "gpt-oss-120b-p5-4xlarge", {"sagemaker": {"max_instances": 1, "instance_quota": 1}}
    )
    with pytest.raises(InvalidConfigurationError) as error:
        validate(config)
    (problem,) = error.value.problems
    assert problem.field == "sagemaker.instance_quota"
    assert "request a quota of 2" in problem.fix
    ok = from_preset(
        "gpt-oss-120b-p5-4xlarge", {"sagemaker": {"max_instances": 1, "instance_quota": 2}}
    )
    assert find_problems(ok) == []


def test_the_old_prod_components_break_both_documented_bounds() -> None:
    # Finding 3: 1 copy of 1 is 100% of the copies, and 8 copies leave no GPU free.
    old = from_preset(
        "gpt-oss-120b-ic-p5-48xlarge", {"sagemaker": {"min_copies": 1, "max_copies": 8}}
    )
    messages = [str(p) for p in find_problems(old)]
    assert len(messages) == 2, messages
    assert any("over the 50%" in m for m in messages)
    assert any("0 free accelerator" in m and "lower max_copies to 7" in m for m in messages)


def test_the_prod_preset_updates_within_its_one_instance() -> None:
    config = from_preset("gpt-oss-120b-ic-p5-48xlarge")
    assert config.sagemaker is not None
    plan = update_plan(config.sagemaker)
    assert plan is not None
    assert plan.problems == ()
    assert (plan.steady_instances, plan.peak_instances) == (1, 1)
    assert find_problems(config) == []


def test_scale_to_zero_accepts_the_one_copy_batch() -> None:
    config = from_preset(
        "gpt-oss-120b-ic-p5-48xlarge",
        {"sagemaker": {"scale_to_zero": True, "min_copies": 0, "min_instances": 0}},
    )
    assert find_problems(config) == []


@pytest.mark.parametrize(
    ("low", "high", "batch", "ok"),
    [(1, 1, 1, False), (2, 2, 1, True), (2, 30, 1, False), (4, 30, 2, True), (4, 4, 3, False)],
)
def test_rolling_batches_stay_between_5_and_50_percent(
    low: int, high: int, batch: int, ok: bool
) -> None:
    assert (rolling("ml.g6e.xlarge", low, high, batch).problems == ()) is ok


def test_rolling_copies_count_instances_by_accelerators() -> None:
    plan = rolling_copies(
        "ml.p5.48xlarge",
        gpus_per_instance=8,
        gpus_per_copy=2,
        min_copies=2,
        max_copies=8,
        batch=1,
        max_instances=3,
    )
    # 8 copies x 2 GPUs fill 2 instances; the batch's 2 GPUs need a third.
    assert (plan.steady_instances, plan.peak_instances, plan.problems) == (2, 3, ())


def test_a_model_no_profile_reaches_is_refused_unless_direct_invocation_is_on() -> None:
    # Profile-only access (finding 6): a model without a team's profile could not be invoked.
    teams = {"bedrock": {"teams": {"search": "gpt-oss-120b"}}}
    (problem,) = find_problems(from_preset("bedrock-only", teams))
    assert problem.field == "bedrock.teams"
    assert "gpt-oss-20b" in problem.message
    direct = {"bedrock": {"teams": {"search": "gpt-oss-120b"}, "allow_direct_invocation": True}}
    assert find_problems(from_preset("bedrock-only", direct)) == []
    assert find_problems(from_preset("bedrock-only")) == []  # the default covers both

"""Each invalid configuration is refused before synthesis, with its own message and fix."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gptoss_aws.errors import InvalidConfigurationError
from gptoss_aws.pricing.regions import BEDROCK_GPT_OSS_REGIONS
from gptoss_deploy.config import (
    DeploymentConfig,
    Problem,
    SageMakerConfig,
)
from gptoss_deploy.loading import from_preset
from gptoss_deploy.memory import LOAD_FACTOR, container_environment, memory_plan
from gptoss_deploy.presets import PRESETS
from gptoss_deploy.validation import find_problems, validate
from gptoss_facts.instances import INSTANCE_TYPES
from gptoss_facts.models import GPT_OSS_120B


def problems_of(
    overrides: dict[str, Any], preset: str = "gpt-oss-120b-p5-4xlarge"
) -> list[Problem]:
    return find_problems(from_preset(preset, overrides))


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# --- the model must fit the GPU -------------------------------------------------------


def test_120b_at_full_context_times_four_does_not_fit_one_h100() -> None:
    problem = only(problems_of({"sagemaker": {"max_model_len": 131072, "concurrency": 4}}))
    assert problem.field == "sagemaker"
    assert problem.message == (
        "the model does not fit: gpt-oss-120b needs 85.4 GiB on 1x NVIDIA H100 80GB "
        "(76.0 GiB usable at gpu_memory_utilization 0.95): weights 64.4 + runtime 3.0 + "
        "KV cache 4.50 x 4 sequences of 131072 tokens"
    )
    assert problem.fix.startswith("lower max_model_len to 62464; or lower concurrency to 1; or")
    # The smallest offered GPUs where it fits: one 96 GB Blackwell card first.
    assert "use a larger instance type (ml.g7e.2xlarge" in problem.fix


def test_120b_does_not_fit_one_l40s_and_the_fix_names_bigger_instances() -> None:
    problem = only(
        problems_of(
            {"sagemaker": {"instance_type": "ml.g6e.xlarge"}}, preset="gpt-oss-20b-g6e-xlarge"
        )
        + problems_of(
            {
                "region": "us-east-1",
                "sagemaker": {"model": "gpt-oss-120b", "instance_type": "ml.g6e.xlarge"},
            }
        )
    )
    assert "gpt-oss-120b needs" in problem.message
    assert "on 1x NVIDIA L40S (44.2 GiB usable" in problem.message
    # Not even the weights fit, so shorter contexts cannot help: only bigger instances.
    assert problem.fix.startswith("use a larger instance type (")
    assert "max_model_len" not in problem.fix


def test_the_memory_plan_uses_the_sdk_model_facts() -> None:
    sm = SageMakerConfig()
    plan = memory_plan(sm)
    assert plan is not None
    assert plan.weights_gib == pytest.approx(GPT_OSS_120B.checkpoint_gib * LOAD_FACTOR)
    assert plan.kv_per_sequence_gib == pytest.approx(
        GPT_OSS_120B.kv_cache_bytes(sm.max_model_len) / 1024**3
    )
    assert plan.utilization == 0.95  # the container's one-H100 default for the 120b


@given(
    max_model_len=st.integers(min_value=1024, max_value=131072),
    concurrency=st.integers(min_value=1, max_value=64),
)
def test_the_suggested_context_and_concurrency_do_fit(max_model_len: int, concurrency: int) -> None:
    sm = SageMakerConfig(max_model_len=max_model_len, concurrency=concurrency)
    plan = memory_plan(sm)
    assert plan is not None
    if plan.context_that_fits:
        shorter = memory_plan(sm.model_copy(update={"max_model_len": plan.context_that_fits}))
        assert shorter is not None
        assert shorter.fits
    if plan.sequences_that_fit:
        fewer = memory_plan(sm.model_copy(update={"concurrency": plan.sequences_that_fit}))
        assert fewer is not None
        assert fewer.fits
    assert plan.fits == (find_problems(DeploymentConfig(sagemaker=sm)) == [])


def test_the_container_gets_the_settings_the_memory_check_assumed() -> None:
    sm = PRESETS["gpt-oss-120b-ic-p5-48xlarge"].sagemaker
    assert sm is not None
    assert container_environment(sm) == {
        "GPTOSS_MAX_MODEL_LEN": "32768",
        "GPTOSS_GPU_MEMORY_UTILIZATION": "0.95",
        "GPTOSS_TENSOR_PARALLEL_SIZE": "1",
    }


# --- instance types -------------------------------------------------------------------


def test_an_unknown_instance_type_is_refused_with_types_that_fit() -> None:
    problem = only(problems_of({"sagemaker": {"instance_type": "ml.p9.xlarge"}}))
    assert problem.field == "sagemaker.instance_type"
    assert "'ml.p9.xlarge' is not a SageMaker GPU instance type we know" in problem.message
    assert problem.fix.startswith(
        "use one where gpt-oss-120b fits in us-west-2, e.g. ml.p5.4xlarge"
    )


def test_an_instance_type_not_offered_in_the_region_is_refused() -> None:
    problem = only(problems_of({"region": "us-east-1"}))
    assert problem.message == (
        "the AWS Price List lists no SageMaker hosting offer for ml.p5.4xlarge in us-east-1"
    )
    assert "deploy to one of ap-northeast-1, ap-south-1, eu-west-2" in problem.fix
    assert "allow_unlisted_regions: true" in problem.fix


def test_allow_unlisted_regions_skips_the_offer_table() -> None:
    assert problems_of({"region": "us-east-1", "allow_unlisted_regions": True}) == []


def test_a_pre_ampere_gpu_is_refused() -> None:
    problems = problems_of(
        {"region": "us-east-1", "sagemaker": {"instance_type": "ml.g4dn.12xlarge"}},
        preset="gpt-oss-20b-g6e-xlarge",
    )
    assert any(
        p.field == "sagemaker.instance_type"
        and "compute capability 7.5) is older than Ampere" in p.message
        for p in problems
    )


# --- KMS and local NVMe ---------------------------------------------------------------


def test_a_kms_key_on_an_instance_with_local_nvme_is_refused() -> None:
    key = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    problem = only(problems_of({"sagemaker": {"volume_kms_key_arn": key}}))
    assert problem.field == "sagemaker.volume_kms_key_arn"
    assert problem.message == (
        "ml.p5.4xlarge has local NVMe storage, encrypted by the instance's hardware; "
        "CreateEndpointConfig fails when a KmsKeyId is given for it"
    )
    assert problem.fix.startswith("remove volume_kms_key_arn")


# --- scaling --------------------------------------------------------------------------


def test_scale_to_zero_without_inference_components_is_refused() -> None:
    problem = only(problems_of({"sagemaker": {"scale_to_zero": True}}))
    assert problem.field == "sagemaker.scale_to_zero"
    assert "scaling to zero needs inference components" in problem.message
    assert problem.fix.startswith("set inference_components: true")


def test_scale_to_zero_with_inference_components_is_valid() -> None:
    overrides = {"sagemaker": {"scale_to_zero": True, "min_copies": 0, "min_instances": 0}}
    assert problems_of(overrides, preset="gpt-oss-120b-ic-p5-48xlarge") == []


def test_zero_copies_without_scale_to_zero_is_refused() -> None:
    problem = only(
        problems_of({"sagemaker": {"min_copies": 0}}, preset="gpt-oss-120b-ic-p5-48xlarge")
    )
    assert (problem.field, problem.message) == (
        "sagemaker.min_copies",
        "0 means scaling to zero, which is off",
    )


def test_more_copies_than_gpus_is_refused() -> None:
    problem = only(
        problems_of({"sagemaker": {"max_copies": 9}}, preset="gpt-oss-120b-ic-p5-48xlarge")
    )
    assert problem.field == "sagemaker.max_copies"
    assert problem.fix == "set max_copies to at most 8, or raise max_instances to 2"


def test_a_copy_size_that_does_not_split_the_gpus_is_refused() -> None:
    problem = only(
        problems_of({"sagemaker": {"gpus_per_copy": 3}}, preset="gpt-oss-120b-ic-p5-48xlarge")
    )
    assert problem.field == "sagemaker.gpus_per_copy"
    assert problem.fix == "use one of 1, 2, 4, 8"


def test_a_tensor_parallel_size_larger_than_the_instance_is_refused() -> None:
    problem = only(problems_of({"sagemaker": {"tensor_parallel_size": 2}}))
    assert problem.field == "sagemaker.tensor_parallel_size"
    assert problem.fix.startswith("use one of 1,")


def test_min_above_max_instances_is_refused() -> None:
    problem = only(problems_of({"sagemaker": {"min_instances": 3, "max_instances": 2}}))
    assert (problem.field, problem.fix) == (
        "sagemaker.min_instances",
        "set max_instances to at least 3",
    )


def test_a_context_longer_than_the_model_is_refused() -> None:
    problem = only(problems_of({"sagemaker": {"max_model_len": 262144}}))
    assert problem.message == "262144 is longer than gpt-oss-120b's 131072-token context"


def test_an_image_outside_ecr_is_refused() -> None:
    problem = only(problems_of({"sagemaker": {"image_uri": "docker.io/vllm/vllm-openai:v0.32.0"}}))
    assert problem.field == "sagemaker.image_uri"
    assert "SageMaker hosting pulls only from ECR" in problem.message


# --- Bedrock regions and teams ----------------------------------------------------------


def test_a_region_where_bedrock_does_not_offer_gpt_oss_is_refused() -> None:
    problem = only(problems_of({"region": "eu-west-3"}, preset="bedrock-only"))
    assert (problem.field, problem.message) == (
        "region",
        "Bedrock is not known to offer gpt-oss in eu-west-3",
    )
    assert problem.fix.startswith("use one of ap-northeast-1, ap-south-1, ap-southeast-3, ")
    assert "us-gov-west-1, us-west-2, set bedrock: null" in problem.fix
    assert "list-foundation-models --by-provider openai --region eu-west-3" in problem.fix


def test_every_bedrock_region_has_a_source() -> None:
    assert all(source for source in BEDROCK_GPT_OSS_REGIONS.values())


# The 12 in-region commercial regions of the Bedrock user guide's models-supported page, and
# GovCloud (US).
@pytest.mark.parametrize(
    "region",
    [
        "us-east-1", "us-east-2", "us-west-2", "ap-northeast-1", "ap-south-1", "ap-southeast-3",
        "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "sa-east-1",
        "us-gov-west-1",
    ],
)  # fmt: skip
def test_every_region_bedrock_offers_gpt_oss_in_is_accepted(region: str) -> None:
    assert not [
        p for p in problems_of({"region": region}, preset="bedrock-only") if p.field == "region"
    ]


def test_a_team_name_that_cannot_be_part_of_a_name_is_refused() -> None:
    problem = only(problems_of({"bedrock": {"teams": {"Search Team": "gpt-oss-120b"}}}))
    assert problem.field == "bedrock.teams"
    assert problem.fix == "use e.g. 'search-team'"


def test_a_team_on_a_model_the_policy_does_not_cover_is_refused() -> None:
    overrides = {"bedrock": {"models": ["gpt-oss-120b"], "teams": {"search": "gpt-oss-20b"}}}
    problem = only(problems_of(overrides))
    assert problem.field == "bedrock.teams.search"


# --- names ----------------------------------------------------------------------------


def test_an_endpoint_name_over_63_characters_is_refused() -> None:
    problems = problems_of(
        {"project": "a-very-long-project-name-for-gpt-oss", "environment": "integration-tests"}
    )
    endpoint = [p for p in problems if p.field == "names.endpoint"]
    assert len(endpoint) == 1
    assert "SageMaker names: 63 letters, digits and hyphens" in endpoint[0].message
    assert endpoint[0].fix == "shorten project and/or environment by 4 character(s)"


def test_an_inference_profile_name_over_64_characters_is_refused() -> None:
    team = "applied-research-and-model-evaluation-team"
    problem = only(problems_of({"bedrock": {"teams": {team: "gpt-oss-120b"}}}))
    assert problem.field == "bedrock.teams"
    assert "Bedrock inference profile names: 64 characters" in problem.message


# --- cost -------------------------------------------------------------------------------


def test_a_bad_alert_address_is_refused() -> None:
    problem = only(problems_of({"cost": {"alert_emails": ["ops-at-example.com"]}}))
    assert problem.message == "'ops-at-example.com' is not an email address"


def test_more_alerts_than_a_budget_can_have_are_refused() -> None:
    problem = only(problems_of({"cost": {"alert_thresholds_percent": [25, 50, 75, 90, 100]}}))
    assert problem.field == "cost.alert_thresholds_percent"
    assert problem.fix == "keep at most 4 thresholds"


# --- all together ------------------------------------------------------------------------


def test_every_problem_is_reported_together_with_its_fix() -> None:
    config = from_preset(
        "gpt-oss-120b-p5-4xlarge",
        {
            "region": "eu-west-3",
            "sagemaker": {"scale_to_zero": True, "max_model_len": 131072, "concurrency": 8},
        },
    )
    with pytest.raises(InvalidConfigurationError) as error:
        validate(config)
    fields = [p.field for p in error.value.problems]
    assert fields == ["sagemaker.instance_type", "sagemaker", "sagemaker.scale_to_zero", "region"]
    text = str(error.value)
    assert text.startswith("4 problems in environment 'dev':\n  - sagemaker.instance_type: ")
    assert text.count(". Fix: ") == 4


def test_every_instance_row_can_be_checked() -> None:
    # No row makes the checks themselves fail (missing GPU facts, odd counts).
    for name in INSTANCE_TYPES:
        find_problems(
            DeploymentConfig(
                allow_unlisted_regions=True, sagemaker=SageMakerConfig(instance_type=name)
            )
        )


# --- gpt-oss-safeguard, SageMaker's OpenAI route, Bedrock Mantle -------------------------


def test_a_safeguard_model_fits_where_its_base_fits_with_the_same_numbers() -> None:
    # gpt-oss-safeguard is a fine-tune of gpt-oss with the same architecture (gptoss_facts).
    assert problems_of({"sagemaker": {"model": "gpt-oss-safeguard-120b"}}) == []
    base = memory_plan(SageMakerConfig())
    safeguard = memory_plan(SageMakerConfig(model="gpt-oss-safeguard-120b"))
    assert base is not None
    assert safeguard is not None
    assert (safeguard.need_gib, safeguard.utilization) == (base.need_gib, base.utilization)
    problem = only(
        problems_of({"sagemaker": {"model": "gpt-oss-safeguard-120b", "max_model_len": 131072}})
    )
    assert "gpt-oss-safeguard-120b needs 85.4 GiB on 1x NVIDIA H100 80GB" in problem.message


def test_an_unknown_sagemaker_model_lists_the_safeguard_names_too() -> None:
    with pytest.raises(InvalidConfigurationError, match="gpt-oss-safeguard-20b"):
        from_preset("gpt-oss-120b-p5-4xlarge", {"sagemaker": {"model": "gpt-oss-safeguard-7b"}})


def test_bedrock_may_grant_a_safeguard_model_and_its_id_can_be_overridden() -> None:
    config = from_preset(
        "bedrock-only",
        {
            "bedrock": {
                "models": ["gpt-oss-120b", "gpt-oss-safeguard-20b"],
                "teams": {"search": "gpt-oss-120b", "trust": "gpt-oss-safeguard-20b"},
            }
        },
    )
    assert find_problems(config) == []
    assert config.bedrock is not None
    # Third-party id (no "-1:0"), unless the environment overrides it.
    assert config.bedrock.model_id("gpt-oss-safeguard-20b") == "openai.gpt-oss-safeguard-20b"
    assert config.bedrock.model_id("gpt-oss-120b") == "openai.gpt-oss-120b-1:0"
    overridden = config.bedrock.model_copy(
        update={"model_ids": {"gpt-oss-safeguard-20b": "openai.gpt-oss-safeguard-20b-1:0"}}
    )
    assert overridden.model_id("gpt-oss-safeguard-20b") == "openai.gpt-oss-safeguard-20b-1:0"


def test_a_safeguard_model_without_a_team_is_unreachable_like_any_other() -> None:
    models = ["gpt-oss-120b", "gpt-oss-20b", "gpt-oss-safeguard-120b"]
    problem = only(problems_of({"bedrock": {"models": models}}, "bedrock-only"))
    assert "gpt-oss-safeguard-120b is in bedrock.models but no team's profile uses it" in (
        problem.message
    )


def test_the_openai_route_is_off_unless_asked_for() -> None:
    assert SageMakerConfig().openai_route is False
    assert problems_of({"sagemaker": {"openai_route": True}}) == []


def test_mantle_is_off_by_default_and_valid_with_the_presets_teams() -> None:
    config = from_preset("bedrock-only", {"bedrock": {"mantle": True}})
    assert from_preset("bedrock-only").bedrock.mantle is False  # type: ignore[union-attr]
    assert find_problems(config) == []
    assert config.names.mantle_project("research") == f"{config.names.prefix}-research"


def test_mantle_without_teams_is_refused_with_a_fix() -> None:
    problem = only(
        problems_of(
            {"bedrock": {"mantle": True, "teams": {}, "allow_direct_invocation": True}},
            "bedrock-only",
        )
    )
    assert problem.field == "bedrock.mantle"
    assert "one per team" in problem.message
    assert "add a team" in problem.fix


def test_mantle_in_a_region_without_bedrock_mantle_is_refused() -> None:
    # AWS's endpoints-region-availability table marks eu-west-3 without bedrock-mantle (it
    # lacks Bedrock gpt-oss too: that is the "region" problem, not this one).
    overrides: dict[str, Any] = {"region": "eu-west-3", "bedrock": {"mantle": True}}
    problems = problems_of(overrides, "bedrock-only")
    mantle = [p for p in problems if p.field == "bedrock.mantle"]
    assert len(mantle) == 1
    assert "no bedrock-mantle endpoint in eu-west-3" in mantle[0].message
    assert not [
        p
        for p in problems_of({**overrides, "allow_unlisted_regions": True}, "bedrock-only")
        if p.field == "bedrock.mantle"
    ]


def test_a_mantle_project_name_over_64_characters_is_refused() -> None:
    long_team = "a" * 60
    problems = problems_of(
        {"bedrock": {"mantle": True, "teams": {long_team: "gpt-oss-120b", "b": "gpt-oss-20b"}}},
        "bedrock-only",
    )
    assert any(
        p.field == "bedrock.mantle" and "Mantle project names" in p.message for p in problems
    )


def test_mantle_with_an_enforced_guardrail_is_refused() -> None:
    # The guardrail is enforced through bedrock:GuardrailIdentifier on InvokeModel; the
    # Service Authorization Reference defines no such key for bedrock-mantle.
    problem = only(problems_of({"bedrock": {"mantle": True, "guardrail": True}}, "bedrock-only"))
    assert problem.field == "bedrock.mantle"
    assert "bypass" in problem.message
    assert "guardrail: false" in problem.fix

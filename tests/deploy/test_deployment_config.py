"""The deployment configuration: presets, environment files, field-level errors."""

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from gptoss_aws.errors import InvalidConfigurationError
from gptoss_deploy.config import DEFAULT_PRESET, DeploymentConfig
from gptoss_deploy.loading import from_preset, load_environment
from gptoss_deploy.presets import PRESETS
from gptoss_deploy.validation import find_problems

ENVIRONMENTS = Path(__file__).resolve().parents[2] / "infra" / "environments"


def test_the_default_preset_is_the_120b_on_one_h100() -> None:
    config = PRESETS[DEFAULT_PRESET]
    assert config.sagemaker is not None
    assert (config.sagemaker.model, config.sagemaker.instance_type) == (
        "gpt-oss-120b",
        "ml.p5.4xlarge",
    )
    assert not config.sagemaker.inference_components


def test_the_inference_component_preset_runs_2_to_7_one_gpu_copies_on_a_p5_48xlarge() -> None:
    sm = PRESETS["gpt-oss-120b-ic-p5-48xlarge"].sagemaker
    assert sm is not None
    assert sm.instance_type == "ml.p5.48xlarge"
    assert sm.inference_components
    # 2 copies keep a rolling batch of 1 within 50%; the eighth GPU takes the new copy.
    assert (sm.gpus_per_copy, sm.min_copies, sm.max_copies) == (1, 2, 7)


def test_the_small_preset_is_the_20b_on_one_l40s() -> None:
    sm = PRESETS["gpt-oss-20b-g6e-xlarge"].sagemaker
    assert sm is not None
    assert (sm.model, sm.instance_type) == ("gpt-oss-20b", "ml.g6e.xlarge")


def test_the_bedrock_preset_has_no_endpoint() -> None:
    config = PRESETS["bedrock-only"]
    assert config.sagemaker is None
    assert config.bedrock is not None


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid(name: str) -> None:
    assert find_problems(PRESETS[name]) == []


@pytest.mark.parametrize("path", sorted(ENVIRONMENTS.glob("*.json")), ids=lambda p: p.stem)
def test_every_environment_file_loads_and_is_valid(path: Path) -> None:
    config = load_environment(path.stem, ENVIRONMENTS)
    assert config.environment == path.stem
    assert find_problems(config) == []


def test_an_environment_file_overrides_one_nested_field_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "qa.json").write_text(
        json.dumps({"preset": "gpt-oss-20b-g6e-xlarge", "sagemaker": {"max_instances": 3}})
    )
    config = load_environment("qa", tmp_path)
    assert config.sagemaker is not None
    assert config.sagemaker.max_instances == 3
    assert config.sagemaker.instance_type == "ml.g6e.xlarge"  # kept from the preset
    assert config.environment == "qa"
    assert config.names.endpoint == "gptoss-qa-gpt-oss-20b"


def test_toml_environment_files_work_too(tmp_path: Path) -> None:
    (tmp_path / "qa.toml").write_text('preset = "bedrock-only"\n[cost]\nmonthly_budget_usd = 50\n')
    config = load_environment("qa", tmp_path)
    assert config.cost.monthly_budget_usd == Decimal(50)


def test_a_file_can_remove_the_endpoint_with_null(tmp_path: Path) -> None:
    (tmp_path / "qa.json").write_text(json.dumps({"sagemaker": None}))
    assert load_environment("qa", tmp_path).sagemaker is None


def test_a_misspelt_key_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    (tmp_path / "qa.json").write_text(json.dumps({"sagemaker": {"instance_typ": "ml.g5.xlarge"}}))
    with pytest.raises(InvalidConfigurationError) as error:
        load_environment("qa", tmp_path)
    assert "sagemaker.instance_typ: Extra inputs are not permitted" in str(error.value)
    assert "correct its spelling" in str(error.value)


def test_every_field_error_is_reported_together(tmp_path: Path) -> None:
    (tmp_path / "qa.json").write_text(
        json.dumps({"region": "mars-1", "sagemaker": {"model": "gpt-oss-7b", "concurrency": 0}})
    )
    with pytest.raises(InvalidConfigurationError) as error:
        load_environment("qa", tmp_path)
    fields = [problem.field for problem in error.value.problems]
    assert fields == ["region", "sagemaker.model", "sagemaker.concurrency"]
    assert str(error.value).startswith(f"3 problems in {tmp_path / 'qa.json'}:")


def test_an_unknown_preset_names_the_presets() -> None:
    with pytest.raises(InvalidConfigurationError, match="use one of gpt-oss-120b-p5-4xlarge"):
        from_preset("gpt-oss-7b-cpu")


def test_a_missing_environment_file_names_the_existing_ones(tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_text("{}")
    with pytest.raises(InvalidConfigurationError, match=r"pass -c env=<one of dev>"):
        load_environment("prod", tmp_path)


def test_the_environment_name_comes_from_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "qa.json").write_text(json.dumps({"environment": "prod"}))
    with pytest.raises(InvalidConfigurationError, match="differs from the file name 'qa'"):
        load_environment("qa", tmp_path)


def test_unparseable_files_say_so(tmp_path: Path) -> None:
    (tmp_path / "qa.json").write_text("{not json")
    with pytest.raises(InvalidConfigurationError, match="cannot be parsed"):
        load_environment("qa", tmp_path)


def test_names_and_exports_are_derived_from_project_and_environment() -> None:
    names = DeploymentConfig(environment="staging").names
    assert names.cost_stack == "GptossStaging-Cost"
    assert names.ledger_table == "gptoss-staging-ledger"
    assert names.export("EndpointName") == "gptoss-staging:EndpointName"
    assert names.inference_profile("search", "gpt-oss-20b") == "gptoss-staging-search-gpt-oss-20b"


def test_cost_tags_carry_project_environment_and_extra_tags() -> None:
    config = DeploymentConfig(tags={"cost-center": "ml-42"})
    assert config.cost_tags == {"project": "gptoss", "environment": "dev", "cost-center": "ml-42"}


def test_field_error_fixes_point_to_files_that_exist(tmp_path: Path) -> None:
    # A fix that sends the user to a file the repository no longer has is no fix.
    (tmp_path / "qa.json").write_text(
        json.dumps({"sagemaker": {"concurrency": "many", "instance_typ": "ml.g5.xlarge"}})
    )
    with pytest.raises(InvalidConfigurationError) as error:
        load_environment("qa", tmp_path)
    repo = ENVIRONMENTS.parents[1]
    named = {
        path
        for problem in error.value.problems
        for path in re.findall(r"[\w./-]+\.(?:md|py)\b", problem.fix)
    }
    assert len(named) >= 1
    assert [path for path in sorted(named) if not (repo / path).is_file()] == []


def test_a_configuration_error_is_a_gptoss_error_and_still_a_value_error(tmp_path: Path) -> None:
    from gptoss_aws.errors import GptOssError

    (tmp_path / "qa.json").write_text(json.dumps({"region": "mars-1"}))
    with pytest.raises(GptOssError) as error:  # one `except` for everything the SDK raises
        load_environment("qa", tmp_path)
    assert isinstance(error.value, InvalidConfigurationError)
    assert isinstance(error.value, ValueError)  # what `except ValueError` callers relied on

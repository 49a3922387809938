"""Name rules, driver table, throughput anchors, problems and dollar text."""

from decimal import Decimal

import pytest

from gptoss_facts.cuda import cuda_supported_by_driver, min_driver_for, parse_version
from gptoss_facts.names import SAGEMAKER_NAME_MAX, sagemaker_name_problem
from gptoss_facts.problems import Problems
from gptoss_facts.text import render_table, usd
from gptoss_facts.throughput import THROUGHPUT_ANCHORS, instance_anchor


@pytest.mark.parametrize("name", ["a", "gpt-oss-120b", "a--b", "A" * SAGEMAKER_NAME_MAX])
def test_valid_sagemaker_names(name: str) -> None:
    assert sagemaker_name_problem("EndpointName", name) is None


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "A" * (SAGEMAKER_NAME_MAX + 1)])
def test_invalid_sagemaker_names_say_the_rule(name: str) -> None:
    problem = sagemaker_name_problem("EndpointName", name)
    assert problem is not None
    assert "1-63 letters, digits and hyphens" in problem


def test_a_driver_runs_cuda_up_to_the_highest_row_it_meets() -> None:
    # NVIDIA release notes: 13.0 needs >= 580.65.06; 12.4 needs >= 550.54.14.
    assert cuda_supported_by_driver((580, 65, 6)) == (13, 0)
    assert cuda_supported_by_driver((550, 163, 1)) == (12, 4)
    assert cuda_supported_by_driver((470, 42, 1)) == (11, 4)
    # Between 11.4 and 11.8 every minor version has its row: 515.43.04 runs 11.7, not 11.4.
    assert cuda_supported_by_driver((515, 43, 4)) == (11, 7)
    assert cuda_supported_by_driver((450, 0)) is None
    assert min_driver_for((13, 0)) == (580, 65, 6)
    assert min_driver_for((10, 2)) is None
    assert parse_version("550.163.01") == (550, 163, 1)
    assert parse_version("n/a") is None


def test_anchors_cite_pages_and_map_to_instances() -> None:
    assert all(anchor.source for anchor in THROUGHPUT_ANCHORS)
    anchor = instance_anchor("gpt-oss-20b", "ml.p5.4xlarge")
    assert anchor is not None
    assert anchor.output_tok_s == 9064.0
    assert "v0.11.0" in anchor.conditions  # what the gpustack 20b page names
    assert instance_anchor("gpt-oss-20b", "ml.g6e.xlarge") is None


def test_problems_are_reported_together() -> None:
    problems = Problems("the endpoint props")
    problems.check(True, "never")
    problems.add("first")
    problems.check(False, "second")
    with pytest.raises(ValueError, match="2 problems in the endpoint props") as raised:
        problems.raise_if_any()
    assert "  - first\n  - second" in str(raised.value)
    Problems("nothing").raise_if_any()  # no problem, no error


def test_usd_never_shows_an_unknown_amount_as_zero() -> None:
    assert usd(None) == "unpriced"
    assert usd(Decimal("1234.565")) == "$1,234.57"
    assert usd(Decimal("-0.5")) == "-$0.50"
    assert usd(Decimal("0.00004"), 4, tiny=True) == "<$0.0001"
    assert usd(Decimal("0.00004"), 4) == "$0.0000"
    assert usd(Decimal("0.9900"), 4, trim=True) == "$0.99"
    assert usd(Decimal("0.0045"), 4, trim=True) == "$0.0045"
    assert usd(2.5) == "$2.50"


def test_tables_align_columns_and_right_align_numbers() -> None:
    text = render_table([["model", "calls"], ["gpt-oss-120b", "7"]], right=[1])
    assert text.splitlines() == ["model         calls", "gpt-oss-120b      7"]
    assert render_table([]) == ""

"""The endpoint props default to the shared endpoint facts, and their docstrings say so.

The props document each default in aws-sagemaker-alpha style ("Default: X"); the values
live in gptoss_facts, so a changed fact must change the documented default too.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from gptoss_facts import endpoint
from gptoss_facts.models import CONTEXT_LENGTH, TENSOR_PARALLEL_SIZES
from gptoss_infra.constructs.sagemaker import GptOssEndpointProps, InferenceComponentOptions

LOW_S, HIGH_S = endpoint.TIMEOUT_RANGE_S
LOW_GB, HIGH_GB = endpoint.VOLUME_RANGE_GB


def _param(cls: type, name: str) -> str:
    """The text of ``:param name:`` in the class docstring, on one line."""
    doc = " ".join((cls.__doc__ or "").split())
    match = re.search(rf":param {name}: (.*?)(?= :param |$)", doc)
    assert match is not None, f"{cls.__name__} documents no {name}"
    return match.group(1)


def _default(cls: type, name: str) -> object:
    (field,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return field.default


def test_the_field_defaults_are_the_shared_facts() -> None:
    assert _default(GptOssEndpointProps, "variant_name") == endpoint.VARIANT_NAME
    assert _default(GptOssEndpointProps, "routing_strategy") == endpoint.DEFAULT_ROUTING_STRATEGY
    for name, seconds in (
        ("container_startup_health_check_timeout", endpoint.STARTUP_TIMEOUT_S),
        ("model_data_download_timeout", endpoint.DOWNLOAD_TIMEOUT_S),
    ):
        default = _default(GptOssEndpointProps, name)
        assert default.to_seconds() == seconds  # type: ignore[attr-defined]
    assert _default(InferenceComponentOptions, "min_memory_mb") == endpoint.COMPONENT_MIN_MEMORY_MB


@pytest.mark.parametrize(
    ("cls", "name", "documented"),
    [
        (
            GptOssEndpointProps,
            "container_startup_health_check_timeout",
            f"{LOW_S}-{HIGH_S} s. Default: {endpoint.STARTUP_TIMEOUT_S} s.",
        ),
        (
            GptOssEndpointProps,
            "model_data_download_timeout",
            f"{LOW_S}-{HIGH_S} s. Default: {endpoint.DOWNLOAD_TIMEOUT_S} s.",
        ),
        (
            GptOssEndpointProps,
            "volume_size_gb",
            f"{LOW_GB}-{HIGH_GB}. Default: {endpoint.VOLUME_SIZE_GB} on EBS-only",
        ),
        (GptOssEndpointProps, "variant_name", f'Default: ``"{endpoint.VARIANT_NAME}"``'),
        (
            GptOssEndpointProps,
            "routing_strategy",
            f'Default: ``"{endpoint.DEFAULT_ROUTING_STRATEGY}"``',
        ),
        (
            GptOssEndpointProps,
            "max_model_len",
            f"1-{CONTEXT_LENGTH}. Default: the container's ({CONTEXT_LENGTH})",
        ),
        (
            GptOssEndpointProps,
            "tensor_parallel_size",
            "/".join(str(size) for size in TENSOR_PARALLEL_SIZES),
        ),
        (
            InferenceComponentOptions,
            "min_memory_mb",
            f"Default: {endpoint.COMPONENT_MIN_MEMORY_MB} ",
        ),
    ],
)
def test_the_docstrings_state_the_shared_defaults(cls: type, name: str, documented: str) -> None:
    assert documented in _param(cls, name)


def test_every_routing_strategy_the_props_accept_is_a_sagemaker_one() -> None:
    assert endpoint.DEFAULT_ROUTING_STRATEGY in endpoint.ROUTING_STRATEGIES

"""Telemetry: CloudWatch EMF lines that follow the spec, and OpenTelemetry GenAI
attributes with the semantic-convention names."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gptoss_aws.telemetry import (
    EmfExporter,
    emf_document,
    otel_attributes,
    set_span_attributes,
)
from gptoss_aws.types import CallRecord

ENDED = datetime(2026, 11, 2, 9, 0, 1, 500000, tzinfo=UTC)


def record(**changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "backend": "bedrock",
        "model": "gpt-oss-120b",
        "model_id": "openai.gpt-oss-120b-1:0",
        "region": "us-west-2",
        "started_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        "ended_at": ENDED,
        "tags": {"team": "search"},
        "prompt_tokens": 420,
        "completion_tokens": 380,
        "reasoning_tokens": 200,
        "latency_ms": 1500.0,
        "ttft_ms": 250.0,
        "stream": True,
        "status": "ok",
        "cost_basis": "per_token",
        "cost_usd": Decimal("0.000291"),
    }
    fields.update(changes)
    return CallRecord.model_validate(fields)


def check_emf(document: dict[str, Any]) -> None:
    """The spec's rules: _aws with an integer ms Timestamp and CloudWatchMetrics directives;
    every dimension and metric a directive names is a member of the root, dimensions as
    strings and metrics as numbers."""
    meta = document["_aws"]
    assert isinstance(meta["Timestamp"], int)
    for directive in meta["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str)
        assert directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(document[name], str)
                assert document[name]
        for metric in directive["Metrics"]:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}
            value = document[metric["Name"]]
            assert isinstance(value, int | float)
            assert not isinstance(value, bool)


def test_emf_document_follows_the_spec() -> None:
    document = emf_document(record(), namespace="Team/GptOss")
    check_emf(document)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Team/GptOss"
    assert directive["Dimensions"] == [["model", "backend", "endpoint"]]
    assert [m["Name"] for m in directive["Metrics"]] == [
        "InputTokens", "OutputTokens", "ReasoningTokens", "CostUSD", "LatencyMs",
    ]  # fmt: skip
    assert document["_aws"]["Timestamp"] == int(ENDED.timestamp() * 1000)
    assert (document["InputTokens"], document["OutputTokens"]) == (420, 380)
    assert document["ReasoningTokens"] == 200
    assert document["CostUSD"] == pytest.approx(0.000291)
    assert document["endpoint"] == "openai.gpt-oss-120b-1:0"  # Bedrock: the model id
    assert document["tags"] == {"team": "search"}


def test_emf_leaves_out_a_cost_it_does_not_have() -> None:
    sagemaker = record(backend="sagemaker", endpoint="ep", model_id=None,
                       cost_basis="instance_hours", cost_usd=None, latency_ms=None)  # fmt: skip
    document = emf_document(sagemaker)
    check_emf(document)
    names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "CostUSD" not in names
    assert "CostUSD" not in document
    assert "LatencyMs" not in names
    assert document["endpoint"] == "ep"


def test_emf_exporter_writes_one_json_line_per_call() -> None:
    stream = io.StringIO()
    exporter = EmfExporter(stream)
    exporter(record())
    exporter(record(status="error", error_kind="ThrottledError"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    second = json.loads(lines[1])
    check_emf(second)
    assert second["error_kind"] == "ThrottledError"


def test_otel_attributes_use_the_genai_semantic_convention_names() -> None:
    attributes = otel_attributes(record())
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == "openai.gpt-oss-120b-1:0"
    assert attributes["gen_ai.usage.input_tokens"] == 420
    assert attributes["gen_ai.usage.output_tokens"] == 380
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 200
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.response.time_to_first_chunk"] == 0.25  # seconds
    assert attributes["gptoss_aws.cost_usd"] == pytest.approx(0.000291)
    assert "error.type" not in attributes
    for value in attributes.values():
        assert isinstance(value, str | int | float | bool)  # OTel attribute types


def test_otel_provider_names_and_errors() -> None:
    served = record(backend="openai", model_id=None, endpoint="http://localhost:8000/v1",
                    status="error", error_kind="ModelError")  # fmt: skip
    attributes = otel_attributes(served)
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-oss-120b"
    assert attributes["error.type"] == "ModelError"
    assert otel_attributes(record(backend="sagemaker"))["gen_ai.provider.name"] == "aws.sagemaker"


class FakeSpan:
    def __init__(self) -> None:
        self.attributes: dict[str, object] = {}

    def set_attributes(self, attributes: dict[str, object]) -> None:
        self.attributes.update(attributes)


def test_span_attributes_without_opentelemetry_installed() -> None:
    span = FakeSpan()
    assert set_span_attributes(record(), span)
    assert span.attributes["gen_ai.usage.input_tokens"] == 420
    # opentelemetry is not a dependency: with no span given and no package, nothing happens.
    try:
        import opentelemetry  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        assert set_span_attributes(record()) is False


def test_the_service_tier_and_a_pending_cost_reach_the_telemetry() -> None:
    pending = record(cost_basis="pending", cost_usd=None, service_tier="flex")
    document = emf_document(pending)
    assert (document["service_tier"], document["cost_basis"]) == ("flex", "pending")
    assert "CostUSD" not in document  # pending is no cost, never 0
    assert otel_attributes(pending)["gptoss_aws.service_tier"] == "flex"

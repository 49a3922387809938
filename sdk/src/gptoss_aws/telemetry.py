"""Optional export of each settled call: CloudWatch embedded metrics and OpenTelemetry GenAI
attributes. Pass exporters to the tracker: ``Tracker(..., exporters=[EmfExporter()])``.

CloudWatch Embedded Metric Format (CloudWatch user guide, "Specification: Embedded metric
format"): one JSON object per line, whose ``_aws`` member holds a Timestamp (ms since the
epoch) and ``CloudWatchMetrics`` directives naming the namespace, the dimension set and
the metrics; the values sit at the root beside them. Written to stdout (Lambda, ECS with
awslogs, or the CloudWatch agent pick it up) the lines become metrics with no API call.
Dimensions: model, backend, endpoint (the SageMaker endpoint or server URL; for Bedrock,
the model id or inference profile ARN). Metrics: InputTokens, OutputTokens (reasoning
included), ReasoningTokens, CostUSD (only when the call has a cost: SageMaker calls get
theirs from a report, unpriced calls have none), LatencyMs.

OpenTelemetry: attribute names from the GenAI semantic conventions (registry in
open-telemetry/semantic-conventions-genai, status "development"): gen_ai.operation.name,
gen_ai.provider.name (each backend's declared ``telemetry_provider``: ``aws.bedrock`` for
Bedrock; ``openai`` for an OpenAI-compatible server, whose API flavour it is;
``aws.sagemaker`` for SageMaker, which the registry does not list, and the convention allows
custom values), gen_ai.request.model,
gen_ai.usage.input_tokens, gen_ai.usage.output_tokens, gen_ai.usage.reasoning.output_tokens
(part of output_tokens, as the convention says), gen_ai.request.stream,
gen_ai.response.time_to_first_chunk (seconds), error.type. OpenTelemetry is not a
dependency: ``otel_attributes`` returns a plain dict, and ``OtelSpanExporter`` sets it on
the current span only if ``opentelemetry`` is installed.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import IO, Any

from gptoss_aws.backends.registry import telemetry_provider_of
from gptoss_aws.types import CallRecord

DEFAULT_NAMESPACE = "GptOssAws"
EMF_DIMENSIONS = ("model", "backend", "endpoint")


def _endpoint_dimension(record: CallRecord) -> str:
    # Dimension values must be non-empty strings; Bedrock calls have no endpoint.
    return record.endpoint or record.model_id or record.backend


def emf_document(record: CallRecord, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """One call as a CloudWatch Embedded Metric Format document."""
    metrics: list[dict[str, str]] = [
        {"Name": "InputTokens", "Unit": "Count"},
        {"Name": "OutputTokens", "Unit": "Count"},
        {"Name": "ReasoningTokens", "Unit": "Count"},
    ]
    values: dict[str, Any] = {
        "InputTokens": record.prompt_tokens,
        "OutputTokens": record.completion_tokens,
        "ReasoningTokens": record.reasoning_tokens,
    }
    if record.cost_usd is not None:
        metrics.append({"Name": "CostUSD", "Unit": "None"})
        values["CostUSD"] = float(record.cost_usd)
    if record.latency_ms is not None:
        metrics.append({"Name": "LatencyMs", "Unit": "Milliseconds"})
        values["LatencyMs"] = record.latency_ms
    moment = record.ended_at or record.started_at
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(moment.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(EMF_DIMENSIONS)],
                    "Metrics": metrics,
                }
            ],
        },
        "model": record.model,
        "backend": record.backend,
        "endpoint": _endpoint_dimension(record),
        **values,
        # Not metrics: searchable in CloudWatch Logs Insights beside them.
        "call_id": record.id,
        "status": record.status,
        "cost_basis": record.cost_basis,
        "usage_source": record.usage_source,
        "tags": dict(record.tags),
    }
    if record.region:
        document["region"] = record.region
    if record.service_tier:
        document["service_tier"] = record.service_tier
    if record.error_kind:
        document["error_kind"] = record.error_kind
    return document


class EmfExporter:
    """Write each call as one EMF JSON line to ``stream`` (default stdout)."""

    def __init__(self, stream: IO[str] | None = None, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.stream = stream
        self.namespace = namespace
        self._lock = threading.Lock()  # one line per call, never interleaved

    def __call__(self, record: CallRecord) -> None:
        line = json.dumps(emf_document(record, self.namespace), separators=(",", ":"))
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


def otel_attributes(record: CallRecord) -> dict[str, str | int | float | bool]:
    """One call as OpenTelemetry GenAI semantic-convention attributes (plus a few of ours,
    under ``gptoss_aws.``)."""
    attributes: dict[str, str | int | float | bool] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": telemetry_provider_of(record.backend),
        "gen_ai.request.model": record.model_id or record.model,
        "gen_ai.usage.input_tokens": record.prompt_tokens,
        "gen_ai.usage.output_tokens": record.completion_tokens,
        "gen_ai.usage.reasoning.output_tokens": record.reasoning_tokens,
        "gen_ai.request.stream": record.stream,
        "gptoss_aws.call_id": record.id,
        "gptoss_aws.model": record.model,
        "gptoss_aws.cost_basis": record.cost_basis,
        "gptoss_aws.usage_source": record.usage_source,
    }
    if record.ttft_ms is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = record.ttft_ms / 1000.0
    if record.status == "error":
        attributes["error.type"] = record.error_kind or "error"
    if record.region:
        attributes["cloud.region"] = record.region
    if record.endpoint:
        attributes["gptoss_aws.endpoint"] = record.endpoint
    if record.cost_usd is not None:
        attributes["gptoss_aws.cost_usd"] = float(record.cost_usd)
    if record.service_tier:
        attributes["gptoss_aws.service_tier"] = record.service_tier
    if record.latency_ms is not None:
        attributes["gptoss_aws.latency_ms"] = record.latency_ms
    return attributes


def set_span_attributes(record: CallRecord, span: Any | None = None) -> bool:
    """Set ``otel_attributes(record)`` on ``span`` (default: the current span). Returns
    False, doing nothing, when opentelemetry is not installed."""
    if span is None:
        try:
            from opentelemetry import trace  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return False
        span = trace.get_current_span()
    span.set_attributes(otel_attributes(record))
    return True


class OtelSpanExporter:
    """Tracker exporter that puts each call's attributes on the current span."""

    def __call__(self, record: CallRecord) -> None:
        set_span_attributes(record)

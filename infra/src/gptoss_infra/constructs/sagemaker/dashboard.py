"""A CloudWatch dashboard of one GptOssEndpoint: traffic, errors, latency, load, resources."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from .endpoint import GptOssEndpoint

_WIDTH = 12
DEFAULT_PERIOD = Duration.minutes(5)
_HEIGHT = 6


class EndpointDashboard(Construct):
    """Dashboard of the endpoint's metric_* helpers, plus an alarm status row.

    :param endpoint: the endpoint (required).
    :param alarms: alarms to show in a status widget. Default: none.
    :param dashboard_name: Default: ``<endpoint name>-gpt-oss``.
    :param period: graph period. Default: 5 minutes (concurrency uses 1 minute).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: GptOssEndpoint,
        alarms: Sequence[cloudwatch.IAlarm] = (),
        dashboard_name: str | None = None,
        period: Duration = DEFAULT_PERIOD,
    ) -> None:
        super().__init__(scope, construct_id)
        rows = _rows(endpoint, period)
        if alarms:
            rows.append(
                [cloudwatch.AlarmStatusWidget(alarms=list(alarms), width=24, height=_HEIGHT)]
            )
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name or f"{endpoint.endpoint_name}-gpt-oss",
            widgets=rows,
        )


def _graph(name: str, left: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=name, left=left, width=_WIDTH, height=_HEIGHT)


def _rows(endpoint: GptOssEndpoint, period: Duration) -> list[list[cloudwatch.IWidget]]:
    """Title, traffic and latency, load and GPU, host resources (and scale-to-zero misses)."""
    title = f"gpt-oss on {endpoint.endpoint_name}"
    if endpoint.inference_component_name is not None:
        title += f" (component {endpoint.inference_component_name})"
    rows: list[list[cloudwatch.IWidget]] = [
        [cloudwatch.TextWidget(markdown=f"# {title}", width=24, height=1)],
        [
            _graph(
                "Invocations and errors",
                [
                    endpoint.metric_invocations(period=period),
                    endpoint.metric_invocation_4xx_errors(period=period),
                    endpoint.metric_invocation_5xx_errors(period=period),
                    endpoint.metric_invocation_model_errors(period=period),
                ],
            ),
            _graph(
                "Model latency (microseconds)",
                [
                    endpoint.metric_model_latency(statistic="p50", period=period),
                    endpoint.metric_model_latency(statistic="p99", period=period),
                    endpoint.metric_overhead_latency(statistic="p99", period=period),
                ],
            ),
        ],
        [
            _graph(
                "Concurrent requests (autoscaling signal)",
                [endpoint.metric_concurrent_requests()],
            ),
            _graph(
                "GPU and GPU memory utilization",
                [
                    endpoint.metric_gpu_utilization(period=period),
                    endpoint.metric_gpu_memory_utilization(period=period),
                ],
            ),
        ],
        [
            _graph(
                "CPU, memory and disk utilization",
                [
                    endpoint.metric_cpu_utilization(period=period),
                    endpoint.metric_memory_utilization(period=period),
                    endpoint.metric_disk_utilization(period=period),
                ],
            ),
        ],
    ]
    if endpoint.inference_component_name is not None:
        rows[-1].append(
            _graph(
                "Calls that found no capacity (scaled to zero)",
                [endpoint.metric_no_capacity_invocation_failures()],
            )
        )
    return rows

"""CloudWatch alarms for a GptOssEndpoint, optionally notifying an SNS topic.

Thresholds are defaults for gpt-oss on vLLM, each with its reason; every one can be set.
`rollback_alarms` are the ones fit to roll a deployment back (errors and latency, not
resource use), for `GptOssEndpoint.add_rollback_alarm`.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from .._common import PropErrors, acknowledge
from ._instances import instance_facts
from .endpoint import GptOssEndpoint

_MICROSECONDS = 1_000_000
DEFAULT_LATENCY_P99 = Duration.seconds(50)
# (datapoints to alarm, evaluation periods): errors are bad in 3 of 5 one-minute periods, a
# resource or latency level must hold for 3 periods in a row.
_BAD_MINUTES = (3, 5)
_SUSTAINED = (3, 3)


class EndpointAlarms(Construct):
    """5xx, model errors, p99 latency, GPU memory and disk alarms.

    :param endpoint: the endpoint (required).
    :param topic: SNS topic for ALARM and OK notifications. Default: none (alarms only).
    :param errors_5xx_threshold: Invocation5XXErrors per minute that count as bad, alarmed
        when 3 of 5 minutes are bad. Default: 1 (the container answers 5xx only when vLLM
        fails; any is worth a look, one stray minute is not).
    :param model_errors_threshold: InvocationModelErrors (non-2xx, broken responses,
        timeouts) per minute, 3 of 5 minutes. Default: 1.
    :param latency_p99: ModelLatency p99 over 5 minutes, 3 periods in a row.
        Default: 50 s (InvokeEndpoint times out at 60 s; a p99 near it means timeouts
        are next; streaming calls last longer and are not in this metric's 60 s budget).
    :param gpu_memory_percent: per-GPU memory in percent, 3 of 3 5-minute periods.
        Default: 98. vLLM reserves gpu_memory_utilization (0.90-0.95) of every GPU at
        start, so the metric sits there when healthy; above 98% something else holds GPU
        memory and an out-of-memory error is near.
    :param gpus_per_instance: scales the GPU threshold for variants, whose metric is
        0-100 x GPUs. Default: from the SDK's instance table, else 1.
    :param disk_percent: instance disk in percent, 3 of 3 5-minute periods. Default: 85.
    :param alarm_name_prefix: Default: the endpoint name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: GptOssEndpoint,
        topic: sns.ITopic | None = None,
        errors_5xx_threshold: float = 1,
        model_errors_threshold: float = 1,
        latency_p99: Duration = DEFAULT_LATENCY_P99,
        gpu_memory_percent: float = 98,
        gpus_per_instance: int | None = None,
        disk_percent: float = 85,
        alarm_name_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_props(
            errors_5xx_threshold,
            model_errors_threshold,
            latency_p99,
            gpu_memory_percent,
            disk_percent,
            gpus_per_instance,
        )

        self._prefix = alarm_name_prefix or endpoint.endpoint_name
        components = endpoint.inference_component_name is not None
        gpus = gpus_per_instance or instance_facts(endpoint.props.instance_type).gpu_count or 1
        # Variant GPU metrics run 0-100 x GPUs; component metrics are normalized to 0-100.
        gpu_scale = 1 if components else gpus
        one_minute = Duration.minutes(1)
        self.invocation_5xx = self._alarm(
            "Invocation5xx",
            "invocation-5xx",
            "The model answered 5xx in 3 of the last 5 minutes.",
            endpoint.metric_invocation_5xx_errors(period=one_minute),
            errors_5xx_threshold,
            _BAD_MINUTES,
        )
        self.model_errors = self._alarm(
            "ModelErrors",
            "model-errors",
            "Invocations without a 2xx from the model in 3 of 5 minutes.",
            endpoint.metric_invocation_model_errors(period=one_minute),
            model_errors_threshold,
            _BAD_MINUTES,
        )
        self.latency_p99 = self._alarm(
            "LatencyP99",
            "model-latency-p99",
            f"ModelLatency p99 above {latency_p99.to_seconds()} s for 15 minutes.",
            endpoint.metric_model_latency(statistic="p99"),
            latency_p99.to_seconds() * _MICROSECONDS,
            _SUSTAINED,
        )
        self.gpu_memory = self._alarm(
            "GpuMemory",
            "gpu-memory",
            f"GPU memory above {gpu_memory_percent}% per GPU for 15 minutes; vLLM "
            "reserves 90-95% when healthy.",
            endpoint.metric_gpu_memory_utilization(),
            gpu_memory_percent * gpu_scale,
            _SUSTAINED,
        )
        self.disk = self._alarm(
            "Disk",
            "disk",
            f"Instance disk above {disk_percent}% for 15 minutes.",
            endpoint.metric_disk_utilization(),
            disk_percent,
            _SUSTAINED,
        )
        # Errors and latency say an update went wrong; resource use may be the new normal.
        self.rollback_alarms = [self.invocation_5xx, self.model_errors, self.latency_p99]
        self.alarms = [*self.rollback_alarms, self.gpu_memory, self.disk]
        self._notify(topic)

    def _alarm(
        self,
        construct_id: str,
        suffix: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        window: tuple[int, int],
    ) -> cloudwatch.Alarm:
        """An alarm at or above ``threshold`` for ``window`` (datapoints, periods)."""
        datapoints, periods = window
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._prefix}-{suffix}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No data means no traffic or no instance (scaled to zero), not a problem.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
        )

    def _notify(self, topic: sns.ITopic | None) -> None:
        if topic is not None:
            action = cw_actions.SnsAction(topic)
            for alarm in self.alarms:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)
            return
        acknowledge(
            self,
            [
                (
                    f"{pack}-CloudWatchAlarmAction",
                    "No topic was given: these alarms feed deployment rollback and the "
                    "dashboard; pass topic= to be notified.",
                )
                for pack in ("NIST.800.53.R5", "HIPAA.Security")
            ],
        )


def _check_props(
    errors_5xx_threshold: float,
    model_errors_threshold: float,
    latency_p99: Duration,
    gpu_memory_percent: float,
    disk_percent: float,
    gpus_per_instance: int | None,
) -> None:
    problems = PropErrors("EndpointAlarms props")
    problems.check(errors_5xx_threshold > 0, "errors_5xx_threshold must be positive")
    problems.check(model_errors_threshold > 0, "model_errors_threshold must be positive")
    problems.check(latency_p99.to_seconds() > 0, "latency_p99 must be positive")
    problems.check(0 < gpu_memory_percent <= 100, "gpu_memory_percent must be in (0, 100]")
    problems.check(0 < disk_percent <= 100, "disk_percent must be in (0, 100]")
    problems.check(
        gpus_per_instance is None or gpus_per_instance >= 1, "gpus_per_instance must be >= 1"
    )
    problems.raise_if_any()

"""metric_* helpers for a gpt-oss endpoint, with the right namespace and dimensions per mode.

Single-model variants publish invocation metrics in ``AWS/SageMaker`` and instance
metrics in ``/aws/sagemaker/Endpoints``, both by EndpointName and VariantName. Inference
components publish invocation metrics in ``AWS/SageMaker`` and their utilization in
``/aws/sagemaker/InferenceComponents``, by InferenceComponentName; disk stays an instance
metric (SageMaker developer guide, monitoring-cloudwatch.html).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

INVOCATION_NAMESPACE = "AWS/SageMaker"
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints"
COMPONENT_NAMESPACE = "/aws/sagemaker/InferenceComponents"
DEFAULT_PERIOD = Duration.minutes(5)
# ConcurrentRequestsPerModel / PerCopy are high-resolution metrics (10-second data); a
# one-minute period keeps dashboards cheap and still shows bursts.
ONE_MINUTE = Duration.minutes(1)
CONCURRENCY_PERIOD = ONE_MINUTE


class EndpointMetrics:
    """Mixin: needs `endpoint_name`, `variant_name` and `inference_component_name`."""

    endpoint_name: str
    variant_name: str
    inference_component_name: str | None

    def _invocation_dimensions(self) -> dict[str, str]:
        if self.inference_component_name is not None:
            return {"InferenceComponentName": self.inference_component_name}
        return {"EndpointName": self.endpoint_name, "VariantName": self.variant_name}

    def _instance_dimensions(self) -> dict[str, str]:
        return {"EndpointName": self.endpoint_name, "VariantName": self.variant_name}

    def metric(
        self,
        metric_name: str,
        *,
        namespace: str = INVOCATION_NAMESPACE,
        statistic: str = "Sum",
        period: Duration = DEFAULT_PERIOD,
        dimensions: dict[str, str] | None = None,
        label: str | None = None,
    ) -> cloudwatch.Metric:
        """Any metric of this endpoint. Default: Sum over 5 minutes, invocation dimensions."""
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=dimensions or self._invocation_dimensions(),
            statistic=statistic,
            period=period,
            label=label,
        )

    def metric_invocations(self, *, period: Duration = DEFAULT_PERIOD) -> cloudwatch.Metric:
        """Requests sent to the model. Default: Sum over 5 minutes."""
        return self.metric("Invocations", period=period)

    def metric_invocation_4xx_errors(
        self, *, period: Duration = DEFAULT_PERIOD
    ) -> cloudwatch.Metric:
        """Requests the model answered with 4xx. Default: Sum over 5 minutes."""
        return self.metric("Invocation4XXErrors", period=period)

    def metric_invocation_5xx_errors(
        self, *, period: Duration = DEFAULT_PERIOD
    ) -> cloudwatch.Metric:
        """Requests the model answered with 5xx. Default: Sum over 5 minutes."""
        return self.metric("Invocation5XXErrors", period=period)

    def metric_invocation_model_errors(
        self, *, period: Duration = DEFAULT_PERIOD
    ) -> cloudwatch.Metric:
        """Requests without a 2xx from the model: error codes, broken responses, timeouts."""
        return self.metric("InvocationModelErrors", period=period)

    def metric_model_latency(
        self, *, statistic: str = "p99", period: Duration = DEFAULT_PERIOD
    ) -> cloudwatch.Metric:
        """Time in the container, in microseconds. Default: p99 over 5 minutes."""
        return self.metric("ModelLatency", statistic=statistic, period=period)

    def metric_overhead_latency(
        self, *, statistic: str = "p99", period: Duration = DEFAULT_PERIOD
    ) -> cloudwatch.Metric:
        """SageMaker's own time around the container, microseconds. Default: p99, 5 minutes."""
        return self.metric("OverheadLatency", statistic=statistic, period=period)

    def metric_concurrent_requests(
        self, *, statistic: str = "Maximum", period: Duration = CONCURRENCY_PERIOD
    ) -> cloudwatch.Metric:
        """In-flight requests per model (variant) or per copy (component): what autoscaling
        tracks. Default: Maximum over 1 minute."""
        name = (
            "ConcurrentRequestsPerCopy"
            if self.inference_component_name is not None
            else "ConcurrentRequestsPerModel"
        )
        return self.metric(name, statistic=statistic, period=period)

    def metric_gpu_utilization(self, *, period: Duration = DEFAULT_PERIOD) -> cloudwatch.Metric:
        """GPU use: 0-100 x GPUs per instance for variants, 0-100 normalized for components."""
        return self._utilization("GPUUtilization", period)

    def metric_gpu_memory_utilization(
        self, *, period: Duration = DEFAULT_PERIOD
    ) -> cloudwatch.Metric:
        """GPU memory used: 0-100 x GPUs for variants, 0-100 normalized for components."""
        return self._utilization("GPUMemoryUtilization", period)

    def metric_cpu_utilization(self, *, period: Duration = DEFAULT_PERIOD) -> cloudwatch.Metric:
        return self._utilization("CPUUtilization", period)

    def metric_memory_utilization(self, *, period: Duration = DEFAULT_PERIOD) -> cloudwatch.Metric:
        return self._utilization("MemoryUtilization", period)

    def metric_disk_utilization(self, *, period: Duration = DEFAULT_PERIOD) -> cloudwatch.Metric:
        """Instance disk used, percent (0-100). Default: Average over 5 minutes."""
        return self.metric(
            "DiskUtilization",
            namespace=ENDPOINT_NAMESPACE,
            statistic="Average",
            period=period,
            dimensions=self._instance_dimensions(),
        )

    def metric_no_capacity_invocation_failures(
        self, *, period: Duration = ONE_MINUTE
    ) -> cloudwatch.Metric:
        """Requests that found no copy to serve them (scaled to zero). Components only."""
        if self.inference_component_name is None:
            raise ValueError(
                "NoCapacityInvocationFailures is published for inference components only; "
                "this endpoint serves a single model"
            )
        return self.metric("NoCapacityInvocationFailures", period=period)

    def _utilization(self, name: str, period: Duration) -> cloudwatch.Metric:
        if self.inference_component_name is not None:
            return self.metric(
                f"{name}Normalized",
                namespace=COMPONENT_NAMESPACE,
                statistic="Average",
                period=period,
            )
        return self.metric(
            name,
            namespace=ENDPOINT_NAMESPACE,
            statistic="Average",
            period=period,
            dimensions=self._instance_dimensions(),
        )

"""SageMaker constructs for gpt-oss: weights, mirror, image, endpoint, scaling, alarms,
dashboard."""

from .alarms import EndpointAlarms
from .autoscaling import EndpointAutoscaling
from .dashboard import EndpointDashboard
from .data_capture import DataCaptureOptions
from .endpoint import GptOssEndpoint
from .endpoint_props import (
    BlueGreenUpdate,
    DeploymentOptions,
    GptOssEndpointProps,
    InferenceComponentOptions,
    RollingUpdate,
    VpcOptions,
)
from .inference_image import InferenceImage
from .model_artifacts import ImportedModelArtifacts, ModelArtifacts
from .readiness_gate import ReadinessGate
from .weights_mirror import WeightsMirror

__all__ = [
    "BlueGreenUpdate",
    "DataCaptureOptions",
    "DeploymentOptions",
    "EndpointAlarms",
    "EndpointAutoscaling",
    "EndpointDashboard",
    "GptOssEndpoint",
    "GptOssEndpointProps",
    "ImportedModelArtifacts",
    "InferenceComponentOptions",
    "InferenceImage",
    "ModelArtifacts",
    "ReadinessGate",
    "RollingUpdate",
    "VpcOptions",
    "WeightsMirror",
]

"""The deployment configuration shared by the CDK app (infra/) and the notebook deploy path:
presets, the typed model, and the validation that reports every problem with its fix."""

from gptoss_aws.deployment.config import (
    DeploymentConfig,
    InvalidConfigurationError,
    from_preset,
    load_environment,
)
from gptoss_aws.deployment.validation import find_problems

__all__ = [
    "DeploymentConfig",
    "InvalidConfigurationError",
    "find_problems",
    "from_preset",
    "load_environment",
]

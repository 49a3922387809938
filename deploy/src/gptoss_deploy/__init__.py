"""The deployment configuration shared by the CDK app (infra/) and the notebook deploy path:
presets, the typed model, and the validation that reports every problem with its fix."""

# The SDK's error (gptoss_aws.errors, a GptOssError), here too because every caller needs it.
from gptoss_aws.errors import InvalidConfigurationError
from gptoss_deploy.config import DeploymentConfig
from gptoss_deploy.loading import from_preset, load_environment
from gptoss_deploy.presets import PRESETS
from gptoss_deploy.validation import find_problems, validate

__all__ = [
    "PRESETS",
    "DeploymentConfig",
    "InvalidConfigurationError",
    "find_problems",
    "from_preset",
    "load_environment",
    "validate",
]

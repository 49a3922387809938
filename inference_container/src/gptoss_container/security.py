"""Keep code from the model folder from running unless the operator asks for it.

vLLM attaches its SageMaker routes through model-hosting-container-standards, which by
default imports ``<SAGEMAKER_MODEL_PATH>/model.py`` (default /opt/ml/model/) to look for
custom handlers, and whose supervisor pip-installs ``<model dir>/requirements.txt``
(STANDARD_AUTO_INSTALL_REQ, default true). Weights come from S3 and are data; a file
planted next to them must not become code in the serving process.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .passthrough import PassthroughFlag
from .problems import Problem

SAGEMAKER_MODEL_PATH_ENV = "SAGEMAKER_MODEL_PATH"
AUTO_INSTALL_ENV = "STANDARD_AUTO_INSTALL_REQ"
# model-hosting-container-standards imports code named by these variables
# (common/fastapi/config.py FastAPIEnvVars, sagemaker/config.py SageMakerEnvVars).
CUSTOM_CODE_VARIABLES = (
    "CUSTOM_FASTAPI_PING_HANDLER",
    "CUSTOM_FASTAPI_INVOCATION_HANDLER",
    "CUSTOM_FASTAPI_MIDDLEWARE_THROTTLE",
    "CUSTOM_FASTAPI_MIDDLEWARE_PRE_POST_PROCESS",
    "CUSTOM_PRE_PROCESS",
    "CUSTOM_POST_PROCESS",
    "CUSTOM_SCRIPT_FILENAME",
)
_ALLOW_FIX = "unset it, or set GPTOSS_ALLOW_CUSTOM_CODE=true if you trust that code."


def custom_code_problems(
    environ: Mapping[str, str], passthrough: Sequence[PassthroughFlag], allowed: bool
) -> list[Problem]:
    """Variables that would run code shipped with the model, when that is not allowed."""
    if allowed:
        return []
    problems = [
        Problem(name, "names custom code to import, and custom code is not allowed.", _ALLOW_FIX)
        for name in CUSTOM_CODE_VARIABLES
        if environ.get(name, "").strip()
    ]
    problems += [
        Problem(flag.variable, "lets vLLM run Python code shipped with the model.", _ALLOW_FIX)
        for flag in passthrough
        if flag.argv[:1] == ("--trust-remote-code",)
    ]
    return problems


def custom_code_env(
    allow_custom_code: bool,
    allow_requirements_install: bool,
    model_dir: Path | None,
    guard_dir: Path | None = None,
) -> dict[str, str]:
    """Variables for model-hosting-container-standards.

    Without custom code, the library is pointed at an empty folder of ours, so there is
    no model.py for it to import whatever SAGEMAKER_MODEL_PATH said before.
    """
    env = {AUTO_INSTALL_ENV: "true" if allow_requirements_install else "false"}
    if allow_custom_code and model_dir is not None:
        env[SAGEMAKER_MODEL_PATH_ENV] = str(model_dir)
    else:
        guard = guard_dir or Path(tempfile.mkdtemp(prefix="gptoss-no-custom-code-"))
        env[SAGEMAKER_MODEL_PATH_ENV] = str(guard)
    return env

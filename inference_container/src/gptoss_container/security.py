"""Keep code from the model folder from running unless the operator asks for it.

vLLM attaches its SageMaker routes through model-hosting-container-standards, which by
default imports ``<SAGEMAKER_MODEL_PATH>/model.py`` (default /opt/ml/model/) to look for
custom handlers, and whose supervisor pip-installs ``<model dir>/requirements.txt``
(STANDARD_AUTO_INSTALL_REQ, default true). Weights come from S3 and are data; a file
planted next to them must not become code in the serving process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

SAGEMAKER_MODEL_PATH_ENV = "SAGEMAKER_MODEL_PATH"
AUTO_INSTALL_ENV = "STANDARD_AUTO_INSTALL_REQ"


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

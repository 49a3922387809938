"""The CDK app: `cdk synth -c env=<name>` deploys infra/environments/<name>.json (default dev).

cdk.json at the repository root runs this file with the .venv-cdk interpreter. The
configuration is validated before any construct is created; an invalid one prints every
problem with its fix and exits with status 2, so `cdk synth` fails without a stack trace.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App

from gptoss_deploy import InvalidConfigurationError
from gptoss_deploy.config import DEFAULT_ENVIRONMENT
from gptoss_deploy.loading import environment_file, load_environment
from gptoss_deploy.validation import validate
from gptoss_infra.stacks import build_app

ENVIRONMENTS = Path(__file__).resolve().parent / "environments"


def main() -> None:
    # A throwaway App only to read `-c env=...` (the CLI passes context through the
    # environment, which every App reads).
    name = App().node.try_get_context("env") or DEFAULT_ENVIRONMENT
    try:
        config = load_environment(str(name), ENVIRONMENTS)
        validate(config, source=str(environment_file(str(name), ENVIRONMENTS)))
    except InvalidConfigurationError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    build_app(config).synth()


if __name__ == "__main__":
    main()

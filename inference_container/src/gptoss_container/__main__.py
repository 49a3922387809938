"""Container entrypoint: ``serve`` (the SageMaker contract), ``check`` and ``profiles``.

SageMaker starts the image as ``docker run IMAGE serve`` (SageMaker developer guide,
"Use your own inference code with hosting services"). Every setting is validated and every
problem reported together before vLLM loads anything; then this process runs vLLM's OpenAI
server itself, so SageMaker's SIGTERM reaches the server directly and vLLM, imported once
for the argument check, is not imported a second time by a new interpreter.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace

from gptoss_container.cuda_driver import driver_problems
from gptoss_container.gpu import detect_gpus
from gptoss_container.hardware import profiles_table
from gptoss_container.middleware import DRAIN_TIMEOUT_ENV, ensure_logging
from gptoss_container.offline import harmony_vocab_problems, offline_env
from gptoss_container.security import custom_code_env
from gptoss_container.settings import ContainerSettings, SettingsError, env_name, load_settings
from gptoss_container.vllm_args import build_engine_env, build_vllm_args, check_against_vllm_parser

MIDDLEWARE = "gptoss_container.middleware.GptOssMiddleware"
# vLLM 0.32's server entry (vllm.entrypoints.openai.api_server is its deprecated alias).
VLLM_SERVER_MODULE = "vllm.entrypoints.launchers.api_server.entry"

logger = logging.getLogger("gptoss_container")


@dataclass(frozen=True)
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]
    settings: ContainerSettings


def plan_launch(environ: Mapping[str, str]) -> LaunchPlan:
    """Everything `serve` will run, or one SettingsError naming every problem.

    Imports no vLLM: some of the variables it computes must be set before vLLM is imported.
    """
    problems: list[str] = []
    settings: ContainerSettings | None = None
    # Probe the GPUs first so hardware problems come in the same message as the rest;
    # the cpu profile probes nothing.
    profile = environ.get(env_name("gpu_profile")) or None
    gpus = detect_gpus(SimpleNamespace(gpu_profile=profile))
    try:
        settings = load_settings(environ, gpus=gpus)
    except SettingsError as exc:
        problems.extend(exc.problems)
    problems.extend(harmony_vocab_problems(environ))
    problems.extend(driver_problems(environ))
    if settings is None or problems:
        raise SettingsError(problems)

    argv = build_vllm_args(settings, gpus, extra_args=["--middleware", MIDDLEWARE])
    env = dict(environ)
    env.update(build_engine_env(settings, gpus))
    env.update(offline_env(settings.allow_hub_download))
    env.update(
        custom_code_env(
            settings.allow_custom_code,
            settings.allow_requirements_install,
            settings.model_dir,
        )
    )
    env[DRAIN_TIMEOUT_ENV] = str(settings.drain_timeout_s)
    return LaunchPlan(argv=argv, env=env, settings=settings)


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gptoss_container", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "check", "profiles"],
        help="serve: start the server (default); check: validate settings, print the vLLM "
        "command, start nothing; profiles: print the GPU profiles (Markdown)",
    )
    command = parser.parse_args(args).command
    if command == "profiles":
        print(profiles_table())
        return 0
    ensure_logging()

    try:
        plan = plan_launch(os.environ)
        # The argument check imports vLLM, which reads some of these variables on import.
        os.environ.update(plan.env)
        check_against_vllm_parser(plan.argv)
    except SettingsError as exc:
        print(f"gptoss_container: cannot start.\n{exc}", file=sys.stderr)
        return 2

    cmd = [sys.executable, "-m", VLLM_SERVER_MODULE, *plan.argv]
    if command == "check":
        print(shlex.join(cmd))
        return 0
    logger.info("starting: %s", shlex.join(cmd))
    return _serve(plan.argv)


def _serve(argv: Sequence[str]) -> int:
    """Run vLLM's own server entry (its parser, logging set-up and launcher) in this process."""
    from vllm.entrypoints.launchers.api_server import entry

    sys.argv = [VLLM_SERVER_MODULE, *argv]
    entry.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

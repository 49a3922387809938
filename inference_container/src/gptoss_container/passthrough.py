"""`SM_VLLM_<NAME>` variables: the AWS vLLM container's convention for any vLLM flag.

- `SM_VLLM_<NAME>=true` gives `--<name>`, `=false` drops it, any other value is passed as
  the flag's value (an empty value gives the bare flag, as in the AWS script).
- If the flag is one the settings type (their `vllm_dest`), the variable is an alias of
  the GPTOSS_ variable and goes through the same checks; setting both is an error.
- Flags the container must own (--middleware, --uds, --config, --headless, --grpc) are
  refused.
- Any other passthrough flag wins over the GPU profile's flag for the same vLLM option
  (`--no-x` counts as option `x`); vLLM's own parser checks it at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from .problems import Problem

PASSTHROUGH_PREFIX = "SM_VLLM_"
# Options the container itself must control (vLLM argparse destinations).
RESERVED_DESTS: dict[str, str] = {
    "middleware": "the container adds its own --middleware for the SageMaker routes",
    "uds": "SageMaker reaches the container over TCP only",
    "config": "a vLLM YAML config could move the model, host or port out of our checks",
    "headless": "SageMaker needs the HTTP server",
    "grpc": "SageMaker needs the HTTP server",
}
# vLLM's only long option whose destination is not its own name
# (vllm/engine/arg_utils.py); tests check this against vLLM's parser.
_DEST_ALIASES = {"device_memory_utilization": "gpu_memory_utilization"}


class EnvValue(NamedTuple):
    """A raw value and the variable it came from, which every problem names."""

    variable: str
    value: str


class PassthroughFlag(NamedTuple):
    variable: str
    dest: str
    argv: tuple[str, ...]


def flag_dest(option: str) -> str:
    """argparse destination of a vLLM long option: `--no-enable-x` -> `enable_x`."""
    name = option.removeprefix("--").replace("-", "_").lower()
    name = name.removeprefix("no_")
    return _DEST_ALIASES.get(name, name)


def passthrough_argv(variable: str, raw: str) -> tuple[str, ...]:
    option = "--" + variable.removeprefix(PASSTHROUGH_PREFIX).lower().replace("_", "-")
    value = raw.strip()
    if value.lower() == "false":
        return ()
    if value.lower() == "true" or value == "":
        return (option,)
    return (option, raw)


def read_passthrough(
    environ: Mapping[str, str],
    typed: Mapping[str, str],
    raw: dict[str, EnvValue],
    problems: list[Problem],
) -> list[PassthroughFlag]:
    """The passthrough flags; aliases of typed settings go into `raw` instead.

    `typed` maps a vLLM destination to the settings field it sets; `raw` holds the
    fields already set by GPTOSS_ variables, so a second source is a conflict.
    """
    flags: list[PassthroughFlag] = []
    for name in sorted(environ):
        if not name.startswith(PASSTHROUGH_PREFIX) or name == PASSTHROUGH_PREFIX:
            continue
        dest = flag_dest(name.removeprefix(PASSTHROUGH_PREFIX))
        if dest in RESERVED_DESTS:
            problems.append(
                Problem(name, f"cannot be passed through: {RESERVED_DESTS[dest]}.", "remove it.")
            )
        elif dest in typed:
            field = typed[dest]
            if field in raw:
                problems.append(
                    Problem(
                        name,
                        f"sets the same vLLM option as {raw[field].variable}.",
                        f"keep one of {name} and {raw[field].variable}.",
                    )
                )
            else:
                raw[field] = EnvValue(name, environ[name])
        else:
            # Kept even when "false" empties it: it still replaces the profile's flag.
            flags.append(PassthroughFlag(name, dest, passthrough_argv(name, environ[name])))
    return flags

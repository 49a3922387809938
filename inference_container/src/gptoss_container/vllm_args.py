"""Settings -> the vLLM OpenAI server's argv and engine environment, and a check of
that argv with vLLM's own parser.

The argv is for `python -m vllm.entrypoints.openai.api_server` (vLLM 0.32 keeps it,
deprecated, as a shim over `vllm.entrypoints.launchers.api_server.entry`; both build
their parser with `vllm.entrypoints.launchers.cli_args.make_arg_parser`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, NoReturn

from gptoss_facts.gpus import VllmFlag

from .gpu import GpuInventory
from .hardware import Hardware, profile_defaults, resolve_hardware
from .offline import TIKTOKEN_ENV
from .passthrough import PASSTHROUGH_PREFIX
from .problems import Problem, SettingsError
from .settings import ContainerSettings

# vLLM gpt-oss recipe: harmony reasoning goes to the `reasoning` field, and tool calls
# are parsed by the `openai` parser (vllm/reasoning, vllm/tool_parsers registries).
REASONING_PARSER = "openai_gptoss"
TOOL_CALL_PARSER = "openai"
# SageMaker pings the container all the time; one access-log line each only costs
# CloudWatch money.
QUIET_ENDPOINTS = "/ping,/health"


def _typed_flags(settings: ContainerSettings, hardware: Hardware) -> list[VllmFlag]:
    batched, memory = profile_defaults(
        hardware.profile, settings.model, hardware.tensor_parallel_size
    )
    batched = settings.max_num_batched_tokens or batched
    memory = settings.gpu_memory_utilization or memory
    kv_bytes = settings.kv_cache_memory_bytes or hardware.profile.kv_cache_memory_bytes
    flags = [
        VllmFlag("model", ("--model", settings.model.path)),
        VllmFlag("served_model_name", ("--served-model-name", settings.served_model_name)),
        VllmFlag("host", ("--host", settings.host)),
        VllmFlag("port", ("--port", str(settings.port))),
        VllmFlag(
            "tensor_parallel_size",
            ("--tensor-parallel-size", str(hardware.tensor_parallel_size)),
        ),
        VllmFlag("max_model_len", ("--max-model-len", str(settings.max_model_len))),
        VllmFlag("reasoning_parser", ("--reasoning-parser", REASONING_PARSER)),
        VllmFlag("uvicorn_log_level", ("--uvicorn-log-level", settings.log_level)),
        VllmFlag(
            "disable_access_log_for_endpoints",
            ("--disable-access-log-for-endpoints", QUIET_ENDPOINTS),
        ),
    ]
    if settings.enable_tool_calling:
        flags.append(VllmFlag("tool_call_parser", ("--tool-call-parser", TOOL_CALL_PARSER)))
        flags.append(VllmFlag("enable_auto_tool_choice", ("--enable-auto-tool-choice",)))
    if settings.max_num_seqs is not None:
        flags.append(VllmFlag("max_num_seqs", ("--max-num-seqs", str(settings.max_num_seqs))))
    if batched is not None:
        flags.append(VllmFlag("max_num_batched_tokens", ("--max-num-batched-tokens", str(batched))))
    if memory is not None:
        flags.append(
            VllmFlag("gpu_memory_utilization", ("--gpu-memory-utilization", f"{memory:g}"))
        )
    if kv_bytes is not None:
        flags.append(VllmFlag("kv_cache_memory_bytes", ("--kv-cache-memory-bytes", str(kv_bytes))))
    return flags


def build_vllm_args(
    settings: ContainerSettings, gpus: GpuInventory, extra_args: Iterable[str] = ()
) -> list[str]:
    """The server's argv without the program name; `extra_args` go last.

    Raises SettingsError when the GPUs cannot serve these settings.
    """
    hardware = resolve_hardware(settings, gpus)
    flags = _typed_flags(settings, hardware) + list(hardware.profile.flags)
    replaced = {p.dest for p in settings.passthrough}
    argv = [token for flag in flags if flag.dest not in replaced for token in flag.argv]
    argv += [token for p in settings.passthrough for token in p.argv]
    argv += list(extra_args)
    return argv


def build_engine_env(settings: ContainerSettings, gpus: GpuInventory) -> dict[str, str]:
    """Variables vLLM reads, to set before vLLM is imported or started."""
    hardware = resolve_hardware(settings, gpus)
    env = dict(hardware.profile.engine_env)
    env["VLLM_LOGGING_LEVEL"] = settings.log_level.upper()
    if settings.tiktoken_encodings_base:
        env[TIKTOKEN_ENV] = settings.tiktoken_encodings_base
    return env


_SECRET_OPTIONS = frozenset({"--api-key", "--hf-token"})


def redact_argv(argv: Sequence[str]) -> list[str]:
    """The argv with secret values masked, for logs (SM_VLLM_API_KEY etc. pass through)."""
    out: list[str] = []
    hide_next = False
    for token in argv:
        option, eq, _ = token.partition("=")
        if hide_next:
            out.append("***")
        elif eq and option in _SECRET_OPTIONS:
            out.append(f"{option}=***")
        else:
            out.append(token)
        hide_next = not eq and token in _SECRET_OPTIONS
    return out


class _ParserError(Exception):
    pass


def _raise(message: str) -> NoReturn:
    raise _ParserError(message)


@cache
def _vllm_parser() -> argparse.ArgumentParser:
    # Imported here: vLLM takes seconds to import and the rest of this module must not.
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    # allow_abbrev=False: vLLM would read `--max-model` as --max-model-len, which
    # would slip a passthrough variable past the alias and conflict rules.
    parser = FlexibleArgumentParser(prog="vllm-openai-server", allow_abbrev=False)
    # argparse prints and exits on errors; we want one exception to report.
    setattr(parser, "error", _raise)  # noqa: B010
    result: argparse.ArgumentParser = make_arg_parser(parser)
    return result


def _culprit(message: str, argv: Sequence[str]) -> str:
    """Which option a parser complaint is about, and the variable that may have set it."""
    for option in re.findall(r"--[\w.-]+", message):
        if option in argv or any(token.startswith(option + "=") for token in argv):
            variable = PASSTHROUGH_PREFIX + option[2:].upper().replace("-", "_")
            return f"{option} (from {variable}, if set)"
    return "vLLM arguments"


def _registry_problems(namespace: argparse.Namespace) -> list[str]:
    from vllm.reasoning import ReasoningParserManager
    from vllm.tool_parsers import ToolParserManager

    problems = []
    reasoning = getattr(namespace, "reasoning_parser", None)
    if reasoning and reasoning not in ReasoningParserManager.list_registered():
        problems.append(f"unknown reasoning parser {reasoning!r}")
    tool = getattr(namespace, "tool_call_parser", None)
    plugin = getattr(namespace, "tool_parser_plugin", "")
    if tool and not plugin and tool not in ToolParserManager.list_registered():
        problems.append(f"unknown tool call parser {tool!r}")
    backend = getattr(namespace, "attention_backend", None)
    if backend:
        # The parser takes any string here; vLLM's AttentionConfig checks it later, at
        # engine start, after the weights have loaded. Ask it now.
        from vllm.config.attention import AttentionConfig

        try:
            AttentionConfig(backend=backend)
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"attention backend {backend!r} is not valid: {exc}")
    return problems


def check_against_vllm_parser(argv: Sequence[str]) -> argparse.Namespace:
    """Parse `argv` with vLLM's own server parser and its pre-start checks.

    Any complaint becomes a SettingsError, so a bad passthrough flag is reported
    before the model loads rather than after minutes of weight copying.
    """
    from vllm.entrypoints.launchers.cli_args import validate_parsed_serve_args

    fix = "check the option name and value with `vllm serve --help=<option>` (vLLM 0.32)."
    try:
        namespace: Any = _vllm_parser().parse_args(list(argv))
    except _ParserError as exc:
        raise SettingsError([Problem(_culprit(str(exc), argv), f"{exc}.", fix)]) from exc
    except (SystemExit, ValueError, TypeError) as exc:
        # --help / --version exit; FlexibleArgumentParser raises ValueError itself.
        raise SettingsError([Problem("vLLM arguments", f"{exc!r}.", fix)]) from exc
    try:
        validate_parsed_serve_args(namespace)
    except (TypeError, ValueError, KeyError) as exc:
        raise SettingsError([Problem("vLLM arguments", f"{exc}.", fix)]) from exc
    unknown = _registry_problems(namespace)
    if unknown:
        raise SettingsError([Problem("vLLM arguments", f"{p}.", fix) for p in unknown])
    result: argparse.Namespace = namespace
    return result

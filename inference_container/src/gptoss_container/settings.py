"""Typed container settings, read once from environment variables at start.

SageMaker hands configuration to a container only as environment variables
(CreateModel ContainerDefinition.Environment), so `load_settings` takes a plain
mapping and reports every problem in one error (problems.py).

Each setting is declared once, as a field of `ContainerSettings`: its type, bounds and
default, and an `EnvVar` with the variable that sets it, its SM_VLLM_ alias, the default
as documented with its source, and the fix for a bad value. `ENV_VARS`, the check for
unknown GPTOSS_ variables, the SM_VLLM_ aliases (passthrough.py) and the README's
settings table are all read from those fields.

Plain pydantic rather than pydantic-settings: vLLM 0.32.0's requirements/common.txt does not
list pydantic-settings (it reaches our engine lock only through fastapi's `standard` extra),
so the image may lack it; and its alias choices take the first variable set, where two
variables for one setting must be reported as a conflict.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from gptoss_facts.endpoint import CONTAINER_ENV, CONTAINER_PORT, DRAIN_TIMEOUT_S
from gptoss_facts.gpus import GPU_FAMILIES, VLLM_DEFAULT_GPU_MEMORY_UTILIZATION
from gptoss_facts.models import (
    CONTEXT_LENGTH,
    GPT_OSS_120B,
    TENSOR_PARALLEL_SIZES,
    tensor_parallel_sizes,
)

from .gpu import GpuInventory
from .hardware import PROFILE_VARIABLE, TP_VARIABLE, hardware_problems
from .human_int import HumanInt, Positive
from .model_dir import (
    MODEL_VARIABLE,
    SAGEMAKER_MODEL_DIR,
    UNKNOWN_MODEL,
    ModelSource,
    default_served_name,
    resolve_model,
)
from .offline import O200K_FILE, TIKTOKEN_ENV
from .passthrough import EnvValue, PassthroughFlag, flag_dest, read_passthrough
from .problems import Problem, SettingsError, check
from .security import custom_code_problems

PREFIX = "GPTOSS_"
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
_AIWS = "your-algorithms-inference-code"  # the SageMaker developer guide page most cite
_PROFILE_DEFAULT = "the GPU profile's value (GPU profiles below), else vLLM's default"
_TP_SIZES = f"{', '.join(map(str, TENSOR_PARALLEL_SIZES[:-1]))} or {TENSOR_PARALLEL_SIZES[-1]}"


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class EnvVar:
    """How one setting is set and documented; attach it to a ContainerSettings field.

    `default` and `source` are the README's settings table cells (Markdown); `fix` ends a
    problem line ("Fix: <fix>."). `vllm_dest` makes SM_VLLM_<DEST> an alias, and
    `fallback` is read when neither is set.
    """

    name: str
    default: str
    source: str
    fix: str
    vllm_dest: str | None = None
    fallback: str | None = None
    field: str = ""  # filled in from the field it is attached to


class ContainerSettings(BaseModel):
    """Checked settings, one declaration each."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model: Annotated[
        ModelSource,
        EnvVar(
            MODEL_VARIABLE,
            "`/opt/ml/model` when it holds `config.json`",
            f"SageMaker copies S3 model data to `/opt/ml/model` ({_AIWS})",
            "set it to a directory that holds config.json and the safetensors files",
            vllm_dest="model",
        ),
    ]
    # Off: under network isolation the container makes no outbound calls (CreateModel
    # EnableNetworkIsolation, SageMaker API reference).
    allow_hub_download: Annotated[
        bool,
        EnvVar(
            "GPTOSS_ALLOW_HUB_DOWNLOAD",
            "`false`",
            "endpoints with EnableNetworkIsolation cannot reach a hub; weights come from S3",
            "set true or false",
        ),
    ] = False
    served_model_name: Annotated[
        str,
        Field(min_length=1, pattern=r"^\S+$"),
        EnvVar(
            CONTAINER_ENV["served_model_name"],
            "`gpt-oss-120b` / `gpt-oss-20b` from `config.json` (layers and experts), else the "
            "directory or hub name",
            "the OpenAI `model` field clients send",
            "set a name without spaces",
            vllm_dest="served_model_name",
        ),
    ]
    host: Annotated[
        str,
        Field(min_length=1),
        EnvVar(
            "GPTOSS_HOST",
            "`0.0.0.0`",
            f"SageMaker sends `/ping` and `/invocations` to the container ({_AIWS})",
            "set an address to bind, e.g. 0.0.0.0 or 127.0.0.1",
            vllm_dest="host",
        ),
    ] = "0.0.0.0"  # noqa: S104 - SageMaker reaches the container from outside it
    port: Annotated[
        int,
        Field(ge=1, le=65535),
        EnvVar(
            "GPTOSS_PORT",
            f"`SAGEMAKER_BIND_TO_PORT`, else `{CONTAINER_PORT}`",
            f"SageMaker hosting contract: port {CONTAINER_PORT}; inference pipelines pass "
            "`SAGEMAKER_BIND_TO_PORT` (inference-pipeline-real-time)",
            "set a port number between 1 and 65535",
            vllm_dest="port",
            fallback="SAGEMAKER_BIND_TO_PORT",
        ),
    ] = CONTAINER_PORT
    gpu_profile: Annotated[
        str | None,
        BeforeValidator(_lower),
        EnvVar(
            PROFILE_VARIABLE,
            "detected from the GPU name",
            "vLLM gpt-oss recipe per GPU family (GPU profiles below)",
            f"set one of: {', '.join(GPU_FAMILIES)}",
        ),
    ] = None
    tensor_parallel_size: Annotated[
        Positive | None,
        EnvVar(
            TP_VARIABLE,
            f"all visible GPUs, rounded down to {_TP_SIZES}",
            f"gpt-oss has {GPT_OSS_120B.num_attention_heads} attention and "
            f"{GPT_OSS_120B.num_kv_heads} KV heads; the recipe notes TP1 gives the best "
            "throughput per GPU, TP2+ better per-user latency",
            f"set {_TP_SIZES}, at most the number of visible GPUs",
            vllm_dest="tensor_parallel_size",
        ),
    ] = None
    max_model_len: Annotated[
        HumanInt,
        Field(ge=1, le=CONTEXT_LENGTH),
        EnvVar(
            CONTAINER_ENV["max_model_len"],
            f"`{CONTEXT_LENGTH}` (the checkpoint's `max_position_embeddings` if smaller); "
            f"at most {CONTEXT_LENGTH}",
            "gpt-oss context length, model card",
            f"set a token count up to {CONTEXT_LENGTH} (128K = {CONTEXT_LENGTH} also works)",
            vllm_dest="max_model_len",
        ),
    ] = CONTEXT_LENGTH
    max_num_seqs: Annotated[
        Positive | None,
        EnvVar(
            CONTAINER_ENV["max_num_seqs"],
            "vLLM's default",
            "vLLM 0.32 SchedulerConfig",
            "set a positive integer",
            vllm_dest="max_num_seqs",
        ),
    ] = None
    max_num_batched_tokens: Annotated[
        Positive | None,
        EnvVar(
            "GPTOSS_MAX_NUM_BATCHED_TOKENS",
            _PROFILE_DEFAULT,
            "vLLM gpt-oss recipe; one-H100 OOM fix from vllm #23278 / #27508 / #33155",
            "set a positive integer such as 8192 or 8k",
            vllm_dest="max_num_batched_tokens",
        ),
    ] = None
    gpu_memory_utilization: Annotated[
        Annotated[float, Field(gt=0, le=1)] | None,
        EnvVar(
            CONTAINER_ENV["gpu_memory_utilization"],
            f"{_PROFILE_DEFAULT} ({VLLM_DEFAULT_GPU_MEMORY_UTILIZATION:g})",
            "one-H100 OOM fix from vllm #23278 / #27508 / #33155; vLLM 0.32 CacheConfig",
            "set a fraction in (0, 1], e.g. 0.9",
            vllm_dest="gpu_memory_utilization",
        ),
    ] = None
    kv_cache_memory_bytes: Annotated[
        Positive | None,
        EnvVar(
            "GPTOSS_KV_CACHE_MEMORY_BYTES",
            "the GPU profile's value (GPU profiles below), else sized by vLLM from memory "
            "utilization",
            "vLLM CacheConfig.kv_cache_memory_bytes",
            "set bytes, e.g. 1073741824 or 1G",
            vllm_dest="kv_cache_memory_bytes",
        ),
    ] = None
    enable_tool_calling: Annotated[
        bool,
        EnvVar(
            "GPTOSS_ENABLE_TOOL_CALLING",
            "`true`",
            "vLLM gpt-oss recipe: `--tool-call-parser openai --enable-auto-tool-choice`",
            "set true or false",
        ),
    ] = True
    # model-hosting-container-standards would run code and pip installs from the model
    # directory (security.py).
    allow_custom_code: Annotated[
        bool,
        EnvVar(
            "GPTOSS_ALLOW_CUSTOM_CODE",
            "`false`",
            "model-hosting-container-standards would import code from the model directory",
            "set true only for model artifacts you trust",
        ),
    ] = False
    allow_requirements_install: Annotated[
        bool,
        EnvVar(
            "GPTOSS_ALLOW_REQUIREMENTS_INSTALL",
            "`false`",
            "model-hosting-container-standards would pip-install `<model dir>/requirements.txt`",
            "set true only for model artifacts you trust, and with network access",
        ),
    ] = False
    drain_timeout_s: Annotated[
        float,
        Field(ge=0, le=3600),
        EnvVar(
            "GPTOSS_DRAIN_TIMEOUT_SECONDS",
            f"`{DRAIN_TIMEOUT_S:g}` (0 to 3600)",
            f"SageMaker sends SIGKILL 30 s after SIGTERM ({_AIWS}); 5 s are left to stop "
            "the engine",
            "set seconds between 0 and 3600; above 30 only helps outside SageMaker",
        ),
    ] = DRAIN_TIMEOUT_S
    reasoning_content: Annotated[
        bool,
        EnvVar(
            "GPTOSS_REASONING_CONTENT",
            "`true`: chat messages and streamed deltas carry the reasoning as `reasoning` "
            "and as `reasoning_content`",
            "vLLM 0.32 names it `reasoning` (`chat_completion/protocol.py`); clients of vLLM "
            "< 0.10 and DeepSeek-style APIs, such as Strands Agents' SageMaker provider, "
            "read only `reasoning_content`",
            "set true to send the reasoning under both names, false for reasoning only",
        ),
    ] = True
    # offline.harmony_vocab_problems checks the file (and its hash); only carried here.
    tiktoken_encodings_base: Annotated[
        str | None,
        EnvVar(
            TIKTOKEN_ENV,
            "unset: the copy built into oss-harmony 0.0.11",
            f"oss-harmony reads `{O200K_FILE}` from there when set (vllm #22525)",
            f"set a directory that holds {O200K_FILE}",
        ),
    ] = None
    log_level: Annotated[
        LogLevel,
        BeforeValidator(_lower),
        EnvVar(
            "GPTOSS_LOG_LEVEL",
            "`info`",
            "vLLM and uvicorn default; also sets `VLLM_LOGGING_LEVEL` and `--uvicorn-log-level`",
            "set one of debug, info, warning, error, critical",
        ),
    ] = "info"
    passthrough: tuple[PassthroughFlag, ...] = ()

    @property
    def model_dir(self) -> Path | None:
        """The local model directory; None when vLLM downloads from a hub."""
        return Path(self.model.path) if self.model.is_local else None


def _declared() -> tuple[EnvVar, ...]:
    return tuple(
        replace(meta, field=name)
        for name, info in ContainerSettings.model_fields.items()
        for meta in info.metadata
        if isinstance(meta, EnvVar)
    )


ENV_VARS: tuple[EnvVar, ...] = _declared()
_BY_FIELD = {v.field: v for v in ENV_VARS}
_BY_DEST = {v.vllm_dest: v.field for v in ENV_VARS if v.vllm_dest}
# Resolved from the model, not parsed as a value.
_NOT_PARSED = ("model",)


def env_name(field_name: str) -> str:
    """The variable that sets a field, for code that reads it again in vLLM's process."""
    return _BY_FIELD[field_name].name


def settings_table() -> str:
    """The README's settings table, from the declarations."""
    rows = ["| Variable | Default | Source of the default |", "|---|---|---|"]
    rows += [f"| `{v.name}` | {v.default} | {v.source} |" for v in ENV_VARS]
    return "\n".join(rows)


@cache
def _adapter(field_name: str) -> TypeAdapter[Any]:
    info = ContainerSettings.model_fields[field_name]
    annotation: Any = info.annotation
    metadata = [m for m in info.metadata if not isinstance(m, EnvVar)]
    if metadata:
        # Field constraints live in `metadata`; re-attach them to validate one field alone.
        annotation = Annotated.__class_getitem__((annotation, *metadata))  # type: ignore[attr-defined]
    return TypeAdapter(annotation)


def _parse(field_name: str, raw: EnvValue, problems: list[Problem]) -> tuple[bool, Any]:
    try:
        return True, _adapter(field_name).validate_python(raw.value)
    except ValidationError as exc:
        reason = "; ".join(err["msg"] for err in exc.errors())
        fix = _BY_FIELD[field_name].fix
        problems.append(Problem(raw.variable, f"{raw.value!r} is not valid ({reason}).", f"{fix}."))
        return False, None


def _collect_raw(
    environ: Mapping[str, str], problems: list[Problem], extra_variables: Collection[str]
) -> tuple[dict[str, EnvValue], list[PassthroughFlag]]:
    """Raw values by field (GPTOSS_ variable, SM_VLLM_ alias or fallback) and the
    remaining passthrough flags."""
    known = {v.name for v in ENV_VARS} | set(extra_variables)
    for name in sorted(environ):
        if name.startswith(PREFIX) and name not in known:
            problems.append(
                Problem(
                    name,
                    "is not a setting of this container.",
                    f"remove it, or use one of {', '.join(sorted(known))}.",
                )
            )
    raw = {v.field: EnvValue(v.name, environ[v.name]) for v in ENV_VARS if v.name in environ}
    passthrough = read_passthrough(environ, _BY_DEST, raw, problems)
    for spec in ENV_VARS:
        if spec.fallback and spec.field not in raw and environ.get(spec.fallback):
            raw[spec.field] = EnvValue(spec.fallback, environ[spec.fallback])
    return raw, passthrough


def _parse_all(raw: Mapping[str, EnvValue], problems: list[Problem]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field_name, item in raw.items():
        if field_name in _NOT_PARSED:
            continue
        ok, value = _parse(field_name, item, problems)
        if ok:
            values[field_name] = value
    profile = values.get("gpu_profile")
    if profile is not None and profile not in GPU_FAMILIES:
        del values["gpu_profile"]
        problems.append(
            Problem(
                raw["gpu_profile"].variable,
                f"{profile!r} is not a known profile.",
                _BY_FIELD["gpu_profile"].fix + ".",
            )
        )
    return values


def _model_checks(
    values: dict[str, Any], raw: Mapping[str, EnvValue], model: ModelSource, problems: list[Problem]
) -> None:
    """The tensor-parallel size and context length against the model's geometry; fills in
    the context length when it is not set."""
    allowed_tp = tensor_parallel_sizes(model.num_key_value_heads, model.num_attention_heads)
    tp = values.get("tensor_parallel_size")
    if tp is not None:
        check(
            tp in allowed_tp,
            problems,
            raw["tensor_parallel_size"].variable,
            f"{tp} does not split {model.num_attention_heads} attention heads and "
            f"{model.num_key_value_heads} KV heads evenly.",
            f"set one of {', '.join(map(str, allowed_tp))}.",
        )
    limit = min(CONTEXT_LENGTH, model.max_position_embeddings)
    if "max_model_len" in raw and values.get("max_model_len") is not None:
        check(
            values["max_model_len"] <= limit,
            problems,
            raw["max_model_len"].variable,
            f"{values['max_model_len']} exceeds the model's context of {limit} tokens.",
            f"set {limit} or less.",
        )
    elif "max_model_len" not in raw:
        values["max_model_len"] = limit


def _build(model: ModelSource, values: dict[str, Any]) -> ContainerSettings:
    try:
        return ContainerSettings(model=model, **values)
    except ValidationError as exc:  # only derived values can still fail here
        raise SettingsError(
            [
                Problem(
                    _BY_FIELD[str(err["loc"][0])].name,
                    f"derived value is not valid ({err['msg']}).",
                    _BY_FIELD[str(err["loc"][0])].fix + ".",
                )
                for err in exc.errors()
            ]
        ) from exc


def load_settings(
    environ: Mapping[str, str],
    *,
    gpus: GpuInventory | None = None,
    sagemaker_model_dir: Path = SAGEMAKER_MODEL_DIR,
    extra_variables: Collection[str] = (),
) -> ContainerSettings:
    """Read and check every setting; raise SettingsError naming all problems.

    Pass `gpus` (from gpu.detect_gpus) to include the hardware checks in the same
    error; otherwise `vllm_args.build_vllm_args` runs them. GPTOSS_ variables that
    are neither ours nor in `extra_variables` are reported, since a typo would
    otherwise silently leave a default in place.
    """
    problems: list[Problem] = []
    raw, passthrough = _collect_raw(environ, problems, extra_variables)
    values = _parse_all(raw, problems)
    problems += custom_code_problems(
        environ, passthrough, bool(values.get("allow_custom_code", False))
    )
    model = resolve_model(
        raw.get("model"), bool(values.get("allow_hub_download")), sagemaker_model_dir, problems
    )
    # Without a readable model, check against gpt-oss geometry so no problem waits
    # for the next attempt.
    _model_checks(values, raw, model or UNKNOWN_MODEL, problems)
    if model is not None:
        values.setdefault("served_model_name", default_served_name(model))
        if gpus is not None:
            tp = raw.get("tensor_parallel_size")
            problems += hardware_problems(
                model,
                values.get("gpu_profile"),
                values.get("tensor_parallel_size"),
                gpus,
                tp.variable if tp else TP_VARIABLE,
            )[1]
    if problems or model is None:
        raise SettingsError(problems)
    return _build(model, {**values, "passthrough": tuple(passthrough)})


__all__ = [
    "ENV_VARS",
    "ContainerSettings",
    "EnvVar",
    "PassthroughFlag",
    "Problem",
    "SettingsError",
    "env_name",
    "flag_dest",
    "load_settings",
    "settings_table",
]

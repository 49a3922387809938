"""Typed container settings, read once from environment variables at start.

SageMaker hands configuration to a container only as environment variables
(CreateModel ContainerDefinition.Environment), so `load_settings` takes a plain
mapping and reports every problem in one error: an endpoint that fails to start
costs many minutes, and one fix per attempt would cost hours.

Passthrough rule for `SM_VLLM_<NAME>` variables (the AWS vLLM container's convention):
- `SM_VLLM_<NAME>=true` gives `--<name>`, `=false` drops it, any other value is
  passed as the flag's value (an empty value gives the bare flag, as in the AWS script).
- If the flag is one this module types (model, served-model-name, host, port,
  tensor-parallel-size, max-model-len, max-num-seqs, max-num-batched-tokens,
  gpu-memory-utilization, kv-cache-memory-bytes), the variable is an alias of the
  GPTOSS_ variable and goes through the same checks; setting both is an error.
- Flags the container must own (--middleware, --uds, --config, --headless, --grpc)
  are refused, and --trust-remote-code is refused unless custom code is allowed.
- Any other passthrough flag wins over the GPU profile's flag for the same vLLM
  option (`--no-x` counts as option `x`); vLLM's own parser checks it at start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from .gpu import (
    PROFILES,
    GpuInventory,
    GpuProfile,
    ModelVariant,
    allowed_tensor_parallel,
    default_tensor_parallel,
    match_profile,
    min_memory_mib,
)

PREFIX = "GPTOSS_"
PASSTHROUGH_PREFIX = "SM_VLLM_"
# SageMaker copies the model's S3 data here (ModelDataSource S3DataSource, S3Prefix,
# CompressionType None; "How SageMaker Loads Your Model Artifacts" in
# docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
SAGEMAKER_MODEL_DIR = Path("/opt/ml/model")
# max_position_embeddings in config.json of openai/gpt-oss-120b and -20b (docs/sources.md).
GPT_OSS_CONTEXT = 131_072
# SageMaker sends SIGKILL 30 s after SIGTERM ("How SageMaker Runs Your Inference
# Image", same doc); draining for 25 s leaves 5 s to stop the engine cleanly.
DEFAULT_DRAIN_S = 25.0
# Harmony (oss-harmony) reads this vocabulary from TIKTOKEN_ENCODINGS_BASE (vllm #22525).
HARMONY_VOCAB_FILE = "o200k_base.tiktoken"
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


class Problem(NamedTuple):
    variable: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message} Fix: {self.fix}"


class SettingsError(ValueError):
    """Every problem found in the settings, each with its fix.

    `problems` holds one line per problem (other modules may add plain strings);
    `details` keeps the structured ones.
    """

    def __init__(self, problems: Sequence[Problem | str]) -> None:
        self.problems = tuple(str(p) for p in problems)
        self.details = tuple(p for p in problems if isinstance(p, Problem))
        noun = "problem" if len(self.problems) == 1 else "problems"
        lines = [f"{len(self.problems)} {noun} in the container settings:"]
        super().__init__("\n".join(lines + [f"  - {p}" for p in self.problems]))


def human_int(value: object) -> object:
    """Integers as vLLM's CLI reads them: 1k = 1000, 1K = 1024 (human_readable_int)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kmgtKMGT])", text)
    if not match:
        return text  # pydantic reports it as not an integer
    number, suffix = match.groups()
    if suffix.islower():
        return int(float(number) * 1000 ** ("kmgt".index(suffix) + 1))
    if "." in number:
        raise ValueError(f"decimals are not allowed with binary suffix {suffix}")
    return int(number) * 1024 ** ("KMGT".index(suffix) + 1)


HumanInt = Annotated[int, BeforeValidator(human_int)]
Positive = Annotated[HumanInt, Field(ge=1)]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class ModelSource(BaseModel):
    """What vLLM loads, and the geometry the checks need."""

    model_config = ConfigDict(frozen=True)

    path: str  # a local directory, or a hub id when downloads are allowed
    is_local: bool
    variant: ModelVariant
    num_attention_heads: int = 64  # gpt-oss-120b and -20b config.json
    num_key_value_heads: int = 8
    max_position_embeddings: int = GPT_OSS_CONTEXT


class PassthroughFlag(NamedTuple):
    variable: str
    dest: str
    argv: tuple[str, ...]


class ContainerSettings(BaseModel):
    """Checked settings. Each default's source is also in ENV_VARS and the README."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model: ModelSource
    served_model_name: Annotated[str, Field(min_length=1, pattern=r"^\S+$")]
    # SageMaker hosting contract: the container answers on 0.0.0.0:8080 ("Use your own
    # inference code with hosting services", docs.aws.amazon.com/sagemaker/latest/dg/
    # your-algorithms-inference-code.html); SAGEMAKER_BIND_TO_PORT overrides the port.
    host: Annotated[str, Field(min_length=1)] = "0.0.0.0"  # noqa: S104 (the contract)
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    gpu_profile: Annotated[str | None, BeforeValidator(_lower)] = None  # None: detect
    tensor_parallel_size: Positive | None = None  # None: visible GPUs (gpu.py)
    # gpt-oss context length (model card, config.json max_position_embeddings).
    max_model_len: Annotated[HumanInt, Field(ge=1, le=GPT_OSS_CONTEXT)] = GPT_OSS_CONTEXT
    # None: the GPU profile's value (vLLM recipe, OOM issues), else vLLM's own default.
    max_num_seqs: Positive | None = None
    max_num_batched_tokens: Positive | None = None
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] | None = None
    kv_cache_memory_bytes: Positive | None = None
    enable_tool_calling: bool = True  # vLLM gpt-oss recipe turns tool calling on
    # Off: under network isolation the container makes no outbound calls (CreateModel
    # EnableNetworkIsolation, SageMaker API reference); model-hosting-container-standards would run
    # code and pip installs from the model directory (security.py).
    allow_hub_download: bool = False
    allow_custom_code: bool = False
    allow_requirements_install: bool = False
    drain_timeout_s: Annotated[float, Field(ge=0, le=3600)] = DEFAULT_DRAIN_S
    # Clients written for vLLM < 0.10 and DeepSeek-style APIs read only reasoning_content.
    reasoning_content: bool = True
    tiktoken_encodings_base: str | None = None  # None: oss-harmony's built-in copy
    log_level: Annotated[LogLevel, BeforeValidator(_lower)] = "info"  # vLLM's default
    passthrough: tuple[PassthroughFlag, ...] = ()

    @property
    def model_dir(self) -> Path | None:
        """The local model directory; None when vLLM downloads from a hub."""
        return Path(self.model.path) if self.model.is_local else None


@dataclass(frozen=True)
class EnvVar:
    """One documented variable. `vllm_dest` makes SM_VLLM_<DEST> an alias of it."""

    name: str
    field: str
    default: str
    source: str
    fix: str
    vllm_dest: str | None = None


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(
        "GPTOSS_MODEL_PATH",
        "model",
        "/opt/ml/model when it holds config.json",
        "SageMaker copies S3 model data to /opt/ml/model (your-algorithms-inference-code)",
        "set it to a directory that holds config.json and the safetensors files",
        "model",
    ),
    EnvVar(
        "GPTOSS_ALLOW_HUB_DOWNLOAD",
        "allow_hub_download",
        "false",
        "endpoints with EnableNetworkIsolation cannot reach a hub; weights come from S3",
        "set true or false",
    ),
    EnvVar(
        "GPTOSS_SERVED_MODEL_NAME",
        "served_model_name",
        "gpt-oss-120b / gpt-oss-20b from config.json, else the directory or hub name",
        "the OpenAI `model` field clients send",
        "set a name without spaces",
        "served_model_name",
    ),
    EnvVar(
        "GPTOSS_HOST",
        "host",
        "0.0.0.0",  # noqa: S104 - SageMaker reaches the container from outside it
        "SageMaker sends /ping and /invocations to the container (your-algorithms-inference-code)",
        "set an address to bind, e.g. 0.0.0.0 or 127.0.0.1",
        "host",
    ),
    EnvVar(
        "GPTOSS_PORT",
        "port",
        "SAGEMAKER_BIND_TO_PORT, else 8080",
        "SageMaker hosting contract: port 8080; inference pipelines pass "
        "SAGEMAKER_BIND_TO_PORT (inference-pipeline-real-time)",
        "set a port number between 1 and 65535",
        "port",
    ),
    EnvVar(
        "GPTOSS_GPU_PROFILE",
        "gpu_profile",
        "detected from the GPU name",
        "vLLM gpt-oss recipe per GPU family",
        f"set one of: {', '.join(PROFILES)}",
    ),
    EnvVar(
        "GPTOSS_TENSOR_PARALLEL_SIZE",
        "tensor_parallel_size",
        "all visible GPUs, rounded down to 1, 2, 4 or 8",
        "gpt-oss has 64 attention / 8 KV heads; the recipe's TP1 has the best throughput per GPU",
        "set 1, 2, 4 or 8, at most the number of visible GPUs",
        "tensor_parallel_size",
    ),
    EnvVar(
        "GPTOSS_MAX_MODEL_LEN",
        "max_model_len",
        "131072 (or the checkpoint's max_position_embeddings if smaller)",
        "gpt-oss context length, model card",
        f"set a token count up to {GPT_OSS_CONTEXT} (128K = 131072 also works)",
        "max_model_len",
    ),
    EnvVar(
        "GPTOSS_MAX_NUM_SEQS",
        "max_num_seqs",
        "vLLM's default",
        "vLLM 0.32 SchedulerConfig",
        "set a positive integer",
        "max_num_seqs",
    ),
    EnvVar(
        "GPTOSS_MAX_NUM_BATCHED_TOKENS",
        "max_num_batched_tokens",
        "8192 on H100/H200 (1024 for the 120b on one H100), else vLLM's default",
        "vLLM gpt-oss recipe; one-H100 OOM fix from vllm #23278/#27508/#33155",
        "set a positive integer such as 8192 or 8k",
        "max_num_batched_tokens",
    ),
    EnvVar(
        "GPTOSS_GPU_MEMORY_UTILIZATION",
        "gpu_memory_utilization",
        "0.95 for the 120b on one H100, else vLLM's default (0.92)",
        "vllm #23278/#27508/#33155",
        "set a fraction in (0, 1], e.g. 0.9",
        "gpu_memory_utilization",
    ),
    EnvVar(
        "GPTOSS_KV_CACHE_MEMORY_BYTES",
        "kv_cache_memory_bytes",
        "1G (1 GiB) on the cpu profile, else sized by vLLM from memory utilization",
        "vLLM CacheConfig.kv_cache_memory_bytes",
        "set bytes, e.g. 1073741824 or 1G",
        "kv_cache_memory_bytes",
    ),
    EnvVar(
        "GPTOSS_ENABLE_TOOL_CALLING",
        "enable_tool_calling",
        "true",
        "vLLM gpt-oss recipe: --tool-call-parser openai --enable-auto-tool-choice",
        "set true or false",
    ),
    EnvVar(
        "GPTOSS_ALLOW_CUSTOM_CODE",
        "allow_custom_code",
        "false",
        "model-hosting-container-standards would import code from the model directory",
        "set true only for model artifacts you trust",
    ),
    EnvVar(
        "GPTOSS_ALLOW_REQUIREMENTS_INSTALL",
        "allow_requirements_install",
        "false",
        "model-hosting-container-standards would pip-install <model dir>/requirements.txt",
        "set true only for model artifacts you trust, and with network access",
    ),
    EnvVar(
        "GPTOSS_DRAIN_TIMEOUT_SECONDS",
        "drain_timeout_s",
        f"{DEFAULT_DRAIN_S:g}",
        "SageMaker sends SIGKILL 30 s after SIGTERM (your-algorithms-inference-code)",
        "set seconds between 0 and 3600; above 30 only helps outside SageMaker",
    ),
    EnvVar(
        "GPTOSS_REASONING_CONTENT",
        "reasoning_content",
        "true",
        "vLLM 0.32 names the field reasoning (chat_completion/protocol.py); Strands Agents "
        "and clients of vLLM < 0.10 read reasoning_content",
        "set true to send the reasoning under both names, false for reasoning only",
    ),
    EnvVar(
        "TIKTOKEN_ENCODINGS_BASE",
        "tiktoken_encodings_base",
        "unset: the copy built into oss-harmony 0.0.11",
        "oss-harmony reads o200k_base.tiktoken from here when set (vllm #22525); "
        "offline.py checks the file",
        f"set a directory that holds {HARMONY_VOCAB_FILE}",
    ),
    EnvVar(
        "GPTOSS_LOG_LEVEL",
        "log_level",
        "info",
        "vLLM and uvicorn default",
        "set one of debug, info, warning, error, critical",
    ),
)
_BY_FIELD = {v.field: v for v in ENV_VARS}
_BY_DEST = {v.vllm_dest: v for v in ENV_VARS if v.vllm_dest}


def flag_dest(option: str) -> str:
    """argparse destination of a vLLM long option: `--no-enable-x` -> `enable_x`."""
    name = option.removeprefix("--").replace("-", "_").lower()
    name = name.removeprefix("no_")
    return _DEST_ALIASES.get(name, name)


@cache
def _adapter(field_name: str) -> TypeAdapter[Any]:
    info = ContainerSettings.model_fields[field_name]
    annotation: Any = info.annotation
    if info.metadata:
        # Field constraints live in `metadata`; re-attach them to validate one field alone.
        annotation = Annotated.__class_getitem__((annotation, *info.metadata))  # type: ignore[attr-defined]
    return TypeAdapter(annotation)


def _validate_field(field_name: str, variable: str, raw: str) -> tuple[Any, Problem | None]:
    try:
        return _adapter(field_name).validate_python(raw), None
    except ValidationError as exc:
        reason = "; ".join(err["msg"] for err in exc.errors())
        fix = _BY_FIELD[field_name].fix
        return None, Problem(variable, f"{raw!r} is not valid ({reason}).", f"{fix}.")


def _passthrough_argv(variable: str, raw: str) -> tuple[str, ...]:
    option = "--" + variable.removeprefix(PASSTHROUGH_PREFIX).lower().replace("_", "-")
    value = raw.strip()
    if value.lower() == "false":
        return ()
    if value.lower() == "true" or value == "":
        return (option,)
    return (option, raw)


class _Raw(NamedTuple):
    variable: str
    value: str


def _collect_raw(
    environ: Mapping[str, str], problems: list[Problem], extra_variables: Collection[str]
) -> tuple[dict[str, _Raw], list[PassthroughFlag]]:
    """Typed values by field (GPTOSS_ or SM_VLLM_ alias) and the remaining passthrough."""
    raw: dict[str, _Raw] = {}
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
    for spec in ENV_VARS:
        if spec.name in environ:
            raw[spec.field] = _Raw(spec.name, environ[spec.name])

    passthrough: list[PassthroughFlag] = []
    for name in sorted(environ):
        if not name.startswith(PASSTHROUGH_PREFIX) or name == PASSTHROUGH_PREFIX:
            continue
        dest = flag_dest(name.removeprefix(PASSTHROUGH_PREFIX))
        if dest in RESERVED_DESTS:
            problems.append(
                Problem(
                    name,
                    f"cannot be passed through: {RESERVED_DESTS[dest]}.",
                    "remove it.",
                )
            )
        elif dest in _BY_DEST:
            spec = _BY_DEST[dest]
            if spec.field in raw:
                problems.append(
                    Problem(
                        name,
                        f"sets the same vLLM option as {raw[spec.field].variable}.",
                        f"keep one of {name} and {raw[spec.field].variable}.",
                    )
                )
            else:
                raw[spec.field] = _Raw(name, environ[name])
        else:
            # Kept even when "false" empties it: it still replaces the profile's flag.
            passthrough.append(PassthroughFlag(name, dest, _passthrough_argv(name, environ[name])))
    return raw, passthrough


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_STAGE_FIX = (
    "stage the weights in S3 (an S3 prefix ending in '/', CompressionType None) and set "
    "the Model's ModelDataSource so SageMaker copies them to /opt/ml/model, or set "
    "GPTOSS_MODEL_PATH to a local directory"
)


def _variant_of(config: Mapping[str, Any]) -> ModelVariant:
    shape = (config.get("num_hidden_layers"), config.get("num_local_experts"))
    # config.json of openai/gpt-oss-120b (36 layers, 128 experts) and -20b (24, 32).
    if shape == (36, 128):
        return "gpt-oss-120b"
    if shape == (24, 32):
        return "gpt-oss-20b"
    return "other"


def _read_model_dir(path: Path, variable: str, problems: list[Problem]) -> ModelSource | None:
    config_file = path / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except FileNotFoundError:
        nested = sorted(p.parent for p in path.glob("*/config.json"))
        hint = f" (found {nested[0]}: set GPTOSS_MODEL_PATH={nested[0]})" if nested else ""
        problems.append(Problem(variable, f"{path} has no config.json{hint}.", _STAGE_FIX + "."))
        return None
    except (OSError, ValueError) as exc:
        problems.append(
            Problem(variable, f"cannot read {config_file}: {exc}.", "copy it again from S3.")
        )
        return None
    if config.get("model_type") != "gpt_oss":
        problems.append(
            Problem(
                variable,
                f"{config_file} has model_type {config.get('model_type')!r}; this "
                "container serves gpt-oss (model_type 'gpt_oss').",
                "point it at a gpt-oss checkpoint.",
            )
        )
        return None
    return ModelSource(
        path=str(path),
        is_local=True,
        variant=_variant_of(config),
        num_attention_heads=int(config.get("num_attention_heads", 64)),
        num_key_value_heads=int(config.get("num_key_value_heads", 8)),
        max_position_embeddings=int(config.get("max_position_embeddings", GPT_OSS_CONTEXT)),
    )


def _resolve_model(
    raw: _Raw | None, allow_hub: bool, sagemaker_dir: Path, problems: list[Problem]
) -> ModelSource | None:
    if raw is None:
        return _read_model_dir(sagemaker_dir, "GPTOSS_MODEL_PATH (unset)", problems)
    value = raw.value.strip()
    path = Path(value)
    if path.is_dir():
        return _read_model_dir(path, raw.variable, problems)
    if _HUB_ID.match(value) and not value.startswith("."):
        if not allow_hub:
            problems.append(
                Problem(
                    raw.variable,
                    f"{value!r} is not a local directory but a model hub id, and hub "
                    "downloads are off: SageMaker endpoints with network isolation cannot "
                    "download, and each start would fetch ~61 GiB.",
                    _STAGE_FIX + "; or set GPTOSS_ALLOW_HUB_DOWNLOAD=true where the "
                    "endpoint has internet access.",
                )
            )
            return None
        variant: ModelVariant = (
            "gpt-oss-120b" if "120b" in value else "gpt-oss-20b" if "20b" in value else "other"
        )
        return ModelSource(path=value, is_local=False, variant=variant)
    problems.append(
        Problem(raw.variable, f"{value!r} is not a directory.", "set an existing directory.")
    )
    return None


def _default_served_name(model: ModelSource) -> str:
    if model.variant != "other":
        return model.variant
    return Path(model.path.rstrip("/")).name or "gpt-oss"


def _custom_code_problems(environ: Mapping[str, str], allowed: bool) -> list[Problem]:
    if allowed:
        return []
    return [
        Problem(
            name,
            "names custom code to import, and custom code is not allowed.",
            "unset it, or set GPTOSS_ALLOW_CUSTOM_CODE=true if you trust that code.",
        )
        for name in CUSTOM_CODE_VARIABLES
        if environ.get(name, "").strip()
    ]


def _check(condition: bool, problems: list[Problem], variable: str, message: str, fix: str) -> None:
    if not condition:
        problems.append(Problem(variable, message, fix))


def _cross_checks(
    values: dict[str, Any], raw: dict[str, _Raw], model: ModelSource, problems: list[Problem]
) -> None:
    allowed_tp = allowed_tensor_parallel(model.num_key_value_heads, model.num_attention_heads)
    tp = values.get("tensor_parallel_size")
    if tp is not None:
        _check(
            tp in allowed_tp,
            problems,
            raw["tensor_parallel_size"].variable,
            f"{tp} does not split {model.num_attention_heads} attention heads and "
            f"{model.num_key_value_heads} KV heads evenly.",
            f"set one of {', '.join(map(str, allowed_tp))}.",
        )
    limit = min(GPT_OSS_CONTEXT, model.max_position_embeddings)
    if "max_model_len" in raw and values.get("max_model_len") is not None:
        _check(
            values["max_model_len"] <= limit,
            problems,
            raw["max_model_len"].variable,
            f"{values['max_model_len']} exceeds the model's context of {limit} tokens.",
            f"set {limit} or less.",
        )
    elif "max_model_len" not in raw:
        values["max_model_len"] = limit


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

    values: dict[str, Any] = {}
    for field_name, item in raw.items():
        if field_name in ("model", "tiktoken_encodings_base"):
            continue
        value, problem = _validate_field(field_name, item.variable, item.value)
        if problem:
            problems.append(problem)
        else:
            values[field_name] = value
    if "port" not in raw and environ.get("SAGEMAKER_BIND_TO_PORT"):
        port, problem = _validate_field(
            "port", "SAGEMAKER_BIND_TO_PORT", environ["SAGEMAKER_BIND_TO_PORT"]
        )
        if problem:
            problems.append(problem)
        else:
            values["port"] = port

    allow_custom = bool(values.get("allow_custom_code", False))
    problems += _custom_code_problems(environ, allow_custom)
    if not allow_custom:
        problems += [
            Problem(
                flag.variable,
                "lets vLLM run Python code shipped with the model.",
                "unset it, or set GPTOSS_ALLOW_CUSTOM_CODE=true if you trust that code.",
            )
            for flag in passthrough
            if flag.argv[:1] == ("--trust-remote-code",)
        ]
    if values.get("gpu_profile") is not None and values["gpu_profile"] not in PROFILES:
        problems.append(
            Problem(
                raw["gpu_profile"].variable,
                f"{values.pop('gpu_profile')!r} is not a known profile.",
                _BY_FIELD["gpu_profile"].fix + ".",
            )
        )

    model = _resolve_model(
        raw.get("model"), bool(values.get("allow_hub_download")), sagemaker_model_dir, problems
    )
    # offline.harmony_vocab_problems checks the file (and its hash); only carry it here.
    tiktoken = raw["tiktoken_encodings_base"].value if "tiktoken_encodings_base" in raw else None
    # Without a readable model, check against gpt-oss geometry so no problem waits
    # for the next attempt.
    _cross_checks(
        values, raw, model or ModelSource(path="", is_local=False, variant="other"), problems
    )
    if model is not None:
        values.setdefault("served_model_name", _default_served_name(model))
        if gpus is not None:
            problems += _resolve_hardware(
                model, values.get("gpu_profile"), values.get("tensor_parallel_size"), gpus, raw
            )[1]
    if problems or model is None:
        raise SettingsError(problems)
    try:
        return ContainerSettings(
            model=model, tiktoken_encodings_base=tiktoken, passthrough=tuple(passthrough), **values
        )
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


class Hardware(NamedTuple):
    profile: GpuProfile
    tensor_parallel_size: int


def _pick_profile(override: str | None, gpus: GpuInventory) -> tuple[GpuProfile | None, str]:
    if override:
        return PROFILES.get(override), "GPTOSS_GPU_PROFILE"
    if gpus.name is None:
        return None, "GPTOSS_GPU_PROFILE (unset)"
    return match_profile(gpus.name) or PROFILES["generic"], "GPTOSS_GPU_PROFILE (detected)"


def _variable(raw: Mapping[str, _Raw] | None, field_name: str, default: str) -> str:
    return raw[field_name].variable if raw and field_name in raw else default


def resolve_hardware(settings: ContainerSettings, gpus: GpuInventory) -> Hardware:
    """The profile and tensor-parallel size for these GPUs, or SettingsError."""
    hardware, problems = _resolve_hardware(
        settings.model, settings.gpu_profile, settings.tensor_parallel_size, gpus, None
    )
    if problems or hardware is None:
        raise SettingsError(problems)
    return hardware


def _resolve_hardware(
    model: ModelSource,
    profile_override: str | None,
    tensor_parallel_size: int | None,
    gpus: GpuInventory,
    raw: Mapping[str, _Raw] | None,
) -> tuple[Hardware | None, list[Problem]]:
    problems: list[Problem] = []
    profile, profile_var = _pick_profile(profile_override, gpus)
    if profile is None:
        problems.append(
            Problem(
                profile_var,
                f"no GPU profile applies: found {gpus.describe()}.",
                "run on a GPU instance (e.g. ml.p5.4xlarge for the 120b, ml.g6e.xlarge for "
                "the 20b), or set GPTOSS_GPU_PROFILE=cpu for CPU tests with a tiny model.",
            )
        )
        return None, problems
    tp_var = _variable(raw, "tensor_parallel_size", "GPTOSS_TENSOR_PARALLEL_SIZE")
    allowed = allowed_tensor_parallel(model.num_key_value_heads, model.num_attention_heads)
    if profile.name == "cpu":
        tp = tensor_parallel_size or 1
        _check(tp == 1, problems, tp_var, f"{tp} needs GPUs.", "set 1 on the cpu profile.")
    else:
        tp = tensor_parallel_size or default_tensor_parallel(gpus.count, allowed)
        _check(
            gpus.count >= 1,
            problems,
            profile_var,
            f"profile {profile.name!r} needs an NVIDIA GPU; found {gpus.describe()}.",
            "run on a GPU instance, or set GPTOSS_GPU_PROFILE=cpu for CPU tests.",
        )
        if gpus.count >= 1:
            _check(
                tp <= gpus.count,
                problems,
                tp_var,
                f"{tp} is more than the {gpus.count} visible GPU(s).",
                f"set at most {gpus.count}, or give the endpoint more GPUs.",
            )
    problems += _fit_problems(model, profile, profile_var, tp, gpus)
    return Hardware(profile, tp), problems


def _fit_problems(
    model: ModelSource, profile: GpuProfile, profile_var: str, tp: int, gpus: GpuInventory
) -> list[Problem]:
    problems: list[Problem] = []
    model_var = "GPTOSS_MODEL_PATH"
    if model.variant == "gpt-oss-120b" and not profile.serves_120b:
        problems.append(
            Problem(
                profile_var,
                f"gpt-oss-120b (about 65 GiB of weights) does not run on the "
                f"{profile.name!r} profile ({profile.title}).",
                "serve gpt-oss-20b on this instance, or use an 80 GB GPU instance: "
                "ml.p5.4xlarge (1x H100) or ml.p4de.24xlarge (A100 80 GB).",
            )
        )
        return problems
    if profile.name == "cpu" or not gpus.count or model.variant == "other":
        return problems
    need = min_memory_mib(model.variant)
    have = gpus.memory_mib * tp
    _check(
        have >= need,
        problems,
        model_var,
        f"{model.variant} needs about {need // 1024} GiB of GPU memory; tensor parallel "
        f"{tp} on {gpus.describe()} gives {have // 1024} GiB.",
        "raise GPTOSS_TENSOR_PARALLEL_SIZE, or use a GPU instance with more memory.",
    )
    return problems


def profile_defaults(
    profile: GpuProfile, model: ModelSource, tp: int
) -> tuple[int | None, float | None]:
    """(max_num_batched_tokens, gpu_memory_utilization) the profile suggests."""
    if profile.single_gpu_120b and tp == 1 and model.variant == "gpt-oss-120b":
        return profile.single_gpu_120b
    return profile.max_num_batched_tokens, profile.gpu_memory_utilization


__all__ = [
    "ENV_VARS",
    "ContainerSettings",
    "EnvVar",
    "Hardware",
    "ModelSource",
    "PassthroughFlag",
    "Problem",
    "SettingsError",
    "flag_dest",
    "load_settings",
    "resolve_hardware",
]

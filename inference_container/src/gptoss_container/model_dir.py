"""Which checkpoint vLLM loads: the SageMaker model directory, another directory, or a
hub id when downloads are allowed, and the geometry the checks need from its config.json."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from gptoss_facts.models import CONTEXT_LENGTH, GPT_OSS_20B, GPT_OSS_120B

from .passthrough import EnvValue
from .problems import Problem

ModelVariant = Literal["gpt-oss-120b", "gpt-oss-20b", "other"]

# SageMaker copies the model's S3 data here (ModelDataSource S3DataSource, S3Prefix,
# CompressionType None; "How SageMaker Loads Your Model Artifacts" in
# docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
SAGEMAKER_MODEL_DIR = Path("/opt/ml/model")
MODEL_VARIABLE = "GPTOSS_MODEL_PATH"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_STAGE_FIX = (
    "stage the weights in S3 (an S3 prefix ending in '/', CompressionType None) and set "
    "the Model's ModelDataSource so SageMaker copies them to /opt/ml/model, or set "
    "GPTOSS_MODEL_PATH to a local directory"
)


class ModelSource(BaseModel):
    """What vLLM loads, and the geometry the checks need."""

    model_config = ConfigDict(frozen=True)

    path: str  # a local directory, or a hub id when downloads are allowed
    is_local: bool
    variant: ModelVariant
    # gpt-oss's geometry: a hub id gives no config.json to read it from.
    num_attention_heads: int = GPT_OSS_120B.num_attention_heads
    num_key_value_heads: int = GPT_OSS_120B.num_kv_heads
    max_position_embeddings: int = CONTEXT_LENGTH


# Checked against when no model could be read, so no problem waits for the next attempt.
UNKNOWN_MODEL = ModelSource(path="", is_local=False, variant="other")


def variant_of(config: Mapping[str, Any]) -> ModelVariant:
    """gpt-oss-120b or -20b by their layer and expert counts, else "other" (a tiny test
    checkpoint, a fine-tune with another shape)."""
    shape = (config.get("num_hidden_layers"), config.get("num_local_experts"))
    if shape == (GPT_OSS_120B.num_layers, GPT_OSS_120B.num_experts):
        return "gpt-oss-120b"
    if shape == (GPT_OSS_20B.num_layers, GPT_OSS_20B.num_experts):
        return "gpt-oss-20b"
    return "other"


def read_model_dir(path: Path, variable: str, problems: list[Problem]) -> ModelSource | None:
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
        variant=variant_of(config),
        num_attention_heads=int(
            config.get("num_attention_heads", GPT_OSS_120B.num_attention_heads)
        ),
        num_key_value_heads=int(config.get("num_key_value_heads", GPT_OSS_120B.num_kv_heads)),
        max_position_embeddings=int(config.get("max_position_embeddings", CONTEXT_LENGTH)),
    )


def resolve_model(
    raw: EnvValue | None, allow_hub: bool, sagemaker_dir: Path, problems: list[Problem]
) -> ModelSource | None:
    """The model a variable names (GPTOSS_MODEL_PATH or its SM_VLLM_MODEL alias), or
    SageMaker's model directory when neither is set."""
    if raw is None:
        return read_model_dir(sagemaker_dir, f"{MODEL_VARIABLE} (unset)", problems)
    value = raw.value.strip()
    path = Path(value)
    if path.is_dir():
        return read_model_dir(path, raw.variable, problems)
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


def default_served_name(model: ModelSource) -> str:
    if model.variant != "other":
        return model.variant
    return Path(model.path.rstrip("/")).name or "gpt-oss"

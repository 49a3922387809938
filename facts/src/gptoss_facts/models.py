"""The gpt-oss models: geometry to size GPUs and KV cache, and their names on each service.

Architecture numbers come from the models' config.json on the model hub
(openai/gpt-oss-120b, openai/gpt-oss-20b) and the gpt-oss model card (arXiv 2508.10925).

Two tables: ``MODELS`` holds gpt-oss-120b and -20b, the models every price table, Bedrock
profile default, dashboard and SDK backend iterates; ``SAFEGUARD_MODELS`` holds the
gpt-oss-safeguard classifiers, which only code that opts in sees (``ALL_MODELS``,
``get_any_model``). Keeping them apart means nothing that loops over ``MODELS`` (the SDK's
price catalog, its Bedrock id parsing, the cost dashboard) starts expecting a price or a
metric for a model it was never given one for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

GIB = 1024**3

# max_position_embeddings in config.json of openai/gpt-oss-120b and -20b (also transformers'
# GptOssConfig default); vLLM logs "Using max model len 131072" for the 120b (vllm #23278).
CONTEXT_LENGTH = 131_072


@dataclass(frozen=True)
class ModelSpec:
    """One gpt-oss model: enough to size GPUs and KV cache and to name it on Bedrock."""

    name: str
    hub_id: str
    bedrock_model_id: str
    total_params_b: float
    active_params_b: float
    num_layers: int
    num_experts: int
    experts_per_token: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_context: int
    sliding_window: int
    checkpoint_gib: float
    base_model: str | None = None
    """For a fine-tune: the ``name`` of the model whose architecture (and so memory fit) it
    shares. Default: none (a base model)."""
    bedrock_model_id_source: Literal["aws", "third-party"] = "aws"
    """How sure we are of ``bedrock_model_id``: ``"aws"`` when an AWS page states it,
    ``"third-party"`` when only other sources do (override it per deployment then:
    ``bedrock.model_ids`` in the deployment configuration). Default: ``"aws"``."""

    def kv_cache_bytes(self, tokens: int, dtype_bytes: int = 2) -> int:
        """KV cache for one sequence of `tokens` tokens.

        gpt-oss alternates sliding-window (128 tokens) and full-attention layers
        (config.json `layer_types`), so half the layers hold at most `sliding_window`
        tokens whatever the context length.
        """
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        per_token_per_layer = 2 * self.num_kv_heads * self.head_dim * dtype_bytes  # K and V
        full_layers = self.num_layers // 2
        sliding_layers = self.num_layers - full_layers
        return per_token_per_layer * (
            full_layers * tokens + sliding_layers * min(tokens, self.sliding_window)
        )

    @property
    def tensor_parallel_sizes(self) -> tuple[int, ...]:
        """Tensor-parallel sizes that split both the attention and the KV heads evenly."""
        return tensor_parallel_sizes(self.num_kv_heads, self.num_attention_heads)


def tensor_parallel_sizes(num_kv_heads: int, num_attention_heads: int) -> tuple[int, ...]:
    """Sizes vLLM accepts for a model: each must divide the heads (1, 2, 4, 8 for gpt-oss)."""
    return tuple(
        size
        for size in range(1, num_kv_heads + 1)
        if num_kv_heads % size == 0 and num_attention_heads % size == 0
    )


# Sources: config.json of openai/gpt-oss-120b (36 layers, 128 experts, top-4, hidden 2880,
# 64 attention heads, 8 KV heads of dim 64, vocab 201088, 131072 positions, sliding window
# 128); parameter counts and the 60.8 GiB checkpoint from the model card; Bedrock id from
# the Bedrock user guide, "OpenAI models" (model-parameters-openai).
GPT_OSS_120B = ModelSpec(
    name="gpt-oss-120b",
    hub_id="openai/gpt-oss-120b",
    bedrock_model_id="openai.gpt-oss-120b-1:0",
    total_params_b=116.8,
    active_params_b=5.1,
    num_layers=36,
    num_experts=128,
    experts_per_token=4,
    hidden_size=2880,
    num_attention_heads=64,
    num_kv_heads=8,
    head_dim=64,
    vocab_size=201088,
    max_context=CONTEXT_LENGTH,
    sliding_window=128,
    checkpoint_gib=60.8,
)

# Sources: config.json of openai/gpt-oss-20b (24 layers, 32 experts, top-4, 64 attention
# heads, 8 KV heads); 20.9B/3.6B parameters and the 12.8 GiB checkpoint from the model card.
GPT_OSS_20B = ModelSpec(
    name="gpt-oss-20b",
    hub_id="openai/gpt-oss-20b",
    bedrock_model_id="openai.gpt-oss-20b-1:0",
    total_params_b=20.9,
    active_params_b=3.6,
    num_layers=24,
    num_experts=32,
    experts_per_token=4,
    hidden_size=2880,
    num_attention_heads=64,
    num_kv_heads=8,
    head_dim=64,
    vocab_size=201088,
    max_context=CONTEXT_LENGTH,
    sliding_window=128,
    checkpoint_gib=12.8,
)

MODELS: dict[str, ModelSpec] = {m.name: m for m in (GPT_OSS_120B, GPT_OSS_20B)}


def _safeguard(base: ModelSpec, size: str, bedrock_model_id: str) -> ModelSpec:
    # "The gpt-oss-safeguard models are fine-tunes of their gpt-oss counterparts" (OpenAI,
    # "gpt-oss-safeguard technical report"); the hub model card of openai/gpt-oss-safeguard-20b
    # says "base_model: openai/gpt-oss-20b", "base_model_relation: finetune", "21B parameters
    # with 3.6B active parameters" and, for the 120b, "117B parameters with 5.1B active": the
    # base's parameter counts. So geometry, context and MXFP4 checkpoint size are the base's.
    # The safeguard config.json itself was not in reach, and the checkpoint size is not read
    # from the hub here; the weights mirror verifies the hub's own sizes at deploy time.
    return replace(
        base,
        name=f"gpt-oss-safeguard-{size}",
        hub_id=f"openai/gpt-oss-safeguard-{size}",
        bedrock_model_id=bedrock_model_id,
        base_model=base.name,
        bedrock_model_id_source="third-party",
    )


# Bedrock ids: NOT from an AWS page we could read (the model cards
# docs.aws.amazon.com/bedrock/latest/userguide/model-card-openai-gpt-oss-safeguard-120b.html
# are linked from elsewhere but not stored). Third-party model tables and the litellm price
# table list "openai.gpt-oss-safeguard-120b" / "-20b", with NO "-1:0" version suffix even on
# bedrock-runtime, unlike gpt-oss itself. Hence bedrock_model_id_source="third-party" and the
# per-deployment override (bedrock.model_ids).
GPT_OSS_SAFEGUARD_120B = _safeguard(GPT_OSS_120B, "120b", "openai.gpt-oss-safeguard-120b")
GPT_OSS_SAFEGUARD_20B = _safeguard(GPT_OSS_20B, "20b", "openai.gpt-oss-safeguard-20b")

# Policy-following safety classifiers (openai/gpt-oss-safeguard); not in MODELS on purpose
# (see the module docstring).
SAFEGUARD_MODELS: dict[str, ModelSpec] = {
    m.name: m for m in (GPT_OSS_SAFEGUARD_120B, GPT_OSS_SAFEGUARD_20B)
}
ALL_MODELS: dict[str, ModelSpec] = {**MODELS, **SAFEGUARD_MODELS}

# Both models share their attention geometry, so one set of sizes holds for either.
TENSOR_PARALLEL_SIZES: tuple[int, ...] = GPT_OSS_120B.tensor_parallel_sizes


def get_model(name: str) -> ModelSpec:
    """Look a model up by short name, hub id or Bedrock model id."""
    for spec in MODELS.values():
        if name in (spec.name, spec.hub_id, spec.bedrock_model_id):
            return spec
    known = ", ".join(sorted(MODELS))
    raise KeyError(f"unknown model {name!r}: use one of {known} (or its hub / Bedrock id)")


def get_any_model(name: str) -> ModelSpec:
    """Like :func:`get_model`, over ``ALL_MODELS`` (gpt-oss and gpt-oss-safeguard)."""
    for spec in ALL_MODELS.values():
        if name in (spec.name, spec.hub_id, spec.bedrock_model_id):
            return spec
    known = ", ".join(sorted(ALL_MODELS))
    raise KeyError(f"unknown model {name!r}: use one of {known} (or its hub / Bedrock id)")

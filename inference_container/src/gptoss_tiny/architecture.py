"""Shape and config of the tiny gpt-oss checkpoint.

Same architecture and config keys as openai/gpt-oss-{20b,120b} (config.json as published,
legacy `rope_scaling` form included), shrunk until the vocabulary-sized embedding and lm_head
are almost all of its ~26M parameters. Unquantized: no `quantization_config`, so vLLM loads
the plain bf16 MoE layout.
"""

from __future__ import annotations

from typing import Any

from gptoss_facts.models import CONTEXT_LENGTH
from gptoss_tiny.tokenizer import NUM_MERGEABLE_RANKS, VOCAB_SIZE

NUM_LAYERS = 2  # one sliding-window layer and one full-attention layer, like gpt-oss's pattern
HIDDEN_SIZE = 64
# vLLM's CPU attention backend accepts head sizes 32, 64, 80, ...; 64 is also gpt-oss's.
HEAD_DIM = 64
NUM_HEADS = 2
NUM_KV_HEADS = 1
NUM_EXPERTS = 4
EXPERTS_PER_TOKEN = 2
INTERMEDIATE_SIZE = 64  # gpt-oss uses intermediate == hidden
SLIDING_WINDOW = 128  # gpt-oss's value
LAYER_TYPES = ("sliding_attention", "full_attention")
RMS_NORM_EPS = 1e-5  # vLLM hard-codes this for gpt-oss; keep HF in agreement

# gpt-oss rope: yarn-scaled NeoX rotary, theta 150000, 32x over a 4096 original context.
ROPE_THETA = 150000
ROPE_SCALING: dict[str, Any] = {
    "beta_fast": 32.0,
    "beta_slow": 1.0,
    "factor": 32.0,
    "original_max_position_embeddings": 4096,
    "rope_type": "yarn",
    "truncate": False,
}
# Not shrunk: gpt-oss's own context (the yarn factor 32 over 4096), so the container's
# context defaults and limits behave on the tiny checkpoint as on the real ones.
MAX_POSITION_EMBEDDINGS = CONTEXT_LENGTH

BOS_TOKEN_ID = NUM_MERGEABLE_RANKS  # <|startoftext|>
PAD_TOKEN_ID = 199999  # <|endoftext|>
# <|return|>, <|endoftext|>, <|call|>: generation_config.json of the published checkpoints.
EOS_TOKEN_IDS = (200002, 199999, 200012)


def config_dict() -> dict[str, Any]:
    """config.json, key for key as the published gpt-oss checkpoints (values shrunk)."""
    return {
        "architectures": ["GptOssForCausalLM"],
        "attention_bias": True,
        "attention_dropout": 0.0,
        "eos_token_id": EOS_TOKEN_IDS[0],
        "experts_per_token": EXPERTS_PER_TOKEN,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN_SIZE,
        "initial_context_length": ROPE_SCALING["original_max_position_embeddings"],
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE_SIZE,
        "layer_types": list(LAYER_TYPES),
        "max_position_embeddings": MAX_POSITION_EMBEDDINGS,
        "model_type": "gpt_oss",
        "num_attention_heads": NUM_HEADS,
        "num_experts_per_tok": EXPERTS_PER_TOKEN,
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": NUM_KV_HEADS,
        "num_local_experts": NUM_EXPERTS,
        "output_router_logits": False,
        "pad_token_id": PAD_TOKEN_ID,
        "rms_norm_eps": RMS_NORM_EPS,
        "rope_scaling": dict(ROPE_SCALING),
        "rope_theta": ROPE_THETA,
        "router_aux_loss_coef": 0.9,
        "sliding_window": SLIDING_WINDOW,
        "swiglu_limit": 7.0,
        "tie_word_embeddings": False,
        # The published config has no dtype (its MoE is MXFP4); stating bf16 makes every loader
        # (vLLM "auto", transformers) agree without inspecting the weights.
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": VOCAB_SIZE,
    }


def generation_config_dict() -> dict[str, Any]:
    """generation_config.json of the published checkpoints."""
    return {
        "bos_token_id": BOS_TOKEN_ID,
        "do_sample": True,
        "eos_token_id": list(EOS_TOKEN_IDS),
        "pad_token_id": PAD_TOKEN_ID,
    }


def parameter_shapes() -> dict[str, tuple[int, ...]]:
    """Every checkpoint tensor in HF transformers' GptOss layout (what vLLM's loader maps)."""
    q_size = NUM_HEADS * HEAD_DIM
    kv_size = NUM_KV_HEADS * HEAD_DIM
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (VOCAB_SIZE, HIDDEN_SIZE),
        "model.norm.weight": (HIDDEN_SIZE,),
        "lm_head.weight": (VOCAB_SIZE, HIDDEN_SIZE),
    }
    for layer in range(NUM_LAYERS):
        p = f"model.layers.{layer}"
        shapes |= {
            f"{p}.input_layernorm.weight": (HIDDEN_SIZE,),
            f"{p}.post_attention_layernorm.weight": (HIDDEN_SIZE,),
            f"{p}.self_attn.q_proj.weight": (q_size, HIDDEN_SIZE),
            f"{p}.self_attn.q_proj.bias": (q_size,),
            f"{p}.self_attn.k_proj.weight": (kv_size, HIDDEN_SIZE),
            f"{p}.self_attn.k_proj.bias": (kv_size,),
            f"{p}.self_attn.v_proj.weight": (kv_size, HIDDEN_SIZE),
            f"{p}.self_attn.v_proj.bias": (kv_size,),
            f"{p}.self_attn.o_proj.weight": (HIDDEN_SIZE, q_size),
            f"{p}.self_attn.o_proj.bias": (HIDDEN_SIZE,),
            f"{p}.self_attn.sinks": (NUM_HEADS,),
            f"{p}.mlp.router.weight": (NUM_EXPERTS, HIDDEN_SIZE),
            f"{p}.mlp.router.bias": (NUM_EXPERTS,),
            # gate and up interleaved along the last axis (gate = ::2, up = 1::2).
            f"{p}.mlp.experts.gate_up_proj": (NUM_EXPERTS, HIDDEN_SIZE, 2 * INTERMEDIATE_SIZE),
            f"{p}.mlp.experts.gate_up_proj_bias": (NUM_EXPERTS, 2 * INTERMEDIATE_SIZE),
            f"{p}.mlp.experts.down_proj": (NUM_EXPERTS, INTERMEDIATE_SIZE, HIDDEN_SIZE),
            f"{p}.mlp.experts.down_proj_bias": (NUM_EXPERTS, HIDDEN_SIZE),
        }
    return shapes

"""Checkpoint tensors: seeded random ones, or hand-set ones that execute a Program.

Hand-set model (all other weights zero, RMSNorm weights one):

* Residual stream: dimension CONST_DIM is 1 for every token, OTHER_DIM is 1 for tokens the
  program does not use, and each program token has its own one-hot dimension. Every
  embedding thus has exactly two ones, so RMSNorm scales them all alike.
* Layer 0 (sliding window) attention: head h looks back exactly LOOKBACK_OFFSETS[h]
  positions. Query and key are constant (biases only), so after rotary their dot product
  depends on the distance d alone: sum_i r_i^2 cos(theta_i (d - offset)), peaked at
  d == offset. The shared value carries one flag per watched token; o_proj copies the flag
  of head h into the residual dimension of (offset_h, token).
* Layer 1 attention and both MoE blocks output exactly zero (zero o_proj / down_proj and
  biases), so the two-layer structure is kept without adding anything.
* lm_head: row `successor` has ALPHA on the dimension of `token` for each bigram, so the
  bigram successor scores ALPHA * a (a = one active dimension after the final RMSNorm) and
  every token outside the program exactly 0. A lookback is an AND gate, so that it cannot
  fire at any other current token: its successor scores 2 * ALPHA * (lookback + current
  token - 1.5) * a, i.e. +ALPHA * a when both hold and <= -ALPHA * a otherwise, and the
  overridden bigram successor loses ALPHA * a whenever the lookback feature is on.
"""

from __future__ import annotations

import math

import torch

from gptoss_tiny.architecture import (
    HEAD_DIM,
    HIDDEN_SIZE,
    NUM_HEADS,
    ROPE_SCALING,
    ROPE_THETA,
    config_dict,
    parameter_shapes,
)
from gptoss_tiny.program import LOOKBACK_OFFSETS, Program

DTYPE = torch.bfloat16

CONST_DIM = 0
OTHER_DIM = 1
FIRST_TOKEN_DIM = 2

# Logit per unit of normalised activation. After the final RMSNorm an active dimension is
# hidden/sqrt(#active) >= 8/sqrt(4) = 4 (at most const, token and two lookback flags are
# active), so every scripted token wins by >= ALPHA * 4 = 32 logits over the runner-up (the
# zero-logit rest of the vocabulary, or the bigram a lookback overrides): far beyond bf16
# rounding and any sampling temperature a test might use.
ALPHA = 8.0
# Halfway between one and two true inputs of a lookback's AND gate.
GATE_THRESHOLD = 1.5

# Attention logit of the looked-back position. The distance profile below keeps every other
# distance up to 4200 at least MIN_MARGIN_FRACTION * PEAK below it (measured over the actual
# yarn frequencies), i.e. >= 33 logits: the softmax puts all but ~1e-11 of its weight on the
# target even over a full 128-token window. Kept moderate so bf16 rounding of q and k
# (relative 2^-9) moves scores by well under one logit.
PEAK_ATTENTION_LOGIT = 160.0
MIN_MARGIN_FRACTION = 0.2
# Distance profile: half of the score on the fastest rotary pair (1 rad/token, which alone
# separates d = offset +- 1 by 1 - cos(1) = 0.46), the other half spread over the next 15 pairs
# (periods up to ~6000 tokens) so that no other distance lines all the pairs up again.
FAST_PAIR_WEIGHT = 0.5
NUM_SLOW_PAIRS = 15

RANDOM_INIT_STD = 0.02  # initializer_range of the gpt-oss config


def random_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """All tensors N(0, 0.02) from a seeded generator; norms one, sinks zero."""
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for name, shape in parameter_shapes().items():
        if name.endswith("norm.weight"):
            tensors[name] = torch.ones(shape, dtype=DTYPE)
        elif name.endswith("sinks"):
            tensors[name] = torch.zeros(shape, dtype=DTYPE)
        else:
            values = torch.randn(shape, generator=generator, dtype=torch.float32)
            tensors[name] = (values * RANDOM_INIT_STD).to(DTYPE)
    return tensors


def rotary_frequencies() -> tuple[torch.Tensor, float]:
    """(inverse frequencies per rotary pair, cos/sin scale) of the checkpoint's yarn rope."""
    from transformers import GptOssConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = GptOssConfig(**config_dict())
    inv_freq, attention_scaling = ROPE_INIT_FUNCTIONS[ROPE_SCALING["rope_type"]](config, "cpu")
    if not math.isclose(float(config.rope_parameters["rope_theta"]), ROPE_THETA):
        raise RuntimeError("rope_theta did not reach the rope config")
    return inv_freq.double(), float(attention_scaling)


def pair_weights() -> torch.Tensor:
    """Share of the peak attention score carried by each rotary pair (sums to 1)."""
    weights = torch.zeros(HEAD_DIM // 2, dtype=torch.float64)
    weights[0] = FAST_PAIR_WEIGHT
    weights[1 : 1 + NUM_SLOW_PAIRS] = (1 - FAST_PAIR_WEIGHT) / NUM_SLOW_PAIRS
    return weights


def lookback_query_key(offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Constant (query, key) whose rotary dot product peaks at distance `offset`.

    NeoX rotary turns pair i (x_i, x_{i+D/2}) into the complex number x_i + i x_{i+D/2} times
    e^{i theta_i pos}. With key r_i and query r_i e^{-i theta_i offset}, the dot product at
    distance d is sum_i r_i^2 cos(theta_i (d - offset)) (times the yarn cos/sin scale squared).
    """
    inv_freq, scale = rotary_frequencies()
    half = HEAD_DIM // 2
    # score = head_dim^-0.5 * scale^2 * sum_i r_i^2 cos(...); solve for r_i at d == offset.
    total = PEAK_ATTENTION_LOGIT * math.sqrt(HEAD_DIM) / scale**2
    radius = torch.sqrt(pair_weights() * total)
    angle = inv_freq * offset
    query = torch.zeros(HEAD_DIM, dtype=torch.float64)
    query[:half] = radius * torch.cos(angle)
    query[half:] = -radius * torch.sin(angle)
    key = torch.zeros(HEAD_DIM, dtype=torch.float64)
    key[:half] = radius
    return query, key


def residual_layout(program: Program) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
    """Residual dimension of each program token and of each lookback feature."""
    token_dim = {token: FIRST_TOKEN_DIM + i for i, token in enumerate(program.tokens)}
    first_feature = FIRST_TOKEN_DIM + len(program.tokens)
    feature_dim = {f: first_feature + i for i, f in enumerate(program.lookback_features)}
    used = first_feature + len(feature_dim)
    if used > HIDDEN_SIZE:
        raise ValueError(f"program needs {used} residual dimensions, hidden size is {HIDDEN_SIZE}")
    if len(program.watched) > HEAD_DIM:
        raise ValueError("more watched tokens than value dimensions")
    return token_dim, feature_dim


def scripted_state_dict(program: Program) -> dict[str, torch.Tensor]:
    """Weights under which greedy decoding follows `program` (see module docstring)."""
    token_dim, feature_dim = residual_layout(program)
    f32 = {name: torch.zeros(shape) for name, shape in parameter_shapes().items()}
    for name, tensor in f32.items():
        if name.endswith("norm.weight"):
            tensor.fill_(1.0)

    embed = f32["model.embed_tokens.weight"]
    embed[:, CONST_DIM] = 1.0
    embed[:, OTHER_DIM] = 1.0
    for token, dim in token_dim.items():
        embed[token, OTHER_DIM] = 0.0
        embed[token, dim] = 1.0

    _set_lookback_heads(f32, program, token_dim, feature_dim)

    lm_head = f32["lm_head.weight"]
    for token, successor in program.bigrams:
        lm_head[successor, token_dim[token]] += ALPHA
    for rule in program.lookbacks:
        feature = feature_dim[(rule.offset, rule.watched)]
        # AND gate: 2 * ALPHA * (feature + current - GATE_THRESHOLD) over unit activations.
        lm_head[rule.successor, feature] += 2 * ALPHA
        lm_head[rule.successor, token_dim[rule.current]] += 2 * ALPHA
        lm_head[rule.successor, CONST_DIM] -= 2 * ALPHA * GATE_THRESHOLD
        lm_head[rule.overridden, feature] -= ALPHA
    return {name: tensor.to(DTYPE) for name, tensor in f32.items()}


def _set_lookback_heads(
    f32: dict[str, torch.Tensor],
    program: Program,
    token_dim: dict[int, int],
    feature_dim: dict[tuple[int, int], int],
) -> None:
    if len(LOOKBACK_OFFSETS) > NUM_HEADS:
        raise ValueError("one layer-0 head per lookback offset")
    attn = "model.layers.0.self_attn"
    # An embedding has two ones among HIDDEN_SIZE dimensions, so the input RMSNorm turns
    # each into sqrt(HIDDEN_SIZE / 2); scale the value so a watched token gives exactly 1.
    normalised_one = math.sqrt(HIDDEN_SIZE / 2)
    value_index = {token: i for i, token in enumerate(program.watched)}
    for token, i in value_index.items():
        f32[f"{attn}.v_proj.weight"][i, token_dim[token]] = 1.0 / normalised_one

    _, key = lookback_query_key(LOOKBACK_OFFSETS[0])
    f32[f"{attn}.k_proj.bias"][:] = key.float()
    for head, offset in enumerate(LOOKBACK_OFFSETS):
        query, _ = lookback_query_key(offset)
        f32[f"{attn}.q_proj.bias"][head * HEAD_DIM : (head + 1) * HEAD_DIM] = query.float()
        for (feature_offset, token), dim in feature_dim.items():
            if feature_offset == offset:
                column = head * HEAD_DIM + value_index[token]
                f32[f"{attn}.o_proj.weight"][dim, column] = 1.0

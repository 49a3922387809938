"""Model geometry: the numbers every component sizes GPUs with."""

import pytest

from gptoss_facts.models import (
    CONTEXT_LENGTH,
    GPT_OSS_20B,
    GPT_OSS_120B,
    MODELS,
    TENSOR_PARALLEL_SIZES,
    get_model,
    tensor_parallel_sizes,
)


def test_both_models_have_the_published_context_and_attention_geometry() -> None:
    # config.json of openai/gpt-oss-120b and -20b: 131072 positions, 64 heads, 8 KV heads.
    for spec in MODELS.values():
        assert spec.max_context == CONTEXT_LENGTH == 131072
        assert (spec.num_attention_heads, spec.num_kv_heads, spec.head_dim) == (64, 8, 64)
    assert (GPT_OSS_120B.num_layers, GPT_OSS_20B.num_layers) == (36, 24)


def test_tensor_parallel_sizes_split_both_head_counts() -> None:
    assert TENSOR_PARALLEL_SIZES == (1, 2, 4, 8)
    # A size that divides the KV heads but not the attention heads is refused.
    assert tensor_parallel_sizes(num_kv_heads=6, num_attention_heads=9) == (1, 3)


def test_kv_cache_counts_sliding_window_layers_only_up_to_the_window() -> None:
    per_token_layer = 2 * 8 * 64 * 2  # K and V, bf16
    full = GPT_OSS_120B.kv_cache_bytes(CONTEXT_LENGTH)
    assert full == per_token_layer * (18 * CONTEXT_LENGTH + 18 * 128)
    assert GPT_OSS_120B.kv_cache_bytes(100) == per_token_layer * 36 * 100
    with pytest.raises(ValueError, match="tokens must be >= 0"):
        GPT_OSS_120B.kv_cache_bytes(-1)


@pytest.mark.parametrize("name", ["gpt-oss-20b", "openai/gpt-oss-20b", "openai.gpt-oss-20b-1:0"])
def test_a_model_is_found_by_any_of_its_names(name: str) -> None:
    assert get_model(name) is GPT_OSS_20B


def test_an_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="gpt-oss-120b, gpt-oss-20b"):
        get_model("gpt-oss-7b")

"""Model geometry: the numbers every component sizes GPUs with."""

import pytest

from gptoss_facts.models import (
    ALL_MODELS,
    CONTEXT_LENGTH,
    GPT_OSS_20B,
    GPT_OSS_120B,
    GPT_OSS_SAFEGUARD_20B,
    GPT_OSS_SAFEGUARD_120B,
    MODELS,
    SAFEGUARD_MODELS,
    TENSOR_PARALLEL_SIZES,
    get_any_model,
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


# -- gpt-oss-safeguard ---------------------------------------------------------------------


def test_safeguard_models_share_their_base_models_geometry() -> None:
    # "post-trained from the gpt-oss models" (OpenAI's gpt-oss-safeguard technical report):
    # same architecture, so the memory check sizes them like their base.
    for spec, base in (
        (GPT_OSS_SAFEGUARD_120B, GPT_OSS_120B),
        (GPT_OSS_SAFEGUARD_20B, GPT_OSS_20B),
    ):
        assert spec.base_model == base.name
        assert spec.kv_cache_bytes(32768) == base.kv_cache_bytes(32768)
        assert (spec.num_layers, spec.checkpoint_gib, spec.max_context) == (
            base.num_layers,
            base.checkpoint_gib,
            base.max_context,
        )
        assert spec.hub_id == f"openai/{spec.name}"


def test_safeguard_bedrock_ids_are_marked_as_third_party() -> None:
    # No AWS page in reach states them; no "-1:0" suffix per the third-party tables.
    assert GPT_OSS_SAFEGUARD_120B.bedrock_model_id == "openai.gpt-oss-safeguard-120b"
    assert GPT_OSS_SAFEGUARD_20B.bedrock_model_id == "openai.gpt-oss-safeguard-20b"
    assert {s.bedrock_model_id_source for s in SAFEGUARD_MODELS.values()} == {"third-party"}
    assert {s.bedrock_model_id_source for s in MODELS.values()} == {"aws"}


def test_models_keeps_only_gpt_oss_and_get_model_does_not_see_safeguard() -> None:
    # Price tables, the SDK's Bedrock id parsing and the dashboard iterate MODELS.
    assert list(MODELS) == ["gpt-oss-120b", "gpt-oss-20b"]
    assert list(ALL_MODELS) == [*MODELS, *SAFEGUARD_MODELS]
    with pytest.raises(KeyError, match="gpt-oss-120b, gpt-oss-20b"):
        get_model("gpt-oss-safeguard-20b")


@pytest.mark.parametrize(
    "name",
    ["gpt-oss-safeguard-20b", "openai/gpt-oss-safeguard-20b", "openai.gpt-oss-safeguard-20b"],
)
def test_get_any_model_finds_safeguard_by_any_name(name: str) -> None:
    assert get_any_model(name) is GPT_OSS_SAFEGUARD_20B
    assert get_any_model("openai.gpt-oss-20b-1:0") is GPT_OSS_20B
    with pytest.raises(KeyError, match="gpt-oss-safeguard-120b"):
        get_any_model("gpt-oss-safeguard-7b")

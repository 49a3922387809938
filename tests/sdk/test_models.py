import pytest

from gptoss_aws.models import GPT_OSS_20B, GPT_OSS_120B, get_model


def test_kv_cache_counts_full_layers_per_token_and_sliding_layers_up_to_the_window() -> None:
    # 120b: 18 full layers and 18 sliding layers, 8 KV heads x 64 dims, K and V, bf16.
    per_layer_token = 2 * 8 * 64 * 2
    assert GPT_OSS_120B.kv_cache_bytes(1) == 36 * per_layer_token
    assert GPT_OSS_120B.kv_cache_bytes(128) == 36 * 128 * per_layer_token
    assert GPT_OSS_120B.kv_cache_bytes(131072) == per_layer_token * (18 * 131072 + 18 * 128)


def test_kv_cache_for_a_full_context_120b_sequence_is_about_4_5_gib() -> None:
    assert GPT_OSS_120B.kv_cache_bytes(131072) / 1024**3 == pytest.approx(4.50, abs=0.01)


def test_kv_cache_rejects_negative_lengths() -> None:
    with pytest.raises(ValueError, match="tokens must be >= 0"):
        GPT_OSS_20B.kv_cache_bytes(-1)


@pytest.mark.parametrize("name", ["gpt-oss-20b", "openai/gpt-oss-20b", "openai.gpt-oss-20b-1:0"])
def test_get_model_accepts_every_name(name: str) -> None:
    assert get_model(name) is GPT_OSS_20B


def test_get_model_names_the_known_models_when_it_fails() -> None:
    with pytest.raises(KeyError, match="gpt-oss-120b, gpt-oss-20b"):
        get_model("gpt-oss-7b")

"""config.json files shaped like gpt-oss's, for the settings and argv tests."""

from __future__ import annotations

import json
from pathlib import Path

SHAPES = {
    # config.json fields of openai/gpt-oss-120b and -20b that the checks read.
    "120b": {"num_hidden_layers": 36, "num_local_experts": 128},
    "20b": {"num_hidden_layers": 24, "num_local_experts": 32},
    "tiny": {"num_hidden_layers": 2, "num_local_experts": 4, "num_attention_heads": 2,
             "num_key_value_heads": 1, "max_position_embeddings": 4096},
}  # fmt: skip


def make_model(directory: Path, shape: str = "120b", model_type: str = "gpt_oss") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = {"model_type": model_type, "num_attention_heads": 64, "num_key_value_heads": 8,
              "max_position_embeddings": 131072, **SHAPES[shape]}  # fmt: skip
    (directory / "config.json").write_text(json.dumps(config))
    return directory

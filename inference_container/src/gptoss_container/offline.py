"""Nothing reaches the network: the harmony vocabulary and the hub switches.

gpt-oss prompts are rendered by oss-harmony, which needs the o200k vocabulary. Older
releases downloaded it at first use, which fails under SageMaker network isolation
(vllm #22525). oss-harmony 0.0.11, the release vLLM 0.32.0 pins, carries it; when
TIKTOKEN_ENCODINGS_BASE is set it reads ``o200k_base.tiktoken`` from that folder instead,
so we check that file before anything loads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

TIKTOKEN_ENV = "TIKTOKEN_ENCODINGS_BASE"
O200K_FILE = "o200k_base.tiktoken"
# The hash oss-harmony itself checks (it is compiled into openai_harmony.abi3.so and
# matches tiktoken's published o200k_base file).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def harmony_vocab_problems(environ: Mapping[str, str]) -> list[str]:
    """Problems with the harmony vocabulary, each saying how to fix it; [] when usable."""
    base = environ.get(TIKTOKEN_ENV)
    if base:
        path = Path(base) / O200K_FILE
        if not path.is_file():
            return [
                f"{TIKTOKEN_ENV}={base} has no {O200K_FILE}: put the o200k vocabulary "
                f"file there (sha256 {O200K_SHA256}) or unset {TIKTOKEN_ENV} to use the "
                "copy built into oss-harmony"
            ]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != O200K_SHA256:
            return [
                f"{path} has sha256 {digest}, expected {O200K_SHA256}: the file is "
                f"truncated or another vocabulary; replace it or unset {TIKTOKEN_ENV}"
            ]
    return _load_problems(dict(environ))


def _load_problems(environ: dict[str, str]) -> list[str]:
    """Load the encoding the way vLLM will, in this process, with the same variables."""
    import os

    saved = os.environ.get(TIKTOKEN_ENV)
    try:
        if TIKTOKEN_ENV in environ:
            os.environ[TIKTOKEN_ENV] = environ[TIKTOKEN_ENV]
        else:
            os.environ.pop(TIKTOKEN_ENV, None)
        from openai_harmony import HarmonyEncodingName, load_harmony_encoding

        load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    except Exception as exc:  # the library raises its own HarmonyError
        return [
            f"the harmony vocabulary does not load offline ({exc}); install oss-harmony "
            f">= 0.0.11, which carries it, or set {TIKTOKEN_ENV} to a folder holding "
            f"{O200K_FILE}"
        ]
    finally:
        if saved is None:
            os.environ.pop(TIKTOKEN_ENV, None)
        else:
            os.environ[TIKTOKEN_ENV] = saved
    return []


def offline_env(allow_hub_download: bool) -> dict[str, str]:
    """Variables that keep vLLM, transformers and huggingface_hub off the network."""
    env = {
        # vLLM usage statistics (vLLM docs, "Usage Stats Collection").
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    # huggingface_hub and transformers environment variables (their docs). Set both ways:
    # the image defaults them to offline, so allowing downloads must switch them back.
    offline = "0" if allow_hub_download else "1"
    env.update(
        {
            "HF_HUB_OFFLINE": offline,
            "TRANSFORMERS_OFFLINE": offline,
            "HF_DATASETS_OFFLINE": offline,
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
    )
    return env

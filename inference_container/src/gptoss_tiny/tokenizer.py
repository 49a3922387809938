"""The gpt-oss tokenizer (o200k ranks + harmony special tokens), rebuilt offline.

Everything comes from the vocabulary that oss-harmony embeds, so no hub or blob-store access
is needed. The HF ``tokenizer.json`` is the standard tiktoken -> HF byte-level BPE
conversion; building it takes seconds, so the serialized result is memoised per process and,
when a cache directory is given, on disk.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from openai_harmony import HarmonyEncoding, HarmonyEncodingName, load_harmony_encoding

# sha256 of tiktoken's o200k_base.tiktoken (the `expected_hash` in tiktoken_ext/openai_public.py).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
O200K_FILENAME = "o200k_base.tiktoken"

# o200k_base has ranks 0..199997; the harmony special tokens start right after.
NUM_MERGEABLE_RANKS = 199998
# gpt-oss's embedding/lm_head size (config.json vocab_size); harmony reserves ids up to 201087
# inside it. oss-harmony also knows <|reserved_201088|>, which is outside the model's vocabulary.
VOCAB_SIZE = 201088

# The pre-tokenizer regex of o200k_base, verbatim from tiktoken_ext/openai_public.py.
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# Named harmony tokens (openai/gpt-oss tokenizer, tiktoken's o200k_harmony); every other id in
# [NUM_MERGEABLE_RANKS, VOCAB_SIZE) is <|reserved_N|>.
NAMED_SPECIAL_TOKENS = {
    199998: "<|startoftext|>",
    199999: "<|endoftext|>",
    200002: "<|return|>",
    200003: "<|constrain|>",
    200005: "<|channel|>",
    200006: "<|start|>",
    200007: "<|end|>",
    200008: "<|message|>",
    200012: "<|call|>",
}
# Token names, not secrets (ruff's S105 keys on the word TOKEN).
BOS_TOKEN = "<|startoftext|>"  # noqa: S105
EOS_TOKEN = "<|return|>"  # noqa: S105
PAD_TOKEN = "<|endoftext|>"  # noqa: S105


def special_tokens() -> dict[int, str]:
    """All harmony special tokens inside the model vocabulary, by id."""
    return {
        token_id: NAMED_SPECIAL_TOKENS.get(token_id, f"<|reserved_{token_id}|>")
        for token_id in range(NUM_MERGEABLE_RANKS, VOCAB_SIZE)
    }


@functools.cache
def harmony_encoding() -> HarmonyEncoding:
    return load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)


@functools.cache
def o200k_ranks() -> tuple[bytes, ...]:
    """The bytes of every mergeable token, indexed by rank."""
    # The public HarmonyEncoding.decode() replaces invalid UTF-8 (most single-byte tokens are
    # not valid UTF-8 on their own), so the raw bytes have to come from the Rust object.
    inner = harmony_encoding()._inner
    return tuple(bytes(inner.decode_bytes([rank])) for rank in range(NUM_MERGEABLE_RANKS))


def tiktoken_file_bytes() -> bytes:
    """o200k_base.tiktoken as tiktoken ships it: one `base64(bytes) rank` line per rank."""
    lines = (
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for rank, token in enumerate(o200k_ranks())
    )
    data = b"".join(lines)
    digest = hashlib.sha256(data).hexdigest()
    if digest != O200K_SHA256:
        raise RuntimeError(f"rebuilt {O200K_FILENAME} has sha256 {digest}, want {O200K_SHA256}")
    return data


def write_tiktoken_file(path: Path) -> Path:
    """Write o200k_base.tiktoken (sha256 O200K_SHA256) to `path` and return it.

    tiktoken looks the file up by this name under TIKTOKEN_ENCODINGS_BASE.
    """
    _atomic_write(Path(path), tiktoken_file_bytes())
    return Path(path)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    # Unprintable bytes are shifted past the Latin-1 range, in byte order.
    shifted = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + shifted)
            shifted += 1
    return mapping


def _vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The tiktoken -> HF conversion (as transformers' TikTokenConverter does it).

    tiktoken merges any adjacent pair whose concatenation is a token, lowest rank first, so
    every split of a token into two tokens is a merge, ordered by the merged token's rank.
    """
    ranks = o200k_ranks()
    rank_of = {token: rank for rank, token in enumerate(ranks)}
    byte_map = _bytes_to_unicode()

    def as_str(token: bytes) -> str:
        return "".join(byte_map[b] for b in token)

    vocab = {as_str(token): rank for rank, token in enumerate(ranks)}
    merges: list[tuple[str, str]] = []
    for token in ranks:
        splits = [
            (token[:i], token[i:])
            for i in range(1, len(token))
            if token[:i] in rank_of and token[i:] in rank_of
        ]
        splits.sort(key=lambda pair: (rank_of[pair[0]], rank_of[pair[1]]))
        merges.extend((as_str(left), as_str(right)) for left, right in splits)
    return vocab, merges


@functools.cache
def tokenizer_json() -> str:
    """tokenizer.json text (deterministic for a given `tokenizers` version)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE

    vocab, merges = _vocab_and_merges()
    # ignore_merges: a pre-token that is itself in the vocabulary maps straight to its id,
    # which is what tiktoken does before running BPE.
    tokenizer = Tokenizer(BPE(vocab, merges, fuse_unk=False, ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(O200K_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    specials = special_tokens()
    # Added tokens take consecutive ids after the BPE vocabulary, in insertion order.
    tokenizer.add_special_tokens(
        [AddedToken(specials[i], special=True, normalized=False) for i in sorted(specials)]
    )
    for token_id, name in specials.items():
        if tokenizer.token_to_id(name) != token_id:
            raise RuntimeError(f"{name} got id {tokenizer.token_to_id(name)}, want {token_id}")
    return str(tokenizer.to_str())


def _tokenizer_cache_key() -> str:
    """Changes whenever this module or the tokenizers library that serialises the file does."""
    import tokenizers

    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(tokenizers.__version__.encode())
    # 16 hex digits: the key only has to tell apart the few builds one cache ever sees.
    return digest.hexdigest()[:16]


def cached_tokenizer_json(cache_dir: Path | None) -> str:
    """tokenizer_json(), read from / saved to `cache_dir` when one is given."""
    if cache_dir is None:
        return tokenizer_json()
    path = Path(cache_dir) / f"tokenizer-{_tokenizer_cache_key()}.json"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    text = tokenizer_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, text.encode("utf-8"))
    # Builds for older code are never read again; each is ~12 MB.
    for old in path.parent.glob("tokenizer-*.json"):
        if old != path:
            old.unlink(missing_ok=True)
    return text


def _added_token_entry(name: str) -> dict[str, Any]:
    return {
        "content": name,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }


def tokenizer_config() -> dict[str, Any]:
    """tokenizer_config.json as the openai/gpt-oss checkpoints have it (minus the template)."""
    return {
        "added_tokens_decoder": {
            str(token_id): _added_token_entry(name) for token_id, name in special_tokens().items()
        },
        "bos_token": BOS_TOKEN,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS_TOKEN,
        "extra_special_tokens": {},
        "model_input_names": ["input_ids", "attention_mask"],
        # The "no limit" sentinel transformers writes (int(1e30)).
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": PAD_TOKEN,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def special_tokens_map() -> dict[str, str]:
    return {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "pad_token": PAD_TOKEN}


def write_tokenizer_files(out_dir: Path, cache_dir: Path | None = None) -> None:
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json into `out_dir`."""
    out_dir = Path(out_dir)
    (out_dir / "tokenizer.json").write_text(cached_tokenizer_json(cache_dir), encoding="utf-8")
    write_json(out_dir / "tokenizer_config.json", tokenizer_config())
    write_json(out_dir / "special_tokens_map.json", special_tokens_map())


def write_json(path: Path, data: object) -> None:
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so concurrent readers never see a partial file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file owner-only; these files are meant to be shared/mounted.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

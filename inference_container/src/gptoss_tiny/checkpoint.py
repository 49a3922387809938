"""Write complete tiny gpt-oss model directories, and cache them across test runs."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from gptoss_tiny.architecture import config_dict, generation_config_dict
from gptoss_tiny.program import compile_scripts
from gptoss_tiny.script import KINDS, Kind, encode, scripts
from gptoss_tiny.tokenizer import write_json, write_tokenizer_files
from gptoss_tiny.weights import random_state_dict, scripted_state_dict

MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
# Presence of this file (holding build_version()) marks a finished, current cache entry.
BUILD_MARKER = ".gptoss_tiny_build"
RANDOM_SEED = 0
# Libraries whose version can change the files written.
_VERSIONED_DISTRIBUTIONS = (
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "oss-harmony",
    "openai-harmony",
)
# Replacing a stale entry can lose a race to another process; a few rounds always settle it.
_RENAME_ATTEMPTS = 5


def state_dict(kind: Kind) -> dict[str, torch.Tensor]:
    if kind == "random":
        return random_state_dict(RANDOM_SEED)
    program = compile_scripts([(encode(tail), encode(text)) for tail, text in scripts(kind)])
    return scripted_state_dict(program)


def build_checkpoint(out_dir: Path, kind: Kind, *, tokenizer_cache: Path | None = None) -> Path:
    """Write config, generation config, weights and tokenizer files of `kind` into `out_dir`.

    The same inputs always give byte-identical files. `tokenizer_cache` (a directory) saves
    the few seconds of rebuilding tokenizer.json.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "config.json", config_dict())
    write_json(out_dir / "generation_config.json", generation_config_dict())
    save_file(state_dict(kind), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    write_tokenizer_files(out_dir, tokenizer_cache)
    # World-readable like any model directory: the cache may be mounted into a container
    # that runs as another user (safetensors and mkdtemp create owner-only entries).
    out_dir.chmod(0o755)
    for name in MODEL_FILES:
        (out_dir / name).chmod(0o644)
    return out_dir


def build_version(kind: Kind) -> str:
    """Hash of everything that decides the files: kind, this package's code, library versions."""
    digest = hashlib.sha256(kind.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    for name in _VERSIONED_DISTRIBUTIONS:
        try:
            digest.update(f"{name}=={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name} absent".encode())
    return digest.hexdigest()


def _is_current(path: Path, version: str) -> bool:
    try:
        return (path / BUILD_MARKER).read_text(encoding="utf-8") == version
    except OSError:
        return False


def ensure_checkpoint(cache_dir: Path, kind: Kind) -> Path:
    """cache_dir/kind, built unless a current build is already there.

    Safe when several processes race: each builds in its own temp directory and renames it
    into place; a loser finds the winner's current build and drops its own.
    """
    cache_dir = Path(cache_dir)
    return ensure_at(cache_dir / kind, kind, tokenizer_cache=cache_dir / ".tokenizer")


def ensure_at(target: Path, kind: Kind, *, tokenizer_cache: Path | None = None) -> Path:
    """Like ensure_checkpoint, for any target directory."""
    target = Path(target)
    version = build_version(kind)
    if _is_current(target, version):
        return target
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    # Staged next to the target: rename is only atomic within one filesystem.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-build-", dir=parent))
    try:
        build_checkpoint(staging, kind, tokenizer_cache=tokenizer_cache)
        (staging / BUILD_MARKER).write_text(version, encoding="utf-8")
        (staging / BUILD_MARKER).chmod(0o644)
        for _ in range(_RENAME_ATTEMPTS):
            try:
                # Atomic; fails if target exists and is non-empty.
                os.rename(staging, target)
                return target
            except OSError:
                if _is_current(target, version):
                    return target
                _discard(target, version)
        raise RuntimeError(f"could not install {target}: other builds keep replacing it")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _discard(stale: Path, version: str) -> None:
    """Move a stale entry out of the way (atomically) and delete it.

    Re-checked just before the move, so a current build another process has installed in the
    meantime is left alone (the window that remains is a few syscalls wide, and a build that
    loses it is replaced by an identical one).
    """
    if _is_current(stale, version):
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{stale.name}-stale-", dir=stale.parent))
    try:
        os.rename(stale, trash / "entry")
    except FileNotFoundError:
        pass  # another process already moved it
    finally:
        shutil.rmtree(trash, ignore_errors=True)

"""Checks a Hugging Face mirror against the hub's own metadata; runs inside the CodeBuild job.

Three steps, each failing the build with every problem listed:
  manifest: ask the hub for the files of a revision (size, and sha256 for LFS files or
            the git blob id for small ones) and pin the revision to its commit sha;
  local:    check the downloaded directory against the manifest before anything is uploaded;
  s3:       check `aws s3api list-objects-v2` output against the manifest after the upload
            (every file present with its size, nothing else under the prefix: vLLM loads
            every *.safetensors file it finds, so a stale shard would corrupt the model).

Standard library only, except `manifest`, which imports huggingface_hub. The construct
embeds this file in the buildspec; tests run `local` and `s3` on generated files.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_CHUNK = 8 * 1024 * 1024
# `hf download --local-dir` keeps its own bookkeeping here; it is never uploaded.
LOCAL_CACHE_DIR = ".cache"


def build_manifest(
    repo_id: str, revision: str, excludes: Sequence[str], token: str | None
) -> dict[str, Any]:
    hub: Any = importlib.import_module("huggingface_hub")
    info = hub.HfApi().model_info(repo_id, revision=revision, files_metadata=True, token=token)
    files = []
    for sibling in info.siblings or []:
        name = sibling.rfilename
        if any(fnmatch.fnmatch(name, pattern) for pattern in excludes):
            continue
        lfs = sibling.lfs
        files.append(
            {
                "path": name,
                "size": lfs.size if lfs is not None else sibling.size,
                "sha256": lfs.sha256 if lfs is not None else None,
                "git_blob_id": None if lfs is not None else sibling.blob_id,
            }
        )
    return {"repo_id": repo_id, "revision": revision, "sha": info.sha, "files": files}


def _digests(path: Path) -> tuple[str, str]:
    """sha256 of the content and the git blob id (sha1 of 'blob <size>\\0' + content)."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


def check_local(manifest: dict[str, Any], directory: Path) -> list[str]:
    problems: list[str] = []
    expected = {entry["path"] for entry in manifest["files"]}
    if not expected:
        problems.append("the manifest lists no files: check the repository id and excludes")
    for entry in manifest["files"]:
        path = directory / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        size = path.stat().st_size
        if entry["size"] is not None and size != entry["size"]:
            problems.append(f"{entry['path']}: {size} bytes, the hub says {entry['size']}")
            continue
        sha256, blob_id = _digests(path)
        if entry["sha256"] and sha256 != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 {sha256}, the hub says {entry['sha256']}")
        if entry["git_blob_id"] and blob_id != entry["git_blob_id"]:
            problems.append(
                f"{entry['path']}: git blob {blob_id}, the hub says {entry['git_blob_id']}"
            )
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if (
            path.is_file()
            and relative.split("/")[0] != LOCAL_CACHE_DIR
            and relative not in expected
        ):
            problems.append(f"{relative}: not in the manifest (excluded or unknown); remove it")
    return problems


def check_s3(manifest: dict[str, Any], listing: dict[str, Any], prefix: str) -> list[str]:
    problems: list[str] = []
    sizes = {obj["Key"]: obj["Size"] for obj in listing.get("Contents") or []}
    expected = set()
    for entry in manifest["files"]:
        key = prefix + entry["path"]
        expected.add(key)
        if key not in sizes:
            problems.append(f"s3 key {key}: missing")
        elif entry["size"] is not None and sizes[key] != entry["size"]:
            problems.append(f"s3 key {key}: {sizes[key]} bytes, the hub says {entry['size']}")
    problems += [f"s3 key {key}: not in the manifest" for key in sorted(set(sizes) - expected)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    make = steps.add_parser("manifest")
    make.add_argument("--repo", required=True)
    make.add_argument("--revision", required=True)
    make.add_argument("--exclude", action="append", default=[])
    make.add_argument("--token", default=None)
    make.add_argument("--out", type=Path, required=True)
    local = steps.add_parser("local")
    local.add_argument("--manifest", type=Path, required=True)
    local.add_argument("--dir", type=Path, required=True)
    remote = steps.add_parser("s3")
    remote.add_argument("--manifest", type=Path, required=True)
    remote.add_argument("--listing", type=Path, required=True)
    remote.add_argument("--prefix", required=True)
    args = parser.parse_args(argv)

    if args.step == "manifest":
        manifest = build_manifest(args.repo, args.revision, args.exclude, args.token)
        args.out.write_text(json.dumps(manifest, indent=1))
        total = sum(entry["size"] or 0 for entry in manifest["files"])
        print(f"{len(manifest['files'])} files, {total / 2**30:.1f} GiB at {manifest['sha']}")
        return 0
    manifest = json.loads(args.manifest.read_text())
    if args.step == "local":
        problems = check_local(manifest, args.dir)
    else:
        problems = check_s3(manifest, json.loads(args.listing.read_text() or "{}"), args.prefix)
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    print(f"{args.step}: {len(manifest['files'])} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

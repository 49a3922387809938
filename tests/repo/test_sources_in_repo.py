"""Every fact is cited by its primary source, inside the repository (issue 11, item 6).

The project's notes file outside the repository is a pointer to sources, not a source:
a reader of a clone cannot open it, and it changes without the code noticing. So no
tracked file may name it, or point to the folder beside the checkout that holds it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Spelled in pieces so this file does not match itself.
NOTES_FILE = re.compile("REFERENCE" + r"\.md", re.IGNORECASE)
# The folder beside the checkout, however many "../" lead to it, or its absolute path.
OUTSIDE = re.compile(r"(?:\.\./)+" + "shared" + r"\b|/work/" + "shared" + r"\b")


def tracked_files() -> list[tuple[str, str]]:
    """(path, mode) of every file git tracks, read from the index."""
    out = subprocess.run(
        ["git", "ls-files", "-s", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = []
    for entry in filter(None, out.split("\0")):
        meta, path = entry.split("\t", 1)
        files.append((path, meta.split()[0]))
    return files


def offending_lines(text: str) -> list[tuple[int, str]]:
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), 1)
        if NOTES_FILE.search(line) or OUTSIDE.search(line)
    ]


def test_no_tracked_file_cites_a_source_outside_the_repository() -> None:
    found = []
    for path, mode in tracked_files():
        file = ROOT / path
        if mode == "120000":  # a symlink: its target must not leave the repository either
            target = str(file.readlink()) if file.is_symlink() else ""
            found += [f"{path} -> {target}" for _ in offending_lines(target)]
            continue
        if not file.is_file():  # deleted in the work tree, not yet committed
            continue
        data = file.read_bytes()
        if b"\0" in data:  # binary
            continue
        text = data.decode("utf-8", errors="replace")
        found += [f"{path}:{n}: {line}" for n, line in offending_lines(text)]
    assert not found, (
        "cite the primary source (AWS doc page, vLLM file or issue, model card) or "
        "docs/sources.md instead of a file outside the repository:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "line",
    [
        "# 64.38 GiB (vllm #33155, " + "REFERENCE" + ".md)",
        "see " + "reference" + ".MD",
        "facts in ../" + "shared/notes",
        "open /work/" + "shared/x",
        "../../" + "shared",
    ],
)
def test_the_patterns_catch_each_form(line: str) -> None:
    assert offending_lines(line)


@pytest.mark.parametrize(
    "line",
    [
        "# these files are meant to be shared/mounted.",
        "docs/sources.md",
        "a shared checkout",
    ],
)
def test_ordinary_uses_of_the_word_pass(line: str) -> None:
    assert not offending_lines(line)

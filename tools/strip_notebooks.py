"""Strip outputs, execution counts and run-time metadata from notebooks before commit.

    python tools/strip_notebooks.py notebooks/*.ipynb           # rewrite in place
    python tools/strip_notebooks.py --check notebooks/*.ipynb   # exit 1 if any would change

Committed notebooks hold source only: outputs would carry one run's account ids, endpoint
names and timings into the diff, and a stale output reads as if it were current. The file
is written the way Jupyter writes it (JSON, indent 1, UTF-8, final newline), so a notebook
saved from Jupyter and stripped differs from the committed one only where the source does.
Standard library only: it runs in any of the repository's environments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Cell metadata Jupyter and nbclient add while running or viewing (timings, collapsed
# outputs); tags and anything else a person set stay.
RUN_TIME_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
# Notebook metadata to keep; language_info is cut to its name (the rest is the version of
# whatever kernel last ran it).
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def strip(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``notebook`` with no outputs, execution counts or run-time metadata."""
    cells = []
    for cell in notebook.get("cells", []):
        cell = dict(cell)
        metadata = {
            k: v for k, v in cell.get("metadata", {}).items() if k not in RUN_TIME_CELL_METADATA
        }
        cell["metadata"] = metadata
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    metadata = {
        k: v for k, v in notebook.get("metadata", {}).items() if k in KEPT_NOTEBOOK_METADATA
    }
    if isinstance(metadata.get("language_info"), dict):
        metadata["language_info"] = {"name": metadata["language_info"].get("name", "python")}
    return {**notebook, "cells": cells, "metadata": metadata}


def render(notebook: dict[str, Any]) -> str:
    """The file text, formatted as Jupyter saves notebooks."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if dirty")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.notebooks:
        text = path.read_text(encoding="utf-8")
        clean = render(strip(json.loads(text)))
        if clean == text:
            continue
        dirty.append(path)
        if not args.check:
            path.write_text(clean, encoding="utf-8")
    verb = "would strip" if args.check else "stripped"
    for path in dirty:
        print(f"{verb} {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())

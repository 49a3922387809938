"""Committed notebooks are source only: no outputs, no execution counts, no run metadata.

`make strip-notebooks` (tools/strip_notebooks.py) fixes a notebook that fails here.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def strip_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "strip_notebooks", REPO / "tools" / "strip_notebooks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == ["bedrock_only.ipynb", "quickstart_sagemaker.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell["outputs"] == [], f"{cell['id']} has outputs"
        assert cell["execution_count"] is None, f"{cell['id']} has an execution count"
        assert "execution" not in cell["metadata"], f"{cell['id']} has run timings"
    # Exactly what the strip tool writes, so `make strip-notebooks` changes nothing.
    tool = strip_tool()
    assert tool.render(tool.strip(notebook)) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_is_skipped(path: Path) -> None:
    """CI runs every cell: no tags or magics that skip one."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        tags = cell["metadata"].get("tags", [])
        assert not {"skip", "skip-execution", "raises-exception"} & set(tags), cell["id"]
        source = "".join(cell["source"])
        assert "%%script false" not in source
        assert "%pip" not in source or cell["cell_type"] == "markdown", cell["id"]


def test_strip_removes_outputs_and_run_metadata(tmp_path: Path) -> None:
    run: dict[str, Any] = {
        "cells": [
            {
                "cell_type": "code",
                "id": "a",
                "metadata": {"execution": {"iopub.status.busy": "now"}, "tags": ["keep"]},
                "execution_count": 3,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "123456789012"}],
                "source": ["print(1)"],
            },
            {"cell_type": "markdown", "id": "b", "metadata": {}, "source": ["# hi"]},
        ],
        "metadata": {
            "kernelspec": {"name": "gptoss-aws", "display_name": "x", "language": "python"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "widgets": {},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "run.ipynb"
    path.write_text(json.dumps(run), encoding="utf-8")
    tool = strip_tool()
    assert tool.main(["--check", str(path)]) == 1
    assert tool.main([str(path)]) == 0
    clean = json.loads(path.read_text(encoding="utf-8"))
    assert clean["cells"][0]["outputs"] == []
    assert clean["cells"][0]["execution_count"] is None
    assert clean["cells"][0]["metadata"] == {"tags": ["keep"]}
    assert clean["metadata"]["language_info"] == {"name": "python"}
    assert "widgets" not in clean["metadata"]
    assert tool.main(["--check", str(path)]) == 0

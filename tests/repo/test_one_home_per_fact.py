"""A shared fact is written once, in facts/ (gptoss_facts), and imported everywhere else.

Before issue 11 the context length, the SageMaker name rule and the NVIDIA driver table
were each written in two to four components and kept equal by drift tests. These checks
look for the value itself in the other components' code, so a copy cannot come back
unnoticed. The tiny test model (gptoss_tiny) is exempt where it describes its own config.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("sdk/src", "deploy/src", "inference_container/src", "infra/src")

# fact -> a pattern of its value as code would write it
FACTS: dict[str, re.Pattern[str]] = {
    "context length 131072 (gptoss_facts.models.CONTEXT_LENGTH)": re.compile(
        r"(?<![\d.])131_?072(?!\d)"
    ),
    "SageMaker name rule (gptoss_facts.names.SAGEMAKER_NAME)": re.compile(
        re.escape(r"(-*[a-zA-Z0-9]){0,62}")
    ),
    "NVIDIA driver for CUDA 13.0 (gptoss_facts.cuda.MIN_DRIVER_FOR_CUDA)": re.compile(
        r"\(580,\s*65,\s*6\)"
    ),
    "gpt-oss tensor-parallel sizes (gptoss_facts.models.TENSOR_PARALLEL_SIZES)": re.compile(
        r"=\s*\(1,\s*2,\s*4,\s*8\)"
    ),
}
# Facts that facts/ derives rather than writes (the sizes follow from the head counts).
DERIVED = {"gpt-oss tensor-parallel sizes (gptoss_facts.models.TENSOR_PARALLEL_SIZES)"}
EXEMPT = ("inference_container/src/gptoss_tiny/",)


def docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers of module, class and function docstrings (prose, aws-cdk style)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                first = body[0]
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def code_lines(path: Path) -> list[tuple[int, str]]:
    """Lines that are code: comments and docstrings may name a value (the props' documented
    defaults are held to the facts by tests/infra)."""
    text = path.read_text()
    prose = docstring_lines(ast.parse(text))
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if number in prose or stripped.startswith("#") or not stripped:
            continue
        lines.append((number, line.split("  #", 1)[0]))
    return lines


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_the_fact_is_written_only_in_facts(fact: str) -> None:
    pattern = FACTS[fact]
    copies = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in COMPONENTS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not str(path.relative_to(ROOT)).startswith(EXEMPT)
        for number, line in code_lines(path)
        if pattern.search(line)
    ]
    assert copies == [], f"import {fact} instead of writing it again"


def test_the_patterns_find_the_facts_where_they_live() -> None:
    # A pattern that matches nothing would pass everywhere: it must find its own home.
    home = "\n".join(p.read_text() for p in (ROOT / "facts" / "src").rglob("*.py"))
    for fact, pattern in FACTS.items():
        if fact not in DERIVED:
            assert pattern.search(home), fact
    from gptoss_facts.models import TENSOR_PARALLEL_SIZES

    assert FACTS[next(iter(DERIVED))].search(f"x = {TENSOR_PARALLEL_SIZES}")

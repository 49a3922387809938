"""Each component imports only what it may (issue 11: one home per fact, one room per job).

The SDK installs without CDK, vLLM or the deployment code; the container needs neither the
SDK nor CDK; the shared facts need nothing but the standard library, because the inference
image installs them beside vLLM with --no-deps. These are checked on the import statements
of every source file, so a new import that crosses a boundary fails here, before a user's
`pip install` does.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]

# component folder -> (its import package(s), top-level modules it must never import)
FORBIDDEN: dict[str, frozenset[str]] = {
    "facts/src": frozenset(),  # standard library only: checked separately
    "sdk/src": frozenset(
        {"gptoss_deploy", "gptoss_infra", "gptoss_container", "aws_cdk", "vllm", "torch"}
    ),
    "deploy/src": frozenset({"gptoss_infra", "gptoss_container", "aws_cdk", "vllm", "torch"}),
    "inference_container/src": frozenset(
        {"gptoss_aws", "gptoss_deploy", "gptoss_infra", "aws_cdk", "boto3"}
    ),
    "infra/src": frozenset({"gptoss_container", "vllm", "torch"}),
}
# distribution folder -> the first-party distributions it may declare
FIRST_PARTY = {
    "gptoss_facts": "gptoss-facts",
    "gptoss_aws": "gptoss-aws",
    "gptoss_deploy": "gptoss-deploy",
}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every absolute import in one file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_component_imports_across_its_boundary(folder: str) -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sources(folder)
        for name in sorted(imported_modules(path) & FORBIDDEN[folder])
    ]
    assert crossings == []


def test_the_shared_facts_use_the_standard_library_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"gptoss_facts", "__future__"}
    outside = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sources("facts/src")
        for name in sorted(imported_modules(path) - allowed)
    ]
    assert outside == []
    project = tomllib.loads((ROOT / "facts" / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == []


@pytest.mark.parametrize(
    ("folder", "package"),
    [
        ("sdk", "gptoss_aws"),
        ("deploy", "gptoss_deploy"),
        ("inference_container", "gptoss_container"),
    ],
)
def test_a_component_that_imports_a_first_party_package_declares_it(
    folder: str, package: str
) -> None:
    used = set().union(*(imported_modules(p) for p in sources(f"{folder}/src")))
    project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]
    declared = {Requirement(line).name for line in project["dependencies"]}
    missing = [
        distribution
        for module, distribution in FIRST_PARTY.items()
        if module in used and module != package and distribution not in declared
    ]
    assert missing == [], f"{folder}/pyproject.toml must list {missing} in dependencies"

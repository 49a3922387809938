"""The SDK's extras give ranges users can combine; the notebook lock pins what is tested.

An exact pin in an extra (``sagemaker==3.27.0``) makes ``pip install gptoss-aws[sagemaker]``
fail beside any other package that needs a different patch release, though nothing in our
code depends on that patch. The lock file keeps the tested version exact.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def extras() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text())["project"]
    return {
        name: [Requirement(line) for line in lines]
        for name, lines in project["optional-dependencies"].items()
    }


def locked(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def test_no_extra_pins_an_exact_version() -> None:
    exact = [
        f"{extra}: {req}"
        for extra, reqs in extras().items()
        for req in reqs
        if any(spec.operator in ("==", "===") for spec in req.specifier)
    ]
    assert exact == [], "give a compatible range (>=tested,<next major) instead"


def test_the_notebook_lock_pins_a_sagemaker_the_extra_accepts() -> None:
    (sagemaker,) = [req for req in extras()["sagemaker"] if req.name == "sagemaker"]
    version = locked("notebooks.lock")["sagemaker"]
    assert sagemaker.specifier.contains(version), (sagemaker, version)

"""The extras of the SDK and of the deployment package give ranges users can combine; the
notebook lock pins what is tested.

An exact pin in an extra (``sagemaker==3.27.0``) makes ``pip install gptoss-aws[sagemaker]``
fail beside any other package that needs a different patch release, though nothing in our
code depends on that patch. The lock file keeps the tested version exact. The SDK's
``sagemaker`` extra is the deployment package's (``gptoss-deploy[sagemaker]``), so the
notebooks' install line keeps working after deployment left the SDK (issue 11).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def extras(distribution: str = "sdk") -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / distribution / "pyproject.toml").read_text())["project"]
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
        f"{distribution} {extra}: {req}"
        for distribution in ("sdk", "deploy")
        for extra, reqs in extras(distribution).items()
        for req in reqs
        if any(spec.operator in ("==", "===") for spec in req.specifier)
    ]
    assert exact == [], "give a compatible range (>=tested,<next major) instead"


def test_the_sdk_sagemaker_extra_is_the_deployment_package_with_its_own() -> None:
    (deploy,) = extras()["sagemaker"]
    assert (deploy.name, deploy.extras) == ("gptoss-deploy", {"sagemaker"})
    assert [req.name for req in extras()["deploy"]] == ["gptoss-deploy"]


def test_the_notebook_lock_pins_a_sagemaker_the_extra_accepts() -> None:
    (sagemaker,) = [req for req in extras("deploy")["sagemaker"] if req.name == "sagemaker"]
    version = locked("notebooks.lock")["sagemaker"]
    assert sagemaker.specifier.contains(version), (sagemaker, version)


@pytest.mark.parametrize("lock", ["clients.lock", "dev.lock"])
def test_the_locks_pin_an_openai_the_extra_accepts(lock: str) -> None:
    # openai_client() is tested with these pins; a user's `gptoss-aws[openai]` must allow them.
    (openai,) = extras()["openai"]
    assert openai.specifier.contains(locked(lock)["openai"]), (openai, lock)

"""Reading a configuration: a preset plus overrides, or an environment file on top of one.

Every problem pydantic finds is reported at once, each with its field and fix, as an
InvalidConfigurationError.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gptoss_aws.errors import InvalidConfigurationError
from gptoss_deploy.config import (
    DEFAULT_PRESET,
    DeploymentConfig,
    Problem,
)
from gptoss_deploy.presets import PRESETS

# The sections an environment file merges into the preset field by field; every other
# value (including mappings such as `tags` and `bedrock.teams`) replaces the preset's whole,
# so a file can also remove a team or a tag.
SECTIONS = ("sagemaker", "bedrock", "cost")


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if key in SECTIONS and isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = {**current, **value}
        else:
            merged[key] = value
    return merged


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        field = _field_path(item["loc"])
        if item["type"] == "extra_forbidden":
            fix = (
                "remove it, or correct its spelling (the fields are listed in "
                "docs/infrastructure.md, section Configuration)"
            )
        elif item["type"] == "literal_error":
            fix = f"use {item.get('ctx', {}).get('expected', 'one of the allowed values')}"
        else:
            fix = "see the field's documentation in docs/infrastructure.md, section Configuration"
        problems.append(Problem(field, f"{item['msg']} (got {item.get('input')!r})", fix))
    return problems


def from_preset(
    preset: str = DEFAULT_PRESET,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str | None = None,
) -> DeploymentConfig:
    """A preset with ``overrides`` merged in, checked field by field.

    Raises InvalidConfigurationError listing every field problem.
    """
    where = source or f"preset {preset!r}"
    if preset not in PRESETS:
        raise InvalidConfigurationError(
            where,
            [Problem("preset", f"unknown preset {preset!r}", f"use one of {', '.join(PRESETS)}")],
        )
    base = PRESETS[preset].model_dump(mode="python", exclude_unset=False)
    merged = _merge(base, dict(overrides or {}))
    merged["preset"] = preset
    try:
        return DeploymentConfig.model_validate(merged)
    except ValidationError as error:
        raise InvalidConfigurationError(where, _pydantic_problems(error)) from None


def environment_file(name: str, directory: Path) -> Path:
    for suffix in (".json", ".toml"):
        path = directory / f"{name}{suffix}"
        if path.is_file():
            return path
    known = sorted(
        {p.stem for p in directory.glob("*.json")} | {p.stem for p in directory.glob("*.toml")}
    )
    raise InvalidConfigurationError(
        f"environment {name!r}",
        [
            Problem(
                "env",
                f"no {name}.json or {name}.toml in {directory}",
                f"pass -c env=<one of {', '.join(known) or 'none'}>, or create the file",
            )
        ],
    )


def read_environment_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidConfigurationError(
            str(path), [Problem("(file)", f"cannot be parsed: {error}", "fix the syntax")]
        ) from None
    if not isinstance(data, dict):
        raise InvalidConfigurationError(
            str(path), [Problem("(file)", "is not a table/object", "write a JSON object")]
        )
    return data


def load_environment(name: str, directory: Path) -> DeploymentConfig:
    """Read ``<directory>/<name>.json`` (or ``.toml``): a preset plus overrides.

    The environment name is the file name, so ``dev.json`` always deploys ``dev``.
    Keys starting with ``$`` (e.g. ``"$comment"``) are ignored, since JSON has no comments.
    """
    path = environment_file(name, directory)
    data = {k: v for k, v in read_environment_file(path).items() if not k.startswith("$")}
    preset = data.pop("preset", DEFAULT_PRESET)
    if "environment" in data and data["environment"] != name:
        raise InvalidConfigurationError(
            str(path),
            [
                Problem(
                    "environment",
                    f"{data['environment']!r} differs from the file name {name!r}",
                    "remove the key (the file name is the environment name)",
                )
            ],
        )
    data["environment"] = name
    return from_preset(str(preset), data, source=str(path))

"""Fake AWS credentials and settings for every suite: nothing a test runs can reach AWS
or read the user's own AWS files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def fake_aws_environment(home: Path, region: str = "us-east-1") -> dict[str, str]:
    """Fake keys, empty config files under ``home``, no instance metadata, and the SDK's
    ledger and price cache under ``home`` instead of the user's data directory."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "GPTOSS_AWS_HOME": str(home / "gptoss-aws"),
    }


def use_fake_aws(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Set ``env`` and drop what could point boto3 at a real account or endpoint."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "GPTOSS_STACK_NAME"):
        monkeypatch.delenv(key, raising=False)
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(key)

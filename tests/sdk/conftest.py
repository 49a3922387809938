"""Every SDK test runs with fake AWS credentials and no AWS config: nothing can reach AWS."""

from __future__ import annotations

import pytest
from fakeaws import fake_aws_environment, use_fake_aws


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    use_fake_aws(monkeypatch, fake_aws_environment(tmp_path_factory.mktemp("aws-home")))

"""Synthesize every preset (and a few variants) once per session, with every rule pack.

Synthesis is the slow part of these tests (the first app ~5 s while jsii starts, then about
a second each), so each configuration is built and synthesized once, here, and the tests
read the cloud assembly, the templates and the construct tree from the result.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before jsii starts: silence Node 20's end-of-life banner (the variable lists Node major
# versions) and keep the CDK from calling home.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from gptoss_deploy.config import DeploymentConfig
from gptoss_deploy.loading import from_preset, load_environment
from gptoss_deploy.presets import PRESETS
from gptoss_infra.stacks import build_app

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = REPO / "infra" / "environments"


def variants() -> dict[str, DeploymentConfig]:
    """Configurations beyond the presets that take other code paths in the stacks."""
    return {
        # Inference components that scale to zero copies and instances.
        "scale-to-zero": from_preset(
            "gpt-oss-120b-ic-p5-48xlarge",
            {"sagemaker": {"scale_to_zero": True, "min_copies": 0, "min_instances": 0}},
        ),
        # The prod environment file: several teams, an enforced guardrail.
        "prod": load_environment("prod", ENVIRONMENTS),
        # The openai environment file: SageMaker's OpenAI route, Mantle projects per team,
        # a safeguard model on Bedrock.
        "openai": load_environment("openai", ENVIRONMENTS),
        # A given ECR image, no mirror job, data capture, alarm e-mails, no ledger table.
        "byo-image": from_preset(
            "gpt-oss-20b-g6e-xlarge",
            {
                "sagemaker": {
                    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/gptoss:1.0",
                    "mirror_weights": False,
                    "data_capture": True,
                    "keep_weights_on_destroy": True,
                },
                "cost": {"alert_emails": ["ops@example.com"], "ledger_table": False},
                "tags": {"cost-center": "ml-42"},
            },
        ),
    }


@dataclass
class Synthesized:
    """One configuration, its app (construct tree) and its cloud assembly."""

    name: str
    config: DeploymentConfig
    app: cdk.App
    outdir: Path
    error: Exception | None

    @property
    def stack_names(self) -> list[str]:
        manifest = json.loads((self.outdir / "manifest.json").read_text())
        return sorted(
            name
            for name, artifact in manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        )

    def template_path(self, stack: str) -> Path:
        return self.outdir / f"{stack}.template.json"

    def template(self, stack: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.template_path(stack).read_text())
        return data

    def assertions(self, stack: str) -> Template:
        return Template.from_json(self.template(stack))

    @property
    def names(self) -> Any:
        return self.config.names


def _synthesize(name: str, config: DeploymentConfig, root: Path) -> Synthesized:
    outdir = root / name
    app = build_app(config, outdir=str(outdir))
    try:
        app.synth()
    except RuntimeError as error:  # cdk-nag findings fail synthesis; the tests list them
        return Synthesized(name, config, app, outdir, error)
    return Synthesized(name, config, app, outdir, None)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Every preset and variant, synthesized once with all rule packs."""
    root = tmp_path_factory.mktemp("assemblies")
    configs = {**PRESETS, **variants()}
    return {name: _synthesize(name, config, root) for name, config in configs.items()}


@pytest.fixture(scope="session")
def presets(synthesized: dict[str, Synthesized]) -> dict[str, Synthesized]:
    return {name: synthesized[name] for name in PRESETS}


@pytest.fixture
def each(synthesized: dict[str, Synthesized], request: pytest.FixtureRequest) -> Synthesized:
    """The configuration named by ``@pytest.mark.parametrize("each", [...], indirect=True)``."""
    name: str = request.param
    return synthesized[name]


ALL_CONFIGS = [*PRESETS, *variants()]

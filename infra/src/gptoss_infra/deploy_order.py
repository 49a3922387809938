"""The order `make deploy` creates an environment in, with the readiness gates and rough times.

Read from the cloud assembly: stack dependencies from ``manifest.json`` (CloudFormation
deploys a stack after the stacks it depends on; the CDK CLI follows the same graph), the
gates (``Custom::GptOssWeightsReady`` / ``Custom::GptOssImageReady``) and the endpoint
resources from the templates. The times are estimates for a first deploy, written next to
their reasons below; a re-deploy skips a gate whose work is already done.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gptoss_facts.cuda import BASE_IMAGE
from gptoss_facts.models import ALL_MODELS

WEIGHTS_GATE = "Custom::GptOssWeightsReady"
IMAGE_GATE = "Custom::GptOssImageReady"

# Rough first-deploy durations. The copy: the mirror job downloads, hashes twice (sha256 and
# git blob id) and uploads; at an end-to-end ~100 MB/s a CodeBuild LARGE host sustains
# (8 vCPU, estimate) 61 GiB take ~11 minutes, plus ~2 of provisioning; the gate waits at
# most 55. The image: pulling the ~10 GB base image through the ECR cache and pushing one
# layer, 5-15 minutes. The endpoint: instance provisioning, the S3-to-instance copy (3-6
# minutes for 61 GiB), vLLM load and CUDA-graph capture (5-10) -- SageMaker allows the
# 1800 s health-check timeout the endpoint sets.
_MB_PER_S = 100
GIB = 1024**3


def copy_minutes(gib: float) -> tuple[int, int]:
    """(low, high) minutes to mirror ``gib`` GiB: the estimate above and twice it."""
    minutes = gib * GIB / (_MB_PER_S * 1e6) / 60 + 2
    return max(1, round(minutes)), max(2, round(2 * minutes))


@dataclass
class Step:
    stack: str
    what: str
    minutes: str
    gates: list[str] = field(default_factory=list)


def _checkpoint_gib(repo_id: str) -> float | None:
    # ALL_MODELS: a safeguard endpoint mirrors openai/gpt-oss-safeguard-*.
    for spec in ALL_MODELS.values():
        if spec.hub_id == repo_id:
            return spec.checkpoint_gib
    return None


def _order(artifacts: Mapping[str, Any]) -> list[str]:
    stacks = [n for n, a in artifacts.items() if a.get("type") == "aws:cloudformation:stack"]
    done: list[str] = []
    while len(done) < len(stacks):
        ready = [
            name
            for name in stacks
            if name not in done
            and all(d in done or d not in stacks for d in artifacts[name].get("dependencies", []))
        ]
        if not ready:  # a cycle cannot be deployed; keep the manifest order for the rest
            ready = [name for name in stacks if name not in done]
        done.append(ready[0])
    return done


def _gate_lines(resources: Mapping[str, Any]) -> list[str]:
    lines = []
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource.get("Type") == WEIGHTS_GATE:
            repo = props.get("RepoId", "?")
            gib = _checkpoint_gib(repo)
            if props.get("ProjectName"):
                low, high = copy_minutes(gib) if gib else (10, 30)
                size = f"{gib:.1f} GiB" if gib else "the checkpoint"
                lines.append(
                    f"gate {WEIGHTS_GATE}: copy {repo} ({size}) from Hugging Face, check "
                    f"sizes and sha256, upload: ~{low}-{high} min (0 when already verified)"
                )
            else:
                lines.append(
                    f"gate {WEIGHTS_GATE}: wait for your upload of {repo} (config.json present)"
                )
        elif resource.get("Type") == IMAGE_GATE:
            lines.append(
                f"gate {IMAGE_GATE}: build the serving image in CodeBuild on "
                f"{BASE_IMAGE} and push it to ECR: ~5-15 min (0 when the tag exists)"
            )
    return lines


def _what(resources: Mapping[str, Any]) -> tuple[str, str]:
    kinds = {r.get("Type") for r in resources.values()}
    if "AWS::SageMaker::Endpoint" in kinds:
        what = "model, endpoint config, endpoint"
        if "AWS::SageMaker::InferenceComponent" in kinds:
            what += ", inference component"
        return (
            f"{what}, autoscaling, alarms (after the gates): InService after instance start, "
            "weights download and vLLM start",
            "~10-25 min",
        )
    if WEIGHTS_GATE in {r.get("Type") for r in resources.values()}:
        return "weights bucket, key, mirror job", "~2 min"
    return f"{len(resources)} resources", "~1-3 min"


def deploy_order(assembly: str | Path) -> list[Step]:
    root = Path(assembly)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    artifacts = manifest.get("artifacts", {})
    steps = []
    for name in _order(artifacts):
        template_file = artifacts[name]["properties"]["templateFile"]
        resources = json.loads((root / template_file).read_text(encoding="utf-8")).get(
            "Resources", {}
        )
        what, minutes = _what(resources)
        steps.append(Step(name, what, minutes, _gate_lines(resources)))
    return steps


def deploy_order_text(assembly: str | Path) -> str:
    lines = ["Deploy order (make deploy; rough times for a first deploy):"]
    for number, step in enumerate(deploy_order(assembly), start=1):
        lines.append(f"  {number}. {step.stack}")
        body = [f"{step.what}: {step.minutes}"]
        # Gates hold back what references them: the model waits for both; the weights
        # gate runs once the bucket and mirror job exist.
        body = [*step.gates, *body] if "endpoint" in step.what else [*body, *step.gates]
        lines += [f"       {line}" for line in body]
    return "\n".join(lines)

"""Read a synthesized cloud assembly: stacks, resources, capacities, Bedrock models, and
cdk-nag's findings and acknowledgements.

Everything comes from the assembly itself (templates, manifest, metadata, cdk-nag's
validation report), not from the configuration, so the summary describes what would really
be deployed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ACK_METADATA = "aws:cdk:acknowledged-rules"
# gpt-oss ids carry a version ("openai.gpt-oss-120b-1:0"); the safeguard ids, as far as
# third-party tables show, do not ("openai.gpt-oss-safeguard-20b"): match both, so a granted
# safeguard model is listed (and named as unpriced) rather than silently left out.
_MODEL_ARN = re.compile(r"foundation-model/(openai\.gpt-oss-(?:safeguard-)?\d+b(?:-\d+:\d+)?)")


@dataclass(frozen=True)
class Acknowledgement:
    """A cdk-nag finding acknowledged on a construct (and its children), with the reason."""

    rule: str
    reason: str
    path: str


@dataclass(frozen=True)
class Finding:
    """A finding from a validation plugin that nothing acknowledged."""

    plugin: str
    rule: str
    severity: str
    description: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Capacity:
    """SageMaker instances one endpoint variant runs at the lowest and highest point."""

    stack: str
    variant: str
    instance_type: str
    region: str
    min_instances: int
    max_instances: int


@dataclass(frozen=True)
class StackSummary:
    name: str
    region: str
    resources: Counter[str]
    outputs: dict[str, str]
    metadata: dict[str, Any]


@dataclass
class AssemblySummary:
    directory: Path
    stacks: list[StackSummary] = field(default_factory=list)
    acknowledgements: list[Acknowledgement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    capacities: list[Capacity] = field(default_factory=list)
    bedrock_models: dict[str, set[str]] = field(default_factory=dict)  # region -> model ids
    validation_report: bool = False

    @property
    def resource_counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for stack in self.stacks:
            total.update(stack.resources)
        return total

    @property
    def labels(self) -> dict[str, str]:
        """Project, environment and preset, from the stacks' template metadata."""
        for stack in self.stacks:
            info = stack.metadata.get("gptoss")
            # The account stack is shared by environments and names none.
            if isinstance(info, dict) and "environment" in info:
                return {k: str(info[k]) for k in ("project", "environment", "preset") if k in info}
        return {}


def _region(environment: str) -> str:
    # "aws://unknown-account/us-west-2"; an environment-agnostic stack has "unknown-region".
    return environment.rsplit("/", 1)[-1]


def _literal(value: Any) -> str:
    """A CloudFormation value flattened for matching: Fn::Join parts joined, refs as '*'."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(_literal(p) for p in parts)
    return "*"


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _capacities(stack: str, region: str, resources: Mapping[str, Any]) -> list[Capacity]:
    targets = [
        r.get("Properties", {})
        for r in resources.values()
        if r.get("Type") == "AWS::ApplicationAutoScaling::ScalableTarget"
        and r.get("Properties", {}).get("ScalableDimension")
        == "sagemaker:variant:DesiredInstanceCount"
    ]
    variants = [
        variant
        for r in resources.values()
        if r.get("Type") == "AWS::SageMaker::EndpointConfig"
        for variant in r.get("Properties", {}).get("ProductionVariants", [])
    ]
    out = []
    for variant in variants:
        name = str(variant.get("VariantName", "?"))
        initial = _int(variant.get("InitialInstanceCount"), 1)
        low, high = initial, initial
        managed = variant.get("ManagedInstanceScaling") or {}
        if managed.get("Status") == "ENABLED":
            low = _int(managed.get("MinInstanceCount"), low)
            high = _int(managed.get("MaxInstanceCount"), high)
        matching = [t for t in targets if f"variant/{name}" in _literal(t.get("ResourceId"))]
        if not matching and len(variants) == 1 and len(targets) == 1:
            matching = targets
        if matching:
            low = _int(matching[0].get("MinCapacity"), low)
            high = _int(matching[0].get("MaxCapacity"), high)
        out.append(
            Capacity(stack, name, str(variant.get("InstanceType")), region, low, max(low, high))
        )
    return out


def _acknowledgements(metadata: Mapping[str, Any]) -> list[Acknowledgement]:
    out = []
    for path, entries in metadata.items():
        for entry in entries:
            if entry.get("type") != _ACK_METADATA:
                continue
            for rule, reason in (entry.get("data") or {}).items():
                out.append(Acknowledgement(rule.removeprefix("Annotation::"), reason, path))
    return out


def _findings(report: Mapping[str, Any]) -> list[Finding]:
    out = []
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            paths = tuple(
                str(c.get("constructPath", "?")) for c in violation.get("violatingConstructs", [])
            )
            out.append(
                Finding(
                    plugin=str(plugin.get("pluginName", "?")),
                    rule=str(violation.get("ruleName", "?")),
                    severity=str(violation.get("severity", "?")),
                    description=str(violation.get("description", "")),
                    paths=paths,
                )
            )
    return out


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _read_stack(
    summary: AssemblySummary, root: Path, name: str, artifact: Mapping[str, Any]
) -> None:
    template = _read_json(root / artifact.get("properties", {})["templateFile"])
    region = _region(str(artifact.get("environment", "")))
    resources = template.get("Resources", {})
    outputs = {
        key: str(out.get("Export", {}).get("Name", ""))
        for key, out in template.get("Outputs", {}).items()
    }
    summary.stacks.append(
        StackSummary(
            name=str(artifact.get("displayName", name)),
            region=region,
            resources=Counter(str(r.get("Type")) for r in resources.values()),
            outputs=outputs,
            metadata=dict(template.get("Metadata", {})),
        )
    )
    summary.capacities += _capacities(name, region, resources)
    models = set(_MODEL_ARN.findall(json.dumps(resources)))
    if models:
        summary.bedrock_models.setdefault(region, set()).update(models)
    metadata_file = artifact.get("additionalMetadataFile")
    metadata = (
        _read_json(root / metadata_file)
        if metadata_file and (root / metadata_file).is_file()
        else artifact.get("metadata", {})
    )
    summary.acknowledgements += _acknowledgements(metadata)


def read_assembly(directory: str | Path) -> AssemblySummary:
    """Summarize the cloud assembly in ``directory`` (``cdk.out``)."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{manifest_path} not found: run `make synth` (or `npx cdk synth`) first"
        )
    summary = AssemblySummary(directory=root)
    for name, artifact in sorted(_read_json(manifest_path).get("artifacts", {}).items()):
        if artifact.get("type") == "aws:cloudformation:stack":
            _read_stack(summary, root, name, artifact)
    report_path = root / "validation-report.json"
    if report_path.is_file():
        summary.validation_report = True
        summary.findings = _findings(_read_json(report_path))
    summary.acknowledgements.sort(key=lambda a: (a.rule, a.path))
    return summary

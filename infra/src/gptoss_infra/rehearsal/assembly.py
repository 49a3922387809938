"""Cloud assemblies as the rehearsal reads them: stacks, templates, exports, references.

Only what ``cdk synth`` wrote is used (``manifest.json`` and the templates), so the rules
judge exactly what CloudFormation would receive. The reference helpers follow the
CloudFormation user guide's dependency rules ("DependsOn attribute": a ``Ref``,
``Fn::GetAtt`` or ``Fn::Sub`` to a resource makes it be created first) and cross-stack
references (an ``Fn::ImportValue`` of an export is resolved to the exporting stack's
output, which CloudFormation only offers once that stack has finished).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


@dataclass(frozen=True)
class StackTemplate:
    """One stack of an assembly: its name, where it deploys and its template."""

    artifact_id: str
    name: str
    account: str
    region: str
    template: Mapping[str, Any]
    termination_protection: bool = False
    dependencies: tuple[str, ...] = ()

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources = self.template.get("Resources", {})
        return resources if isinstance(resources, Mapping) else {}

    @property
    def outputs(self) -> Mapping[str, Mapping[str, Any]]:
        outputs = self.template.get("Outputs", {})
        return outputs if isinstance(outputs, Mapping) else {}

    @property
    def gptoss(self) -> Mapping[str, Any]:
        """The ``Metadata.gptoss`` block our stacks write (project, environment, facts)."""
        metadata = self.template.get("Metadata", {})
        block = metadata.get("gptoss", {}) if isinstance(metadata, Mapping) else {}
        return block if isinstance(block, Mapping) else {}

    def of_type(self, *types: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types:
                yield logical_id, resource

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        props = self.resources.get(logical_id, {}).get("Properties", {})
        return props if isinstance(props, Mapping) else {}


@dataclass(frozen=True)
class Assembly:
    """Every stack one environment (one ``cdk synth``) deploys."""

    name: str
    stacks: tuple[StackTemplate, ...]
    directory: Path | None = None
    exports: Mapping[str, tuple[StackTemplate, str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, name: str, stacks: tuple[StackTemplate, ...], directory: Path | None = None
    ) -> Assembly:
        exports: dict[str, tuple[StackTemplate, str]] = {}
        for stack in stacks:
            for key, output in stack.outputs.items():
                export = (
                    output.get("Export", {}).get("Name") if isinstance(output, Mapping) else None
                )
                if isinstance(export, str):
                    exports[export] = (stack, key)
        return cls(name, stacks, directory, exports)

    def stack(self, name: str) -> StackTemplate:
        for stack in self.stacks:
            if stack.name == name or stack.artifact_id == name:
                return stack
        raise KeyError(f"no stack {name!r} in assembly {self.name!r}")


def _environment(value: str) -> tuple[str, str]:
    # "aws://unknown-account/us-west-2"
    parts = value.removeprefix("aws://").split("/")
    return (parts[0], parts[1]) if len(parts) == 2 else ("unknown-account", "unknown-region")


def read_assembly(directory: str | Path, name: str | None = None) -> Assembly:
    """The assembly ``cdk synth`` wrote to ``directory`` (named after its environment)."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: synthesize the app first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    stacks = []
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties", {})
        template = json.loads((root / props["templateFile"]).read_text(encoding="utf-8"))
        account, region = _environment(str(artifact.get("environment", "")))
        stacks.append(
            StackTemplate(
                artifact_id=artifact_id,
                name=str(props.get("stackName") or artifact.get("displayName") or artifact_id),
                account=account,
                region=region,
                template=template,
                termination_protection=bool(props.get("terminationProtection", False)),
                dependencies=tuple(
                    d for d in artifact.get("dependencies", []) if not d.endswith(".assets")
                ),
            )
        )
    label = name
    if label is None:
        for stack in stacks:
            environment = stack.gptoss.get("environment")
            if isinstance(environment, str):
                label = environment
                break
    return Assembly.of(label or root.name, tuple(stacks), root)


# --- references -----------------------------------------------------------------------


def references(value: Any) -> set[str]:
    """Logical ids ``value`` refers to through Ref, Fn::GetAtt and Fn::Sub (pseudo
    parameters such as ``AWS::AccountId`` excluded)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, item in node.items():
                if key == "Ref" and isinstance(item, str):
                    found.add(item)
                elif key == "Fn::GetAtt":
                    target = item[0] if isinstance(item, list) and item else item
                    if isinstance(target, str):
                        found.add(target.split(".")[0])
                elif key == "Fn::Sub":
                    text = item[0] if isinstance(item, list) and item else item
                    if isinstance(text, str):
                        found.update(m.split(".")[0] for m in _SUB_VARIABLE.findall(text))
                    if isinstance(item, list) and len(item) > 1:
                        walk(item[1])
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return {name for name in found if not name.startswith("AWS::")}


def imports(value: Any) -> set[str]:
    """Export names ``value`` imports with a literal ``Fn::ImportValue``."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, item in node.items():
                if key == "Fn::ImportValue" and isinstance(item, str):
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return found


Node = tuple[str, str]  # (stack name, logical id)


def closure(assembly: Assembly, stack: StackTemplate, value: Any) -> set[Node]:
    """Every resource that must exist before ``value`` can be resolved: its references,
    their references and ``DependsOn`` lists, across stacks through imported exports."""
    seen: set[Node] = set()
    pending: list[tuple[StackTemplate, Any]] = [(stack, value)]
    while pending:
        where, node = pending.pop()
        for logical_id in references(node):
            key = (where.name, logical_id)
            if key in seen or logical_id not in where.resources:
                continue
            seen.add(key)
            resource = where.resources[logical_id]
            pending.append((where, resource.get("Properties", {})))
            depends = resource.get("DependsOn", [])
            pending.append(
                (where, [{"Ref": d} for d in ([depends] if isinstance(depends, str) else depends)])
            )
        for export in imports(node):
            if export in assembly.exports:
                exporter, output = assembly.exports[export]
                pending.append((exporter, exporter.outputs[output].get("Value")))
    return seen


def resource_closure(assembly: Assembly, stack: StackTemplate, logical_id: str) -> set[Node]:
    """What must exist before resource ``logical_id`` is created (itself excluded)."""
    return closure(assembly, stack, {"Ref": logical_id}) - {(stack.name, logical_id)}


def resolve_target(value: Any) -> str | None:
    """The logical id a ``Ref``/``Fn::GetAtt`` value points at, else None."""
    if isinstance(value, Mapping):
        if isinstance(value.get("Ref"), str):
            return str(value["Ref"])
        target = value.get("Fn::GetAtt")
        if isinstance(target, list) and target and isinstance(target[0], str):
            return target[0]
        if isinstance(target, str):
            return target.split(".")[0]
    return None

"""Read a synthesized cloud assembly and say what it deploys, how safe it is, and its cost.

    python -m gptoss_infra.summary cdk.out
    python -m gptoss_infra.summary --update-docs docs/infrastructure.md

Everything comes from the assembly itself (templates, manifest, metadata, cdk-nag's
validation report), not from the configuration, so the summary describes what would really
be deployed. Monthly estimates use the SDK's price catalog at 730 hours a month (the AWS
Pricing Calculator's convention: 24 x 365 / 12). A price the catalog lacks is printed as
"unpriced", never as $0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gptoss_aws.errors import ConfigurationError, UnpricedError
from gptoss_aws.pricing.catalog import PriceBook, load_bundled
from gptoss_aws.pricing.records import InstancePrice

HOURS_PER_MONTH = Decimal(730)
CENT = Decimal("0.01")
_NO_ACCOUNT = "unknown-account"
_ACK_METADATA = "aws:cdk:acknowledged-rules"
_MODEL_ARN = re.compile(r"foundation-model/(openai\.gpt-oss-[0-9a-z]+-\d+:\d+)")


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


# --- reading the assembly -------------------------------------------------------------


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


def read_assembly(directory: str | Path) -> AssemblySummary:
    """Summarize the cloud assembly in ``directory`` (``cdk.out``)."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{manifest_path} not found: run `make synth` (or `npx cdk synth`) first"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    summary = AssemblySummary(directory=root)
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties", {})
        template = json.loads((root / props["templateFile"]).read_text(encoding="utf-8"))
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
            json.loads((root / metadata_file).read_text(encoding="utf-8"))
            if metadata_file and (root / metadata_file).is_file()
            else artifact.get("metadata", {})
        )
        summary.acknowledgements += _acknowledgements(metadata)
    report_path = root / "validation-report.json"
    if report_path.is_file():
        summary.validation_report = True
        summary.findings = _findings(json.loads(report_path.read_text(encoding="utf-8")))
    summary.acknowledgements.sort(key=lambda a: (a.rule, a.path))
    return summary


# --- cost -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    """The monthly hosting cost of one capacity, or why it has none."""

    capacity: Capacity
    usd_per_hour: Decimal | None
    price_source: str | None
    unpriced_reason: str | None
    # For an unpriced line: the catalog's price of the same type in another region, shown
    # as a labelled reference, never used as this region's price.
    reference: tuple[str, Decimal] | None = None

    @property
    def priced(self) -> bool:
        return self.usd_per_hour is not None

    def monthly(self, instances: int) -> Decimal | None:
        if self.usd_per_hour is None:
            return None
        return (self.usd_per_hour * HOURS_PER_MONTH * instances).quantize(CENT, ROUND_HALF_UP)

    @property
    def monthly_min(self) -> Decimal | None:
        return self.monthly(self.capacity.min_instances)

    @property
    def monthly_max(self) -> Decimal | None:
        return self.monthly(self.capacity.max_instances)


@dataclass(frozen=True)
class TokenLine:
    model: str
    region: str
    input_per_1m: Decimal | None
    output_per_1m: Decimal | None
    unpriced_reason: str | None


@dataclass(frozen=True)
class Estimate:
    lines: list[CostLine]
    tokens: list[TokenLine]

    @property
    def complete(self) -> bool:
        return all(line.priced for line in self.lines)

    def total(self, which: str) -> Decimal | None:
        """Sum over priced lines; None when any line is unpriced (a partial sum is not a
        total)."""
        if not self.complete:
            return None
        values = [getattr(line, f"monthly_{which}") for line in self.lines]
        return sum(values, Decimal(0))


def bundled_price_book() -> PriceBook:
    """Only the prices shipped with the SDK: what docs/ is generated from, so the numbers in
    it do not depend on anyone's refresh cache or overrides."""
    return PriceBook((load_bundled(),))


def _reference(book: PriceBook, instance_type: str) -> tuple[str, Decimal] | None:
    for row in book.rows():
        if row.kind == "sagemaker" and row.name == instance_type:
            price = row.price
            if isinstance(price, InstancePrice):
                return row.region, price.usd_per_hour
    return None


def estimate(summary: AssemblySummary, book: PriceBook) -> Estimate:
    lines = []
    for capacity in summary.capacities:
        try:
            price = book.instance_price(capacity.instance_type, capacity.region)
        except (UnpricedError, ConfigurationError) as error:
            reason = str(error).split(". Fix it")[0].split(". Fill it")[0]
            reference = _reference(book, capacity.instance_type)
            lines.append(CostLine(capacity, None, None, reason, reference))
        else:
            lines.append(CostLine(capacity, price.usd_per_hour, price.describe(), None))
    tokens = []
    for region, models in sorted(summary.bedrock_models.items()):
        for model in sorted(models):
            try:
                token = book.token_price(model, region)
            except (UnpricedError, ConfigurationError) as error:
                tokens.append(
                    TokenLine(
                        model,
                        region,
                        None,
                        None,
                        str(error).split(". Fix it")[0].split(". Fill it")[0],
                    )
                )
            else:
                tokens.append(
                    TokenLine(model, region, token.input_per_1m, token.output_per_1m, None)
                )
    return Estimate(lines, tokens)


def usd(value: Decimal | None) -> str:
    return "unpriced" if value is None else f"${value:,.2f}"


# --- text -----------------------------------------------------------------------------


def _fill(region: str) -> str:
    return f"`gptoss-aws prices refresh --region {region}`"


def _token_text(token: TokenLine) -> str:
    if token.input_per_1m is None:
        return f"per token, price missing: fill it with {_fill(token.region)}"
    return (
        f"per token, ${token.input_per_1m} input / ${token.output_per_1m} output per 1M "
        "tokens (no monthly minimum)"
    )


def _reference_text(line: CostLine) -> str:
    assert line.reference is not None
    region, hourly = line.reference
    per_month = (hourly * HOURS_PER_MONTH).quantize(CENT, ROUND_HALF_UP)
    return (
        f"for reference only, not a {line.capacity.region} price: the catalog's {region} "
        f"price ${hourly}/hour is {usd(per_month)} per instance-month"
    )


def _capacity_text(capacity: Capacity) -> str:
    count = (
        f"{capacity.min_instances}"
        if capacity.min_instances == capacity.max_instances
        else f"{capacity.min_instances}-{capacity.max_instances}"
    )
    return f"{count} x {capacity.instance_type} in {capacity.region}"


def render(summary: AssemblySummary, est: Estimate) -> str:
    labels = summary.labels
    title = " / ".join(
        f"{key} {labels[key]}" for key in ("project", "environment", "preset") if key in labels
    )
    lines = [f"Cloud assembly {summary.directory}" + (f" ({title})" if title else ""), ""]
    lines.append(f"Stacks ({len(summary.stacks)}):")
    for stack in summary.stacks:
        total = sum(stack.resources.values())
        lines.append(f"  {stack.name:<28} {stack.region:<12} {total:>3} resources")
        for key, export in sorted(stack.outputs.items()):
            lines.append(f"      output {key}" + (f"  (export {export})" if export else ""))
    lines += ["", "Resources by type:"]
    for kind, count in sorted(summary.resource_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:>4}  {kind}")

    lines += ["", "Security findings (cdk-nag AwsSolutions, NIST 800-53 R5, HIPAA, GptOss):"]
    if not summary.validation_report:
        lines.append("  no validation-report.json: the assembly was synthesized without the packs")
    lines.append(f"  unacknowledged: {len(summary.findings)}")
    for finding in summary.findings:
        lines.append(f"    {finding.severity.upper()} {finding.rule}: {finding.description[:100]}")
        for path in finding.paths:
            lines.append(f"      at {path}")
    lines.append(f"  acknowledged: {len(summary.acknowledgements)}")
    for ack in summary.acknowledgements:
        lines.append(f"    {ack.rule}  at {ack.path}")
        lines.append(f"        reason: {ack.reason}")

    lines += ["", f"Estimated monthly cost (on-demand hosting, {HOURS_PER_MONTH} hours/month):"]
    if not est.lines:
        lines.append("  no SageMaker instances")
    for line in est.lines:
        what = _capacity_text(line.capacity)
        if line.priced:
            idle = " (scaled to zero)" if line.capacity.min_instances == 0 else ""
            lines.append(
                f"  {what}: {usd(line.monthly_min)} at minimum{idle}, {usd(line.monthly_max)} "
                f"at maximum (${line.usd_per_hour}/hour, {line.price_source})"
            )
        else:
            lines.append(
                f"  {what}: PRICE MISSING - {line.unpriced_reason}; fill it with "
                f"{_fill(line.capacity.region)}"
            )
            if line.reference is not None:
                lines.append(f"      {_reference_text(line)}")
    for token in est.tokens:
        lines.append(f"  Bedrock {token.model} in {token.region}: {_token_text(token)}")
    if not est.lines:
        lines.append("  total: no hourly resources (Bedrock is billed per token)")
    elif est.complete:
        lines.append(
            f"  total: {usd(est.total('min'))} at minimum capacity, {usd(est.total('max'))} "
            "at maximum"
        )
    else:
        missing = [line.capacity for line in est.lines if not line.priced]
        which = ", ".join(sorted({f"{c.instance_type} in {c.region}" for c in missing}))
        fills = " and ".join(_fill(region) for region in sorted({c.region for c in missing}))
        lines.append(f"  total: pending the hourly price of {which}: fill it with {fills}")
    lines.append(
        "  (hosting only: S3, CloudWatch, KMS, data transfer and Bedrock tokens are extra)"
    )
    return "\n".join(lines)


# --- update capacity and the rehearsal -------------------------------------------------


def rehearsal_text(directory: str | Path) -> str:
    """What an update of each endpoint starts, whether direct Bedrock invocation is on, and
    the rehearsal's rules over this one assembly (``make rehearse`` judges every environment
    together, which account-wide settings need)."""
    from gptoss_infra.rehearsal import ALL_RULES, read_assembly, rehearse
    from gptoss_infra.rehearsal.rules.update_capacity import all_updates

    assembly = read_assembly(directory)
    lines = ["Update capacity (an update starts new instances before it stops old ones):"]
    updates = all_updates(assembly)
    if not updates:
        lines.append("  no SageMaker endpoints")
    for update in updates:
        if update.quota is None:
            quota = "no quota stated"
        elif update.quota_stated:
            quota = f"quota {update.quota} (stated)"
        else:
            quota = f"quota assumed {update.quota}: request it before the first deploy"
        lines.append(f"  {update.stack}: {update.plan.describe()}; {quota}")
    for stack in assembly.stacks:
        if "direct_invocation" in stack.gptoss:
            on = stack.gptoss["direct_invocation"] is True
            lines.append(
                f"Bedrock direct invocation ({stack.name}): "
                + (
                    "ON (bedrock.allow_direct_invocation): calls may bypass the team profiles"
                    if on
                    else "off: the models are reachable only through the team profiles"
                )
            )
    findings, notes = rehearse([assembly])
    lines += ["", f"Rehearsal ({len(ALL_RULES)} rules, this assembly; make rehearse runs all):"]
    failing = sorted({f.rule for f in findings})
    lines.append(f"  {len(findings)} finding(s)" + (f" in {', '.join(failing)}" if failing else ""))
    lines += [f"    {finding}" for finding in findings]
    lines += [f"  note: {note}" for note in notes]
    return "\n".join(lines)


# --- docs -----------------------------------------------------------------------------


def _begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name} (python -m gptoss_infra.summary --update-docs) -->"


def _end(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def presets_table(assemblies: Mapping[str, AssemblySummary], book: PriceBook) -> str:
    rows = [
        "| preset | hosts | hourly price (source) | monthly at minimum | monthly at maximum |",
        "|---|---|---|---|---|",
    ]
    for preset, summary in assemblies.items():
        est = estimate(summary, book)
        hosts = [_capacity_text(line.capacity) for line in est.lines]
        hosts += [f"Bedrock {t.model} in {t.region}: {_token_text(t)}" for t in est.tokens]
        prices = [
            f"${line.usd_per_hour} ({line.price_source})"
            if line.priced
            else f"unpriced: {line.unpriced_reason}"
            + (f" ({_reference_text(line)})" if line.reference else "")
            for line in est.lines
        ] or ["none (Bedrock is billed per token)"]
        low, high = (
            (usd(est.total("min")), usd(est.total("max")))
            if est.lines
            else ("no hourly resources", "no hourly resources")
        )
        rows.append(
            f"| `{preset}` | {'<br>'.join(hosts) or '-'} | {'<br>'.join(prices)} | {low} | {high} |"
        )
    return "\n".join(rows)


def acknowledgements_table(assemblies: Mapping[str, AssemblySummary]) -> str:
    seen: dict[tuple[str, str, str], list[str]] = {}
    for preset, summary in assemblies.items():
        for ack in summary.acknowledgements:
            seen.setdefault((ack.rule, ack.path, ack.reason), []).append(preset)
    rows = ["| finding | where | reason | presets |", "|---|---|---|---|"]
    for (rule, path, reason), presets in sorted(seen.items()):
        which = "all" if len(presets) == len(assemblies) else ", ".join(presets)
        cell = reason.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{rule}` | `{path}` | {cell} | {which} |")
    return "\n".join(rows)


def configuration_reference() -> str:
    """Every configuration field with its type and description (default and source), from
    the field docstrings in ``gptoss_aws.deployment.config``."""
    from gptoss_aws.deployment.config import (  # pydantic models only; no CDK
        BedrockConfig,
        CostConfig,
        DeploymentConfig,
        SageMakerConfig,
    )

    sections: list[tuple[str, type[BaseModel]]] = [
        ("top level", DeploymentConfig),
        ("`sagemaker`", SageMakerConfig),
        ("`bedrock`", BedrockConfig),
        ("`cost`", CostConfig),
    ]
    out: list[str] = []
    for title, model in sections:
        out += [f"**{title}**", "", "| field | type | meaning and default |", "|---|---|---|"]
        for name, info in model.model_fields.items():
            kind = str(info.annotation).replace("typing.", "").replace("<class '", "")
            kind = (
                kind.replace("'>", "")
                .replace("gptoss_aws.deployment.config.", "")
                .replace("|", "\\|")
            )
            text = " ".join((info.description or "").split()).replace("``", "`")
            text = text.replace("|", "\\|")
            out.append(f"| `{name}` | `{kind}` | {text} |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def generated_sections(
    assemblies: Mapping[str, AssemblySummary], book: PriceBook
) -> dict[str, str]:
    return {
        "configuration": configuration_reference(),
        "presets": presets_table(assemblies, book),
        "acknowledgements": acknowledgements_table(assemblies),
    }


def replace_sections(text: str, sections: Mapping[str, str]) -> str:
    for name, body in sections.items():
        begin, end = _begin(name), _end(name)
        if begin not in text or end not in text:
            raise ValueError(f"the document has no '{begin}' ... '{end}' block")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    return text


def read_sections(text: str, names: Iterable[str]) -> dict[str, str]:
    out = {}
    for name in names:
        _, rest = text.split(_begin(name), 1)
        body, _ = rest.split(_end(name), 1)
        out[name] = body.strip("\n")
    return out


def synthesize_presets(workdir: Path) -> dict[str, AssemblySummary]:
    """Synthesize every preset (with the nag packs) into ``workdir/<preset>`` and read it."""
    from gptoss_aws.deployment.config import PRESETS  # CDK is imported only to build docs
    from gptoss_infra.stacks import build_app

    out = {}
    for name, config in PRESETS.items():
        outdir = workdir / name
        build_app(config, outdir=str(outdir)).synth()
        out[name] = read_assembly(outdir)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gptoss_infra.summary", description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", help="cloud assembly directory")
    parser.add_argument(
        "--update-docs",
        metavar="MARKDOWN",
        help="synthesize every preset and rewrite the generated tables in this file",
    )
    parser.add_argument(
        "--prices-file", help="price overrides (TOML/JSON) on top of the SDK's catalog"
    )
    args = parser.parse_args(argv)
    if args.update_docs:
        import tempfile

        doc = Path(args.update_docs)
        with tempfile.TemporaryDirectory() as tmp:
            sections = generated_sections(synthesize_presets(Path(tmp)), bundled_price_book())
        doc.write_text(replace_sections(doc.read_text(encoding="utf-8"), sections), "utf-8")
        print(f"updated {doc}")
        return 0
    try:
        summary = read_assembly(args.assembly)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    book = PriceBook.load(overrides=args.prices_file) if args.prices_file else PriceBook.load()
    print(render(summary, estimate(summary, book)))
    print()
    print(rehearsal_text(args.assembly))
    from gptoss_infra.deploy_order import deploy_order_text

    print()
    print(deploy_order_text(args.assembly))
    return 1 if summary.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The generated blocks of docs/infrastructure.md: the configuration reference, the presets
with their monthly estimates, and every acknowledged cdk-nag finding.

Each block sits between ``<!-- BEGIN GENERATED <name> ... -->`` and
``<!-- END GENERATED <name> -->``; ``--update-docs`` rewrites only what is between them.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gptoss_aws.pricing.catalog import PriceBook
from gptoss_facts.text import usd

from .assembly import AssemblySummary, read_assembly
from .cost import estimate
from .text import capacity_text, reference_text, token_text


def _begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name} (python -m gptoss_infra.summary --update-docs) -->"


def _end(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def presets_table(assemblies: Mapping[str, AssemblySummary], book: PriceBook) -> str:
    rows = [
        "| preset | hosts | hourly price (source) | monthly at minimum | monthly at maximum |",
        "|---|---|---|---|---|",
    ]
    for preset, summary in assemblies.items():
        est = estimate(summary, book)
        hosts = [capacity_text(line.capacity) for line in est.lines]
        hosts += [f"Bedrock {t.model} in {t.region}: {token_text(t)}" for t in est.tokens]
        prices = [
            f"${line.usd_per_hour} ({line.price_source})"
            if line.priced
            else f"unpriced: {line.unpriced_reason}"
            + (f" ({reference_text(line)})" if line.reference else "")
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


def type_name(annotation: Any, home: str) -> str:
    """A field's type as written in Python: builtins and classes of ``home`` (the module
    that declares the model) by name, other classes by dotted path (``decimal.Decimal``)."""
    if annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg, home) for arg in args)
    if origin is not None:
        return f"{type_name(origin, home)}[{', '.join(type_name(a, home) for a in args)}]"
    if isinstance(annotation, type):
        module = annotation.__module__
        short = module in ("builtins", home)
        return annotation.__qualname__ if short else f"{module}.{annotation.__qualname__}"
    return str(annotation)


def model_table(model: type[BaseModel]) -> list[str]:
    """One row per field of ``model``: name, type, and its description (default and
    source)."""
    rows = ["| field | type | meaning and default |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        kind = _cell(type_name(info.annotation, model.__module__))
        text = _cell((info.description or "").replace("``", "`"))
        rows.append(f"| `{name}` | `{kind}` | {text} |")
    return rows


def configuration_reference() -> str:
    """Every configuration field with its type and description (default and source), from
    the field docstrings of the deployment configuration."""
    from gptoss_deploy.config import (  # pydantic models only; no CDK
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
        out += [f"**{title}**", "", *model_table(model), ""]
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
    from gptoss_deploy.presets import PRESETS  # CDK is imported only to build docs
    from gptoss_infra.stacks import build_app

    out = {}
    for name, config in PRESETS.items():
        outdir = workdir / name
        build_app(config, outdir=str(outdir)).synth()
        out[name] = read_assembly(outdir)
    return out

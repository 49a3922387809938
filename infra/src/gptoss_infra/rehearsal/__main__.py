"""``make rehearse``: synthesize every environment and run the rehearsal's rules.

Exit status 0 when no rule finds anything, 1 otherwise, 2 when an environment does not
synthesize (its configuration problems are printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from . import ALL_RULES, Assembly, read_assembly, rehearse

REPO = Path(__file__).resolve().parents[4]
ENVIRONMENTS = REPO / "infra" / "environments"


def synthesize_environments(directory: Path, workdir: Path) -> list[Assembly]:
    """Every ``<name>.json``/``.toml`` environment, synthesized without the rule packs (the
    infra tests run those) into ``workdir/<name>``."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from gptoss_deploy.loading import load_environment  # CDK only when synthesizing
    from gptoss_infra.stacks import build_app

    names = sorted(
        {p.stem for p in directory.glob("*.json")} | {p.stem for p in directory.glob("*.toml")}
    )
    out = []
    for name in names:
        outdir = workdir / name
        build_app(load_environment(name, directory), outdir=str(outdir), rule_packs=False).synth()
        out.append(read_assembly(outdir, name))
    return out


def report(assemblies: Sequence[Assembly]) -> tuple[str, int]:
    """The rehearsal's text report and its number of findings."""
    findings, notes = rehearse(assemblies)
    per_rule = Counter(f.rule for f in findings)
    lines = [f"Rehearsal of {', '.join(a.name for a in assemblies)} ({len(ALL_RULES)} rules):"]
    for rule in ALL_RULES:
        count = per_rule.get(rule.id, 0)
        lines.append(f"  {'FAIL' if count else 'ok  '} {rule.id:<20} {count:>3}  {rule.title}")
    for finding in findings:
        lines.append(f"    {finding}")
    for note in notes:
        lines.append(f"  note: {note}")
    lines.append(f"  {len(findings)} finding(s)")
    return "\n".join(lines), len(findings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gptoss_infra.rehearsal", description=__doc__)
    parser.add_argument(
        "--assembly",
        action="append",
        default=[],
        metavar="[NAME=]DIR",
        help="a synthesized cloud assembly (repeatable); default: synthesize every environment",
    )
    parser.add_argument(
        "--environments", type=Path, default=ENVIRONMENTS, help="environment files directory"
    )
    args = parser.parse_args(argv)
    if args.assembly:
        assemblies = []
        for item in args.assembly:
            name, sep, directory = item.partition("=")
            assemblies.append(read_assembly(directory, name) if sep else read_assembly(name))
        text, count = report(assemblies)
    else:
        from gptoss_deploy import InvalidConfigurationError

        with tempfile.TemporaryDirectory(prefix="gptoss-rehearsal-") as tmp:
            try:
                assemblies = synthesize_environments(args.environments, Path(tmp))
            except InvalidConfigurationError as error:
                print(error, file=sys.stderr)
                return 2
            text, count = report(assemblies)
    print(text)
    return 1 if count else 0


if __name__ == "__main__":
    raise SystemExit(main())

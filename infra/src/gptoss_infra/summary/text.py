"""The summary as text: stacks, resources, security findings, the monthly estimate, and
the rehearsal over this one assembly."""

from __future__ import annotations

from pathlib import Path

from gptoss_facts.text import render_table, usd

from .assembly import AssemblySummary, Capacity
from .cost import HOURS_PER_MONTH, CostLine, Estimate, TokenLine, per_month


def fill_command(region: str) -> str:
    return f"`gptoss-aws prices refresh --region {region}`"


def token_text(token: TokenLine) -> str:
    if token.input_per_1m is None:
        return f"per token, price missing: fill it with {fill_command(token.region)}"
    return (
        f"per token, ${token.input_per_1m} input / ${token.output_per_1m} output per 1M "
        "tokens (no monthly minimum)"
    )


def reference_text(line: CostLine) -> str:
    assert line.reference is not None
    region, hourly = line.reference
    return (
        f"for reference only, not a {line.capacity.region} price: the catalog's {region} "
        f"price ${hourly}/hour is {usd(per_month(hourly))} per instance-month"
    )


def capacity_text(capacity: Capacity) -> str:
    count = (
        f"{capacity.min_instances}"
        if capacity.min_instances == capacity.max_instances
        else f"{capacity.min_instances}-{capacity.max_instances}"
    )
    return f"{count} x {capacity.instance_type} in {capacity.region}"


def _stacks_text(summary: AssemblySummary) -> list[str]:
    lines = [f"Stacks ({len(summary.stacks)}):"]
    for stack in summary.stacks:
        total = sum(stack.resources.values())
        lines.append(f"  {stack.name:<28} {stack.region:<12} {total:>3} resources")
        for key, export in sorted(stack.outputs.items()):
            lines.append(f"      output {key}" + (f"  (export {export})" if export else ""))
    counts = sorted(summary.resource_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = [[str(count), kind] for kind, count in counts]
    lines += ["", "Resources by type:", render_table(rows, right=(0,), indent="  ")]
    return lines


def _security_text(summary: AssemblySummary) -> list[str]:
    lines = ["Security findings (cdk-nag AwsSolutions, NIST 800-53 R5, HIPAA, GptOss):"]
    if not summary.validation_report:
        lines.append("  no validation-report.json: the assembly was synthesized without the packs")
    lines.append(f"  unacknowledged: {len(summary.findings)}")
    for finding in summary.findings:
        lines.append(f"    {finding.severity.upper()} {finding.rule}: {finding.description[:100]}")
        lines += [f"      at {path}" for path in finding.paths]
    lines.append(f"  acknowledged: {len(summary.acknowledgements)}")
    for ack in summary.acknowledgements:
        lines.append(f"    {ack.rule}  at {ack.path}")
        lines.append(f"        reason: {ack.reason}")
    return lines


def _cost_line_text(line: CostLine) -> list[str]:
    what = capacity_text(line.capacity)
    if line.priced:
        idle = " (scaled to zero)" if line.capacity.min_instances == 0 else ""
        return [
            f"  {what}: {usd(line.monthly_min)} at minimum{idle}, {usd(line.monthly_max)} "
            f"at maximum (${line.usd_per_hour}/hour, {line.price_source})"
        ]
    out = [
        f"  {what}: PRICE MISSING - {line.unpriced_reason}; fill it with "
        f"{fill_command(line.capacity.region)}"
    ]
    if line.reference is not None:
        out.append(f"      {reference_text(line)}")
    return out


def _total_text(est: Estimate) -> str:
    if not est.lines:
        return "  total: no hourly resources (Bedrock is billed per token)"
    if est.complete:
        return (
            f"  total: {usd(est.total('min'))} at minimum capacity, {usd(est.total('max'))} "
            "at maximum"
        )
    missing = [line.capacity for line in est.lines if not line.priced]
    which = ", ".join(sorted({f"{c.instance_type} in {c.region}" for c in missing}))
    fills = " and ".join(fill_command(region) for region in sorted({c.region for c in missing}))
    return f"  total: pending the hourly price of {which}: fill it with {fills}"


def _cost_text(est: Estimate) -> list[str]:
    lines = [f"Estimated monthly cost (on-demand hosting, {HOURS_PER_MONTH} hours/month):"]
    if not est.lines:
        lines.append("  no SageMaker instances")
    for line in est.lines:
        lines += _cost_line_text(line)
    for token in est.tokens:
        lines.append(f"  Bedrock {token.model} in {token.region}: {token_text(token)}")
    lines.append(_total_text(est))
    lines.append(
        "  (hosting only: S3, CloudWatch, KMS, data transfer and Bedrock tokens are extra)"
    )
    return lines


def render(summary: AssemblySummary, est: Estimate) -> str:
    labels = summary.labels
    title = " / ".join(
        f"{key} {labels[key]}" for key in ("project", "environment", "preset") if key in labels
    )
    lines = [f"Cloud assembly {summary.directory}" + (f" ({title})" if title else ""), ""]
    lines += _stacks_text(summary)
    lines += ["", *_security_text(summary)]
    lines += ["", *_cost_text(est)]
    return "\n".join(lines)


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
        if stack.gptoss.get("openai_route") is True:
            # The one wildcard grant this app makes for callers: say it out loud.
            lines.append(
                f"SageMaker OpenAI route ({stack.name}): ON (sagemaker.openai_route): callers "
                'with EndpointInvokePolicyArn hold sagemaker:CallWithBearerToken on "*"'
            )
    findings, notes = rehearse([assembly])
    lines += ["", f"Rehearsal ({len(ALL_RULES)} rules, this assembly; make rehearse runs all):"]
    failing = sorted({f.rule for f in findings})
    lines.append(f"  {len(findings)} finding(s)" + (f" in {', '.join(failing)}" if failing else ""))
    lines += [f"    {finding}" for finding in findings]
    lines += [f"  note: {note}" for note in notes]
    return "\n".join(lines)

"""The notes under a cost report: what is not in its totals, why, and how to fill it."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from gptoss_aws.types import CallRecord

if TYPE_CHECKING:
    from gptoss_aws.costing.allocation import Allocation
    from gptoss_aws.reports.summary import CostReport


def fill_commands(calls: Sequence[CallRecord], allocation: Allocation | None) -> list[str]:
    from gptoss_aws.pricing.catalog import fill_command, pending_fill_command

    pending = [c for c in calls if c.cost_basis == "pending"]
    commands = {pending_fill_command(c.model, c.region or "REGION") for c in pending}
    if allocation is not None:
        commands.update(fill_command(window.region) for window in allocation.pending_windows)
    return sorted(commands)


def report_notes(report: CostReport, calls: Sequence[CallRecord]) -> list[str]:
    total = report.total
    reconciled = sum(
        1 for c in calls if c.status == "aborted" and (c.error_kind or "").startswith("reconciled")
    )
    unpriced = f"Unpriced calls: {total.unpriced_calls}"
    if total.unpriced_calls:
        unpriced += " (no price was known: their cost is not in the totals)"
    estimated = f"Calls with estimated usage: {total.estimated_calls}"
    if total.estimated_calls:
        estimated += (
            f" ({reconciled} reconciled after their process died or went stale, costed at their "
            "reserved worst case; any others broke before the backend reported usage)"
        )
    notes = [unpriced, estimated]
    pending = f"Calls with their price pending: {total.pending_price_calls}"
    if total.pending_price_calls:
        by_key: dict[str, int] = {}
        for call in calls:
            if call.cost_basis == "pending" and call.status != "reserved":
                tier = call.service_tier or "standard"
                where = f"{call.model} in {call.region or '?'} ({tier})"
                tokens = call.prompt_tokens + call.completion_tokens
                by_key[where] = by_key.get(where, 0) + tokens
        listing = "; ".join(f"{where}: {n:,} tokens" for where, n in sorted(by_key.items()))
        commands = " and ".join(f"`{c}`" for c in report.fill_commands)
        pending += (
            f" ({total.pending_price_tokens:,} tokens not in the totals: {listing}). Fill with "
            f"{commands}: it gets the price (refresh from AWS's Price List, fill from your "
            "override) and prices these calls at the price in force when they ran"
        )
    notes.append(pending)
    if total.pending_allocation_calls:
        notes.append(
            f"SageMaker calls pending allocation: {total.pending_allocation_calls} (an endpoint "
            "is billed by instance-hour; a call gets its share when a report allocates a "
            "window: gptoss-aws costs --sagemaker-from-aws, or "
            "ledger.report(allocator=timeline_allocator(...)))"
        )
    if total.in_flight_calls:
        notes.append(
            f"Calls still in flight (reserved), not in the totals: {total.in_flight_calls}"
        )
    allocation = report.allocation
    if allocation is not None:
        for window in allocation.endpoints:
            idle = sum(
                (
                    line.usd
                    for line in allocation.lines
                    if line.kind == "idle"
                    and (line.endpoint, line.variant) == (window.endpoint, window.variant)
                ),
                Decimal(0),
            )
            name = window.endpoint + (f"/{window.variant}" if window.variant else "")
            notes.append(
                f"SageMaker {name}: ${window.usd} from {allocation.window_start:%Y-%m-%d %H:%M} "
                f"to {allocation.window_end:%Y-%m-%d %H:%M} UTC, shared by {allocation.weight} "
                f"over {window.calls} call(s), idle ${idle}; prices: {window.price_source}"
            )
            notes.extend(f"SageMaker {name}: {note}" for note in window.notes)
        for gap in allocation.pending_windows:
            name = gap.endpoint + (f"/{gap.variant}" if gap.variant else "")
            notes.append(
                f"SageMaker {name}: pending, {gap.calls} call(s) and its idle time not in the "
                f"totals: {gap.reason}. Fill with `{gap.fix}`"
            )
        if allocation.unmatched_call_ids:
            notes.append(
                f"SageMaker calls with no instance timeline for their endpoint, still pending: "
                f"{len(allocation.unmatched_call_ids)}"
            )
    return notes

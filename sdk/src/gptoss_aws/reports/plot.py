"""Spend over time as a bar chart (matplotlib, from the ``reports`` extra).

One bar per period (``freq`` is a pandas offset alias: "h", "D", "W", "MS"...), empty
periods included so gaps show; with ``by`` the bars are stacked per group. Only known
costs are plotted; the title says how many calls were unpriced, estimated or pending
SageMaker allocation, so a short bar is never mistaken for a cheap period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gptoss_aws.reports.summary import (
    AllocateBy,
    Allocator,
    allocate_shares,
    call_costs,
    check_group_keys,
    group_value,
)
from gptoss_aws.types import CallRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gptoss_aws.ledger.base import Ledger


def plot_spend(
    source: Ledger | Sequence[CallRecord],
    freq: str = "D",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str | None = None,
    allocate: AllocateBy = "tokens",
    allocator: Allocator | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot spend per ``freq`` period from a ledger (or a list of calls); return the figure."""
    try:
        import pandas as pd
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plots need pandas and matplotlib: pip install 'gptoss-aws[reports]'"
        ) from exc
    if by is not None:
        check_group_keys([by])
    records = (
        list(source) if isinstance(source, Sequence) else source.query(since=since, until=until)
    )
    records = [
        r
        for r in records
        if (since is None or r.started_at >= since) and (until is None or r.started_at < until)
    ]
    _, shares = allocate_shares(records, since, until, allocate, allocator)
    costed = [(r, usd) for r, usd in call_costs(records, shares) if usd is not None]
    unknown = len(records) - len(costed)
    estimated = sum(1 for r, _ in costed if r.usage_source == "estimated")

    if ax is None:
        # A bare Figure (not pyplot) leaves no global state behind and needs no GUI backend.
        figure = Figure(figsize=(9, 4))
        ax = figure.add_subplot()
    else:
        figure = ax.figure  # type: ignore[assignment]

    if costed:
        frame = pd.DataFrame(
            {
                "at": [r.started_at.astimezone(UTC) for r, _ in costed],
                "usd": [float(usd) for _, usd in costed],
                "group": [group_value(r, by) if by else "spend" for r, _ in costed],
            }
        )
        table = (
            frame.pivot_table(index="at", columns="group", values="usd", aggfunc="sum")
            .resample(freq)
            .sum()
        )
        labels = [_label(stamp, freq) for stamp in table.index]
        bottom = [0.0] * len(table.index)
        for group in table.columns:
            heights = [float(v) for v in table[group]]
            ax.bar(labels, heights, bottom=bottom, label=str(group))
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        if by:
            ax.legend(title=by, fontsize="small")
        ax.tick_params(axis="x", labelrotation=45)
    ax.set_ylabel("USD")
    ax.set_title(
        f"gpt-oss spend per {freq} (UTC): {len(costed)} call(s) costed, "
        f"{estimated} estimated, {unknown} unpriced, pending or in flight",
        fontsize="medium",
    )
    figure.tight_layout()
    return figure


def _label(stamp: object, freq: str) -> str:
    moment = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
    if freq.lower().endswith("h") or "min" in freq:
        return f"{moment:%Y-%m-%d %H:%M}"
    return f"{moment:%Y-%m-%d}"

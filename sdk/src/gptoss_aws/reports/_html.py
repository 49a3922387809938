"""The notebook view of a cost report: a plain HTML table with its totals and notes.

No styling framework and no JavaScript, so it renders the same in Jupyter, VS Code and
exported notebooks; every value is escaped (tags and endpoint names come from users).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gptoss_aws.reports.summary import CostReport


def render_html(report: CostReport) -> str:
    header, body, totals = report.table()
    n_keys = len(report.by)

    def cells(values: list[str], tag: str) -> str:
        return "".join(
            f'<{tag} style="text-align:{"left" if i < n_keys else "right"}">{escape(v)}</{tag}>'
            for i, v in enumerate(values)
        )

    rows = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in body)
    notes = "".join(f"<li>{escape(note)}</li>" for note in report.notes)
    return (
        '<div class="gptoss-cost-report">'
        f"<p><strong>{escape(report.title())}</strong></p>"
        "<table>"
        f"<thead><tr>{cells(header, 'th')}</tr></thead>"
        f"<tbody>{rows}</tbody>"
        f"<tfoot><tr>{cells(totals, 'th')}</tr></tfoot>"
        "</table>"
        f"<ul>{notes}</ul>"
        "</div>"
    )

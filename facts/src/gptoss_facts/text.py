"""Dollar amounts and plain-text tables, printed the same way by every component."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal


def usd(
    amount: Decimal | float | int | None,
    places: int = 2,
    *,
    missing: str = "unpriced",
    trim: bool = False,
    tiny: bool = False,
    symbol: str = "$",
) -> str:
    """``$1,234.57``; ``missing`` for an unknown amount (never ``$0.00``).

    ``trim`` drops trailing zeros beyond two places (``$0.0045``, ``$0.99``); ``tiny`` shows
    a non-zero amount that would round to zero as ``<$0.0001`` instead.
    """
    if amount is None:
        return missing
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if tiny and value != 0 and rounded == 0:
        return f"{'-' if value < 0 else ''}<{symbol}{quantum}"
    text = f"{rounded:,}"
    if trim and "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(min(2, places), "0")
        text = f"{whole}.{frac}" if frac else whole
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    return f"{sign}{symbol}{text}"


def render_table(
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    gap: str = "  ",
    indent: str = "",
) -> str:
    """Rows of cells (the first row may be headers) in aligned columns.

    Columns listed in ``right`` are right-aligned (numbers); trailing spaces are dropped.
    """
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + gap.join(cells)).rstrip())
    return "\n".join(lines)

"""How the advisor writes numbers: short, readable, never a misleading $0."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from gptoss_facts.text import usd


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.quantize(Decimal('0.01') if abs(value) >= 1 else Decimal('0.0001')):,}"


def usd_short(value: Decimal) -> str:
    """$189.89; small amounts keep up to 4 places ($0.0045) but not trailing zeros ($0.99)."""
    return usd(value) if abs(value) >= 1 else usd(value, 4, trim=True)


def tokens_short(value: Decimal | int) -> str:
    number = Decimal(value)
    for factor, suffix in ((Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(10**3), "k")):
        if abs(number) >= factor:
            return f"{(number / factor).quantize(Decimal('0.1'))}{suffix}"
    return f"{int(number)}"


def percent(part: Decimal, whole: Decimal) -> str:
    if whole == 0:
        return "n/a"
    return f"{(part / whole * 100).quantize(Decimal('0.1'))}%"

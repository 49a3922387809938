"""Collect every problem of an input, then report them together.

A configuration with three mistakes should cost one round trip, not three: checks add
messages here and the caller raises once, with all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


class Problems:
    """Messages about one thing (``what``), raised together by ``raise_if_any``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: list[str] = []

    def add(self, message: str) -> None:
        self._items.append(message)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self._items.append(message)

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def report(self) -> str:
        """``"2 problems in <what>:"`` followed by one ``  - message`` line each."""
        noun = "problem" if len(self._items) == 1 else "problems"
        return "\n".join(
            [f"{len(self._items)} {noun} in {self.what}:", *(f"  - {m}" for m in self._items)]
        )

    def raise_if_any(self, error: Callable[[str], Exception] = ValueError) -> None:
        if self._items:
            raise error(self.report())

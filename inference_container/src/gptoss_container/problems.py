"""Settings problems, collected and raised together.

An endpoint that fails to start costs many minutes, and one fix per attempt would cost
hours, so every check adds to one list and the container stops once, naming them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gptoss_facts.problems import Problems


class Problem(NamedTuple):
    variable: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message} Fix: {self.fix}"


class SettingsError(ValueError):
    """Every problem found in the settings, each with its fix.

    `problems` holds one line per problem (other modules may add plain strings);
    `details` keeps the structured ones.
    """

    def __init__(self, problems: Sequence[Problem | str]) -> None:
        collected = Problems("the container settings")
        for problem in problems:
            collected.add(str(problem))
        self.problems = collected.messages
        self.details = tuple(p for p in problems if isinstance(p, Problem))
        super().__init__(collected.report())


def check(condition: bool, problems: list[Problem], variable: str, message: str, fix: str) -> None:
    """Add the problem unless `condition` holds."""
    if not condition:
        problems.append(Problem(variable, message, fix))

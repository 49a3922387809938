"""What one rehearsal rule is: an id, the AWS document it encodes, and its check.

Like cdk-nag's rules (one module per rule under ``rules/``), but a rehearsal rule sees
whole cloud assemblies rather than one construct: creation order, cross-stack exports and
settings shared by several environments only show there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .assembly import Assembly


@dataclass(frozen=True)
class Source:
    """An AWS document and the sentence of it a rule encodes."""

    url: str
    quote: str


@dataclass(frozen=True)
class Finding:
    """One place where a template disagrees with what AWS documents."""

    rule: str
    assembly: str
    stack: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.assembly}/{self.stack}/{self.resource}: {self.message}"


@dataclass(frozen=True)
class Rehearsal:
    """The assemblies a run reads: one per environment, judged together (account-wide
    settings are shared by every environment deployed to the same account and region)."""

    assemblies: Sequence[Assembly]
    notes: list[str] = field(default_factory=list)


Check = Callable[[Rehearsal], Iterable[Finding]]


@dataclass(frozen=True)
class RehearsalRule:
    """A rule of the rehearsal.

    :param id: short stable name, e.g. ``"creation-order"``.
    :param title: what the rule makes sure of, one line.
    :param sources: the AWS documents (URL and the sentence encoded).
    :param check: the findings over every assembly of a run.
    """

    id: str
    title: str
    sources: tuple[Source, ...]
    check: Check

    def run(self, rehearsal: Rehearsal) -> list[Finding]:
        return list(self.check(rehearsal))

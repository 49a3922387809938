"""Turn a scripted reply into next-token rules a two-layer transformer can follow exactly.

Greedy decoding has to reproduce one token sequence. Most tokens of a reply occur once, so
"token t is followed by s" (a bigram) decides them. The harmony header tokens `<|channel|>`
and `<|message|>` occur twice with different successors; each later occurrence is told apart
by the token a fixed distance back (a "lookback"), and only while the current token is that
header token:

* second `<|message|>`: the token just before it (`final`, or `json` for a tool call) instead
  of `analysis`;
* second `<|channel|>`: the last reasoning token four positions back
  (`<reasoning><|end|><|start|>assistant<|channel|>`); the first `<|channel|>` has the end of
  the prompt's last message there instead.

A lookback only looks at fixed offsets, never at "the latest channel name anywhere", so earlier
turns in a multi-turn prompt (which contain `final`, `analysis`, `commentary`) cannot confuse
the model. Each offset is one attention head of the first layer (see gptoss_tiny.weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# One layer-0 attention head per offset; gpt-oss-tiny has two heads.
LOOKBACK_OFFSETS = (1, 4)


@dataclass(frozen=True)
class Lookback:
    """At a `current` token whose position p has `watched` at p - offset, emit `successor`
    instead of the bigram successor `overridden`."""

    offset: int
    watched: int
    current: int
    successor: int
    overridden: int


@dataclass(frozen=True)
class Program:
    tokens: tuple[int, ...]  # every token of context + completion, in first-seen order
    bigrams: tuple[tuple[int, int], ...]  # (token, successor)
    lookbacks: tuple[Lookback, ...]

    @property
    def watched(self) -> tuple[int, ...]:
        """Tokens some lookback tests for, in first-seen order (one value feature each)."""
        return tuple(dict.fromkeys(rule.watched for rule in self.lookbacks))

    @property
    def lookback_features(self) -> tuple[tuple[int, int], ...]:
        """Distinct (offset, watched token) tests, each one residual dimension."""
        return tuple(dict.fromkeys((rule.offset, rule.watched) for rule in self.lookbacks))


def compile_program(context: Sequence[int], completion: Sequence[int]) -> Program:
    """Rules under which greedy decoding after `context` emits exactly `completion`.

    `context` is the known tail of every prompt (`<|start|>assistant`); anything before it is
    unknown, and a lookback may not depend on it. Raises ValueError if the reply needs more
    than a bigram plus the lookbacks in LOOKBACK_OFFSETS.
    """
    return compile_scripts([(context, completion)])


def compile_scripts(scripts: Sequence[tuple[Sequence[int], Sequence[int]]]) -> Program:
    """One program for several (context, completion) scripts: a model that replies
    differently depending on the known tail of the prompt (the "agent" model answers once
    the prompt ends with a tool's result). The scripts' tokens share the bigrams; where two
    scripts continue a token differently, a lookback into the context tells them apart."""
    seqs: list[list[int]] = []
    for context, completion in scripts:
        if not context or not completion:
            raise ValueError("context and completion must be non-empty")
        seqs.append(list(context) + list(completion))
    # Positions whose next token the model must produce: each prompt's last one onwards.
    positions = [
        (s, p)
        for s, (context, _) in enumerate(scripts)
        for p in range(len(context) - 1, len(seqs[s]) - 1)
    ]

    occurrences: dict[int, list[tuple[int, int]]] = {}
    for s, p in positions:
        occurrences.setdefault(seqs[s][p], []).append((s, p))

    bigrams: list[tuple[int, int]] = []
    lookbacks: list[Lookback] = []
    for token, where in occurrences.items():
        s0, p0 = where[0]
        default = seqs[s0][p0 + 1]
        bigrams.append((token, default))
        lookbacks.extend(
            _find_lookback(seqs, positions, s, p, default)
            for s, p in where[1:]
            if seqs[s][p + 1] != default
        )

    _check_gated_successors(bigrams, lookbacks)
    ordered = dict.fromkeys(token for seq in seqs for token in seq)
    return Program(tokens=tuple(ordered), bigrams=tuple(bigrams), lookbacks=tuple(lookbacks))


def _find_lookback(
    seqs: list[list[int]], positions: list[tuple[int, int]], s: int, p: int, default: int
) -> Lookback:
    seq = seqs[s]
    successor = seq[p + 1]
    for offset in LOOKBACK_OFFSETS:
        if p - offset < 0:
            continue
        watched = seq[p - offset]
        # The rule's feature is computed at every position and also pushes `default` down,
        # so wherever it fires the right next token must be `successor`.
        fires_elsewhere_wrongly = any(
            q - offset >= 0 and seqs[r][q - offset] == watched and seqs[r][q + 1] != successor
            for r, q in positions
        )
        if not fires_elsewhere_wrongly:
            return Lookback(offset, watched, seq[p], successor, overridden=default)
    raise ValueError(
        f"position {p} (token {seq[p]}) needs context beyond lookbacks {LOOKBACK_OFFSETS}; "
        "make the reply's tokens unique"
    )


def _check_gated_successors(bigrams: list[tuple[int, int]], lookbacks: list[Lookback]) -> None:
    """A lookback's successor carries a negative bias (its gate threshold) in its lm_head
    row, which would sink the token anywhere else it has to win."""
    bigram_successors = {successor for _, successor in bigrams}
    for rule in lookbacks:
        if rule.successor in bigram_successors:
            raise ValueError(f"token {rule.successor} follows both a bigram and a lookback")
    if len({rule.successor for rule in lookbacks}) != len(lookbacks):
        raise ValueError("two lookbacks share a successor")

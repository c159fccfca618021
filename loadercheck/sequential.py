"""The error budget of a guard that looks at growing prefixes (pure arithmetic, no state).

A guard in a training loop should stop a badly ordered feed within a few batches, not after the
epoch it was meant to protect. It looks at prefixes of 2, 4, 8, ... batches up to its window and
runs the whole battery at each look; a look can only stop training (fail), never pass it early.

Validity is the union bound (Bonferroni over looks, the simplest alpha-spending rule): look ``j``
runs the battery at level ``alpha_j``, each battery keeps its false-fail rate at or below its level
on a shuffled feed, so the chance that *any* look fails a shuffled feed is at most
``sum_j alpha_j = alpha``, whatever the dependence between looks (the prefixes are nested, so
they are strongly dependent; the bound does not care). The early looks share
:data:`EARLY_SHARE` of alpha equally; the window keeps the rest, so faint defects are decided
there at nearly today's level. Gross defects (a sorted feed, one class per batch) reach p-values
far below any early level within a few batches.
"""

from __future__ import annotations

from dataclasses import dataclass

REPLAY_SHARE = 0.1
"""Share of alpha spent on the replay looks at later epoch starts (epoch e compared with epoch e - 1
at ``REPLAY_SHARE * alpha / 2 ** (e - 1)``: summable over any number of epochs)."""
EARLY_SHARE = 0.25
"""Share of epoch 1's alpha spent on the early looks together; the window's look keeps the rest."""
FIRST_LOOK = 2
"""Batches at the first look; each later look doubles it."""


@dataclass(frozen=True)
class Schedule:
    """When a guard looks and at which level (family-wise: ``sum(levels) + final == alpha``)."""

    looks: tuple[int, ...]
    """Batches recorded at each early look (2, 4, 8, ... below the window)."""
    level: float
    """Alpha of each early look."""
    final: float
    """Alpha of the look at the window (or at the end of a shorter epoch)."""
    replay: float = 0.0
    """Alpha spent on the replay looks of all later epochs together (epoch e gets ``replay / 2 ** (e - 1)``)."""

    def replay_level(self, epoch: int) -> float:
        """Alpha of the replay look at the start of ``epoch`` (2, 3, ...): summing to ``replay``."""
        return self.replay / 2.0 ** (epoch - 1)

    def describe(self) -> str:
        """One line for the report's notes."""
        total = self.level * len(self.looks) + self.final + self.replay
        replay = f"; replays at later epoch starts alpha {self.replay:.2g} in all" if self.replay else ""
        if not self.looks:
            return f"one look at the window, alpha {self.final:.2g}{replay}: family-wise at most {total:.2g}"
        shown = ", ".join(str(k) for k in self.looks)
        return (f"early looks at {shown} batches (alpha {self.level:.2g} each, stopping only on a fail), the "
                f"window at alpha {self.final:.2g}{replay}: family-wise at most {total:.2g}")


def schedule(alpha: float, window: int, *, replays: bool = True) -> Schedule:
    """The looks of a guard with this ``window`` (batches) and family-wise ``alpha`` over the whole
    run; ``window`` 0 or 1 gives no early look, ``replays=False`` spends nothing on later epochs."""
    replay = alpha * REPLAY_SHARE if replays else 0.0
    first = alpha - replay
    looks = []
    k = FIRST_LOOK
    while k < window:
        looks.append(k)
        k *= 2
    if not looks:
        return Schedule((), 0.0, first, replay)
    return Schedule(tuple(looks), first * EARLY_SHARE / len(looks), first * (1.0 - EARLY_SHARE), replay)

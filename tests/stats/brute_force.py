"""Brute-force enumeration shared by the reference tests: every distinct ordering of a small multiset."""

from __future__ import annotations

from collections import Counter

import numpy as np


def distinct_permutations(values) -> np.ndarray:
    """All distinct orderings of a multiset (each equally likely under a uniform shuffle)."""
    items = sorted(int(v) for v in values)
    counts = Counter(items)
    keys = sorted(counts)
    out: list[tuple[int, ...]] = []
    prefix: list[int] = []

    def rec() -> None:
        if len(prefix) == len(items):
            out.append(tuple(prefix))
            return
        for key in keys:
            if counts[key]:
                counts[key] -= 1
                prefix.append(key)
                rec()
                prefix.pop()
                counts[key] += 1

    rec()
    return np.array(out, dtype=np.int64)

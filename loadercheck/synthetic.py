"""Synthetic label feeds, clean and defective, for calibration tests, power studies and examples.

Pure numpy: each function returns labels in feed order (int64 class codes, or float64 targets).
Batching is applied by the caller (consecutive blocks of ``batch_size``).
"""

from __future__ import annotations

import numpy as np

Rng = np.random.Generator


def class_counts(n: int, shares: np.ndarray) -> np.ndarray:
    """Exact-proportion class counts summing to ``n`` (largest remainders)."""
    shares = np.asarray(shares, dtype=float) / np.sum(shares)
    raw = shares * n
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(raw - counts)[::-1][: n - counts.sum()]] += 1
    return counts


def uniform_shares(k: int) -> np.ndarray:
    return np.full(k, 1.0 / k)


def zipf_shares(k: int, s: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** s
    return w / w.sum()


def sorted_epoch(n: int, shares: np.ndarray) -> np.ndarray:
    """One epoch of an exact-proportion dataset, sorted by class (as data often is on disk)."""
    return np.repeat(np.arange(len(shares)), class_counts(n, shares))


def shuffled(n: int, shares: np.ndarray, rng: Rng, replace: bool = False) -> np.ndarray:
    """A clean feed: one shuffled epoch (``replace=False``) or i.i.d. draws with replacement."""
    if replace:
        return rng.choice(len(shares), size=n, p=np.asarray(shares) / np.sum(shares)).astype(np.int64)
    return rng.permutation(sorted_epoch(n, shares))


def within_batch_sorted(labels: np.ndarray, batch_size: int) -> np.ndarray:
    """Sort labels inside each batch (a clean feed for SGD: batches are still random)."""
    n = labels.size - labels.size % batch_size
    out = labels.copy()
    out[:n] = np.sort(labels[:n].reshape(-1, batch_size), axis=1).ravel()
    return out


def partial_sort(n: int, shares: np.ndarray, fraction: float, rng: Rng) -> np.ndarray:
    """A shuffled epoch in which a random ``fraction`` of positions are sorted among themselves."""
    x = shuffled(n, shares, rng)
    chosen = np.flatnonzero(rng.random(n) < fraction)
    x[chosen] = np.sort(x[chosen])
    return x


def shuffle_buffer(labels: np.ndarray, buffer: int, rng: Rng) -> np.ndarray:
    """Stream ``labels`` through a shuffle buffer of ``buffer`` samples (tf.data / WebDataset style)."""
    buffer = max(1, min(int(buffer), labels.size))
    pool = list(labels[:buffer])
    out = np.empty(labels.size, dtype=labels.dtype)
    picks = rng.integers(0, buffer, size=labels.size)
    for t, incoming in enumerate(labels[buffer:]):
        j = picks[t]
        out[t] = pool[j]
        pool[j] = incoming
    rest = np.asarray(pool, dtype=labels.dtype)
    out[labels.size - buffer:] = rng.permutation(rest)
    return out


def sorted_shards(n: int, shares: np.ndarray, shard: int, rng: Rng) -> np.ndarray:
    """Single-class shards of ``shard`` samples (a class-sorted epoch cut into pieces), shard order shuffled."""
    x = sorted_epoch(n, shares)
    starts = np.arange(0, n, shard)
    order = rng.permutation(starts.size)
    return np.concatenate([x[starts[i]:starts[i] + shard] for i in order])


def drifting_prior(n: int, k: int, strength: float, rng: Rng) -> np.ndarray:
    """I.i.d. labels whose class-0 prior moves from 1/k - strength to 1/k + strength (class 1 opposite)."""
    t = np.linspace(-1.0, 1.0, n)
    p = np.full((n, k), 1.0 / k)
    p[:, 0] += strength * t
    p[:, 1] -= strength * t
    u = rng.random(n)[:, None]
    return (u > np.cumsum(p, axis=1)).sum(axis=1).clip(0, k - 1).astype(np.int64)


def drifting_mix(n: int, k: int, swing: float, rng: Rng) -> np.ndarray:
    """I.i.d. labels whose class shares move linearly from ``start`` to its mirror image.

    ``start`` gives the first half of the classes ``(1 + swing)/k`` and the rest ``(1 - swing)/k``.
    """
    start = np.where(np.arange(k) < k // 2, 1.0 + swing, 1.0 - swing)
    start /= start.sum()
    t = np.linspace(0.0, 1.0, n)[:, None]
    p = (1 - t) * start + t * start[::-1]
    u = rng.random(n)[:, None]
    return (u > np.cumsum(p, axis=1)).sum(axis=1).clip(0, k - 1).astype(np.int64)


def batch_periodic(n: int, k: int, batch_size: int, rho: float, rng: Rng) -> np.ndarray:
    """Each slot w.p. ``rho`` replaced by its batch's round-robin class (batch j -> class j mod k)."""
    x = rng.integers(0, k, size=n)
    cls = (np.arange(n) // batch_size) % k
    hit = rng.random(n) < rho
    x[hit] = cls[hit]
    return x.astype(np.int64)


def batch_purity(n: int, k: int, batch_size: int, purity: float, rng: Rng) -> np.ndarray:
    """Each slot w.p. ``purity`` replaced by its batch's own random class (1.0 = one class per batch)."""
    x = rng.integers(0, k, size=n)
    batch_class = rng.integers(0, k, size=-(-n // batch_size))
    cls = batch_class[np.arange(n) // batch_size]
    hit = rng.random(n) < purity
    x[hit] = cls[hit]
    return x.astype(np.int64)


def concatenated(n: int, k: int, rng: Rng) -> np.ndarray:
    """Two datasets with disjoint classes (first half of the classes, then the rest), each shuffled."""
    half = n // 2
    first = rng.integers(0, k // 2, size=half)
    second = rng.integers(k // 2, k, size=n - half)
    return np.concatenate([first, second]).astype(np.int64)


def regression_targets(n: int, rng: Rng, kind: str = "normal") -> np.ndarray:
    """Clean continuous targets: normal, lognormal, or Poisson(2) counts (ties)."""
    if kind == "lognormal":
        return rng.lognormal(size=n)
    if kind == "poisson":
        return rng.poisson(2.0, size=n).astype(float)
    return rng.normal(size=n)


def target_drift(n: int, shift: float, rng: Rng) -> np.ndarray:
    """Normal targets whose mean moves by ``shift`` standard deviations over the stream."""
    return rng.normal(size=n) + shift * np.linspace(-0.5, 0.5, n)

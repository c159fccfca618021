"""Informational class balance, and the unconditional test for a single-class prefix."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from ._validate import as_codes
from .tails import TINY


def class_balance(codes: np.ndarray, k: int) -> dict[str, Any]:
    """Class shares and two summaries of imbalance.

    Returns a dict with ``counts`` and ``shares`` (arrays of length k), ``observed_classes``,
    ``imbalance_ratio`` (largest / smallest share among observed classes), ``entropy`` (nats) and
    ``effective_classes`` = exp(entropy) (k for balanced classes, 1 for a single class).
    """
    x = as_codes(codes)
    if x.size and int(x.max()) >= k:
        raise ValueError(f"codes go up to {int(x.max())} but k={k}; pass k = number of classes (max code + 1)")
    counts = np.bincount(x, minlength=k)
    n = int(counts.sum())
    shares = counts / n if n else np.zeros(k)
    obs = counts[counts > 0]
    if obs.size:
        p = obs / n
        entropy = float(-np.sum(p * np.log(p)))
        ratio = float(obs.max() / obs.min())
    else:
        entropy, ratio = 0.0, float("nan")
    return {
        "counts": counts,
        "shares": shares,
        "observed_classes": int(obs.size),
        "imbalance_ratio": ratio,
        "entropy": entropy,
        "effective_classes": float(np.exp(entropy)) if obs.size else 0.0,
    }


def single_class_prefix_pvalue(n_sampled: int, dataset_counts: np.ndarray) -> float:
    """Exact probability that the first ``n_sampled`` labels of a uniform shuffle of a dataset with
    these class counts all hold one class: sum_c C(n_c, n) / C(N, n).

    The unconditional test for a sampled prefix that holds a single class (SPEC section 2): a small
    value says a shuffled feed would almost never start with so many labels of one class.
    """
    counts = np.asarray(dataset_counts, dtype=np.float64)
    if counts.ndim != 1 or np.any(counts < 0):
        raise ValueError("dataset_counts must be a 1-D array of non-negative class counts")
    total = float(counts.sum())
    n = int(n_sampled)
    if n > total:
        raise ValueError(f"n_sampled={n} exceeds the dataset size {int(total)}")
    if n <= 1:
        return 1.0
    big = counts[counts >= n]
    if big.size == 0:
        return TINY
    lnc = lambda a, b: special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)  # noqa: E731
    logp = special.logsumexp(lnc(big, n) - lnc(total, n))
    return float(np.clip(np.exp(logp), TINY, 1.0))


def missing_classes_pvalue(n_sampled: int, dataset_counts: np.ndarray, missing: np.ndarray) -> float:
    """Upper bound on the probability that a uniformly shuffled dataset with these class counts
    starts with ``n_sampled`` labels that miss every class at least as large as the largest class in
    ``missing`` (a boolean mask over the classes the prefix lacks).

    A prefix of a random permutation misses a class of size ``c`` with the exact hypergeometric
    probability C(N - c, n) / C(N, n); the union bound over the classes at least as large as the
    largest missing one gives a valid p-value (STATS.md's conservative direction). 1.0 when
    nothing is missing.
    """
    counts = np.asarray(dataset_counts, dtype=np.float64)
    mask = np.asarray(missing, dtype=bool)
    if counts.ndim != 1 or mask.shape != counts.shape or np.any(counts < 0):
        raise ValueError("dataset_counts and missing must be 1-D arrays of the same length")
    total = float(counts.sum())
    n = int(n_sampled)
    if n > total:
        raise ValueError(f"n_sampled={n} exceeds the dataset size {int(total)}")
    if not mask.any() or n <= 0:
        return 1.0
    largest = counts[mask].max()
    if largest <= 0:
        return 1.0
    candidates = counts[counts >= largest]
    lnc = lambda a, b: special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)  # noqa: E731
    room = total - candidates
    logs = np.where(room >= n, lnc(np.maximum(room, n), n) - lnc(total, n), -np.inf)
    if np.all(np.isneginf(logs)):
        return TINY
    return float(np.clip(np.exp(special.logsumexp(logs)), TINY, 1.0))

"""Continuous targets: ``target-trend`` (Spearman vs batch index), median runs, decile bins.

Trend: the Pearson correlation rho between the batch index of each sample (the same for every
sample of a batch, so the order inside a batch is irrelevant) and the midranks of the targets.
Under the permutation null the Pearson correlation of two fixed vectors has mean 0 and variance
1/(n-1) exactly, ties included (Pitman 1937), so z = rho sqrt(n-1), two-sided normal tail (fine for
n >= 256, STATS.md section 5). For n < 256 the permutation net runs whenever it is enabled.
"""

from __future__ import annotations

import numpy as np

from ..results import TestResult
from ._validate import NotEnoughData, as_batch_sizes, as_values
from .counts import segment_ids, starts_of
from .permutation import safety_net
from .runs import runs_test
from .tails import normal_sf

SMALL_N = 256


def midranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 1..n with ties sharing their mean rank, and the sizes of the tie groups."""
    n = values.size
    order = np.argsort(values, kind="stable")
    sv = values[order]
    first = np.flatnonzero(np.r_[True, sv[1:] != sv[:-1]])
    ties = np.diff(np.r_[first, n])
    ranks = np.empty(n)
    ranks[order] = np.repeat(first + (ties + 1) / 2.0, ties)
    return ranks, ties


def decile_codes(values: np.ndarray) -> np.ndarray:
    """Decile bins 0..9 of the midranks (ties share a bin), compacted to the bins that occur.

    A function of the value multiset and each value, so running the categorical battery on the
    codes keeps the permutation null exact.
    """
    v = as_values(values)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    r, _ = midranks(v)
    bins = np.clip(np.floor((r - 0.5) * 10.0 / v.size), 0, 9).astype(np.int64)
    present = np.bincount(bins, minlength=10) > 0
    return (np.cumsum(present) - 1)[bins].astype(np.int64)


def _trend_factory():
    def factory(r: np.ndarray, sizes: np.ndarray):
        pos = np.repeat(np.arange(sizes.size, dtype=np.float64), sizes)
        pos -= pos.mean()
        norm = np.sqrt(np.sum(pos * pos))
        if norm == 0:
            return None
        return lambda rows: np.abs((rows - rows.mean(axis=1, keepdims=True)) @ pos) / norm

    return factory


def trend_test(
    values: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    mc_below: float = 0.0,
    mc_max_perms: int = 15999,
    mc_max_labels: int = 16384,
    reject_at: float | None = None,
    accept_above: float | None = None,
    mc_budget: int | None = None,
) -> TestResult:
    """Spearman-type trend of continuous targets with batch index, two-sided.

    Returns
    -------
    TestResult
        ``statistic`` and ``effect``: rho (signed; +1 for a feed sorted ascending by target).
        ``details``: expected (0), z = rho sqrt(n-1).

    Raises
    ------
    NotEnoughData
        Fewer than 2 batches, or all targets equal.

    Examples
    --------
    A regression feed sorted by target has rho close to 1 and z in the hundreds: no shuffle
    lines targets up with position like that.
    """
    v = as_values(values)
    sizes = as_batch_sizes(batch_sizes, v.size)
    n = v.size
    if sizes.size < 2 or n < 4:
        raise NotEnoughData(f"the trend test needs at least 2 batches and 4 targets, got {sizes.size} and {n}")
    r, ties = midranks(v)
    if ties.size == 1:
        raise NotEnoughData(f"all {n:,} targets are equal, so their order cannot be tested")
    # exact and order-free: centred midranks are half-integers, so per-batch sums are exact, and the
    # sum of squares follows from the tie sizes: sum (r - rbar)^2 = (n^3 - n - sum(t^3 - t)) / 12
    rc = r - (n + 1) / 2.0
    batch_sums = np.add.reduceat(rc, starts_of(sizes))
    t = ties.astype(np.float64)
    ss_r = (float(n) ** 3 - n - float(np.sum(t**3 - t))) / 12.0
    g = np.arange(sizes.size, dtype=np.float64)
    pc = g - float(np.dot(sizes, g)) / n
    ss_p = float(np.dot(sizes, pc * pc))
    rho = float(np.dot(pc, batch_sums) / np.sqrt(ss_p * ss_r))
    z = rho * np.sqrt(n - 1.0)
    p = float(min(1.0, 2.0 * normal_sf(abs(z))))
    method = "normal tail on exact permutation moments (Pitman), two-sided"
    chebyshev = float(min(1.0, 1.0 / (z * z))) if z else 1.0
    net = safety_net(
        p, method, chebyshev, _trend_factory(), r, sizes,
        rng=rng, mc_below=mc_below, mc_max_perms=mc_max_perms, mc_max_labels=mc_max_labels,
        reject_at=reject_at, accept_above=accept_above, mc_budget=mc_budget,
        min_batches=2, force=n < SMALL_N,
    )
    details = {"expected": 0.0, "z": float(z), "fast_pvalue": p, **net.details}
    return TestResult(rho, net.pvalue, rho, net.method, details)


def median_runs_test(
    values: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    mc_below: float = 0.0,
    mc_max_perms: int = 15999,
    mc_max_labels: int = 16384,
    reject_at: float | None = None,
    accept_above: float | None = None,
    mc_budget: int | None = None,
) -> TestResult:
    """Runs above/below the median, batch-aware (see :func:`loadercheck.stats.runs_test`), one-sided.

    Targets equal to the median are dropped (conditionally on which positions hold them, the rest
    is still a uniform permutation, so the null stays exact); batch sizes shrink accordingly.
    ``details`` adds ``dropped`` (ties at the median removed).
    """
    v = as_values(values)
    sizes = as_batch_sizes(batch_sizes, v.size)
    if v.size < 4:
        raise NotEnoughData(f"the median-runs test needs at least 4 targets, got {v.size}")
    med = float(np.median(v))
    keep = v != med
    codes = (v[keep] > med).astype(np.int64)
    kept_sizes = np.bincount(segment_ids(sizes)[keep], minlength=sizes.size)
    kept_sizes = kept_sizes[kept_sizes > 0]
    res = runs_test(
        codes, kept_sizes, rng=rng, mc_below=mc_below, mc_max_perms=mc_max_perms, mc_max_labels=mc_max_labels,
        reject_at=reject_at, accept_above=accept_above, mc_budget=mc_budget,
    )
    details = dict(res.details)
    details["dropped"] = float(v.size - codes.size)
    details["median"] = med
    return TestResult(res.statistic, res.pvalue, res.effect, f"median runs: {res.method}", details)

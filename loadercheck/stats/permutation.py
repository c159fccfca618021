"""The permutation safety net shared by every test (STATS.md sections 2-3).

A test supplies a *statistic factory*: given the labels and batch sizes of a prefix it returns a
function mapping an (R, n) matrix of permuted labels to R statistics (larger = more order), or
None when the prefix cannot carry the statistic. :func:`safety_net` then

1. keeps the fast tail p-value when it is above ``mc_below`` (no permutations);
2. keeps it too when it is far beyond the threshold (below ``NET_BAND * mc_below``) *and* the
   permutations would be costly (labels x permutations above ``CHEAP_NET_COST``): the net guards the
   band near the threshold, where a tail approximation off by the factor 2-4 that STATS.md
   measures at 1e-3 could flip a decision, and well beyond it: fast tails of clean streams have
   reached 1e-7 (label-autocorrelation, 95/5 classes, 16,384 labels: a false ``warn`` if
   trusted) and 3e-10 (window-drift, 95/5 classes, 1,024 labels). Ten thousand times below
   ``mc_below`` no clean long-prefix stream has been seen (``benchmarks/calibration.py``); on
   short prefixes, where the gross tail failures occur and permutations are cheap, the net runs
   at any fast p;
3. otherwise returns :func:`net_pvalue`: Cantelli's bound when it is at most c0 = 1 / (1 + B)
   (no permutations needed), else ``p_mc + c0``, where p_mc is a Besag-Clifford sequential
   Monte Carlo p-value on the first ``mc_max_labels`` labels (whole batches; a test on a prefix
   is still exact): stop at 20 exceedances with p = 20 / l, else p = (1 + G) / (1 + B)
   (Phipson & Smyth 2010) after B = ``mc_max_perms`` permutations.

Within the band, and on short prefixes at any fast p-value, the returned p-value is
super-uniform whatever the fast tail does; below the band on long prefixes the fast tail is
trusted, so the family-wise rate is at most alpha plus the chance that a fast tail lands there
by error on a clean stream (``benchmarks/calibration.py`` reports the smallest fast p-value seen
on clean streams and how many fell below the band's floor, 4.5e-8 at the default alpha).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .counts import segment_ids, whole_batch_prefix

ELEMENTS_PER_CHUNK = 8_000_000
NET_BAND = 1e-4
"""On long prefixes the net runs for fast p-values in (NET_BAND * mc_below, mc_below]; below, the fast tail stands."""
CHEAP_NET_COST = 2**25
"""Up to this many label-permutations (2,048 labels x 16,384 permutations) the net costs about a second at
most: it then runs at any fast p <= mc_below, however small."""
EXCEEDANCES = 20

RowStatistic = Callable[[np.ndarray], np.ndarray]
StatisticFactory = Callable[[np.ndarray, np.ndarray], "RowStatistic | None"]


def trusts_fast_tail(fast_p: float, mc_below: float, labels_used: int, perms: int) -> bool:
    """True when the net leaves a fast p-value at or below ``mc_below`` standing: far beyond the
    threshold (below ``NET_BAND * mc_below``) where ``perms`` permutations of ``labels_used``
    labels would be costly."""
    return fast_p <= NET_BAND * mc_below and labels_used * perms > CHEAP_NET_COST


def net_pvalue(cantelli_p: float, p_mc: float | None, perms: int) -> float:
    """One valid p-value from Cantelli's bound and a Monte Carlo p-value of ``perms`` permutations.

    With c0 = 1 / (1 + perms): Cantelli's bound itself when it is at most c0 (then ``p_mc`` is not
    needed and may be None), else ``min(1, p_mc + c0)``. Valid because both parts are:
    P(p <= t) <= P(C <= c0) + P(p_mc <= t - c0) <= t for t >= c0, and P(p <= t) = P(C <= t) <= t
    below. It equals the Bonferroni combination 2 min(C, p_mc) when no permutation reached the
    observed statistic (2 c0) and is smaller when some did ((G + 2) c0 instead of 2 (G + 1) c0):
    near the Holm threshold that is the difference between needing no exceedance and allowing one.
    """
    c0 = 1.0 / (1.0 + perms)
    if cantelli_p <= c0:
        return float(cantelli_p)
    if p_mc is None:
        raise ValueError("a Monte Carlo p-value is needed when Cantelli's bound exceeds 1 / (1 + perms)")
    return float(min(1.0, p_mc + c0))


@dataclass(frozen=True)
class NetOutcome:
    pvalue: float
    method: str
    details: dict


def monte_carlo_pvalue(
    factory: StatisticFactory,
    labels: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator,
    max_perms: int,
    max_labels: int,
    min_batches: int = 1,
    cells_per_label: float = 1.0,
) -> tuple[float, int, int] | None:
    """Besag-Clifford Monte Carlo p-value of the statistic on a whole-batch prefix.

    Returns ``(p, permutations used, labels used)`` or None when the prefix cannot carry the statistic.
    ``cells_per_label`` scales the chunk size down for statistics that build large count arrays.
    """
    nb = whole_batch_prefix(batch_sizes, max_labels, min_batches)
    sizes = batch_sizes[:nb]
    n = int(sizes.sum())
    # canonical order (sorted inside each batch): the statistics ignore the order inside a batch,
    # so this changes nothing but makes the Monte Carlo draws themselves invariant to it
    x = labels[:n][np.lexsort((labels[:n], segment_ids(sizes)))]
    stat = factory(x, sizes)
    if stat is None:
        return None
    observed = float(stat(x[None, :])[0])
    tol = 1e-9 * max(1.0, abs(observed))
    cap = max(1, int(ELEMENTS_PER_CHUNK / (max(n, 1) * max(cells_per_label, 1.0))))
    chunk = min(32, cap)
    used = 0
    exceed_total = 0
    while used < max_perms:
        rows = min(chunk, max_perms - used)
        perm = rng.permuted(np.broadcast_to(x, (rows, n)), axis=1)
        hits = stat(perm) >= observed - tol
        cum = exceed_total + np.cumsum(hits)
        if cum[-1] >= EXCEEDANCES:
            stop = int(np.searchsorted(cum, EXCEEDANCES)) + 1
            used += stop
            return EXCEEDANCES / used, used, n
        exceed_total = int(cum[-1])
        used += rows
        chunk = min(2 * chunk, cap)
    return (1.0 + exceed_total) / (1.0 + used), used, n


def safety_net(
    fast_p: float,
    fast_method: str,
    cantelli_p: float,
    factory: StatisticFactory,
    labels: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator | None,
    mc_below: float,
    mc_max_perms: int,
    mc_max_labels: int,
    min_batches: int = 1,
    cells_per_label: float = 1.0,
    force: bool = False,
) -> NetOutcome:
    """Fast p-value, or the permutation-backed p-value when the fast one is <= ``mc_below``.

    ``force`` runs the net whenever it is enabled (``mc_below > 0``), e.g. for small samples.
    """
    if mc_below <= 0 or (fast_p > mc_below and not force):
        return NetOutcome(float(fast_p), fast_method, {})
    if rng is None:
        raise ValueError("the permutation safety net needs rng=np.random.default_rng(seed) when mc_below > 0")
    if cantelli_p <= 1.0 / (1.0 + mc_max_perms):
        p = net_pvalue(cantelli_p, None, mc_max_perms)
        return NetOutcome(p, "Cantelli bound (permutation net not needed)", {"mc_perms": 0.0})
    if trusts_fast_tail(fast_p, mc_below, min(labels.size, mc_max_labels), mc_max_perms) and not force:
        return NetOutcome(float(fast_p), f"{fast_method} (far beyond the threshold: net not needed)", {"mc_perms": 0.0})
    mc = monte_carlo_pvalue(
        factory,
        labels,
        batch_sizes,
        rng=rng,
        max_perms=mc_max_perms,
        max_labels=mc_max_labels,
        min_batches=min_batches,
        cells_per_label=cells_per_label,
    )
    if mc is None:
        return NetOutcome(float(cantelli_p), "Cantelli bound (prefix too short for permutations)", {"mc_perms": 0.0})
    p_mc, used, n_used = mc
    p = net_pvalue(cantelli_p, p_mc, mc_max_perms)
    method = f"permutation (B={used}, Besag-Clifford, first {n_used} labels) + 1/(1+{mc_max_perms})"
    return NetOutcome(p, method, {"mc_perms": float(used), "mc_labels": float(n_used), "mc_pvalue": float(p_mc)})

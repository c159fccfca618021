"""Sample-identity statistics: duplicates vs the sampler, cross-epoch order, mixing window, input drift.

Pure numpy/scipy; identities are any integer-coded sample ids (dataset indices read from a
sampler, or input fingerprints coded by :func:`identity_codes`).

* :func:`expected_repeats` - mean and variance of the number of repeated draws ``n - distinct``
  when ``n`` indices are drawn with replacement (uniform over N, or with given probabilities).
* :func:`proximity_test` - do copies of the same sample arrive closer together (within ``band``
  batches) than a random order of the same multiset puts them? A match count on a band graph,
  exact permutation moments (:mod:`.moments`), matched count tail, permutation safety net.
* :func:`epoch_match_test` - how many positions of epoch 2 repeat epoch 1's sample (or label)?
  Exact permutation moments of the match count on the bipartite "same position" graph
  (Hoeffding's combinatorial CLT, STATS.md section 6), matched count tail, Monte Carlo net.
* :func:`mixing_window` - the lag (in samples) beyond which labels are no more alike than chance.
* :func:`feature_drift_test` - per-sample input summaries changing along the stream: batch means,
  rank trend and window Kruskal-Wallis statistics under the permutation null of whole batches.

Every p-value is one-sided toward the defect and valid under the permutation null of the recorded
stream (exchangeable order), which holds for shuffling with or without replacement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..results import TestResult
from ._validate import NotEnoughData
from .moments import GraphSums, label_sums, pair_moments
from .permutation import (SequentialOutcome, net_pvalue, permuted_rows, safety_net, sequential_pvalue,
                          trusts_fast_tail)
from .tails import TINY, cantelli, chi2_isf, chi2_logsf, hypergeom_sf, rankdata, rare_side_sf

EXCEEDANCES = 20
"""Besag-Clifford stopping rule of the Monte Carlo nets here (as in :mod:`.permutation`)."""


# ---------------------------------------------------------------------- identities and duplicates
def identity_codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, counts)``: ids as int64 codes 0..k-1 and each code's multiplicity (``counts[c]``).

    Small non-negative integer ids (dataset indices) are their own codes (O(n), some counts may be
    0); anything else (fingerprints) is coded by sorting, 0..u-1 in increasing id order (the codes
    and counts of ``np.unique(ids, return_inverse=True, return_counts=True)``).
    """
    ids = np.asarray(ids).ravel()
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if ids.dtype.kind in "iu" and ids.min() >= 0 and int(ids.max()) < 4 * ids.size + 1024:
        codes = ids.astype(np.int64)
        return codes, np.bincount(codes)
    codes = dense_codes(ids)
    return codes, np.bincount(codes)


def distinct_count(values: np.ndarray) -> int:
    """``np.unique(values).size``, by a count table (small ranges) or one sort for integer and bool arrays.

    (numpy 2.3+ answers ``np.unique`` without ``return_*`` from a hash table, which is about ten
    times slower than a sort when most of a million 64-bit fingerprints are distinct.)
    """
    values = np.asarray(values).ravel()
    if values.size == 0:
        return 0
    if values.dtype.kind not in "iub":
        return int(np.unique(values).size)  # NaNs, strings: numpy's own rules
    if values.dtype.kind == "b":
        return int(values.any()) + int(not values.all())
    lo, hi = int(values.min()), int(values.max())
    if hi - lo < 4 * values.size + 1024 and hi < 2**63:  # class codes, indices: a table of the range
        return int(np.count_nonzero(np.bincount(values.astype(np.int64) - lo)))
    ordered = np.sort(values)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def more_distinct_than(values: np.ndarray, k: int) -> bool:
    """``np.unique(values).size > k``: decided on a prefix when the prefix already has more than
    ``k`` distinct values (the whole array has at least as many), else on the whole array."""
    values = np.asarray(values).ravel()
    prefix = 64 * (k + 1)
    if values.size > 4 * prefix and distinct_count(values[:prefix]) > k:
        return True
    return distinct_count(values) > k


def dense_codes(values: np.ndarray) -> np.ndarray:
    """int64 codes 0..u-1 of ``values`` in increasing value order: ``np.unique(values, return_inverse=True)[1]``
    (always by sorting: never the small-integer shortcut of :func:`identity_codes`)."""
    values = np.asarray(values).ravel()
    runs = _sorted_runs(values) if values.size else None
    if runs is None:
        return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()
    order, first = runs
    codes = np.empty(values.size, dtype=np.int64)
    codes[order] = np.cumsum(first) - 1
    return codes


def _sorted_runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(order, first)`` for 64-bit integer ids: a permutation that sorts them (ties in any order) and,
    along it, True where a run of equal ids starts; None for other ids, or when the check below fails.

    Sorting values is about twice as fast as ``argsort``, so each id's high bits are packed with
    its position in the low ``p`` bits and the packed keys are sorted: the positions then order the
    ids by their high bits. Neighbours whose high bits agree are compared in full: equal ids form
    a run; distinct ids that share their high bits may be out of order, and then None is returned
    (for random 64-bit ids about n^2 / 2^(65 - p) of the time: 3% at a million) so that the caller
    sorts the usual way. The result never depends on which way was taken.
    """
    if ids.dtype.kind not in "iu" or ids.dtype.itemsize != 8 or ids.size < 2:
        return None
    keys = ids.view(np.uint64)
    if ids.dtype.kind == "i":
        keys = keys ^ np.uint64(1 << 63)  # order-preserving map of int64 onto uint64
    p = int(ids.size - 1).bit_length()
    mask = np.uint64((1 << p) - 1)
    packed = keys & ~mask
    packed |= np.arange(ids.size, dtype=np.uint64)
    packed.sort()
    order = (packed & mask).view(np.int64)
    packed &= ~mask
    first = np.empty(ids.size, dtype=bool)
    first[0] = True
    np.not_equal(packed[1:], packed[:-1], out=first[1:])
    tied = np.flatnonzero(~first[1:])  # neighbours with the same high bits: equal ids, or a rare collision
    if tied.size and not np.array_equal(keys[order[tied]], keys[order[tied + 1]]):
        return None
    return order, first


@dataclass(frozen=True)
class Multiplicity:
    """How often each distinct sample occurs in one epoch's recorded stream."""

    samples: int
    distinct: int
    repeats: int
    """``samples - distinct``: draws of a sample already drawn earlier in the epoch."""
    modal: int
    """The most common multiplicity among repeated samples (0 when nothing repeats)."""
    modal_share: float
    """Share of all samples whose sample occurs exactly ``modal`` times."""
    max_count: int

    @property
    def factor(self) -> float:
        """Mean draws per distinct sample (1.0 without repeats)."""
        return self.samples / self.distinct if self.distinct else 0.0


def multiplicity(ids: np.ndarray) -> Multiplicity:
    """Multiplicity summary of an epoch's sample ids."""
    return multiplicity_of_counts(identity_codes(ids)[1])


def multiplicity_of_counts(counts: np.ndarray) -> Multiplicity:
    """:func:`multiplicity` from the ``counts`` :func:`identity_codes` already gave (no second sort)."""
    counts = np.asarray(counts)
    counts = counts[counts > 0]
    n = int(counts.sum())
    u = int(counts.size)
    repeated = counts[counts > 1]
    if repeated.size:
        values, freq = np.unique(repeated, return_counts=True)
        mass = values * freq  # samples carried by each multiplicity
        best = int(np.argmax(mass))
        modal, share = int(values[best]), float(mass[best] / n)
    else:
        modal, share = 0, 0.0
    return Multiplicity(n, u, n - u, modal, share, int(counts.max()) if u else 0)


def expected_repeats(
    n: int, *, population: int | None = None, probabilities: np.ndarray | None = None
) -> tuple[float, float]:
    """Mean and variance of ``n - distinct`` for ``n`` independent draws with replacement.

    Uniform over ``population`` items: exact (occupancy moments). With ``probabilities``: the
    exact mean ``n - sum_i (1 - (1 - p_i)^n)`` and the upper bound ``sum_i q_i (1 - q_i)`` of the
    variance (the indicators "item i drawn" are negatively associated, so their covariances are
    <= 0; Dubhashi & Ranjan 1998), which makes a test on it conservative.
    """
    if n <= 0:
        return 0.0, 0.0
    if probabilities is not None:
        p = np.asarray(probabilities, dtype=np.float64)
        p = p[p > 0] / p.sum()
        miss = np.exp(n * np.log1p(-np.minimum(p, 1.0 - 1e-16)))
        q = 1.0 - miss
        return float(n - q.sum()), float(np.sum(q * miss))
    if population is None or population < 1:
        raise ValueError("expected_repeats needs population (N >= 1) or probabilities")
    big_n = float(population)
    e1 = np.exp(n * np.log1p(-1.0 / big_n)) if big_n > 1 else 0.0
    e2 = np.exp(n * np.log1p(-2.0 / big_n)) if big_n > 2 else 0.0
    mean_distinct = big_n * (1.0 - e1)
    var = big_n * (big_n - 1.0) * e2 + big_n * e1 - big_n * big_n * e1 * e1
    return float(n - mean_distinct), float(max(var, 0.0))


def _band_graph(sizes: np.ndarray, band: int) -> GraphSums:
    """Pairs of positions at most ``band`` batches apart (same batch included), unit weights."""
    b = np.asarray(sizes, dtype=np.float64)
    nb = b.size
    n = float(b.sum())
    cum = np.concatenate(([0.0], np.cumsum(b)))
    g = np.arange(nb)
    hi = np.minimum(g + band, nb - 1) + 1
    lo = np.maximum(g - band, 0)
    around = cum[hi] - cum[lo] - b  # positions in the other batches of the band
    ahead = cum[hi] - cum[g + 1]
    deg = (b - 1.0) + around
    omega = float(np.sum(b * (b - 1.0) / 2.0) + np.sum(b * ahead))
    dbar = 2.0 * omega / n if n else 0.0
    return GraphSums(
        n=int(n), omega=omega, omega2=omega,
        dev2=float(np.sum(b * (deg - dbar) ** 2)), s2=float(np.sum(b * (deg * deg - deg))),
    )


def _band_pairs(rows: np.ndarray, batch_of: np.ndarray, band: int, k: int) -> np.ndarray:
    """Equal-code pairs at most ``band`` batches apart, for each row of an (R, n) code matrix."""
    reps, n = rows.shape
    nb = int(batch_of[-1]) + 1 if n else 0
    span = nb + band + 1
    key = rows.astype(np.int64) * span + batch_of[None, :]
    key += (np.arange(reps, dtype=np.int64) * (k * span + band + 1))[:, None]
    flat = np.sort(key.ravel())
    ahead = np.searchsorted(flat, flat + band, side="right") - np.arange(1, flat.size + 1)
    return ahead.reshape(reps, n).sum(axis=1).astype(np.float64)


def proximity_test(
    codes: np.ndarray,
    batch_sizes: np.ndarray,
    band: int = 1,
    *,
    rng: np.random.Generator | None = None,
    mc_below: float = 0.0,
    mc_max_perms: int = 15_999,
    mc_max_labels: int = 16_384,
) -> TestResult:
    """Do copies of a sample arrive within ``band`` batches of each other more often than chance?

    W = number of pairs of positions holding the same sample (same code) that lie in the same
    batch or at most ``band`` batches apart. Under the permutation null (the recorded multiset in
    a uniformly random order) W has exact moments from the band graph; the p-value is the rarer-
    side binomial/negative-binomial tail matched to them, backed by the permutation safety net near
    ``mc_below``. An unsharded IterableDataset read by W DataLoader workers delivers each batch W
    times in consecutive batches: W here is then about ``n (W - 1) / 2``, against nearly 0.

    Returns
    -------
    TestResult
        ``effect``: the share of repeated samples whose copies arrive within the band, beyond
        chance (0 for a random order, 1 when every copy is that close); ``details`` has the
        expected count and the band.
    """
    codes = np.asarray(codes, dtype=np.int64)
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    n = int(codes.size)
    if n < 4 or sizes.size < 2:
        raise NotEnoughData(f"needs at least 2 batches and 4 samples, got {sizes.size} and {n}")
    band = max(0, min(int(band), sizes.size - 1))
    k = int(codes.max()) + 1
    counts = np.bincount(codes, minlength=k)
    batch_of = np.repeat(np.arange(sizes.size), sizes)
    observed = float(_band_pairs(codes[None, :], batch_of, band, k)[0])
    possible = float(np.sum(counts * (counts - 1) / 2))
    graph = _band_graph(sizes, band)
    mean, var = pair_moments(graph, label_sums(counts))
    details = {"pairs": observed, "expected_pairs": mean, "band_batches": float(band), "copy_pairs": possible}
    if possible == 0:
        return TestResult(0.0, 1.0, 0.0, "no sample repeats", details)
    fast = float(rare_side_sf(observed, mean, var, graph.omega, lattice=True))
    cant = cantelli(observed, mean, var)

    def factory(x: np.ndarray, sz: np.ndarray):
        bo = np.repeat(np.arange(sz.size), sz)
        kk = int(x.max()) + 1
        return lambda rows: _band_pairs(rows, bo, min(band, sz.size - 1), kk)

    net = safety_net(fast, "matched count tail on exact permutation moments", cant, factory, codes, sizes,
                     rng=rng, mc_below=mc_below, mc_max_perms=mc_max_perms, mc_max_labels=mc_max_labels, spread=False,
                     min_batches=2)
    effect = float(np.clip((observed - mean) / (possible - mean), 0.0, 1.0)) if possible > mean else 0.0
    return TestResult(observed, net.pvalue, effect, net.method, {**details, **net.details})


# ---------------------------------------------------------------------- cross-epoch order
def match_moments(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """Exact permutation mean and variance of ``sum_i 1[first_i == second_i]`` when ``second`` is
    put in a uniformly random order (both int codes over one alphabet, equal length).

    M is a linear assignment statistic ``sum_j F[j, pi(j)]`` with ``F[j, k] = 1[x_j = y_k]``, so
    (Hoeffding 1951) ``E M = S / n`` and ``Var M = sum_jk d_jk^2 / (n - 1)`` with d the doubly
    centred F: ``sum d^2 = S - sum_c a_c b_c^2 / n - sum_c b_c a_c^2 / n + S^2 / n^2``, where a, b
    are the class counts of the two sequences and ``S = sum_c a_c b_c``.
    """
    n = int(first.size)
    k = int(max(first.max(initial=0), second.max(initial=0))) + 1
    a = np.bincount(first, minlength=k).astype(np.float64)
    b = np.bincount(second, minlength=k).astype(np.float64)
    s = float(a @ b)
    if n < 2:
        return s / max(n, 1), 0.0
    d2 = s - float(np.sum(a * b * b)) / n - float(np.sum(b * a * a)) / n + s * s / (n * n)
    return s / n, max(d2, 0.0) / (n - 1)


def _mc_match(first: np.ndarray, second: np.ndarray, observed: float, rng: np.random.Generator,
              max_perms: int, max_labels: int, level: float = 0.0) -> SequentialOutcome:
    """Anytime-valid sequential Monte Carlo p-value of the match count (stops once it is settled at ``level``)."""
    n = min(first.size, max_labels)
    x, y = first[:n], second[:n]
    obs = float(np.count_nonzero(x == y))

    def exceed(rows: int) -> np.ndarray:
        perm = permuted_rows(rng, y, rows)
        return np.count_nonzero(perm == x[None, :], axis=1) >= obs

    return sequential_pvalue(exceed, max_perms=max_perms, reject_at=level, accept_above=max(level, 1e-12),
                             chunk=16, chunk_cap=max(16, min(256, 4_000_000 // max(n, 1))))


def epoch_match_test(
    first: np.ndarray,
    second: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    mc_below: float = 0.0,
    mc_max_perms: int = 15_999,
    mc_max_labels: int = 16_384,
) -> TestResult:
    """Does epoch 2 repeat epoch 1's order? Position matches vs independent shuffles.

    ``first`` and ``second`` are int codes over one alphabet (sample identities or labels) of the
    two epochs' first samples; the common prefix is compared. M = positions where they agree.
    Null: epoch 2 is a uniformly random order of its own multiset (independent of epoch 1),
    exact moments by :func:`match_moments`; rarer-side count tail; near ``mc_below`` a
    Besag-Clifford Monte Carlo p-value with Cantelli's bound (``2 min``, as the order checks do).

    Returns
    -------
    TestResult
        ``effect``: the excess match rate ``(M - E M) / (n - E M)``: 0 for independent shuffles,
        1 for the identical order.
    """
    x = np.asarray(first, dtype=np.int64)
    y = np.asarray(second, dtype=np.int64)
    n = int(min(x.size, y.size))
    if n < 2:
        raise NotEnoughData(f"needs at least 2 samples in both epochs, got {n}")
    x, y = x[:n], y[:n]
    observed = float(np.count_nonzero(x == y))
    mean, var = match_moments(x, y)
    details = {"samples": float(n), "matches": observed, "expected_matches": mean,
               "match_rate": observed / n, "expected_rate": mean / n}
    if mean >= n - 1e-9:
        raise NotEnoughData("every compared position holds the same value: a replay cannot be told apart")
    effect = float((observed - mean) / (n - mean))
    k = int(max(x.max(), y.max())) + 1
    ca, cb = np.bincount(x, minlength=k), np.bincount(y, minlength=k)
    present = np.flatnonzero(ca + cb)
    if present.size == 2:
        # two classes: M = 2 Y + n - a - b with Y ~ Hypergeometric(n, b, a) exactly (a, b: counts of
        # the first class in epoch 1 and epoch 2; Y: epoch-2 items of that class at its epoch-1 positions)
        a, b = int(ca[present[0]]), int(cb[present[0]])
        y_needed = int(np.ceil((observed - n + a + b) / 2.0))
        fast = float(max(hypergeom_sf(y_needed - 1, n, b, a), TINY))
        method = "exact hypergeometric law (two classes)"
    else:
        fast = float(rare_side_sf(observed, mean, var, float(n), lattice=True))
        method = "matched count tail on exact permutation moments"
    if present.size > 2 and 0 < fast <= mc_below and not trusts_fast_tail(fast, mc_below, min(n, mc_max_labels), mc_max_perms):
        if rng is None:
            raise ValueError("the permutation net needs rng when mc_below > 0")
        cant = cantelli(observed, mean, var)
        if cant <= 1.0 / (1.0 + mc_max_perms):
            p, method = net_pvalue(cant, None, mc_max_perms), "Cantelli bound"
        else:
            # the net's p-value is p_mc + 1/(1+B): settle p_mc at the level less that offset
            seq = _mc_match(x, y, observed, rng, mc_max_perms, mc_max_labels,
                            level=mc_below / 2.0 - 1.0 / (1.0 + mc_max_perms))
            p = net_pvalue(cant, seq.pvalue, mc_max_perms)
            method = f"sequential permutation (B={seq.perms}) + 1/(1+{mc_max_perms})"
            details.update(seq.details())
    else:
        p = fast
    return TestResult(observed, float(p), effect, method, details)


# ---------------------------------------------------------------------- mixing window
@dataclass(frozen=True)
class MixingWindow:
    """Over how many samples the labels of a stream mix (see :func:`mixing_window`)."""

    samples: int
    """The estimated window: labels further apart than this are no more alike than chance."""
    lower_bound: bool
    """True when labels were still alike at the largest lag measured (the window is at least this)."""
    lags: tuple[int, ...]
    kappas: tuple[float, ...]


def mixing_window(codes: np.ndarray, *, threshold: float = 0.02, max_lag: int | None = None) -> MixingWindow:
    """The lag beyond which two labels of the stream are no more alike than chance.

    Cohen's kappa of label pairs ``d`` positions apart, ``kappa(d) = (m_d - q) / (1 - q)`` with
    ``m_d`` the match rate at lag d and ``q`` the chance rate of the label counts, is computed on
    the geometric grid d = 1, 2, 4, ... <= n/2. The window is the first lag where kappa falls to
    ``max(threshold, 3 standard errors)``, interpolated on the log scale between grid points (a
    shuffled feed gives 1; class blocks of L samples give about L; one class per batch of b, in a
    random batch order, gives about b). When kappa never falls, the window is reported as at least
    the largest lag measured (``lower_bound``).
    """
    x = np.asarray(codes, dtype=np.int64)
    n = int(x.size)
    if n < 8:
        raise NotEnoughData(f"needs at least 8 labels, got {n}")
    counts = np.bincount(x).astype(np.float64)
    q = float(np.sum(counts * (counts - 1.0)) / (n * (n - 1.0)))
    if q >= 1.0:
        raise NotEnoughData("every label is the same class")
    top = max(1, min(max_lag or n // 2, n // 2))
    lags = [1]
    while lags[-1] * 2 <= top:
        lags.append(lags[-1] * 2)
    kappas = []
    for d in lags:
        m = float(np.count_nonzero(x[d:] == x[:-d])) / (n - d)
        kappas.append((m - q) / (1.0 - q))
    window = None
    for i, (d, kap) in enumerate(zip(lags, kappas)):
        se = np.sqrt(q * (1.0 - q) / (n - d)) / (1.0 - q)
        floor = max(threshold, 3.0 * se)
        if kap <= floor:
            if i == 0:
                window = 1.0
            else:
                d0, k0 = lags[i - 1], kappas[i - 1]
                frac = (k0 - floor) / (k0 - kap) if k0 > kap else 1.0
                window = float(np.exp(np.log(d0) + frac * (np.log(d) - np.log(d0))))
            break
    if window is None:
        return MixingWindow(int(lags[-1]), True, tuple(lags), tuple(kappas))
    return MixingWindow(max(1, int(round(window))), False, tuple(lags), tuple(kappas))


# ---------------------------------------------------------------------- input drift
def _batch_means(features: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    sums = np.add.reduceat(features, starts, axis=0)
    return sums / sizes[:, None]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Midranks along axis 0 (column-wise), 1-based."""
    return np.column_stack([rankdata(values[:, j]) for j in range(values.shape[1])])


def _drift_scores(ranks: np.ndarray, scales: list[int]) -> np.ndarray:
    """Standardised statistics per (row, feature, statistic) for rank matrices ``(R, B, F)``.

    Statistic 0: Spearman trend ``|rho| sqrt(B-1)`` (two-sided as a chi-square with 1 df after
    squaring). Statistics 1..: Kruskal-Wallis H over consecutive windows of ``s`` batches.
    Returned as chi-square values with their dfs in :func:`_drift_dfs`.
    """
    reps, nb, nf = ranks.shape
    centred = ranks - (nb + 1) / 2.0
    pos = np.arange(nb) - (nb - 1) / 2.0
    denom = np.sqrt(np.sum(pos * pos) * (nb * nb - 1) * nb / 12.0)
    rho = np.einsum("rbf,b->rf", centred, pos) / denom
    out = [rho * rho * (nb - 1)]
    for s in scales:
        j = nb // s
        used = j * s
        sums = centred[:, :used].reshape(reps, j, s, nf).sum(axis=2)
        # Kruskal-Wallis over the windows, ranks taken over all B batches (the tail windows merged)
        rest = centred[:, used:].sum(axis=1)
        h = (np.sum(sums * sums, axis=1) / s + (rest * rest / (nb - used) if nb > used else 0.0))
        out.append(h * 12.0 / (nb * (nb + 1)))
    return np.stack(out, axis=2)


def _drift_dfs(nb: int, scales: list[int]) -> np.ndarray:
    return np.array([1.0] + [float(nb // s - 1 + (1 if nb % s else 0)) for s in scales])


def feature_drift_test(
    features: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    names: tuple[str, ...] | None = None,
    rng: np.random.Generator | None = None,
    mc_below: float = 0.0,
    mc_max_perms: int = 15_999,
) -> TestResult:
    """Do per-sample input summaries change along the stream? Tested on whole batches.

    Each feature (column) is averaged per batch, and the batch means are ranked. Per feature:
    the Spearman trend of rank vs batch position and Kruskal-Wallis H over consecutive windows of
    ``s = B/4`` and ``B/16`` batches (when there are at least 4 windows of 2 batches). The null is
    that batches arrive in a uniformly random order (exchangeable batches: a shuffled feed,
    whatever the dependence inside a batch, such as dynamic padding); ranks make it
    distribution-free. Each statistic's p-value is its chi-square tail (1 df for the squared
    trend z = rho sqrt(B - 1), windows - 1 for H), both conservative in the far tail (the
    permutation laws are bounded and lighter-tailed; ties are not corrected, which only lowers
    the statistics); the test's p-value is the Bonferroni minimum over features x statistics.
    The smallest attainable p-value shrinks with the number of batches: a complete separation of
    two halves reaches about 1e-7 at 40 batches and 1e-60 at 500. At or below ``mc_below``
    (unless :func:`~loadercheck.stats.permutation.trusts_fast_tail` lets it stand) a Monte Carlo
    p-value of the same min-p statistic over random batch orders (Westfall-Young; Besag-Clifford
    stopping) replaces it.

    Returns
    -------
    TestResult
        ``effect``: for the winning feature and statistic, the rank correlation ``|rho|`` (trend)
        or the between-window share of rank variance beyond chance (windows): 0 for a shuffled
        feed, near 1 when the batches of the two halves (or of the windows) do not overlap.
        ``details``: ``feature`` (column index), ``window_batches`` (0 for the trend), ``direction``.
    """
    x = np.asarray(features, dtype=np.float64)
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    if x.ndim != 2 or x.shape[0] != sizes.sum():
        raise ValueError(f"features must be (n, F) with n = sum(batch_sizes), got {x.shape}")
    sizes = sizes[sizes > 0]
    nb = int(sizes.size)
    if nb < 8:
        raise NotEnoughData(f"needs at least 8 batches, got {nb}")
    means = _batch_means(x, sizes)
    informative = np.ptp(means, axis=0) > 0
    if not np.any(informative):
        raise NotEnoughData("the input summaries are the same in every batch")
    means = means[:, informative]
    feature_ids = np.flatnonzero(informative)
    scales = sorted({s for s in (nb // 4, nb // 16) if s >= 2 and nb // s >= 4})
    ranks = _ranks(means)
    dfs = _drift_dfs(nb, scales)
    chi = _drift_scores(ranks[None], scales)[0]  # (F, S)
    logp = chi2_logsf(chi, dfs[None, :])
    m_tests = chi.size
    best = np.unravel_index(int(np.argmin(logp)), logp.shape)
    p_min = float(np.exp(logp[best]))
    p = min(1.0, m_tests * p_min)
    method = f"rank trend + window Kruskal-Wallis on batch means, chi-square tails, Bonferroni x{m_tests}"
    details: dict[str, float] = {}
    if 0 < p <= mc_below and not trusts_fast_tail(p, mc_below, nb, mc_max_perms):
        if rng is None:
            raise ValueError("the permutation net needs rng when mc_below > 0")
        observed = float(logp[best])
        # min-p over the statistics <= observed  <=>  some statistic reaches its own threshold
        thresholds = chi2_isf(np.exp(observed), dfs) * (1.0 - 1e-12)

        def exceed(rows: int) -> np.ndarray:
            order = permuted_rows(rng, np.arange(nb), rows)
            return np.any(_drift_scores(ranks[order], scales) >= thresholds[None, None, :], axis=(1, 2))

        seq = sequential_pvalue(exceed, max_perms=mc_max_perms, reject_at=mc_below / 2.0, accept_above=mc_below / 2.0,
                                chunk=16, chunk_cap=max(16, min(1024, 4_000_000 // (nb * ranks.shape[1]))))
        p = seq.pvalue
        settled = "" if seq.settled else ", unsettled at its budget"
        method = f"sequential permutation of batches (B={seq.perms}{settled}, min-p over {m_tests} statistics)"
        details.update(seq.details())
    f_idx, s_idx = int(best[0]), int(best[1])
    if s_idx == 0:
        effect = float(np.sqrt(chi[f_idx, 0] / (nb - 1)))
        direction = float(np.sign(np.dot(ranks[:, f_idx] - ranks[:, f_idx].mean(), np.arange(nb) - (nb - 1) / 2)))
        window = 0
    else:
        h = chi[f_idx, s_idx]
        eps = h / (nb - 1)
        null = dfs[s_idx] / (nb - 1)
        effect = float(max(0.0, (eps - null) / (1.0 - null)))
        direction = 0.0
        window = scales[s_idx - 1]
    feature = int(feature_ids[f_idx])
    details.update({
        "feature": float(feature), "window_batches": float(window), "direction": direction,
        "raw_pvalue_min": p_min, "batches": float(nb),
    })
    if names is not None and feature < len(names):
        method += f"; strongest: {names[feature]}"
    return TestResult(float(chi[f_idx, s_idx]), float(max(p, TINY)), effect, method, details)


"""``label-runs``: too many adjacent equal labels, batch-aware.

SGD sees batches, not positions inside a batch, so the statistic is the *expected* number of
adjacent equal pairs given the batch x class counts N when the order inside every batch is
uniformly random:

    T = sum_g (1/b_g) sum_c N_gc (N_gc - 1)  +  sum_g sum_c N_gc N_{g+1,c} / (b_g b_{g+1}),

a weighted match count on the graph "within-batch clique (weight 2/b_g per pair) + complete
bipartite blocks between consecutive batches (weight 1/(b_g b_{g+1}))". With b = 1 it is the classic
T1 = n - R (R = number of runs; Wald & Wolfowitz 1940, Barton & David 1957). Exactly invariant to
the order of samples inside a batch.

Tail: without batches, the exact Wald-Wolfowitz law for two classes, else the rarer-side
binomial / negative-binomial matched to the exact moments; with batches, the shifted Satterthwaite
tail (the within-batch cliques dominate) with W0 the integer Jensen bound of the within part.
"""

from __future__ import annotations

import numpy as np

from ..results import TestResult
from ._validate import NotEnoughData, as_batch_sizes, as_codes
from .counts import counts_densely, cross_next, dense_cells, dense_tables, segment_table
from .moments import block_graph, clique_lower_bound, kappa, label_sums, pair_moments, zscore
from .permutation import safety_net
from .tails import cantelli, rare_side_sf, runs_exact_cdf, satterthwaite_sf


PAIRS_MAX_BATCH = 4
"""Batches of up to this many labels (all of one size but the last) count their matches pair by pair:
(3/2) b comparisons per label, 2-9x faster than their dense tables (measured at 10 classes)."""


def _matches(a: np.ndarray, c: np.ndarray, class_weights: np.ndarray | None) -> np.ndarray:
    """Per row, the (weighted) number of positions where ``a`` and ``c`` (both (R, ...)) are equal."""
    eq = a == c
    if class_weights is None:
        return np.count_nonzero(eq.reshape(eq.shape[0], -1), axis=1).astype(np.float64)
    return (eq * class_weights[a]).reshape(eq.shape[0], -1).sum(axis=1)  # equal: a's class is c's


def _within(v: np.ndarray, class_weights: np.ndarray | None) -> np.ndarray:
    """Per row, the equal pairs inside the batches of ``v`` (R, batches, b).

    Position against position, over all batches at once: on row-major rows, slices along the short
    last axis (or broadcast against it) ran numpy's inner loops over 1-4 elements, 3x slower."""
    b = v.shape[-1]
    return sum((_matches(v[..., i], v[..., j], class_weights) for i in range(b) for j in range(i + 1, b)),
               np.zeros(v.shape[0]))


def _across(prev: np.ndarray, nxt: np.ndarray, class_weights: np.ndarray | None) -> np.ndarray:
    """Per row, the equal pairs between each batch of ``prev`` and the batch of ``nxt`` after it
    (position against position, as :func:`_within`)."""
    return sum((_matches(prev[..., i], nxt[..., j], class_weights)
                for i in range(prev.shape[-1]) for j in range(nxt.shape[-1])), np.zeros(prev.shape[0]))


def pairs_apply(sizes: np.ndarray) -> bool:
    """Whether rows in these batches are counted pair by pair: batches of 2 to ``PAIRS_MAX_BATCH``
    labels, all of one size but the last (which may be smaller)."""
    return (sizes.size > 1 and 2 <= sizes[0] <= PAIRS_MAX_BATCH and bool(np.all(sizes[:-1] == sizes[0]))
            and sizes[-1] <= sizes[0])


def _batches_of(rows: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The full batches ``(R, batches, b)`` and the shorter last one ``(R, 1, b')`` (None if there is none)."""
    b = int(sizes[0])
    full = sizes.size - (int(sizes[-1]) != b)
    v = rows[:, : full * b].reshape(rows.shape[0], full, b)
    return v, (rows[:, None, full * b :] if full < sizes.size else None)


def within_by_pairs(rows: np.ndarray, sizes: np.ndarray, class_weights: np.ndarray | None) -> np.ndarray:
    """sum_g (2 / b_g) x the (weighted) equal pairs inside batch g of every row, pair by pair
    (:func:`pairs_apply` batches): sum_g (1 / b_g) sum_c w_c N_gc (N_gc - 1), without the tables."""
    v, tail = _batches_of(rows, sizes)
    total = _within(v, class_weights) * (2.0 / sizes[0])
    if tail is not None:
        total += _within(tail, class_weights) * (2.0 / sizes[-1])
    return total


def _runs_by_pairs(rows: np.ndarray, sizes: np.ndarray, class_weights: np.ndarray | None) -> np.ndarray:
    """T of :func:`runs_rows` from pairwise comparisons (:func:`pairs_apply` batches): (2 / b) x the
    equal pairs inside a batch + 1 / (b b') x the equal pairs across consecutive batches."""
    v, tail = _batches_of(rows, sizes)
    b = float(sizes[0])
    total = within_by_pairs(rows, sizes, class_weights) + _across(v[:, :-1], v[:, 1:], class_weights) / (b * b)
    if tail is not None:  # the shorter last batch
        total += _across(v[:, -1:], tail, class_weights) / (b * float(sizes[-1]))
    return total


def runs_rows(rows: np.ndarray, sizes: np.ndarray, k: int, class_weights: np.ndarray | None = None) -> np.ndarray:
    """The batch-aware runs statistic T of every row of an (R, n) code matrix (matches of class c
    weighted by ``class_weights[c]`` when given)."""
    reps = rows.shape[0]
    nb = sizes.size
    b = sizes.astype(np.float64)
    if np.all(sizes == 1):
        same = rows[:, 1:] == rows[:, :-1]
        if class_weights is None:
            return np.count_nonzero(same, axis=1).astype(np.float64)
        return np.sum(same * class_weights[rows[:, 1:]], axis=1)
    if pairs_apply(sizes):
        return _runs_by_pairs(rows, sizes, class_weights)
    if counts_densely(nb, k, rows.shape[1]):
        t = dense_tables(rows, sizes, k).astype(np.float64)
        pairs, nxt = t * (t - 1.0), t[:, :-1] * t[:, 1:]
        if class_weights is None:
            return pairs.sum(axis=2) @ (1.0 / b) + nxt.sum(axis=2) @ (1.0 / (b[:-1] * b[1:]))
        return (pairs @ class_weights) @ (1.0 / b) + (nxt @ class_weights) @ (1.0 / (b[:-1] * b[1:]))
    flat = rows.ravel()
    lengths = np.tile(sizes, reps)
    table = segment_table(flat, lengths, k)
    within = table.pair_sum(class_weights)
    total = within.reshape(reps, nb) @ (1.0 / b)
    if nb > 1:
        if table.matrix is not None:
            t = table.matrix.astype(np.float64)
            prod = t[:-1] * t[1:]
            nxt = prod.sum(axis=1) if class_weights is None else prod @ class_weights
        else:
            nxt = cross_next(flat, lengths, k, within, class_weights)
        # the pair (last batch of row r, first batch of row r+1) is dropped by the reshape
        cross = np.append(nxt, 0.0).reshape(reps, nb)[:, :-1]
        total = total + cross @ (1.0 / (b[:-1] * b[1:]))
    return total


def net_row_cost(codes: np.ndarray, batch_sizes: np.ndarray) -> float:
    """What one permuted row of this check's net costs, drawing included, in label-permutations per label
    (the unit of the stream's budget): batches of one or of 2-4 labels are counted without tables, larger
    ones through batch x class tables that grow with the classes per label (a fit on 2,048-4,096
    labels, 2-1,000 classes, batches of 1-256: ``benchmarks/net_cost.py``)."""
    n, nb = max(int(codes.size), 1), int(batch_sizes.size)
    k = int(codes.max()) + 1 if codes.size else 1
    if nb >= n or pairs_apply(batch_sizes):
        return 0.6
    return 0.6 + min(1.0, 0.3 * nb * k / n)


def _runs_factory(k: int, class_weights: np.ndarray | None):
    def factory(x: np.ndarray, sizes: np.ndarray):
        if x.size < 2:
            return None
        return lambda rows: runs_rows(rows, sizes, k, class_weights)

    return factory


def runs_test(
    codes: np.ndarray,
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
    """Batch-aware label-runs test: are equal labels more often adjacent than a shuffle gives?

    Parameters
    ----------
    codes : int array, class codes 0..k-1 in feed order.
    batch_sizes : int array partitioning ``codes`` into consecutive batches (1s for no batching).
    rng, mc_below, mc_max_perms, mc_max_labels : the permutation safety net (see
        :mod:`loadercheck.stats.permutation`); off when ``mc_below`` is 0.

    Returns
    -------
    TestResult
        ``statistic``: T, the expected number of adjacent equal pairs given the batch
        compositions (= n - #runs without batches). ``pvalue``: one-sided, too many adjacent matches.
        ``effect``: Cohen's kappa of adjacent pairs. ``details``: expected, z, match_rate,
        expected_rate, runs, expected_runs, mean_run_length, expected_run_length.

    Raises
    ------
    NotEnoughData
        Fewer than 3 labels, or a single class.

    Examples
    --------
    A class-sorted feed has long runs: T is close to n and the p-value is tiny, meaning a shuffled
    feed would almost never put so many equal labels next to each other.
    """
    x = as_codes(codes)
    sizes = as_batch_sizes(batch_sizes, x.size)
    n = x.size
    if n < 3:
        raise NotEnoughData(f"the runs test needs at least 3 labels, got {n}")
    counts = np.bincount(x)
    k = counts.size
    observed = counts[counts > 0]
    if observed.size < 2:
        raise NotEnoughData(f"all {n:,} labels are class {int(np.argmax(counts))}, so their order cannot be tested")
    b = sizes.astype(np.float64)
    alpha = np.where(b > 1, 2.0 / b, 0.0)
    chain = 1.0 / (b[:-1] * b[1:])
    graph = block_graph(sizes, alpha, chain)
    labels = label_sums(observed)
    mean, var = pair_moments(graph, labels)
    stat = float(runs_rows(x[None, :], sizes, k)[0])
    unbatched = bool(np.all(sizes == 1))
    weights = None
    t_stat, t_mean, t_var = stat, mean, var
    if unbatched and observed.size == 2:
        p = runs_exact_cdf(int(round(n - stat)), int(observed[0]), int(observed[1]))
        method = "exact Wald-Wolfowitz runs distribution"
    elif unbatched:
        p = float(rare_side_sf(stat, mean, var, graph.omega)[()])
        method = "binomial/negative-binomial tail on exact moments (rarer side)"
    else:
        if observed.max() * 2 > n:
            # a majority class: its matches are the common side and hide the skew of the rare
            # classes' clumping; test the matches of the other classes (for two classes an affine
            # equivalent of T up to the first and last batch)
            weights = (np.arange(k) != int(np.argmax(counts))).astype(np.float64)
            t_stat = float(runs_rows(x[None, :], sizes, k, weights)[0])
            t_mean, t_var = pair_moments(graph, label_sums(observed, weights[counts > 0]))
            w0 = clique_lower_bound(sizes, alpha, observed, weights[counts > 0])
            method = "shifted Satterthwaite tail on exact permutation moments (matches outside the majority class)"
        else:
            w0 = clique_lower_bound(sizes, alpha, observed)
            method = "shifted Satterthwaite tail on exact permutation moments"
        p = float(satterthwaite_sf(t_stat, t_mean, t_var, w0)[()])
    net = safety_net(
        p, method, cantelli(t_stat, t_mean, t_var), _runs_factory(k, weights), x, sizes,
        rng=rng, mc_below=mc_below, mc_max_perms=mc_max_perms, mc_max_labels=mc_max_labels,
        reject_at=reject_at, accept_above=accept_above, mc_budget=mc_budget,
        cells_per_label=dense_cells(sizes.size, k, n) if sizes.size < n else 1.0,
    )
    rate = stat / graph.omega
    runs_obs = n - stat
    runs_exp = n - mean
    details = {
        "expected": mean,
        "z": zscore(t_stat, t_mean, t_var),
        "sd": float(np.sqrt(var)),
        "match_rate": rate,
        "expected_rate": labels.a2,
        "runs": runs_obs,
        "expected_runs": runs_exp,
        "mean_run_length": n / runs_obs if runs_obs > 0 else float(n),
        "expected_run_length": n / runs_exp if runs_exp > 0 else float(n),
        "fast_pvalue": p,
        **net.details,
    }
    return TestResult(stat, net.pvalue, kappa(rate, labels.a2), net.method, details)

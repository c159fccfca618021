"""Exact permutation moments of weighted match counts vs brute-force enumeration."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from brute_force import distinct_permutations
import pytest


from loadercheck.stats.counts import segment_ids
from loadercheck.stats.moments import (
    block_graph,
    clique_lower_bound,
    edge_graph,
    label_sums,
    lag_graph_sums,
    pair_moments,
    pair_moments_reference,
)


def _block_edges(sizes, alpha, chain=None):
    """Explicit edge list of the clique + consecutive-bipartite block graph."""
    seg = segment_ids(np.asarray(sizes))
    n = seg.size
    i, j = np.triu_indices(n, 1)
    same = seg[i] == seg[j]
    nxt = seg[j] == seg[i] + 1
    w = np.where(same, np.asarray(alpha, float)[seg[i]], 0.0)
    if chain is not None:
        c = np.r_[np.asarray(chain, float), 0.0]
        w = w + np.where(nxt, c[seg[i]], 0.0)
    keep = w != 0
    return i[keep], j[keep], w[keep]


def _lag_edges(sizes, q):
    seg = segment_ids(np.asarray(sizes))
    nb = len(sizes)
    i, j = np.triu_indices(seg.size, 1)
    d = (seg[j] - seg[i]) % nb
    keep = (d == q) | (d == nb - q)
    return i[keep], j[keep], np.ones(int(keep.sum()))


def _enumerate(x, i, j, w, cw):
    perms = distinct_permutations(x)
    vals = (w * cw[perms[:, i]] * (perms[:, i] == perms[:, j])).sum(axis=1)
    return vals.mean(), vals.var(), vals.min()


CASES = [
    # multiset, batch sizes
    ([0, 0, 0, 1, 1, 2, 2, 2], [3, 3, 2]),
    ([0, 0, 1, 1, 1, 1, 2, 3, 3], [2, 4, 1, 2]),
    ([0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]),
    ([0, 0, 0, 0, 1, 1, 1, 2, 2], [4, 4, 1]),
    ([0, 0, 1, 1, 2, 2, 3, 3], [2, 2, 2, 2]),
]


@pytest.mark.parametrize("x, sizes", CASES)
@pytest.mark.parametrize("weighting", ["one", "inverse", "indicator"])
def test_block_graph_moments_match_enumeration(x, sizes, weighting):
    x = np.array(x)
    counts = np.bincount(x).astype(float)
    cw = {"one": np.ones_like(counts), "inverse": 1.0 / counts, "indicator": (np.arange(counts.size) == 0) * 1.0}[
        weighting
    ]
    b = np.array(sizes, float)
    for alpha, chain in [
        (np.where(b > 1, 2.0 / b, 0.0), 1.0 / (b[:-1] * b[1:])),  # runs
        (2.0 / b, None),  # batch / window X^2
        (np.linspace(0.3, 2.2, b.size), np.linspace(1.1, 0.2, b.size - 1)),  # arbitrary weights
    ]:
        i, j, w = _block_edges(sizes, alpha, chain)
        mean, var, _ = _enumerate(x, i, j, w, cw)
        graph = block_graph(np.array(sizes), alpha, chain)
        ref = edge_graph(x.size, i, j, w)
        assert graph.omega == pytest.approx(ref.omega)
        assert graph.dev2 == pytest.approx(ref.dev2, abs=1e-9)
        assert graph.s2 == pytest.approx(ref.s2)
        labels = label_sums(counts, cw)
        for m, v in (pair_moments(graph, labels), pair_moments_reference(graph, labels)):
            assert m == pytest.approx(mean, rel=1e-12, abs=1e-12)
            assert v == pytest.approx(var, rel=1e-10, abs=1e-12)


def test_random_weighted_graphs_match_enumeration():
    rng = np.random.default_rng(7)
    for _ in range(8):
        n = int(rng.integers(5, 9))
        x = rng.integers(0, 3, n)
        i, j = np.triu_indices(n, 1)
        keep = rng.random(i.size) < 0.5
        i, j = i[keep], j[keep]
        w = rng.random(i.size) + 0.1
        cw = rng.random(3) + 0.2
        mean, var, _ = _enumerate(x, i, j, w, cw)
        counts = np.bincount(x, minlength=3)
        g = edge_graph(n, i, j, w)
        lab = label_sums(counts, cw)
        for m, v in (pair_moments(g, lab), pair_moments_reference(g, lab)):
            assert m == pytest.approx(mean, rel=1e-12)
            assert v == pytest.approx(var, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("sizes", [[2] * 8, [1] * 9, [2, 1, 2, 1, 1, 1, 1, 1], [3, 1, 1, 1, 1, 1, 1, 1]])
def test_lag_graph_sums_match_edge_lists(sizes):
    sizes = np.array(sizes)
    lags = sizes.size // 4
    omega, dev2 = lag_graph_sums(sizes, lags)
    x = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3][: sizes.sum()])
    for q in range(1, lags + 1):
        i, j, w = _lag_edges(sizes, q)
        ref = edge_graph(int(sizes.sum()), i, j, w)
        assert omega[q - 1] == pytest.approx(ref.omega)
        assert dev2[q - 1] == pytest.approx(ref.dev2, abs=1e-9)
        if sizes.sum() <= 9:
            mean, var, _ = _enumerate(x, i, j, w, np.ones(4))
            m, v = pair_moments(ref, label_sums(np.bincount(x)))
            assert (m, v) == pytest.approx((mean, var))


def test_lag_graph_sums_irregular_sizes_large():
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 6, 40)
    omega, dev2 = lag_graph_sums(sizes, 10)
    for q in (1, 4, 10):
        ref = edge_graph(int(sizes.sum()), *_lag_edges(sizes, q))
        assert omega[q - 1] == pytest.approx(ref.omega)
        assert dev2[q - 1] == pytest.approx(ref.dev2, rel=1e-9)


@pytest.mark.parametrize("x, sizes", CASES)
def test_clique_lower_bound_is_a_lower_bound(x, sizes):
    x = np.array(x)
    counts = np.bincount(x)
    b = np.array(sizes, float)
    for cw in (np.ones(counts.size), 1.0 / counts):
        i, j, w = _block_edges(sizes, 2.0 / b)
        _, _, minimum = _enumerate(x, i, j, w, cw)
        bound = clique_lower_bound(np.array(sizes), 2.0 / b, counts, cw)
        assert bound <= minimum + 1e-12


def test_clique_lower_bound_is_tight_for_equal_batches():
    # 12 labels, 3 batches of 4, classes 6/3/3: the most even table has X^2 = 0
    counts = np.array([6, 3, 3])
    bound = clique_lower_bound(np.array([4, 4, 4]), np.full(3, 0.5), counts, 1.0 / counts)
    # each batch holds 2 of class 0, 1 of the others: sum_g (1/4) sum_c N(N-1)/n_c = 3 * (1/4) * 2/6
    assert bound == pytest.approx(3 * 0.5 * (1 / 6))


def test_monte_carlo_mean_and_variance_of_a_larger_case():
    rng = np.random.default_rng(11)
    sizes = np.array([32] * 20 + [17])
    x = rng.integers(0, 5, sizes.sum())
    x[:100] = 0  # imbalance
    from loadercheck.stats.batch import batch_rows

    counts = np.bincount(x)
    inv = 1.0 / counts
    perms = rng.permuted(np.broadcast_to(x, (20000, x.size)), axis=1)
    w = batch_rows(perms, sizes, counts.size, inv)
    graph = block_graph(sizes, 2.0 / sizes)
    mean, var = pair_moments(graph, label_sums(counts, inv))
    se_mean = np.sqrt(var / w.size)
    assert abs(w.mean() - mean) < 5 * se_mean
    assert w.var() == pytest.approx(var, rel=0.05)


def _exact_reference_var(counts, sizes):
    """STATS section 0 formula in exact rational arithmetic (w = 1, cliques of weight 1)."""
    n = sum(counts)
    ff = lambda m, r: np.prod([Fraction(m - t) for t in range(r)])  # noqa: E731
    a = sum(Fraction(c * (c - 1)) for c in counts)
    a2 = a / ff(n, 2)
    b2 = a2
    b3 = sum(ff(c, 3) for c in counts) / ff(n, 3)
    b22 = (a * a - sum(Fraction(c * (c - 1)) ** 2 for c in counts) + sum(ff(c, 4) for c in counts)) / ff(n, 4)
    (size,) = set(sizes)
    omega = len(sizes) * Fraction(size * (size - 1), 2)
    s2 = len(sizes) * Fraction(size) * (size - 1) * (size - 2)
    d = omega * omega - omega - s2
    return omega * a2, omega * (b2 - a2 * a2) + s2 * (b3 - a2 * a2) + d * (b22 - a2 * a2)


@pytest.mark.parametrize(
    "counts, size",
    [([5_000_000, 5_000_000], 2_500_000), ([9_500_000, 500_000], 32), ([3_333_334, 3_333_333, 3_333_333], 1000), ([6_000_000, 3_000_000, 1_000_000], 2_000_000)],
)
def test_no_precision_loss_at_ten_million_labels(counts, size):
    n = sum(counts)
    assert n % size == 0
    sizes = np.full(n // size, size)
    mean_exact, var_exact = _exact_reference_var(counts, [size] * (n // size))
    mean, var = pair_moments(block_graph(sizes, np.ones(sizes.size)), label_sums(np.array(counts)))
    assert mean == pytest.approx(float(mean_exact), rel=1e-12)
    assert var == pytest.approx(float(var_exact), rel=1e-8)

"""Exact permutation moments of weighted match counts on a pair graph.

Every categorical order statistic of :mod:`loadercheck.stats` is a weighted match count

    W = sum over edges e = (i, j) of G of  omega_e * w(x_i) * 1[x_i == x_j]

on a graph G over feed positions whose edge weights depend only on batch membership, and class
weights ``w`` (1, 1/n_c for Pearson X^2, or the indicator of one class). Under the permutation null
(the feed is a uniformly random order of the observed label multiset) its mean and variance are
exact functions of a few graph sums and a few label sums.

Two equivalent variance formulas are implemented:

* :func:`pair_moments` (used by the tests) is the quadratic-assignment decomposition (Mantel 1967;
  Hubert 1987, *Assignment Methods in Combinatorial Data Analysis*): double-centre the position
  weight matrix A and the label matrix H off the diagonal, A_ij = mu + alpha_i + alpha_j + eps_ij,
  H_uv = nu + beta_u + beta_v + eta_uv; then the linear and the quadratic parts are uncorrelated and

      E W   = Omega * a2
      Var W = [sum_i (d_i - dbar)^2] [sum_u beta_u^2] / (n-1)  +  E_eps E_eta / (2 n (n-3))

  with d_i the weighted degree of position i, E_eps = sum_{i!=j} eps_ij^2, E_eta = sum_{u!=v} eta_uv^2.
  Both terms are products of non-negative sums, so there is no cancellation at 10M labels.
* :func:`pair_moments_reference` is the edge-weighted form of STATS.md section 0,
  ``Var W = Omega2 (b2 - a2^2) + S2w (b3 - a2^2) + Dw (b22 - a2^2)``; the unit tests check both
  against brute-force enumeration and against each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelSums:
    """Label-side sums of the permutation moments (depend on class counts and weights only)."""

    n: int
    a2: float
    """Mean of w(x_i) 1[x_i == x_j] over ordered pairs of distinct items (match rate)."""
    beta2: float
    """Sum over items of the squared centred row effect beta_u."""
    eta2: float
    """Sum over ordered item pairs of the squared doubly-centred interaction eta_uv."""
    b2: float
    b3: float
    b22_minus_a2sq: float


@dataclass(frozen=True)
class GraphSums:
    """Position-side sums of a weighted pair graph on ``n`` positions."""

    n: int
    omega: float
    """Sum of edge weights."""
    omega2: float
    """Sum of squared edge weights."""
    dev2: float
    """Sum over positions of (weighted degree - mean weighted degree)^2."""
    s2: float | None = None
    """Sum over positions of [(sum of incident weights)^2 - sum of squared incident weights] (reference form)."""


def label_sums(class_counts: np.ndarray, class_weights: np.ndarray | None = None) -> LabelSums:
    """Label sums for class counts ``n_c`` and class weights ``w_c`` (default 1).

    Classes with a zero count are ignored.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    w = np.ones_like(counts) if class_weights is None else np.asarray(class_weights, dtype=np.float64)
    keep = counts > 0
    nc, w = counts[keep], w[keep]
    n = float(nc.sum())
    if n < 2:
        return LabelSums(int(n), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    pairs = nc * (nc - 1.0)
    big_a = float(np.sum(w * pairs))
    n2 = n * (n - 1.0)
    a2 = big_a / n2
    if n > 2:
        beta = (w * (nc - 1.0) - (n - 1.0) * a2) / (n - 2.0)
        beta2 = float(np.sum(nc * beta * beta))
    else:
        beta2 = 0.0
    h2 = float(np.sum(w * w * pairs))
    eta2 = max(0.0, h2 - n2 * a2 * a2 - 2.0 * (n - 2.0) * beta2)
    b2 = h2 / n2
    n3 = n2 * (n - 2.0)
    n4 = n3 * (n - 3.0)
    b3 = float(np.sum(w * w * pairs * (nc - 2.0))) / n3 if n > 2 else 0.0
    if n > 3:
        # cancellation-free b22 - a2^2 (STATS.md section 0)
        c22 = big_a * big_a * (4.0 * n - 6.0) / (n4 * n2) - float(np.sum(w * w * pairs * (4.0 * nc - 6.0))) / n4
    else:
        c22 = 0.0
    return LabelSums(int(n), a2, beta2, eta2, b2, b3, c22)


def pair_moments(graph: GraphSums, labels: LabelSums) -> tuple[float, float]:
    """Exact permutation mean and variance of W (quadratic-assignment form; needs n >= 4)."""
    if graph.n != labels.n:
        raise ValueError(f"the graph has {graph.n} positions but the labels number {labels.n}")
    n = float(graph.n)
    mean = graph.omega * labels.a2
    if graph.n < 4:
        return pair_moments_reference(graph, labels)
    eps2 = 2.0 * graph.omega2 - 4.0 * graph.omega**2 / (n * (n - 1.0)) - 2.0 * graph.dev2 / (n - 2.0)
    eps2 = max(eps2, 0.0)
    var = graph.dev2 * labels.beta2 / (n - 1.0) + eps2 * labels.eta2 / (2.0 * n * (n - 3.0))
    return mean, max(var, 0.0)


def pair_moments_reference(graph: GraphSums, labels: LabelSums) -> tuple[float, float]:
    """Exact mean and variance by the edge-weighted STATS.md section 0 formula (needs ``graph.s2``)."""
    if graph.s2 is None:
        raise ValueError("pair_moments_reference needs GraphSums.s2; build the graph with edge_graph or block_graph")
    a2 = labels.a2
    d = graph.omega**2 - graph.omega2 - graph.s2
    var = graph.omega2 * (labels.b2 - a2 * a2) + graph.s2 * (labels.b3 - a2 * a2) + d * labels.b22_minus_a2sq
    return graph.omega * a2, max(var, 0.0)


def edge_graph(n: int, i: np.ndarray, j: np.ndarray, weights: np.ndarray | None = None) -> GraphSums:
    """Graph sums from an explicit edge list (i != j; each unordered edge once). O(#edges)."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    wt = np.ones(i.size) if weights is None else np.asarray(weights, dtype=np.float64)
    deg = np.bincount(i, wt, minlength=n) + np.bincount(j, wt, minlength=n)
    sq = np.bincount(i, wt * wt, minlength=n) + np.bincount(j, wt * wt, minlength=n)
    omega = float(wt.sum())
    dbar = 2.0 * omega / n
    return GraphSums(
        n=n,
        omega=omega,
        omega2=float(np.sum(wt * wt)),
        dev2=float(np.sum((deg - dbar) ** 2)),
        s2=float(np.sum(deg * deg - sq)),
    )


def block_graph(sizes: np.ndarray, alpha: np.ndarray, chain: np.ndarray | None = None) -> GraphSums:
    """Graph of within-segment cliques (weight ``alpha[g]`` per pair inside segment g) plus,
    optionally, complete bipartite blocks between consecutive segments (weight ``chain[g]`` per pair
    between segment g and g+1). Closed forms per segment: O(#segments)."""
    b = np.asarray(sizes, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    n = float(b.sum())
    pairs = b * (b - 1.0) / 2.0
    omega = float(np.sum(a * pairs))
    omega2 = float(np.sum(a * a * pairs))
    deg = a * (b - 1.0)
    sq = a * a * (b - 1.0)
    if chain is not None and b.size > 1:
        c = np.asarray(chain, dtype=np.float64)
        cross = b[:-1] * b[1:]
        omega += float(np.sum(c * cross))
        omega2 += float(np.sum(c * c * cross))
        deg[:-1] += c * b[1:]
        deg[1:] += c * b[:-1]
        sq[:-1] += c * c * b[1:]
        sq[1:] += c * c * b[:-1]
    dbar = 2.0 * omega / n if n > 0 else 0.0
    return GraphSums(
        n=int(n),
        omega=omega,
        omega2=omega2,
        dev2=float(np.sum(b * (deg - dbar) ** 2)),
        s2=float(np.sum(b * (deg * deg - sq))),
    )


def lag_graph_sums(sizes: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Omega_q and dev2_q (q = 1..lags) of the circular batch-lag graphs.

    The lag-q graph joins every position of batch g to every position of batch (g+q) mod B with
    weight 1 (lags < B/2, so the two neighbours of a batch are distinct). Batch sizes are written
    as the modal size m plus sparse deviations e, so the cost is O(B + |support(e)| * lags).
    Returns ``(omega, dev2)`` as float arrays of length ``lags``; omega2 equals omega.
    """
    b = np.asarray(sizes, dtype=np.int64)
    nb = b.size
    n = float(b.sum())
    vals, cnt = np.unique(b, return_counts=True)
    m = float(vals[np.argmax(cnt)])
    e = (b - int(m)).astype(np.float64)
    support = np.flatnonzero(e)
    q = np.arange(1, lags + 1)
    e1 = float(e.sum())
    e2 = float(np.sum(e * e))
    if support.size:
        es = e[support][:, None]
        plus = e[(support[:, None] + q[None, :]) % nb]
        minus = e[(support[:, None] - q[None, :]) % nb]
        c1 = np.sum(es * plus, axis=0)
        c2 = np.sum(es * e[(support[:, None] + 2 * q[None, :]) % nb], axis=0)
        eu2 = np.sum(es * (plus + minus) ** 2, axis=0)
    else:
        c1 = c2 = eu2 = np.zeros(lags)
    omega = nb * m * m + 2.0 * m * e1 + c1
    dbar = 2.0 * omega / n
    delta = 2.0 * m - dbar
    sum_bu = 2.0 * m * e1 + 2.0 * c1
    sum_bu2 = m * (2.0 * e2 + 2.0 * c2) + eu2
    dev2 = delta * delta * n + 2.0 * delta * sum_bu + sum_bu2
    return omega, np.maximum(dev2, 0.0)


def clique_lower_bound(
    sizes: np.ndarray, alpha: np.ndarray, class_counts: np.ndarray, class_weights: np.ndarray | None = None
) -> float:
    """A lower bound W0 of sum_g alpha_g sum_c w_c C(N_gc, 2) over all tables with these margins.

    Relaxes the batch-size constraint across classes: each class separately takes its n_c cheapest
    slots, slot t (1-based) of segment g costing alpha_g (t - 1). For equal segments this is the
    integer Jensen bound r sum_c w_c ftilde(n_c / r) of STATS.md section 2 (the X^2 = 0 table).
    """
    b = np.asarray(sizes, dtype=np.int64)
    a = np.asarray(alpha, dtype=np.float64)
    counts = np.asarray(class_counts, dtype=np.int64)
    w = np.ones(counts.size) if class_weights is None else np.asarray(class_weights, dtype=np.float64)
    keep = (b > 0) & (a > 0)
    if not np.any(keep):
        return 0.0
    bk, ak = b[keep], a[keep]
    order = np.lexsort((ak, bk))
    bk, ak = bk[order], ak[order]
    first = np.flatnonzero(np.r_[True, (bk[1:] != bk[:-1]) | (ak[1:] != ak[:-1])])
    mult = np.diff(np.r_[first, bk.size])
    vals, reps = [], []
    top = int(counts.max()) if counts.size else 0
    for size, weight, k in zip(bk[first], ak[first], mult):
        # slot t of this group is only reached after (t - 1) k items went into it: t <= n_c / k + 1
        t = np.arange(min(int(size), top // int(k) + 2), dtype=np.float64)
        vals.append(weight * t)
        reps.append(np.full(t.size, k, dtype=np.int64))
    v = np.concatenate(vals)
    r = np.concatenate(reps)
    order = np.argsort(v, kind="stable")
    v, r = v[order], r[order]
    cum_n = np.cumsum(r)
    cum_s = np.cumsum(v * r)
    # zero-weight segments hold slots of cost 0 without limit
    free = int(b[~keep].sum())
    need = np.maximum(counts - free, 0)
    j = np.searchsorted(cum_n, need, side="left")
    j = np.minimum(j, cum_n.size - 1)
    before_n = np.where(j > 0, cum_n[j - 1], 0)
    before_s = np.where(j > 0, cum_s[j - 1], 0.0)
    cost = np.where(need > 0, before_s + (need - before_n) * v[j], 0.0)
    return float(np.sum(w * cost))


def pair_moments_arrays(
    n: int, omega: np.ndarray, omega2: np.ndarray, dev2: np.ndarray, labels: LabelSums
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pair_moments` vectorised over a family of graphs on the same n positions (n >= 4)."""
    nf = float(n)
    omega = np.asarray(omega, dtype=np.float64)
    eps2 = np.maximum(2.0 * omega2 - 4.0 * omega**2 / (nf * (nf - 1.0)) - 2.0 * dev2 / (nf - 2.0), 0.0)
    var = dev2 * labels.beta2 / (nf - 1.0) + eps2 * labels.eta2 / (2.0 * nf * (nf - 3.0))
    return omega * labels.a2, np.maximum(var, 0.0)


def kappa(match_rate: float, expected_rate: float) -> float:
    """Cohen's kappa of a pair set: (observed match rate - chance rate) / (1 - chance rate)."""
    if expected_rate >= 1.0:
        return 0.0
    return float((match_rate - expected_rate) / (1.0 - expected_rate))


def zscore(w: float, mean: float, var: float) -> float:
    if var <= 0:
        return 0.0 if abs(w - mean) <= 1e-12 * max(1.0, abs(mean)) else float(np.sign(w - mean) * np.inf)
    return float((w - mean) / np.sqrt(var))

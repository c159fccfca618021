"""Tail approximations on exact permutation moments (STATS.md section 2).

* :func:`count_sf` - binomial / negative-binomial / Poisson matched to (mean, var) (Soon 1996),
  applied on the rarer side by :func:`rare_side_sf`; right for sums of weakly dependent
  indicators (runs without batches, lag match counts).
* :func:`satterthwaite_sf` - shifted Satterthwaite: W - W0 ~ a chi2_nu, matched to (mean, var),
  W0 a lower bound of W (Satterthwaite 1946; Welch 1938); right for clique statistics.
* :func:`runs_exact_cdf` - the exact Wald-Wolfowitz law of the number of runs for two classes.
* :func:`cantelli` - the one-sided Chebyshev bound, valid from the exact moments alone.

All functions are vectorised over the statistic and return p-values floored at ``TINY``. Only
``scipy.special`` is used (``scipy.stats`` costs over a second to import cold): :func:`chi2_sf`,
:func:`chi2_logsf`, :func:`chi2_isf`, :func:`hypergeom_sf` and :func:`rankdata` stand in for it.
"""

from __future__ import annotations

import numpy as np
from scipy import special

TINY = float(np.finfo(np.float64).tiny)


def _floor(p: np.ndarray | float) -> np.ndarray:
    return np.clip(p, TINY, 1.0)


def chi2_sf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Chi-square survival function (``scipy.stats.chi2.sf``)."""
    return special.chdtrc(df, np.maximum(x, 0.0))


def chi2_logsf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """log of :func:`chi2_sf`; where it underflows (below 1e-300), the Wilson-Hilferty normal
    approximation in log space (monotone, finite: those values only rank far-beyond statistics)."""
    x, df = np.broadcast_arrays(np.maximum(np.asarray(x, dtype=np.float64), 0.0), np.asarray(df, dtype=np.float64))
    q = special.chdtrc(df, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(np.where(q > 1e-300, q, 1.0))
        s2 = 2.0 / (9.0 * df)
        z = ((x / df) ** (1.0 / 3.0) - (1.0 - s2)) / np.sqrt(s2)
        approx = np.minimum(special.log_ndtr(-z), np.log(1e-300))
    return np.where(q > 1e-300, out, approx)


def chi2_isf(p: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`chi2_sf` (``scipy.stats.chi2.isf``)."""
    return special.chdtri(df, p)


def hypergeom_sf(k: int, total: int, successes: int, draws: int) -> float:
    """P(Y > k) for Y ~ Hypergeometric (``scipy.stats.hypergeom.sf(k, total, successes, draws)``)."""
    lo, hi = max(0, draws + successes - total), min(draws, successes)
    y = np.arange(max(lo, k + 1), hi + 1, dtype=np.float64)
    if y.size == 0:
        return 0.0

    def lnc(a, b):
        return special.gammaln(a + 1.0) - special.gammaln(b + 1.0) - special.gammaln(a - b + 1.0)

    logp = lnc(successes, y) + lnc(total - successes, draws - y) - lnc(total, draws)
    return float(min(1.0, np.exp(special.logsumexp(logp))))


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (``scipy.stats.rankdata``)."""
    v = np.asarray(values)
    order = np.argsort(v, kind="mergesort")
    sv = v[order]
    first = np.r_[True, sv[1:] != sv[:-1]]
    group = np.cumsum(first)
    bounds = np.r_[np.flatnonzero(first), v.size]
    out = np.empty(v.size, dtype=np.float64)
    out[order] = 0.5 * (bounds[group] + bounds[group - 1] + 1)
    return out


def normal_sf(z: np.ndarray | float) -> np.ndarray:
    return _floor(special.ndtr(-np.asarray(z, dtype=np.float64)))


def _regimes(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    degenerate = (var <= 0) | (mean <= 0)
    ratio = np.where(degenerate, 1.0, var / np.where(mean > 0, mean, 1.0))
    pois = ~degenerate & (np.abs(ratio - 1.0) < 1e-12)
    binom = ~degenerate & ~pois & (ratio < 1.0)
    nb = ~degenerate & ~pois & (ratio > 1.0)
    return degenerate, pois, binom, nb


def count_sf(x: np.ndarray | float, mean: np.ndarray | float, var: np.ndarray | float) -> np.ndarray:
    """P(X >= x) for a count X matched to (mean, var): binomial if var < mean, NB if var > mean.

    Vectorised (broadcasts ``x``, ``mean``, ``var``). ``x`` may be real (continuous extension through
    the regularised incomplete beta function). Beyond the matched binomial's support the normal
    tail is used (never zero).
    """
    x, mean, var = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (x, mean, var)))
    out = np.ones(x.shape)
    degenerate, pois, binom, nb = _regimes(mean, var)
    out[degenerate] = np.where(x[degenerate] <= mean[degenerate], 1.0, TINY)
    if np.any(pois):
        out[pois] = special.gammainc(np.maximum(x[pois], 1e-300), mean[pois])
    if np.any(binom):
        xb, mb, vb = x[binom], mean[binom], var[binom]
        prob = 1.0 - vb / mb
        trials = mb / prob
        inside = xb <= trials
        xs = np.clip(xb, 1e-300, trials)
        tail = special.betainc(xs, np.maximum(trials - xs + 1.0, 1e-300), prob)
        out[binom] = np.where(inside, tail, special.ndtr(-(xb - mb) / np.sqrt(vb)))
    if np.any(nb):
        xn, mn, vn = x[nb], mean[nb], var[nb]
        prob = mn / vn
        r = mn * mn / (vn - mn)
        out[nb] = special.betainc(np.maximum(xn, 1e-300), r, 1.0 - prob)
    out = np.where((x <= 0) & ~degenerate, 1.0, out)
    return _floor(out)


def count_cdf(y: np.ndarray | float, mean: np.ndarray | float, var: np.ndarray | float) -> np.ndarray:
    """P(Y <= y) for a count Y matched to (mean, var) (lower tail; binomial, NB or Poisson)."""
    y, mean, var = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (y, mean, var)))
    out = np.ones(y.shape)
    degenerate, pois, binom, nb = _regimes(mean, var)
    out[degenerate] = np.where(y[degenerate] >= mean[degenerate], 1.0, TINY)
    yy = np.maximum(y, 0.0)
    if np.any(pois):
        out[pois] = special.gammaincc(yy[pois] + 1.0, mean[pois])
    if np.any(binom):
        yb, mb, vb = yy[binom], mean[binom], var[binom]
        prob = 1.0 - vb / mb
        trials = mb / prob
        inside = yb < trials
        ys = np.minimum(yb, trials)
        tail = special.betainc(np.maximum(trials - ys, 1e-300), ys + 1.0, 1.0 - prob)
        out[binom] = np.where(inside, tail, 1.0)
    if np.any(nb):
        yn, mn, vn = yy[nb], mean[nb], var[nb]
        prob = mn / vn
        r = mn * mn / (vn - mn)
        out[nb] = special.betainc(r, yn + 1.0, prob)
    out = np.where((y < 0) & ~degenerate, TINY, out)
    return _floor(out)


def rare_side_sf(
    w: np.ndarray | float,
    mean: np.ndarray | float,
    var: np.ndarray | float,
    total: np.ndarray | float,
    step: float = 1.0,
    lattice: bool = True,
) -> np.ndarray:
    """One-sided P(W >= w) for a match count out of ``total`` possible (weighted) matches.

    Models the rarer side as a count: the matches if mean <= total/2, else the non-matches
    ``total - W`` (lower tail), so the matched binomial's support covers the attainable values.
    ``step`` is the lattice span of W (1 for counts); for a non-lattice W (``lattice=False``) a
    half-step continuity correction is applied on the count scale.
    """
    w, mean, var, total = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (w, mean, var, total)))
    half = 0.0 if lattice else 0.5
    out = np.empty(w.shape)
    up = mean <= total / 2.0
    if np.any(up):
        out[up] = count_sf(w[up] / step + half, mean[up] / step, var[up] / step**2)
    lo = ~up
    if np.any(lo):
        out[lo] = count_cdf((total[lo] - w[lo]) / step - half, (total[lo] - mean[lo]) / step, var[lo] / step**2)
    return out


def satterthwaite_sf(w: np.ndarray | float, mean: float, var: float, w0: float) -> np.ndarray:
    """P(W >= w) with W - w0 ~ a chi2_nu matched to (mean, var) (shifted Satterthwaite)."""
    w = np.asarray(w, dtype=np.float64)
    spread = mean - w0
    if var <= 0 or spread <= 0:
        return _floor(np.where(w <= mean + 1e-12 * max(1.0, abs(mean)), 1.0, TINY))
    nu = 2.0 * spread * spread / var
    scale = var / (2.0 * spread)
    return _floor(chi2_sf(np.maximum(w - w0, 0.0) / scale, nu))


def satterthwaite_logsf(w: np.ndarray, mean: float, var: float, w0: float) -> np.ndarray:
    """log of :func:`satterthwaite_sf` (for max statistics over many rows)."""
    spread = mean - w0
    if var <= 0 or spread <= 0:
        return np.where(w <= mean + 1e-12 * max(1.0, abs(mean)), 0.0, np.log(TINY))
    nu = 2.0 * spread * spread / var
    scale = var / (2.0 * spread)
    return chi2_logsf(np.maximum(w - w0, 0.0) / scale, nu)


def runs_exact_cdf(runs: int, n1: int, n2: int) -> float:
    """Exact P(R <= runs) for the number of runs R of a random order of n1 + n2 two-class labels
    (Wald & Wolfowitz 1940)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    r = np.arange(2, min(runs, 2 * min(n1, n2) + 1) + 1)
    if r.size == 0:
        return TINY
    lnc = lambda a, b: special.gammaln(a + 1) - special.gammaln(b + 1) - special.gammaln(a - b + 1)  # noqa: E731
    total = lnc(n1 + n2, n1)
    s = r // 2
    even = r % 2 == 0
    with np.errstate(invalid="ignore"):
        log_even = np.log(2.0) + lnc(n1 - 1, s - 1) + lnc(n2 - 1, s - 1)
        a = np.where(s <= n1 - 1, lnc(n1 - 1, np.minimum(s, n1 - 1)) + lnc(n2 - 1, s - 1), -np.inf)
        b = np.where(s <= n2 - 1, lnc(n1 - 1, s - 1) + lnc(n2 - 1, np.minimum(s, n2 - 1)), -np.inf)
        log_odd = np.logaddexp(a, b)
    logp = np.where(even, log_even, log_odd) - total
    return float(_floor(np.exp(special.logsumexp(logp))))


def cantelli(w: float, mean: float, var: float) -> float:
    """One-sided Chebyshev (Cantelli) bound P(W - mean >= z sd) <= 1 / (1 + z^2), z > 0."""
    if var <= 0:
        return 1.0 if w <= mean else TINY
    z = (w - mean) / np.sqrt(var)
    return 1.0 if z <= 0 else float(max(1.0 / (1.0 + z * z), TINY))

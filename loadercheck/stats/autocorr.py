"""``label-autocorrelation``: label dependence between batches at lags 1..Q, periodic patterns included.

Batch-level circular lag match counts M_q = sum_g sum_c N_gc N_{(g+q) mod B, c} (unweighted: every
pair of samples in batches q apart counts once; with unequal batch sizes the exact moments
account for the sizes), computed for all lags by FFT of the per-group batch count series.
Labels are hashed into at most 16 groups when k > 16 (a function of the label, so the null stays
exact). With exactly two groups only the matches of the rarer group are counted (for equal batch
sizes the total match count is an affine function of them, STATS.md section 2: lattice of span 2).

Per lag: exact permutation moments (lag graphs, circular), rarer-side binomial/negative-binomial
tail, normal score z_q. Two summaries, each Bonferroni x Q: ``acf_max`` = max_q z_q and the
harmonic comb ``acf_comb`` = max_P sum_{j: jP <= Q} z_{jP} / sqrt(J_P) (periodic defects light up
every multiple of the period). Check p = min(1, 2 min(p_max, p_comb)). With b = 1 this is the
classic sample-level lag test. The permutation net uses the check p-value itself as its statistic
(Westfall-Young over lags and periods).

Calibration note: the per-lag tails are accurate to ~1e-4, but under a dominant hashed group
(e.g. 1000 Zipf classes at b = 32, 128 batches) the comb's sums of lag scores have a heavier joint
right tail than the normal it is referred to (measured ~4e-3 at nominal 1e-3). The permutation net
is therefore implemented for this check too: with ``mc_below >= alpha`` the check is valid at alpha.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy import special

from ..results import TestResult
from ._validate import NotEnoughData, as_batch_sizes, as_codes
from .counts import MAX_GROUPS, dense_tables, hash_groups
from .moments import kappa, label_sums, lag_graph_sums, pair_moments_arrays
from .permutation import safety_net
from .tails import TINY, cantelli, rare_side_sf

MAX_LAGS = 1024
MOMENT_BUDGET = 20_000_000
GRID_SDS = 8.0
"""The net's tail grid spans each lag's mean +- this many sd (counts beyond it are evaluated directly)."""
GRID_CELLS = 1 << 21
"""At most this many (lag, count) cells in the grid; above it every tail is evaluated directly."""
GRID_RENT = 4
"""The net builds its tail grid once it has evaluated 1 / GRID_RENT of the grid's cells directly."""
SERIES_PER_STEP = 1 << 18
"""Count-series values (float64, 2 MiB) transformed at a time: a net's chunk of rows held 30 MiB and
more, and its FFTs then read memory rather than cache (measured 1.2-2.3x slower per label)."""


def choose_lags(sizes: np.ndarray) -> int:
    """Q = min(B/4, 1024), reduced when very irregular batch sizes make the exact lag moments costly."""
    nb = sizes.size
    vals, cnt = np.unique(sizes, return_counts=True)
    irregular = nb - int(cnt.max())
    q = min(nb // 4, MAX_LAGS)
    if irregular:
        q = min(q, max(2, MOMENT_BUDGET // (4 * irregular)))
    return int(q)


class _LagModel:
    """Everything about the lag statistics that depends only on the label multiset and batch sizes."""

    def __init__(self, groups: np.ndarray, n_groups: int, sizes: np.ndarray, lags: int) -> None:
        self.sizes = sizes
        self.lags = lags
        self.n_groups = n_groups
        self.nb = sizes.size
        counts = np.bincount(groups, minlength=n_groups).astype(np.float64)
        self.n = int(counts.sum())
        if n_groups == 2:
            self.weights = (counts == counts.min()).astype(np.float64)
            if counts[0] == counts[1]:
                self.weights = np.array([1.0, 0.0])
        else:
            self.weights = np.ones(n_groups)
        omega, dev2 = lag_graph_sums(sizes, lags)
        self.omega = omega
        self.labels = label_sums(counts, self.weights)
        self.mean, self.var = pair_moments_arrays(self.n, omega, omega, dev2, self.labels)
        self.total = omega * float(self.weights.max())
        self.a2_plain = label_sums(counts).a2
        self.evaluated = 0  # tails the net has evaluated directly (the grid is built once it would pay)

    def spectra(self, groups_rows: np.ndarray, plain: bool = False) -> np.ndarray:
        """Lag match counts (R, Q) of every row of an (R, n) group matrix.

        Rows are taken a few at a time, so that their count series (``SERIES_PER_STEP`` values) and
        spectra stay in cache: each row's counts depend on that row alone.
        """
        reps, n = groups_rows.shape
        cols = np.flatnonzero(np.ones(self.n_groups) if plain else self.weights)  # the counted groups
        step = max(1, SERIES_PER_STEP // (cols.size * self.nb))
        out = np.empty((reps, self.lags))
        for start in range(0, reps, step):
            rows = groups_rows[start : start + step]
            # one count series per (row, group), batches along the last axis so each FFT reads contiguous memory
            if self.nb == n:  # batches of one sample: the series are the groups' indicators
                series = (rows[:, None, :] == cols[None, :, None]).astype(np.float64)
            else:
                table = dense_tables(rows, self.sizes, self.n_groups)  # (rows, batches, groups)
                series = np.ascontiguousarray(table.transpose(0, 2, 1)[:, cols], dtype=np.float64)
            spec = np.fft.rfft(series, axis=2)
            power = np.einsum("rcf,rcf->rf", spec.real, spec.real)  # summed over the counted groups
            power += np.einsum("rcf,rcf->rf", spec.imag, spec.imag)
            acf = np.fft.irfft(power, n=self.nb, axis=1)
            np.rint(acf[:, 1 : self.lags + 1], out=out[start : start + step])
        return out

    def lag_scores(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-lag tail p-values and normal scores of lag match counts ``m`` (R, Q).

        Permuted counts are integers within a few sd of their mean, so once the net has evaluated a
        quarter as many tails as a grid would hold (a tail evaluated directly costs 2-3x a grid cell),
        it reads them from a grid evaluated once per model and distinct tail law (mean +- ``GRID_SDS``
        sd; counts off the grid are evaluated directly). Both give the same numbers.
        """
        span = self.grid_span
        if span is None or GRID_RENT * (self.evaluated + m.size) < span[1] * self.tail_laws[0].size:
            self.evaluated += m.size
            p = self.lag_pvalues(m)
            return p, -special.ndtri(p)
        lo, p_grid, z_grid = self.tail_grid
        offset = m.astype(np.int64) - lo
        on = (offset >= 0) & (offset < p_grid.shape[1])
        at = np.where(on, offset, 0) + np.arange(self.lags) * p_grid.shape[1]
        p, z = p_grid.ravel()[at], z_grid.ravel()[at]
        if not on.all():
            p[~on] = rare_side_sf(m, self.mean, self.var, self.total)[~on]
            z[~on] = -special.ndtri(p[~on])
        return p, z

    @cached_property
    def tail_laws(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first, law)``: a lag of each distinct tail law (mean, variance and total of its count) and,
        for every lag, which law it follows. Equal batch sizes give every circular lag the same law."""
        params = np.stack([self.mean, self.var, self.total], axis=1)
        _, first, law = np.unique(params, axis=0, return_index=True, return_inverse=True)
        return first, law.ravel()

    @cached_property
    def grid_span(self) -> tuple[np.ndarray, int] | None:
        """The grid's lowest count per lag and its width, or None when it would be too large."""
        sd = np.sqrt(np.maximum(self.var, 0.0))
        lo = np.maximum(np.floor(self.mean - GRID_SDS * sd), 0.0).astype(np.int64)
        width = int(np.ceil(2 * GRID_SDS * sd.max())) + 2
        return None if width * self.tail_laws[0].size > GRID_CELLS else (lo, width)

    @cached_property
    def tail_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lowest count per lag, p-values, scores)`` on the grid, evaluated once per distinct tail law."""
        lo, width = self.grid_span
        first, law = self.tail_laws
        values = lo[first, None] + np.arange(width)
        p = rare_side_sf(values, self.mean[first, None], self.var[first, None], self.total[first, None])
        return lo, p[law], -special.ndtri(p)[law]

    def lag_pvalues(self, m: np.ndarray) -> np.ndarray:
        return rare_side_sf(m, self.mean, self.var, self.total)

    def summarise(self, p: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: p_max, p_comb and the best comb period, from the lag p-values and scores."""
        q = self.lags
        p_max = np.minimum(1.0, q * p.min(axis=1))
        comb = np.empty((p.shape[0], q))
        for periods, lags in self.comb_plan:
            # sum_j z[jP - 1] over j = 1..J for every period P of this J at once, added in j order
            comb[:, periods - 1] = z.T[lags].sum(axis=0).T / np.sqrt(q // periods)
        best = comb.argmax(axis=1)
        top = comb[np.arange(p.shape[0]), best]
        p_comb = np.minimum(1.0, q * np.maximum(special.ndtr(-top), TINY))
        return p_max, p_comb, best + 1

    @cached_property
    def comb_plan(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Periods grouped by their number of multiples J <= Q, with the (J, periods) lag indices."""
        periods = np.arange(1, self.lags + 1)
        multiples = self.lags // periods
        return [(periods[multiples == j], np.arange(1, j + 1)[:, None] * periods[multiples == j][None, :] - 1)
                for j in np.unique(multiples)]

    def check_logp(self, groups_rows: np.ndarray) -> np.ndarray:
        p_max, p_comb, _ = self.summarise(*self.lag_scores(self.spectra(groups_rows)))
        return -np.log(np.minimum(p_max, p_comb))


def net_row_cost(codes: np.ndarray, batch_sizes: np.ndarray) -> float:
    """What one permuted row of this check's net costs, drawing included, in label-permutations per label
    (the unit of the stream's budget): its FFTs run over one series per counted group (the rarer one of
    two), as long as the batches are many, and its lag summaries grow with the batches too (a fit on
    2,048-4,096 labels, 2-1,000 classes, batches of 1-256: ``benchmarks/net_cost.py``; 0.6-3.2 units)."""
    n = max(int(codes.size), 1)
    k = int(codes.max()) + 1 if codes.size else 1
    series = 1 if k <= 2 else min(k, MAX_GROUPS)
    return 0.59 + batch_sizes.size / n * (0.70 + 0.117 * series)


def _factory(n_groups: int):
    def factory(x: np.ndarray, sizes: np.ndarray):
        if sizes.size < 8:
            return None
        model = _LagModel(x, n_groups, sizes, choose_lags(sizes))
        return model.check_logp

    return factory


def autocorrelation_test(
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
    """Batch-level label autocorrelation at lags 1..Q (max over lags and harmonic comb), one-sided.

    Returns
    -------
    TestResult
        ``statistic``: the normal score of the winning summary (max z_q, or the comb score).
        ``effect``: Cohen's kappa of sample pairs in batches ``lag`` apart (on the hashed groups).
        ``details``: expected and z (of M at the strongest lag), lag (batches), period (batches,
        when the comb wins, else 0), lags (Q), groups, p_max, p_comb, match_rate, expected_rate.

    Raises
    ------
    NotEnoughData
        Fewer than 8 batches, or a single class.

    Examples
    --------
    A round-robin feed (batch t holds class t mod 10) repeats every 10 batches: the comb at
    period 10 collects z at lags 10, 20, ... and the p-value says a shuffle would essentially never
    make batches this similar to the batches 10 steps away.
    """
    x = as_codes(codes)
    sizes = as_batch_sizes(batch_sizes, x.size)
    n = x.size
    if sizes.size < 8:
        raise NotEnoughData(f"the autocorrelation test needs at least 8 batches, got {sizes.size}")
    counts = np.bincount(x)
    if np.count_nonzero(counts) < 2:
        raise NotEnoughData(f"all {n:,} labels are class {int(np.argmax(counts))}, so their order cannot be tested")
    groups, n_groups = hash_groups(x, counts.size)
    lags = choose_lags(sizes)
    model = _LagModel(groups, n_groups, sizes, lags)
    m = model.spectra(groups[None, :])
    p_lag = model.lag_pvalues(m)
    z = -special.ndtri(p_lag)
    p_max, p_comb, period = model.summarise(p_lag, z)
    p_max, p_comb, period, z = float(p_max[0]), float(p_comb[0]), int(period[0]), z[0]
    fast = min(1.0, 2.0 * min(p_max, p_comb))
    comb_wins = p_comb < p_max or (p_comb == p_max and period > 1)
    best = int(np.argmin(p_lag[0]))
    if comb_wins:
        idx = np.arange(period, lags + 1, period) - 1
        stat = float(z[idx].sum() / np.sqrt(idx.size))
        best = int(idx[np.argmax(z[idx])])
    else:
        stat = float(z[best])
    method = "binomial/negative-binomial tails per lag on exact moments, max and comb over lags (Bonferroni)"
    # Cantelli for the max over lags: Bonferroni over the Q one-sided bounds
    sd = np.sqrt(model.var)
    zc = np.where(sd > 0, (m[0] - model.mean) / np.where(sd > 0, sd, 1.0), 0.0)
    cant = float(min(1.0, lags * np.min(np.where(zc > 0, 1.0 / (1.0 + zc * zc), 1.0))))
    cant = min(cant, cantelli(float(m[0, best]), float(model.mean[best]), float(model.var[best])) * lags)
    net = safety_net(
        fast, method, min(1.0, cant), _factory(n_groups), groups, sizes,
        rng=rng, mc_below=mc_below, mc_max_perms=mc_max_perms, mc_max_labels=mc_max_labels,
        reject_at=reject_at, accept_above=accept_above, mc_budget=mc_budget,
        min_batches=8, cells_per_label=max(1.0, n_groups * sizes.size / max(n, 1)),
    )
    plain = model.spectra(groups[None, :], plain=True)[0] if n_groups == 2 else m[0]
    rate = float(plain[best] / model.omega[best])
    details = {
        "expected": float(model.mean[best]),
        "z": float(z[best]),
        "lag": float(best + 1),
        "period": float(period if comb_wins else 0),
        "lags": float(lags),
        "groups": float(n_groups),
        "p_max": p_max,
        "p_comb": p_comb,
        "match_rate": rate,
        "expected_rate": model.a2_plain,
        "fast_pvalue": fast,
        **net.details,
    }
    return TestResult(stat, net.pvalue, kappa(rate, model.a2_plain), net.method, details)

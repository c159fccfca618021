"""``window-drift``: the class mix changing along the stream, at several window scales.

Windows are made of whole consecutive batches: m = 4, 16, 64, ... batches per window while at
least 4 full windows fit (with b = 1 the same rule in samples). Per scale the window x class
Pearson X^2 as a weighted clique match count W_m = sum_w (1/s_w) sum_c N_wc (N_wc - 1) / n_c
(s_w = labels in window w; the last window may be partial), exact permutation moments,
shifted-Satterthwaite tail. One more component sees a drift slower than any window: the linear
trend of every class's share along the stream, T = (n-1)/sum(a^2) sum_c S_c^2 / n_c with
S_c = sum_{t: x_t = c} a_t and a_t the centred position of sample t's batch (so the order inside a
batch does not count); E T = k - 1 exactly under the permutation null, chi-square(k - 1) tail (a
score test for a linear drift of the class shares: k - 1 degrees of freedom where the windows spend
(windows - 1)(k - 1)). Two more see a stream partly sorted by label, each in both directions: the
sorted order (:class:`_Sorted`: one stretch per class, in increasing or decreasing label order) and
the sorted trend (:class:`_RankTrend`: the labels' ranks rising or falling along the stream, as
behind a shuffle buffer over sorted data). Check p = (J + 5) min_j p_j (Bonferroni over the J
scales, the trend and the four sorted parts; all but the windows sit out when a few batches hold
the positions). From 4 to 15 batches only the trend and the sorted parts run.
The permutation net uses max_j -log p_j on permuted rows (Westfall-Young: no Bonferroni loss).
"""

from __future__ import annotations

import numpy as np

from ..results import TestResult
from ._validate import NotEnoughData, as_batch_sizes, as_codes
from .counts import (
    counts_densely, dense_cells, dense_tables, merge_segments, segment_ids, segment_table, window_lengths,
)
from .moments import block_graph, clique_lower_bound, kappa, label_sums, pair_moments, zscore
from .permutation import permuted_rows, safety_net
from .tails import TINY, cantelli, chi2_logsf, chi2_sf, satterthwaite_logsf, satterthwaite_sf


MIN_BATCHES = 4
"""Batches window-drift needs: the trend and the sorted order from 4; the windows from 16 (4 of 4)."""


def drift_scales(n_batches: int) -> list[int]:
    """Batches per window: 4, 16, 64, ... while at least 4 full windows fit."""
    scales = []
    m = 4
    while n_batches // m >= 4:
        scales.append(m)
        m *= 4
    return scales


class _Scale:
    def __init__(self, sizes: np.ndarray, m: int, observed: np.ndarray) -> None:
        self.m = m
        self.lengths = window_lengths(sizes, m)
        b = self.lengths.astype(np.float64)
        self.alpha = 2.0 / b
        self.inv_len = 1.0 / b
        graph = block_graph(self.lengths, self.alpha)
        self.omega = graph.omega
        self.mean, self.var = pair_moments(graph, label_sums(observed, 1.0 / observed))
        self.w0 = clique_lower_bound(self.lengths, self.alpha, observed, 1.0 / observed)


REGULAR_SHARE = 0.25
"""The trend component runs when the positions' effective number of samples, (sum a^2)^2 / sum a^4,
is at least this share of the samples (equal batches: 0.56; a batch of 10,000 after 16 of one: 0.002)."""


class _Trend:
    """The linear-trend component: batch-position scores of one stream's batches."""

    def __init__(self, sizes: np.ndarray, counts: np.ndarray) -> None:
        n = int(sizes.sum())
        centres = np.cumsum(sizes) - sizes / 2.0  # position of each batch's centre, in labels
        centred = centres - float(centres @ sizes) / n
        self.batch_scores = centred / n
        self.scores = np.repeat(self.batch_scores, sizes)
        squares = self.scores * self.scores
        self.scale = (n - 1.0) / float(squares.sum())
        # the chi-square tail needs the spread of positions shared by many samples; when a few
        # carry it (a huge batch beside a few tiny ones) T is far heavier-tailed: no trend then
        self.regular = float(squares.sum()) ** 2 >= REGULAR_SHARE * n * float(squares @ squares)
        self.inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        self.df = float(np.count_nonzero(counts) - 1)

    def sums(self, x: np.ndarray) -> np.ndarray:
        """S_c of one stream: each class's sum of position scores."""
        return np.bincount(x, weights=self.scores, minlength=self.inv.size)

    def sums_from_tables(self, tables: np.ndarray) -> np.ndarray:
        """S of each row from its batch x class count table ``(reps, batches, k)``."""
        return np.einsum("rbk,b->rk", tables, self.batch_scores)

    def sums_of_rows(self, rows: np.ndarray) -> np.ndarray:
        """S of each row (permuted streams of the same labels)."""
        reps, k = rows.shape[0], self.inv.size
        cells = (np.arange(reps, dtype=np.int64)[:, None] * k + rows).ravel()
        return np.bincount(cells, weights=np.tile(self.scores, reps), minlength=reps * k).reshape(reps, k)

    def from_sums(self, s: np.ndarray) -> np.ndarray:
        """T from S (last axis classes)."""
        return self.scale * ((s * s) @ self.inv)

    def statistic(self, x: np.ndarray) -> float:
        """T of one stream."""
        return float(self.from_sums(self.sums(x)))

    def from_tables(self, tables: np.ndarray) -> np.ndarray:
        """T of each row from its batch x class count table ``(reps, batches, k)``."""
        return self.from_sums(self.sums_from_tables(tables))

    def statistics(self, rows: np.ndarray) -> np.ndarray:
        """T of each row (permuted streams of the same labels)."""
        return self.from_sums(self.sums_of_rows(rows))


class _RankTrend:
    """The sorted trend: labels rising (or falling) along the stream, one degree of freedom.

    R = sum_c a_c S_c with a_c the class's centred midrank among the n labels (classes in label
    order) and S_c the trend's sum of centred batch positions: the rank covariance of label and
    batch position. A linear permutation statistic: mean 0, variance sum_t a_t^2 sum_t p_t^2 / (n - 1),
    and its least and greatest values by the rearrangement inequality; shifted-Satterthwaite tails
    from them, one per direction. Where the sorted order (:class:`_Sorted`) sees each class in its
    own stretch, this sees a blurred sort: a shuffle buffer over class-sorted data spreads each
    class over the stream but keeps its rank rising (at 256 labels, 8 batches, a buffer of half the
    stream: median z 5.7 here, 2.0 for the sorted order).
    """

    def __init__(self, trend: _Trend, counts: np.ndarray) -> None:
        n = float(counts.sum())
        midrank = np.cumsum(counts) - counts / 2.0
        self.a = np.where(counts > 0, midrank - float(midrank @ counts) / n, 0.0)
        per_sample = np.repeat(self.a, counts)  # increasing, as the positions are
        a2, p2 = float(per_sample @ per_sample), float(trend.scores @ trend.scores)
        self.var = a2 * p2 / (n - 1.0)
        self.norm = float(np.sqrt(a2 * p2))  # R / norm is the correlation of midrank and position
        self.high = float(per_sample @ trend.scores)
        self.low = float(per_sample @ trend.scores[::-1])
        largest = float(np.max(np.abs(self.a))) ** 2 * float(np.max(np.abs(trend.scores))) ** 2
        self.regular = self.var > 0.0 and largest <= self.var  # as for the sorted order

    def logsf(self, s: np.ndarray) -> np.ndarray:
        """max over the two directions of -log P, per row of S."""
        r = s @ self.a
        return np.maximum(-satterthwaite_logsf(r, 0.0, self.var, self.low),
                          -satterthwaite_logsf(-r, 0.0, self.var, -self.high))

    def sf(self, s: np.ndarray) -> tuple[float, float, float]:
        """``(R, P(rising), P(falling))`` of one stream's S."""
        r = float(s @ self.a)
        return (r, float(satterthwaite_sf(r, 0.0, self.var, self.low)[()]),
                float(satterthwaite_sf(-r, 0.0, self.var, -self.high)[()]))


LOOKUP_CELLS = 1 << 21
"""Up to this many (batch, class) cells (16 MiB), L reads W from a table rather than computing overlaps."""

BLUR_SHARE = 0.1
"""The sorted order blurs each class's stretch by a box of half-width one mean stretch (n / classes),
at most this share of the stream: a partial sort puts class c's samples near its stretch, not inside
it (the sorted subset's class counts move the boundaries), and at the sizes where a 5-20% partial
sort becomes detectable the boundaries move by about a tenth of the stream."""


class _Sorted:
    """The sorted-order component: how many samples sit where a class-sorted stream would put them.

    A stream sorted by label holds class c in one stretch, the c-th block of ``n_c`` positions (classes
    in increasing code order, which is increasing label value; or decreasing). With batch b spanning
    positions [B_b, B_b + s_b), W_bc = |batch b within block c| / s_b, and L = sum_t W_{b(t), x_t}:
    the share of each sample's batch that a sorted stream gives its class, summed (batch-level, so
    the order inside a batch does not count). The blocks are blurred by a box of half-width
    ``reach`` (one mean block, at most ``BLUR_SHARE`` of the stream; sharp when the table is too large
    to hold, or when blurred W would not be regular): a partially sorted class lands near its block,
    and the blur counts it. Under the permutation null L is a linear permutation statistic with exact
    mean (sum_c n_c^2 / n for sharp blocks; a blurred end block loses a little mass past the stream's
    ends) and Hoeffding's exact variance; shifted-Satterthwaite tail from the least value L can take.
    A partial sort or a shuffle buffer over class-sorted data raises L in the one direction it was
    sorted: a 1-df test where the windows spend (windows - 1)(k - 1).
    """

    def __init__(self, sizes: np.ndarray, counts: np.ndarray, blur: bool = True) -> None:
        n = int(sizes.sum())
        self.sizes, self.k = sizes, counts.size
        class_end = np.cumsum(counts)
        class_start = class_end - counts
        # (start, end) of each class's block, increasing then decreasing order
        self.blocks = tuple((lo.astype(np.int32), hi.astype(np.int32))
                            for lo, hi in ((class_start, class_end), (n - class_end, n - class_start)))
        self.lookup = sizes.size * counts.size <= LOOKUP_CELLS
        # blurred stretches where W is read from a table; the overlap path (huge tables) stays sharp
        reach = min(BLUR_SHARE * n, n / np.count_nonzero(counts)) if self.lookup and blur else 0.0
        self._build(sizes, counts, reach)
        if reach > 0 and not self.regular:
            self._build(sizes, counts, 0.0)  # sharp stretches may still be regular
        self._dense: np.ndarray | None = None
        # per sample: its batch's first cell in the (batch, class) table, or (many cells) its batch's span
        if self.lookup:
            self.batch_cell = np.repeat(np.arange(sizes.size, dtype=np.int64) * counts.size, sizes)
        else:
            ends = np.cumsum(sizes)
            self.batch_start = np.repeat(ends - sizes, sizes).astype(np.int32)
            self.batch_end = np.repeat(ends, sizes).astype(np.int32)
            self.inv_size = np.repeat(1.0 / sizes, sizes)

    def _build(self, sizes: np.ndarray, counts: np.ndarray, reach: float) -> None:
        """The pieces of W, their moments, floors and regularity, with stretches blurred by ``reach``."""
        self.reach = reach
        self.pieces = [_pieces(sizes, counts, lo, hi, reach) for lo, hi in self.blocks]
        moments = [_linear_moments(sizes, counts, *piece) for piece in self.pieces]
        self.mean = moments[0][0]  # the same both ways: the decreasing blocks mirror the increasing ones
        self.var = tuple(var for _, var, _ in moments)
        self.floor = tuple(_linear_floor(sizes, counts, *piece) for piece in self.pieces)
        # Hoeffding's condition for the normal-like tail: no single placement moves L by more than about
        # its standard deviation (a huge batch beside 16 single samples, 5 of one class: a shuffled
        # stream reached p 1e-88). Otherwise the component sits out.
        self.regular = all(0.0 < largest <= var for _, var, largest in moments)

    def statistics(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """L of each row (a stream or permuted streams, last axis samples), both directions."""
        if self.lookup:  # W read from the (batch, class) table, one direction at a time (a 2-D
            # gather, table[:, cells], took 10x as long as two 1-D ones)
            cells = self.batch_cell + rows
            up, down = self.table()
            return np.take(up, cells).sum(axis=-1), np.take(down, cells).sum(axis=-1)
        out = []
        for lo, hi in self.blocks:
            overlap = np.minimum(self.batch_end, hi[rows]) - np.maximum(self.batch_start, lo[rows])
            out.append(np.maximum(overlap, 0) @ self.inv_size)
        return out[0], out[1]

    def of_stream(self, x: np.ndarray) -> tuple[float, float]:
        """L of one stream, both directions, from its batch x class counts where W is a table (so the
        order inside a batch cannot move even the last bit of a blurred sum)."""
        if not self.lookup:
            return tuple(float(v) for v in self.statistics(x))
        up, down = self.from_tables(dense_tables(x[None, :], self.sizes, self.k))
        return float(up[0]), float(down[0])

    def table(self) -> np.ndarray:
        """W of every (batch, class), flat, one row per direction: ``(2, batches * k)``."""
        if self._dense is None:
            self._dense = np.zeros((2, self.sizes.size * self.k))
            for j, (batch, cls, w) in enumerate(self.pieces):
                self._dense[j, batch * self.k + cls] = w
        return self._dense

    def from_tables(self, tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """L of each row from its batch x class count table ``(reps, batches, k)``, both directions."""
        both = tables.reshape(tables.shape[0], -1) @ self.table().T
        return both[:, 0], both[:, 1]

    def logsf(self, up: np.ndarray, down: np.ndarray) -> np.ndarray:
        """max over the two directions of -log P(L >= l), per row."""
        return np.maximum(-satterthwaite_logsf(up, self.mean, self.var[0], self.floor[0]),
                          -satterthwaite_logsf(down, self.mean, self.var[1], self.floor[1]))

    def sf(self, up: float, down: float) -> tuple[float, float]:
        """P(L >= l) of each direction (shifted Satterthwaite at the floor)."""
        return tuple(float(satterthwaite_sf(v, self.mean, var, floor)[()])
                     for v, var, floor in zip((up, down), self.var, self.floor))


def _pieces(sizes: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, reach: float = 0.0):
    """The nonzero W_bc: ``(batch, class, W)`` of every piece where a batch meets a class's stretch.

    Sharp (``reach`` 0): W_bc = |batch b within [lo_c, hi_c)| / s_b; a batch meets at most a few
    stretches, so at most B + k pieces. Blurred: the stretch's indicator is averaged over a box of
    half-width ``reach`` positions (the first and last stretches run on past the stream's ends, so the
    W of a batch still sum to 1), and W_bc is that profile's mean over the batch, in closed form."""
    if reach <= 0:
        ends = np.cumsum(sizes)
        cuts = np.union1d(np.concatenate([[0], ends]), np.concatenate([lo, hi]))
        left, length = cuts[:-1], np.diff(cuts)
        keep = length > 0
        left, length = left[keep], length[keep].astype(np.float64)
        batch = np.searchsorted(ends, left, side="right")
        present = np.flatnonzero(counts)  # empty classes have empty blocks that share a start with others
        order = present[np.argsort(lo[present], kind="stable")]
        cls = order[np.searchsorted(lo[order], left, side="right") - 1]
        return batch, cls, length / sizes[batch]
    n = float(sizes.sum())
    ends = np.cumsum(sizes).astype(np.float64)
    starts = ends - sizes
    cls = np.flatnonzero(counts)
    a, z = lo[cls].astype(np.float64), hi[cls].astype(np.float64)
    a[a == a.min()], z[z == z.max()] = -reach - 1.0, n + reach + 1.0
    first = np.searchsorted(ends, a - reach, side="right")
    last = np.minimum(np.searchsorted(starts, z + reach, side="left"), sizes.size) - 1
    span = np.maximum(last - first + 1, 0)
    offset = np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
    batch = np.repeat(first, span) + offset
    a, z = np.repeat(a, span), np.repeat(z, span)
    e, s = ends[batch], starts[batch]

    def twice_integrated(x: np.ndarray) -> np.ndarray:  # the integral of min(max(x - a, 0), z - a) from a to x
        inside = np.clip(x, a, z) - a
        return 0.5 * inside * inside + (z - a) * np.maximum(x - z, 0.0)

    mass = (twice_integrated(e + reach) - twice_integrated(s + reach)
            - twice_integrated(e - reach) + twice_integrated(s - reach)) / (2.0 * reach)
    w = mass / sizes[batch]
    keep = w > 1e-12
    return batch[keep], np.repeat(cls, span)[keep], w[keep]


def _linear_floor(sizes: np.ndarray, counts: np.ndarray, batch: np.ndarray, cls: np.ndarray,
                  w: np.ndarray) -> float:
    """A lower bound on L: each class on its own takes the positions where its W is smallest (the
    classes compete for positions, so together they cannot do better). A class has W = 0 outside the
    batches its (blurred) block reaches, so only a class holding most of the stream adds anything: a 95/5
    stream's L is 926 + 2 Y with Y the rare class's count in its own block, and the tail must start
    at 926, not 0 (from 0 it was anti-conservative 3-11x at 1e-3-1e-4)."""
    n = int(sizes.sum())
    covered = np.bincount(cls, weights=sizes[batch], minlength=counts.size)  # positions with W > 0
    floor = 0.0
    for c in np.flatnonzero(counts > n - covered):
        need = int(counts[c] - (n - covered[c]))  # samples that must sit where W_bc > 0
        mine = cls == c
        order = np.argsort(w[mine], kind="stable")
        take = np.minimum(np.cumsum(sizes[batch[mine]][order]), need)
        floor += float(np.diff(np.r_[0, take]) @ w[mine][order])
    return floor


def _linear_moments(sizes: np.ndarray, counts: np.ndarray, batch: np.ndarray, cls: np.ndarray,
                    w: np.ndarray) -> tuple[float, float, float]:
    """Exact permutation mean and variance of L = sum_t W_{b(t), x_t} (Hoeffding 1951), and a bound on
    the largest squared centred entry e_bc^2. With r_b, q_c, m the row, column and grand means of W over
    positions x samples, E L = n m, e_bc = W_bc - r_b - q_c + m and Var L = sum_bc s_b n_c e_bc^2 / (n - 1),
    expanded as (sum s n W^2 - n sum_b s_b r_b^2 - n sum_c n_c q_c^2 + n^2 m^2) / (n - 1) on the nonzero W
    only. Sharp blocks give q_c = n_c / n and E L = sum_c n_c^2 / n; a blurred first or last block
    loses a little of its neighbours' mass past the stream's ends."""
    n = int(sizes.sum())
    s_b, n_c = sizes[batch].astype(np.float64), counts[cls].astype(np.float64)
    r = np.bincount(batch, weights=n_c * w, minlength=sizes.size) / n
    q = np.bincount(cls, weights=s_b * w, minlength=counts.size) / n
    m = float(counts @ q) / n
    total = float((s_b * n_c * w * w).sum()) - n * float(sizes @ (r * r)) - n * float(counts @ (q * q)) + n * n * m * m
    on_pieces = float(np.max(np.abs(w - r[batch] - q[cls] + m), initial=0.0))
    elsewhere = float(r.max()) + float(q.max())  # |0 - r_b - q_c + m| <= r_b + q_c (m <= both maxima)
    return n * m, max(total, 0.0) / (n - 1.0), max(on_pieces, elsewhere) ** 2


STAIRCASE_MAX_LABELS = 2048
"""The staircase runs on streams of at most this many labels, where the permutation net that alone can
judge it is cheap (and runs at any fast p-value already, ``permutation.CHEAP_NET_COST``)..."""
STAIRCASE_MAX_BATCHES = 64
"""... of at most this many batches (its dynamic program steps through the batches one by one: with
2,048 batches of 1 a net certifying a 20% partial sort took 13 s) ..."""
STAIRCASE_MAX_CLASSES = 64
"""... and at most this many classes."""
STAIRCASE_GATE = 0.05
"""window-drift asks for its net (``details["wants_net"]``) when the staircase runs and the fast p-value
of the other parts is at most this: the staircase has no closed-form tail, so only the net reads it."""
_STAIRCASE_CALIBRATION_ROWS = 512


def _staircase_runs(n: int, batches: int, k: int) -> bool:
    return n <= STAIRCASE_MAX_LABELS and batches <= STAIRCASE_MAX_BATCHES and k <= STAIRCASE_MAX_CLASSES


class _Staircase:
    """The sorted staircase: the most labels a path through the batch x class count table collects,
    going down the batches and up the classes (or down them), one step at a time.

    S = max over non-decreasing paths of the counts on the path: the longest subsequence of whole
    batches' labels that is sorted, at batch level (the order inside a batch does not count). A
    partial sort leaves a sorted subsequence wherever its boundaries fall, so S does not depend on
    where a class's sorted samples land; a shuffle buffer over sorted data leaves one too. No
    closed-form tail: the component lives in the permutation net's max statistic only, standardised
    by a gamma matched to three moments of permutations drawn from a generator seeded by the label
    multiset and the batch sizes (a fixed function of what the permutations preserve, so the net's
    p-value stays exact whatever the fit).
    """

    def __init__(self, x: np.ndarray, sizes: np.ndarray, k: int) -> None:
        self.sizes, self.k = sizes, k
        multiset = np.sort(x)
        digest = np.random.default_rng([int(x.size), k, *np.bincount(x, minlength=k).tolist(),
                                        *sizes.tolist()])
        rows = permuted_rows(digest, multiset, _STAIRCASE_CALIBRATION_ROWS)
        null = self.statistics(rows)
        self.mean, self.var = float(null.mean()), max(float(null.var()), 1e-12)
        sd = np.sqrt(self.var)
        skew = float(np.mean((null - self.mean) ** 3)) / sd**3
        # a gamma matched to the three moments (a longest-path maximum is skewed right: a normal fit put
        # 7-20x the nominal share of shuffled rows beyond its 1e-4 point, and crowded the net's max)
        self.floor = self.mean - 2.0 * sd / float(np.clip(skew, 0.05, 4.0))

    def from_tables(self, tables: np.ndarray) -> np.ndarray:
        """S of each row, the larger of the two directions, from ``(reps, batches, k)`` count tables."""
        reps = tables.shape[0]
        both = np.concatenate([tables, tables[:, :, ::-1]]).astype(np.int32)  # up, then down the classes
        best = np.zeros((2 * reps, self.k), dtype=np.int32)  # exact counts; int32 runs faster than floats
        for j in range(both.shape[1]):  # best[c]: most labels on a path ending at (batch j, class c)
            row = both[:, j, :]
            upto = np.cumsum(row, axis=1)
            best = upto + np.maximum.accumulate(best - (upto - row), axis=1)  # upto - row: classes below c
        return np.maximum(best[:reps, -1], best[reps:, -1]).astype(np.float64)

    def statistics(self, rows: np.ndarray) -> np.ndarray:
        return self.from_tables(dense_tables(rows, self.sizes, self.k))

    def logsf(self, values: np.ndarray) -> np.ndarray:
        """-log of the fitted tail: the component's share of the net's max statistic."""
        return -satterthwaite_logsf(values, self.mean, self.var, self.floor)


def _window_pair_sums(x: np.ndarray, scales: list[_Scale], k: int, weights: np.ndarray | None) -> list[float]:
    """Per scale, sum_w (1/s_w) sum_c w_c N_wc (N_wc - 1) of one stream (``weights`` None: w = 1).

    Sparse scales use row sorts; once the window x class table is small enough to be dense, it is
    built once and aggregated for the coarser scales."""
    out = []
    dense = None
    dense_m = 1
    n = x.size
    for sc in scales:
        windows = sc.lengths.size
        if dense is None and windows * k <= n // 2 + 4096:
            dense = np.bincount(segment_ids(sc.lengths) * k + x, minlength=windows * k).reshape(windows, k)
            dense_m = sc.m
        elif dense is not None:
            dense = np.add.reduceat(dense, np.arange(0, dense.shape[0], sc.m // dense_m), axis=0)
            dense_m = sc.m
        if dense is not None:
            t = dense.astype(np.float64)
            pairs = t * (t - 1.0)
            per_window = pairs.sum(axis=1) if weights is None else pairs @ weights
        else:
            per_window = segment_table(x, sc.lengths, k).pair_sum(weights)
        out.append(float(per_window @ sc.inv_len))
    return out


def _net_cells(sizes: np.ndarray, k: int, n: int) -> float:
    """Cells per label of the largest table the net counts densely (the batches', else the first dense
    scale's windows), which sizes its chunks of permuted rows."""
    if counts_densely(sizes.size, k, n, small_segments=False):
        return dense_cells(sizes.size, k, n, small_segments=False)
    for m in drift_scales(sizes.size):
        windows = -(-sizes.size // m)
        if counts_densely(windows, k, n):
            return dense_cells(windows, k, n)
    return 1.0


def net_row_cost(codes: np.ndarray, batch_sizes: np.ndarray) -> float:
    """What one permuted row of this check's net costs, drawing included, in label-permutations per label
    (the unit of the stream's budget, ``STREAM_BUDGET``: drawing a row and a cheap statistic).

    A fit to rows of 2,048-4,096 labels, 2-1,000 classes, batches of 1-256 (``benchmarks/net_cost.py``,
    its seconds scaled by the other nets' model over measured in the same run, the host's speed): the
    scales, the windows' dense tables, the staircase, and the scales whose windows are sorted rather
    than counted cost most.
    """
    n, nb = max(int(codes.size), 1), int(batch_sizes.size)
    k = int(codes.max()) + 1 if codes.size else 1
    scales = drift_scales(nb)
    dense = counts_densely(nb, k, n, small_segments=False)
    cells = nb * k / n if dense else 0.0  # cells per label of the first table counted densely
    sorted_scales = 0
    for m in scales:
        windows = -(-nb // m)
        if not dense and counts_densely(windows, k, n):
            dense, cells = True, windows * k / n
        sorted_scales += not dense
    return (0.37 + 0.17 * len(scales) + 0.22 * cells + 0.5 * sorted_scales + 1.28 * _staircase_runs(n, nb, k)
            + 0.09 * (n < 8 * nb))


def _factory(k: int):
    def factory(x: np.ndarray, sizes: np.ndarray):
        ms = drift_scales(sizes.size)
        counts = np.bincount(x, minlength=k)
        observed = counts[counts > 0]
        if sizes.size < MIN_BATCHES or observed.size < 2:
            return None
        scales = [_Scale(sizes, m, observed) for m in ms]
        inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        trend = _Trend(sizes, counts)
        ranked = _RankTrend(trend, counts)
        in_order = _Sorted(sizes, counts)
        if not (scales or trend.regular or in_order.regular or ranked.regular):
            return None
        stair = _Staircase(x, sizes, k) if _staircase_runs(x.size, sizes.size, k) else None

        nb = sizes.size
        nothing = np.full(1, -np.inf)

        def position_parts(s: np.ndarray, both: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            """max -log p of the trend, the sorted trend and the sorted order, per row."""
            best = -chi2_logsf(trend.from_sums(s), trend.df) if trend.regular else nothing
            if ranked.regular:
                best = np.maximum(best, ranked.logsf(s))
            return np.maximum(best, in_order.logsf(*both)) if in_order.regular else best

        def window_parts(rows: np.ndarray, table: np.ndarray | None, best: np.ndarray) -> np.ndarray:
            """``best`` raised to the windows' -log p at every scale. The windows are summed from the
            batch x class ``table`` when there is one; otherwise the finest scales sort each window's
            labels until a scale's window x class table is small enough to count, and coarser windows
            are summed from it."""
            win, win_m = table, 1
            for sc in scales:
                if win is None and counts_densely(sc.lengths.size, k, x.size):
                    win, win_m = dense_tables(rows, sc.lengths, k), sc.m
                elif win is not None:
                    win, win_m = merge_segments(win, sc.m // win_m), sc.m
                if win is None:
                    cells = segment_table(rows.ravel(), np.tile(sc.lengths, rows.shape[0]), k)
                    w = cells.pair_sum(inv).reshape(rows.shape[0], sc.lengths.size) @ sc.inv_len
                else:
                    t = win.astype(np.float64)
                    w = ((t * (t - 1.0)) @ inv) @ sc.inv_len
                best = np.maximum(best, -satterthwaite_logsf(w, sc.mean, sc.var, sc.w0))
            return best

        def stat(rows: np.ndarray) -> np.ndarray:
            reps = rows.shape[0]
            if counts_densely(nb, k, x.size, small_segments=False):
                # (not for short batches: there, sorting them and counting the windows densely is faster)
                # one batch x class table per row, weighted by batch position for the trends, by the
                # sorted order's W, and summed into the windows of every scale
                table = dense_tables(rows, sizes, k)
                best = np.broadcast_to(position_parts(
                    trend.sums_from_tables(table), in_order.from_tables(table) if in_order.regular else ()), reps)
                if stair is not None:
                    best = np.maximum(best, stair.logsf(stair.from_tables(table)))
                return window_parts(rows, table, best)
            best = np.broadcast_to(position_parts(
                trend.sums_of_rows(rows), in_order.statistics(rows) if in_order.regular else ()), reps)
            if stair is not None:
                best = np.maximum(best, stair.logsf(stair.statistics(rows)))
            return window_parts(rows, None, best)

        return stat

    return factory


def window_drift_test(
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
    """Multi-scale window x class homogeneity (drift of the class mix along the stream), one-sided.

    Returns
    -------
    TestResult
        ``statistic``: the window x class X^2 at the winning scale (n W + windows k - n).
        ``effect``: Cohen's kappa of sample pairs sharing a window at the winning scale.
        ``details``: expected (E X^2 there), z, window (labels per window at the winning scale),
        window_batches, scales (J), match_rate, expected_rate; trend (1.0 when the linear trend is
        the strongest component), trend_statistic (T), trend_pvalue (its chi-square tail).

    Raises
    ------
    NotEnoughData
        Fewer than 4 batches (the windows need 16: 4 windows of 4; below that only the trend and the
        sorted order run, and the statistic and effect are read at 4 windows), or a single class.

    Examples
    --------
    Two datasets with disjoint classes fed one after the other make early and late windows hold
    different classes: the X^2 at the coarsest scale explodes and the p-value is tiny.
    """
    x = as_codes(codes)
    sizes = as_batch_sizes(batch_sizes, x.size)
    n = x.size
    ms = drift_scales(sizes.size)
    if sizes.size < MIN_BATCHES:
        raise NotEnoughData(f"the drift test needs at least {MIN_BATCHES} batches, got {sizes.size}")
    counts = np.bincount(x)
    k = counts.size
    observed = counts[counts > 0]
    if observed.size < 2:
        raise NotEnoughData(f"all {n:,} labels are class {int(np.argmax(counts))}, so their order cannot be tested")
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    scales = [_Scale(sizes, m, observed) for m in ms]
    ws = _window_pair_sums(x, scales, k, inv)
    ps = np.array([float(satterthwaite_sf(w, sc.mean, sc.var, sc.w0)[()]) for w, sc in zip(ws, scales)] or [1.0])
    trend = _Trend(sizes, counts)
    position_sums = trend.sums(x)  # S_c: the trend and the sorted trend both read them
    t_stat = float(trend.from_sums(position_sums))
    t_p = max(float(chi2_sf(t_stat, trend.df)), TINY) if trend.regular else 1.0  # never 0, as every tail here
    ranked = _RankTrend(trend, counts)
    r_stat, *rank_ps = ranked.sf(position_sums)
    r_p = max(min(rank_ps), TINY) if ranked.regular else 1.0
    in_order = _Sorted(sizes, counts)
    up, down = in_order.of_stream(x)
    sorted_ps = [max(p, TINY) if in_order.regular else 1.0 for p in in_order.sf(up, down)]
    descending = int(sorted_ps[1] < sorted_ps[0])
    s_p = sorted_ps[descending]
    parts = len(scales) + trend.regular + 2 * in_order.regular + 2 * ranked.regular
    if parts == 0:
        raise NotEnoughData(f"the drift test needs at least 16 batches (4 windows of 4) when a few of its "
                            f"{sizes.size} batches hold most of the labels")
    j = int(np.argmin(ps))
    fast = float(min(1.0, parts * min(ps[j], t_p, s_p, r_p)))
    winner = int(np.argmin([ps[j], t_p, s_p, r_p]))  # windows, trend, sorted order, sorted trend
    # Cantelli bounds the window components only: Bonferroni over a subset of the parts stays valid
    cant = min(1.0, parts * min((cantelli(w, s.mean, s.var) for w, s in zip(ws, scales)), default=1.0))
    if scales:
        sc, w_j = scales[j], ws[j]
    else:  # no window component: the statistic and effect are read at 4 windows of whole batches
        sc = _Scale(sizes, max(1, sizes.size // 4), observed)
        w_j = _window_pair_sums(x, [sc], k, inv)[0]
    components = [f"{len(scales)} window scales"] * bool(scales) + ["the sorted order both ways"] * in_order.regular
    components += ["the sorted trend both ways"] * ranked.regular + ["a chi-square(k-1) linear trend"] * trend.regular
    method = (f"shifted Satterthwaite tails on exact permutation moments: {', '.join(components)} (Bonferroni over "
              f"{parts}" + ("" if trend.regular and in_order.regular and ranked.regular else
                            "; the rest sit out: a few batches hold the spread of positions") + ")")
    # the staircase has no tail of its own: the net reads it, so a short stream asks for its net
    wants_net = _staircase_runs(n, sizes.size, k) and fast <= STAIRCASE_GATE
    net = safety_net(
        fast, method, cant, _factory(k), x, sizes,
        rng=rng, mc_below=mc_below, mc_max_perms=mc_max_perms, mc_max_labels=mc_max_labels,
        reject_at=reject_at, accept_above=accept_above, mc_budget=mc_budget, min_batches=16,
        cells_per_label=_net_cells(sizes, k, n),
        force=wants_net and fast > mc_below,  # below mc_below the net runs anyway (or the tail stands)
    )
    windows = sc.lengths.size
    kobs = observed.size
    b = sc.lengths.astype(np.float64)
    rate = float(segment_table(x, sc.lengths, k).pair_sum().sum()) / float(np.sum(b * (b - 1.0)))
    a2 = label_sums(observed).a2
    vals, mult = np.unique(sc.lengths, return_counts=True)
    details = {
        "expected": n * sc.mean + windows * kobs - n,
        "z": zscore(w_j, sc.mean, sc.var),
        "window": float(vals[np.argmax(mult)]),
        "window_batches": float(sc.m),
        "scales": float(len(scales)),
        "match_rate": rate,
        "expected_rate": a2,
        "trend": float(winner == 1),
        "trend_statistic": t_stat,
        "trend_pvalue": t_p,
        "sorted": float(winner == 2),
        "sorted_rate": (down if descending else up) / n,
        "sorted_expected_rate": in_order.mean / n,
        "sorted_descending": float(descending),
        "sorted_pvalue": min(1.0, 2.0 * s_p),
        "rank_trend": float(winner == 3),
        "rank_correlation": r_stat / ranked.norm if ranked.norm > 0 else 0.0,
        "rank_trend_pvalue": min(1.0, 2.0 * r_p),
        "fast_pvalue": fast,
        "wants_net": float(wants_net),
        **net.details,
    }
    return TestResult(float(n * w_j + windows * kobs - n), net.pvalue, kappa(rate, a2), net.method, details)

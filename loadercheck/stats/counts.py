"""Segment x class count tables, sparse when segments x classes is large.

A *segment* is a run of consecutive positions (a batch, a window of batches, or one row of a
permutation matrix cut into batches). :func:`segment_table` builds the segment x class table;
everything the tests need (within-segment match counts, per-batch entropy, distinct classes) is a
sum over it. Three paths, chosen by size, all O(n) or O(n log b):

* dense ``np.bincount`` of ``segment * k + code`` when segments x classes <= 2n;
* otherwise row sorts of the (few) groups of equal-length segments (small ints sort fast), with the
  rank of every label among equal labels before it;
* otherwise (many distinct segment lengths) a global sort of ``segment * k + code``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_GROUPS = 16
"""Labels are hashed into at most this many groups for the autocorrelation FFT."""

DENSE_CELLS_PER_LABEL = 2
"""The nets count permuted rows in dense segment x class tables while these hold at most this many
cells per label (measured: faster than sorting every segment up to about 2 cells per label)."""

SMALL_SEGMENT = 4
DENSE_CELLS_SMALL_SEGMENTS = 5
"""Segments of at most ``SMALL_SEGMENT`` labels on average cost the most per label to sort: up to this
many cells per label their tables are dense (2-3x faster than sorting at 10 classes in batches of 2-4)."""


def counts_densely(segments: int, k: int, n: int, *, small_segments: bool = True) -> bool:
    """Whether a net counts rows of ``n`` labels in ``segments`` segments and ``k`` classes densely
    (``small_segments``: also the tables of short segments up to ``DENSE_CELLS_SMALL_SEGMENTS``)."""
    cells = segments * k
    if cells <= DENSE_CELLS_PER_LABEL * n:
        return True
    return small_segments and n <= SMALL_SEGMENT * segments and cells <= DENSE_CELLS_SMALL_SEGMENTS * n


def dense_cells(segments: int, k: int, n: int, *, small_segments: bool = True) -> float:
    """Cells per label of a net's tables, for sizing its chunks of permuted rows (1 when it sorts)."""
    dense = counts_densely(segments, k, n, small_segments=small_segments)
    return max(1.0, segments * k / max(n, 1)) if dense else 1.0


def starts_of(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(lengths.size, dtype=np.int64)
    np.cumsum(lengths[:-1], out=out[1:])
    return out


def segment_ids(lengths: np.ndarray) -> np.ndarray:
    """Segment index of every position."""
    return np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)


def dense_tables(rows: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """The dense segment x class count table of every row of an ``(R, n)`` code matrix: ``(R, segments, k)``."""
    reps, segments = rows.shape[0], lengths.size
    cells = (np.arange(reps, dtype=np.int64)[:, None] * (segments * k) + segment_ids(lengths) * k + rows).ravel()
    return np.bincount(cells, minlength=reps * segments * k).reshape(reps, segments, k)


def merge_segments(tables: np.ndarray, step: int) -> np.ndarray:
    """Sums of ``step`` consecutive segments of ``(R, segments, k)`` tables (the last sum may hold fewer)."""
    reps, segments, k = tables.shape
    full = segments // step
    out = tables[:, : full * step].reshape(reps, full, step, k).sum(axis=2)
    if segments % step:
        out = np.concatenate([out, tables[:, full * step :].sum(axis=1, keepdims=True)], axis=1)
    return out


def _small_dtype(k: int) -> type:
    if k <= np.iinfo(np.int16).max:
        return np.int16
    if k <= np.iinfo(np.int32).max:
        return np.int32
    return np.int64


@dataclass(frozen=True)
class Table:
    """A segment x class table, dense (``matrix``, S x k) or sparse.

    The sparse form holds, for every label, its code and its *rank*: the number of equal labels
    before it once each segment is sorted. A class with N labels in a segment has ranks 0..N-1, so
    sum_t rank_t = sum_c C(N, 2), #{rank == 0} = #distinct classes, and sum_t g(rank_t + 1) =
    sum_c N ln N with g(j) = j ln j - (j-1) ln(j-1). Labels are stored per group of equal-length
    segments as ``(segment indices, codes (R, L), ranks (R, L))``, or flat with a segment array.
    """

    segments: int
    k: int
    lengths: np.ndarray
    matrix: np.ndarray | None = None
    groups: tuple = ()
    flat: tuple | None = None

    def _per_segment(self, fn) -> np.ndarray:
        out = np.zeros(self.segments)
        if self.flat is not None:
            segment, code, rank = self.flat
            return np.bincount(segment, fn(code, rank), minlength=self.segments)
        for idx, code, rank in self.groups:
            out[idx] = fn(code, rank).sum(axis=1)
        return out

    def pair_sum(self, class_weights: np.ndarray | None = None) -> np.ndarray:
        """Per segment: sum_c w_c N_sc (N_sc - 1) (ordered same-class pairs)."""
        if self.matrix is not None:
            t = self.matrix.astype(np.float64)
            pairs = t * (t - 1.0)
            return pairs.sum(axis=1) if class_weights is None else pairs @ class_weights
        if class_weights is None:
            return 2.0 * self._per_segment(lambda code, rank: rank)
        return 2.0 * self._per_segment(lambda code, rank: rank * class_weights[code])

    def distinct(self) -> np.ndarray:
        """Per segment: number of distinct classes."""
        if self.matrix is not None:
            return np.count_nonzero(self.matrix, axis=1)
        return self._per_segment(lambda code, rank: rank == 0)

    def entropy(self) -> np.ndarray:
        """Per segment: Shannon entropy (nats) of the class shares."""
        size = self.lengths.astype(np.float64)
        if self.matrix is not None:
            t = self.matrix.astype(np.float64)
            nlogn = np.sum(t * np.log(np.where(t > 0, t, 1.0)), axis=1)
        else:
            top = int(self.lengths.max()) + 1
            j = np.arange(1, top + 1, dtype=np.float64)
            g = np.diff(np.r_[0.0, j * np.log(j)])
            nlogn = self._per_segment(lambda code, rank: g[rank])
        safe = np.maximum(size, 1.0)
        return np.where(size > 0, np.log(safe) - nlogn / safe, 0.0)


def _ranks_in_sorted_rows(block: np.ndarray) -> np.ndarray:
    """Rank of every entry among equal entries before it, for rows sorted ascending."""
    rows, length = block.shape
    col = np.arange(length, dtype=np.int32)
    start = np.empty(block.shape, dtype=np.int32)
    start[:, 0] = 0
    start[:, 1:] = np.where(block[:, 1:] != block[:, :-1], col[1:], 0)
    np.maximum.accumulate(start, axis=1, out=start)
    return col - start


def segment_table(codes: np.ndarray, lengths: np.ndarray, k: int) -> Table:
    """The segment x class table of ``codes`` cut into consecutive segments of ``lengths``."""
    n = codes.size
    segs = lengths.size
    if segs * k <= n // 2 + 4096:
        table = np.bincount(segment_ids(lengths) * k + codes, minlength=segs * k).reshape(segs, k)
        return Table(segs, k, lengths, matrix=table)
    uniq = np.unique(lengths)
    if uniq.size > 8:
        key = np.sort(segment_ids(lengths) * k + codes)
        pos = np.arange(n, dtype=np.int64)
        start = np.where(np.r_[True, key[1:] != key[:-1]], pos, 0)
        rank = pos - np.maximum.accumulate(start)
        return Table(segs, k, lengths, flat=(key // k, key % k, rank))
    small = codes.astype(_small_dtype(k), copy=False)
    starts = starts_of(lengths)
    groups = []
    for length in uniq:
        length = int(length)
        if length == 0:
            continue
        idx = np.flatnonzero(lengths == length)
        s = starts[idx]
        if s[-1] - s[0] == (idx.size - 1) * length:
            block = small[s[0] : s[0] + idx.size * length].reshape(idx.size, length)
        else:
            block = small[s[:, None] + np.arange(length)]
        block = np.sort(block, axis=1)
        groups.append((idx, block, _ranks_in_sorted_rows(block)))
    return Table(segs, k, lengths, groups=tuple(groups))


def cross_next(
    codes: np.ndarray, lengths: np.ndarray, k: int, within: np.ndarray, class_weights: np.ndarray | None = None
) -> np.ndarray:
    """Per segment s < S-1: sum_c N_sc N_{s+1,c}, from the pair sums of the unions of consecutive
    segments (two partitions: pairs starting at even and at odd segments). ``within`` holds the
    per-segment ordered pair sums sum_c w_c N_sc (N_sc - 1) (same ``class_weights``)."""
    segs = lengths.size
    cross = np.zeros(max(segs - 1, 0))
    for parity in (0, 1):
        first = np.arange(parity, segs - 1, 2)
        if first.size == 0:
            continue
        end = int(first[-1]) + 2
        union = np.concatenate([lengths[:parity], lengths[first] + lengths[first + 1], lengths[end:]])
        sums = segment_table(codes, union, k).pair_sum(class_weights)
        pairs = sums[parity : parity + first.size]
        cross[first] = (pairs - within[first] - within[first + 1]) / 2.0
    return cross


def hash_groups(codes: np.ndarray, k: int, groups: int = MAX_GROUPS) -> tuple[np.ndarray, int]:
    """Map class codes to at most ``groups`` groups by a fixed multiplicative hash of the code.

    A function of the label alone, so the permutation null stays exact. Returns the group codes,
    compacted to 0..G-1 over the groups that occur, and G.
    """
    if k <= groups:
        return codes, k
    classes = np.arange(k, dtype=np.uint64)
    mixed = (classes * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    group_of = (mixed % np.uint64(groups)).astype(np.int64)
    present = np.zeros(groups, dtype=bool)
    present[group_of[np.bincount(codes, minlength=k) > 0]] = True
    remap = np.cumsum(present) - 1
    return remap[group_of][codes], int(present.sum())


def whole_batch_prefix(batch_sizes: np.ndarray, max_labels: int, min_batches: int = 1) -> int:
    """Number of leading whole batches holding at most ``max_labels`` labels (at least ``min_batches``)."""
    cum = np.cumsum(batch_sizes)
    nb = int(np.searchsorted(cum, max_labels, side="right"))
    return int(min(batch_sizes.size, max(nb, min_batches)))


def window_lengths(batch_sizes: np.ndarray, m: int) -> np.ndarray:
    """Sizes (in labels) of windows made of ``m`` consecutive batches (the last may hold fewer)."""
    nb = batch_sizes.size
    starts = np.arange(0, nb, m)
    return np.add.reduceat(batch_sizes, starts)

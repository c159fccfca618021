"""The nets count permuted rows densely or by sorting each segment: both give the same statistics."""

import numpy as np
import pytest

import loadercheck.stats.counts as counts
import loadercheck.stats.drift as drift
from loadercheck.stats.batch import batch_rows
from loadercheck.stats.runs import runs_rows


def _sort_every_segment(monkeypatch) -> None:
    monkeypatch.setattr(counts, "DENSE_CELLS_PER_LABEL", 0)
    monkeypatch.setattr(counts, "DENSE_CELLS_SMALL_SEGMENTS", 0)


def _rows(batch: int, classes: int, n: int = 2048):
    rng = np.random.default_rng([batch, classes])
    x = rng.integers(0, classes, n)
    x[:classes] = np.arange(classes)
    rows = np.stack([x, np.sort(x)] + [rng.permutation(x) for _ in range(6)])
    return x, np.full(n // batch, batch), rows


@pytest.mark.parametrize("batch,classes", [(1, 10), (2, 10), (4, 30), (1, 3), (32, 10)])
def test_window_drift_windows_counted_densely_or_by_sorting_agree(batch, classes, monkeypatch):
    x, sizes, rows = _rows(batch, classes)
    default = drift._factory(classes)(x, sizes)(rows)
    _sort_every_segment(monkeypatch)  # every scale sorts its windows' labels
    sorting = drift._factory(classes)(x, sizes)(rows)
    np.testing.assert_allclose(default, sorting, rtol=1e-10)
    assert np.ptp(default) > 1.0  # the rows differ, so the comparison can see a wrong window


@pytest.mark.parametrize("batch,classes", [(2, 10), (4, 10), (16, 30)])
def test_runs_and_batch_rows_counted_densely_or_by_sorting_agree(batch, classes, monkeypatch):
    x, sizes, rows = _rows(batch, classes)
    assert counts.counts_densely(sizes.size, classes, x.size)
    weights = np.linspace(0.5, 2.0, classes)
    inv = 1.0 / np.bincount(x, minlength=classes)
    dense = [runs_rows(rows, sizes, classes), runs_rows(rows, sizes, classes, weights),
             batch_rows(rows, sizes, classes, inv)]
    _sort_every_segment(monkeypatch)
    sorting = [runs_rows(rows, sizes, classes), runs_rows(rows, sizes, classes, weights),
               batch_rows(rows, sizes, classes, inv)]
    for a, b in zip(dense, sorting):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert np.ptp(a) > 1.0


@pytest.mark.parametrize("batch,last", [(2, 1), (2, 2), (3, 2), (4, 1), (4, 4)])
def test_runs_of_small_batches_counted_by_pairs_or_by_tables_agree(batch, last, monkeypatch):
    """Batches of 2-4 count their matches pair by pair (label-runs, and batch-entropy's within-batch
    pairs); a shorter last batch included."""
    import loadercheck.stats.runs as runs

    rng = np.random.default_rng([batch, last])
    sizes = np.r_[np.full(300, batch), last]
    x = rng.integers(0, 6, int(sizes.sum()))
    rows = np.stack([x, np.sort(x)] + [rng.permutation(x) for _ in range(6)])
    weights = np.linspace(0.5, 2.0, 6)
    inv = 1.0 / np.bincount(x, minlength=6)  # batch-entropy's class weights
    pairs = [runs_rows(rows, sizes, 6), runs_rows(rows, sizes, 6, weights), batch_rows(rows, sizes, 6, inv)]
    monkeypatch.setattr(runs, "PAIRS_MAX_BATCH", 0)  # every row through its batch x class table
    tables = [runs_rows(rows, sizes, 6), runs_rows(rows, sizes, 6, weights), batch_rows(rows, sizes, 6, inv)]
    for a, b in zip(pairs, tables):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert np.ptp(a) > 1.0

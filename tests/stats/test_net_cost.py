"""The cost model the stream's budget charges each label net's permutations at (``net_row_cost``).

The model's fit to measured costs is printed by ``benchmarks/net_cost.py`` (timings stay out of the
tests); these tests pin the shape of the model: what makes a row dear."""

from __future__ import annotations

import numpy as np

from loadercheck.stats import autocorr, batch, drift, runs


def _codes(n: int, k: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, k, n)


def _sizes(n: int, b: int) -> np.ndarray:
    return np.full(n // b, b, dtype=np.int64)


def test_the_autocorrelation_costs_most_in_small_batches_of_many_classes():
    x = _codes(4096, 10)
    assert autocorr.net_row_cost(x, _sizes(4096, 1)) > 3 * autocorr.net_row_cost(x, _sizes(4096, 256))
    # two classes: one series (the rarer class's), so a fraction of ten classes' FFTs
    two = _codes(4096, 2)
    assert autocorr.net_row_cost(two, _sizes(4096, 1)) < 0.7 * autocorr.net_row_cost(x, _sizes(4096, 1))


def test_window_drift_costs_more_where_it_sorts_windows_than_where_it_counts_them():
    n = 4096
    sorted_windows = drift.net_row_cost(_codes(n, 1000), _sizes(n, 1))  # 1,000 classes, 4,096 windows
    counted = drift.net_row_cost(_codes(n, 10), _sizes(n, 256))  # 16 batches x 10 classes
    assert sorted_windows > 4 * counted


def test_label_runs_costs_the_unit_without_tables_and_more_with_wide_ones():
    n = 4096
    assert runs.net_row_cost(_codes(n, 10), _sizes(n, 1)) == runs.net_row_cost(_codes(n, 10), _sizes(n, 4)) < 1.0
    assert runs.net_row_cost(_codes(n, 1000), _sizes(n, 32)) > 2 * runs.net_row_cost(_codes(n, 10), _sizes(n, 4))


def test_batch_entropy_costs_most_in_batches_of_one_and_with_wide_tables():
    n = 4096
    pairs = batch.net_row_cost(_codes(n, 10), _sizes(n, 4))
    assert batch.net_row_cost(_codes(n, 10), _sizes(n, 1)) > 2 * pairs
    assert batch.net_row_cost(_codes(n, 1000), _sizes(n, 32)) > batch.net_row_cost(_codes(n, 10), _sizes(n, 32))
    assert batch.net_row_cost(_codes(n, 2), _sizes(n, 1)) < batch.net_row_cost(_codes(n, 10), _sizes(n, 1))


def test_every_cost_is_positive_and_finite_on_any_shape():
    for n, k, b in [(64, 2, 1), (256, 3, 7), (4096, 1000, 1), (16384, 50000, 512), (100, 1, 4)]:
        x, sizes = _codes(n, k), _sizes(n, b)
        for model in (runs.net_row_cost, batch.net_row_cost, drift.net_row_cost, autocorr.net_row_cost):
            cost = model(x, sizes)
            assert np.isfinite(cost) and cost >= 0.5

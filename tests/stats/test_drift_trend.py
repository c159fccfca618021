"""window-drift's linear-trend component: exact null mean, invariance to the order inside a batch,
calibration of its tail (two-sided) and power on a faint linear drift. Fixed seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import loadercheck.stats as S
from loadercheck import synthetic as syn
from loadercheck.stats.drift import _Trend


@pytest.mark.parametrize("labels, sizes", [([0, 0, 0, 1, 1, 2, 2, 2], [2, 2, 2, 2]),
                                           ([0, 1, 1, 1, 1, 1, 2, 2], [3, 3, 2])])
def test_the_null_mean_is_k_minus_1_exactly(labels, sizes):
    """Every arrangement of the labels enumerated: the mean of T is the number of classes minus one."""
    x, sizes = np.array(labels), np.array(sizes)
    trend = _Trend(sizes, np.bincount(x))
    rows = x[np.array(list(itertools.permutations(range(x.size))))]
    assert trend.statistics(rows).mean() == pytest.approx(trend.df, rel=1e-12)
    assert trend.df == np.unique(x).size - 1


def test_the_order_inside_a_batch_does_not_count():
    rng = np.random.default_rng(3)
    x, sizes = rng.integers(0, 5, 320), np.full(10, 32)
    inside = np.concatenate([rng.permutation(chunk) for chunk in np.split(x, 10)])
    trend = _Trend(sizes, np.bincount(x))
    assert trend.statistic(inside) == pytest.approx(trend.statistic(x), rel=1e-12)
    assert trend.statistic(np.sort(x)) > 100 * trend.statistic(x)  # a sorted stream trends


@pytest.mark.parametrize("shares, b", [(np.full(10, 0.1), 32), (np.array([0.95, 0.05]), 4), (np.full(200, 1 / 200), 8)])
def test_its_tail_is_calibrated_two_sided(shares, b):
    """300 clean streams: p <= 0.05 and <= 0.01 at most 3x nominal, and p <= 0.05 at least a quarter."""
    ps = []
    for i in range(300):
        rng = np.random.default_rng([17, i])
        x = rng.choice(shares.size, size=2048, p=shares)
        _, x = np.unique(x, return_inverse=True)
        ps.append(S.window_drift_test(x, np.full(2048 // b, b)).details["trend_pvalue"])
    ps = np.array(ps)
    assert np.sum(ps <= 0.05) <= 3 * 0.05 * ps.size and np.sum(ps <= 0.01) <= 3 * 0.01 * ps.size
    assert np.sum(ps <= 0.05) >= 0.25 * 0.05 * ps.size, "a trend test that never rejects is broken"


def test_a_faint_linear_drift_is_caught_by_the_trend():
    """Class 0's share 5% -> 15% (class 1's the opposite) over 2,048 labels: the windows alone catch
    about a third of these streams at the check's Holm level; with the trend, most."""
    flagged, by_trend = 0, 0
    for i in range(20):
        x = syn.drifting_prior(2048, 10, 0.05, np.random.default_rng([5, i]))
        _, x = np.unique(x, return_inverse=True)
        r = S.window_drift_test(x, np.full(64, 32))
        flagged += r.pvalue <= 2.5e-4
        by_trend += r.details["trend"] == 1.0
    assert flagged >= 15 and by_trend >= 15


def test_the_nets_batch_tables_give_the_same_trend():
    """The net computes T from each row's batch x class table: equal to T from the labels."""
    rng = np.random.default_rng(8)
    sizes = np.r_[np.full(20, 16), 9]
    x = rng.integers(0, 6, int(sizes.sum()))
    trend = _Trend(sizes, np.bincount(x))
    rows = np.array([rng.permutation(x) for _ in range(5)])
    batch = np.repeat(np.arange(sizes.size), sizes)
    tables = np.stack([np.bincount(batch * 6 + r, minlength=sizes.size * 6).reshape(sizes.size, 6) for r in rows])
    np.testing.assert_allclose(trend.from_tables(tables.astype(float)), trend.statistics(rows), rtol=1e-12)


def test_no_trend_where_a_few_samples_carry_the_positions():
    """16 batches of one sample, then one of 10,000: T is far from chi-square there (a shuffled
    stream reached p 1e-28), so the trend sits out and a shuffled stream is not flagged."""
    sizes = np.r_[np.ones(16, dtype=int), 10_000]
    n = int(sizes.sum())
    worst = 1.0
    for seed in range(60):
        x = np.zeros(n, dtype=int)
        x[np.random.default_rng(seed).choice(n, 5, replace=False)] = 1
        r = S.window_drift_test(x, sizes)
        worst = min(worst, r.pvalue)
        assert r.details["trend_pvalue"] == 1.0
    assert worst > 1e-4
    assert _Trend(np.full(64, 32), np.full(10, 204)).regular  # equal batches keep it

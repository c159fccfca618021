"""Public API: invariance to the order inside batches, effects, errors, never-zero p-values."""

from __future__ import annotations

import numpy as np
import pytest

import loadercheck.stats as S

CATEGORICAL = [S.runs_test, S.batch_homogeneity_test, S.autocorrelation_test, S.window_drift_test]
CONTINUOUS = [S.trend_test, S.median_runs_test]


def _sizes(n, b, rng=None):
    if b == "var":
        sizes = rng.integers(1, 9, n)
        sizes = sizes[np.cumsum(sizes) <= n]
        return np.r_[sizes, n - sizes.sum()] if n > sizes.sum() else sizes
    return np.r_[np.full(n // b, b), [n % b] if n % b else []].astype(int)


def _shuffle_inside(x, sizes, rng):
    out = x.copy()
    start = 0
    for b in sizes:
        out[start : start + b] = rng.permutation(out[start : start + b])
        start += b
    return out


@pytest.mark.parametrize("k, b, n", [(10, 32, 4000), (1000, 32, 5000), (3, "var", 900), (2, 4, 1000), (50, 2, 3000)])
def test_categorical_results_are_exactly_invariant_inside_batches(k, b, n):
    rng = np.random.default_rng(k)
    sizes = _sizes(n, b, rng)
    x = rng.integers(0, k, n)
    x[: n // 3] = np.sort(x[: n // 3])  # some order, so p-values are not all near 1
    y = _shuffle_inside(x, sizes, rng)
    assert not np.array_equal(x, y)
    for test in CATEGORICAL:
        for mc in (0.0, 1.0):
            a = test(x, sizes, rng=np.random.default_rng(1), mc_below=mc, mc_max_perms=300)
            c = test(y, sizes, rng=np.random.default_rng(1), mc_below=mc, mc_max_perms=300)
            assert a == c, test.__name__


@pytest.mark.parametrize("b", [8, "var"])
def test_continuous_results_are_exactly_invariant_inside_batches(b):
    rng = np.random.default_rng(3)
    n = 2000
    sizes = _sizes(n, b, rng)
    v = np.round(rng.normal(size=n), 1) + np.linspace(0, 0.2, n)
    w = _shuffle_inside(v, sizes, rng)
    for test in CONTINUOUS:
        for mc in (0.0, 1.0):
            a = test(v, sizes, rng=np.random.default_rng(1), mc_below=mc, mc_max_perms=300)
            c = test(w, sizes, rng=np.random.default_rng(1), mc_below=mc, mc_max_perms=300)
            assert a == c, test.__name__
    # decile codes are a function of each value: the codes of the shuffled-inside stream are the
    # same codes, moved with their values
    perm = np.random.default_rng(2).permutation(n)
    assert np.array_equal(S.decile_codes(v[perm]), S.decile_codes(v)[perm])
    assert np.all(np.diff(S.decile_codes(v)[np.argsort(v, kind="stable")]) >= 0)  # monotone in the value


def test_one_class_per_batch_has_kappa_one_and_every_test_fires():
    sizes = np.full(200, 16)
    x = np.repeat(np.arange(200) % 10, 16)
    res = S.batch_homogeneity_test(x, sizes)
    assert res.effect == pytest.approx(1.0)
    assert res.details["mean_classes"] == 1.0
    assert res.details["single_class_share"] == 1.0
    assert res.details["mean_entropy"] == 0.0
    assert 8.0 < res.details["expected_classes"] < 8.3  # 10 (1 - 0.9^16)
    for test in CATEGORICAL:
        r = test(x, sizes)
        assert 0 < r.pvalue < 1e-6, test.__name__


def test_pvalues_are_never_zero_and_methods_are_named():
    x = np.sort(np.random.default_rng(0).integers(0, 10, 100_000))
    sizes = np.full(100_000 // 32, 32)
    sizes = np.r_[sizes, 100_000 - sizes.sum()]
    for test in CATEGORICAL:
        r = test(x, sizes)
        assert 0 < r.pvalue < 1e-100
        assert r.method
        for key in ("expected", "z", "match_rate", "expected_rate"):
            assert key in r.details
        net = test(x, sizes, rng=np.random.default_rng(0), mc_below=1e-3)
        assert 0 < net.pvalue <= 2 / 16000
        assert "Cantelli" in net.method or "permutation" in net.method or "net not needed" in net.method


def test_runs_details_speak_in_run_lengths():
    x = np.repeat(np.arange(10), 100)
    r = S.runs_test(x, np.ones(1000, int))
    assert r.details["mean_run_length"] == pytest.approx(100.0)
    assert r.details["expected_run_length"] == pytest.approx(1000 / (1000 - r.details["expected"]))
    assert r.effect > 0.98


def test_window_and_autocorrelation_details():
    rng = np.random.default_rng(4)
    sizes = np.full(256, 32)
    first = rng.integers(0, 5, 128 * 32)
    x = np.r_[first, first + 5]  # two datasets with disjoint classes
    r = S.window_drift_test(x, sizes)
    assert r.details["window"] % 32 == 0 and r.details["window"] >= 128
    assert r.pvalue < 1e-6
    rr = np.repeat(np.arange(256) % 8, 32)
    a = S.autocorrelation_test(rr, sizes)
    assert a.details["period"] == 8 and a.details["lag"] == 8 and a.pvalue < 1e-6


@pytest.mark.parametrize(
    "test, args, match",
    [
        (S.batch_homogeneity_test, (np.array([0, 1, 0, 1]), np.array([4])), "at least 2 batches"),
        (S.batch_homogeneity_test, (np.array([0, 1, 0, 1]), np.ones(4, int)), "single sample"),
        (S.batch_homogeneity_test, (np.zeros(8, int), np.array([4, 4])), "all 8 labels are class 0"),
        (S.runs_test, (np.array([0, 1]), np.ones(2, int)), "at least 3 labels"),
        (S.runs_test, (np.full(10, 3), np.ones(10, int)), "all 10 labels are class 3"),
        (S.autocorrelation_test, (np.arange(7) % 2, np.ones(7, int)), "at least 8 batches"),
        (S.window_drift_test, (np.arange(3) % 2, np.ones(3, int)), "at least 4 batches"),
        (S.trend_test, (np.ones(10), np.full(5, 2)), "targets are equal"),
        (S.trend_test, (np.arange(10.0), np.array([10])), "at least 2 batches"),
        (S.median_runs_test, (np.arange(3.0), np.ones(3, int)), "at least 4 targets"),
    ],
)
def test_not_enough_data(test, args, match):
    with pytest.raises(S.NotEnoughData, match=match) as info:
        test(*args)
    assert isinstance(info.value, ValueError)
    assert info.value.reason


@pytest.mark.parametrize(
    "codes, sizes, match",
    [
        (np.array([0.5, 1.0, 2.0]), np.ones(3, int), "integer class codes"),
        (np.array([0, -1, 2]), np.ones(3, int), "non-negative"),
        (np.zeros((2, 2), int), np.ones(4, int), "1-D"),
        (np.array([0, 1, 2]), np.array([1, 1]), "sum to 2 but there are 3 labels"),
        (np.array([0, 1, 2]), np.array([4, -1]), "non-negative"),
    ],
)
def test_bad_inputs_name_the_problem(codes, sizes, match):
    with pytest.raises(ValueError, match=match):
        S.runs_test(codes, sizes)


def test_bad_targets_and_missing_rng():
    with pytest.raises(ValueError, match="finite"):
        S.trend_test(np.array([0.0, np.nan, 1.0, 2.0]), np.ones(4, int))
    with pytest.raises(ValueError, match="rng=np.random.default_rng"):
        S.runs_test(np.repeat([0, 1, 2], 20), np.ones(60, int), mc_below=1.0)


def test_decile_codes_share_bins_on_ties():
    v = np.r_[np.zeros(50), np.arange(1.0, 51.0)]
    codes = S.decile_codes(v)
    assert codes.dtype == np.int64
    assert np.unique(codes[:50]).size == 1
    assert codes.max() == np.unique(codes).size - 1
    assert np.bincount(S.decile_codes(np.arange(100.0))).tolist() == [10] * 10


def test_median_runs_drops_ties_and_reports_it():
    v = np.r_[np.zeros(20), np.ones(21), -np.ones(19)]
    res = S.median_runs_test(v, np.full(15, 4))
    assert res.details["dropped"] == 20
    assert res.details["median"] == 0.0


def test_core_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, loadercheck.stats; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

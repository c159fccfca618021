"""Calibration (false alarms on clean shuffled feeds) and power of the statistical core.

Deterministic seeds. Each shape draws a few hundred clean streams. Two-sided, per test: the
number of p-values <= 0.05 and <= 0.01 must stay at most 3x its nominal count (anti-conservative
tails fail), and the number <= 0.05 at least a quarter of nominal (a dead test that never rejects
fails too). The 2e-3 tail is tested pooled over shapes (enough streams for a 3x bound to mean
something). A test that cannot run on a stream (NotEnoughData) is counted, never silently dropped.
Power: one defect per test, p <= 1e-6 for the test meant to catch it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import loadercheck.stats as S

CATEGORICAL = {
    "runs": S.runs_test,
    "batch": S.batch_homogeneity_test,
    "acf": S.autocorrelation_test,
    "window": S.window_drift_test,
}
LEVELS = (0.05, 0.01)
FACTOR = 3.0
"""Calibration bound: at most FACTOR x nominal rejections at each level."""
DEAD_SHARE = 0.25
"""At 0.05, at least this share of the nominal rejections (a test that never rejects is broken)."""
CONSERVATIVE = {"acf"}
"""Conservative by design (Bonferroni over up to 1,023 lags): held to p < 0.5 on a tenth of the
streams instead of the 0.05 lower bound."""


def _sizes(n: int, b: int) -> np.ndarray:
    sizes = np.full(n // b, b)
    return np.r_[sizes, n - sizes.sum()] if n % b else sizes


def _epoch(rng, n, shares):
    counts = np.floor(np.asarray(shares) * n).astype(int)
    counts[0] += n - counts.sum()
    return rng.permutation(np.repeat(np.arange(len(shares)), counts))


def _iid(rng, n, shares):
    return rng.choice(len(shares), size=n, p=np.asarray(shares) / np.sum(shares))


ZIPF = 1.0 / np.arange(1, 1001)
SHAPES = {
    # name: (stream generator, n, batch size, streams)
    "u10-epoch-b32": (lambda rng, n: _epoch(rng, n, np.full(10, 0.1)), 2048, 32, 300),
    "imb95-iid-b4": (lambda rng, n: _iid(rng, n, [0.95, 0.05]), 1024, 4, 300),
    "u1000-iid-b2": (lambda rng, n: _iid(rng, n, np.full(1000, 1e-3)), 2048, 2, 200),
    "zipf1000-epoch-b32": (lambda rng, n: _epoch(rng, n, ZIPF / ZIPF.sum()), 4096, 32, 150),
    "u10-epoch-b256": (lambda rng, n: _epoch(rng, n, np.full(10, 0.1)), 16384, 256, 100),
    "u10-iid-b1": (lambda rng, n: _iid(rng, n, np.full(10, 0.1)), 1024, 1, 200),
}


def _limit(streams: int, level: float) -> int:
    """At most FACTOR x the nominal count (and never below 1, for tiny nominal counts)."""
    return max(1, int(np.floor(FACTOR * streams * level)))


def _check_calibration(pvalues: dict[str, list[float]], label: str) -> None:
    for name, ps in pvalues.items():
        ps = np.asarray(ps)
        for level in LEVELS:
            hits = int(np.sum(ps <= level))
            assert hits <= _limit(ps.size, level), f"{label} {name}: {hits}/{ps.size} p-values <= {level}"
        half = int(np.sum(ps < 0.5))
        assert half >= 0.1 * ps.size, f"{label} {name}: only {half}/{ps.size} p-values < 0.5 (dead test?)"
        if name in CONSERVATIVE:
            continue
        low = int(np.sum(ps <= 0.05))
        assert low >= DEAD_SHARE * 0.05 * ps.size, f"{label} {name}: only {low}/{ps.size} p-values <= 0.05 (dead test?)"


@pytest.mark.parametrize("shape", list(SHAPES))
def test_categorical_false_alarms_are_nominal(shape):
    make, n, b, streams = SHAPES[shape]
    rng = np.random.default_rng(abs(hash(shape)) % 2**32 if False else sum(map(ord, shape)))
    sizes = _sizes(n, b)
    pvalues: dict[str, list[float]] = {name: [] for name in CATEGORICAL}
    skipped: dict[str, int] = {name: 0 for name in CATEGORICAL}
    for _ in range(streams):
        x = make(rng, n)
        for name, test in CATEGORICAL.items():
            try:
                pvalues[name].append(test(x, sizes).pvalue)
            except S.NotEnoughData:
                skipped[name] += 1
    # every test runs on every stream, except the batch test where every batch holds one sample
    assert skipped == {name: (streams if name == "batch" and b == 1 else 0) for name in CATEGORICAL}, skipped
    _check_calibration({k: v for k, v in pvalues.items() if v}, shape)


def test_permutation_net_keeps_false_alarms_nominal():
    """With the net on at mc_below = 0.05, every p-value <= 0.05 is permutation-backed."""
    rng = np.random.default_rng(99)
    n, b = 512, 4
    sizes = _sizes(n, b)
    pvalues: dict[str, list[float]] = {name: [] for name in CATEGORICAL}
    for _ in range(150):
        x = _iid(rng, n, [0.9, 0.07, 0.03])
        for name, test in CATEGORICAL.items():
            pvalues[name].append(test(x, sizes, rng=rng, mc_below=0.05, mc_max_perms=999).pvalue)
    _check_calibration(pvalues, "net")


@pytest.mark.parametrize("kind", ["normal", "poisson-ties"])
def test_continuous_false_alarms_are_nominal(kind):
    rng = np.random.default_rng(5 if kind == "normal" else 6)
    n, b = (2048, 32) if kind == "normal" else (1024, 8)
    sizes = _sizes(n, b)
    pvalues = {"trend": [], "median-runs": []}
    for _ in range(300):
        v = rng.normal(size=n) if kind == "normal" else rng.poisson(2.0, size=n).astype(float)
        pvalues["trend"].append(S.trend_test(v, sizes).pvalue)
        pvalues["median-runs"].append(S.median_runs_test(v, sizes).pvalue)
    _check_calibration(pvalues, kind)


def test_pooled_tail_at_two_in_a_thousand():
    """Pooled over shapes and tests, p <= 2e-3 at most 3x nominal, and p <= 0.05 not dead."""
    rng = np.random.default_rng(2024)
    hits = loose = total = 0
    for shares, b in (([0.5, 0.3, 0.2], 2), (np.full(10, 0.1), 16), ([0.95, 0.05], 32)):
        sizes = _sizes(1024, b)
        for _ in range(250):
            x = _iid(rng, 1024, shares)
            for test in CATEGORICAL.values():
                p = test(x, sizes).pvalue
                hits += p <= 2e-3
                loose += p <= 0.05
                total += 1
    assert hits <= _limit(total, 2e-3), (hits, total)
    assert loose >= DEAD_SHARE * 0.05 * total * 0.75, (loose, total)  # acf (a quarter of the tests) is conservative


# ---------------------------------------------------------------- power


def _defect(name: str, rng) -> tuple[np.ndarray, np.ndarray]:
    n, b = 8192, 32
    sizes = _sizes(n, b)
    if name == "sorted":
        return np.sort(_epoch(rng, n, np.full(10, 0.1))), sizes
    if name == "shards-buffer":
        data = np.sort(_epoch(rng, n, np.full(10, 0.1)))
        shards = data.reshape(-1, 64)[rng.permutation(n // 64)].ravel()
        buffer, out = list(shards[:100]), []
        for label in shards[100:]:
            j = int(rng.integers(len(buffer)))
            out.append(buffer[j])
            buffer[j] = label
        out.extend(rng.permutation(buffer))
        return np.array(out), sizes
    if name == "one-class-per-batch":
        return np.repeat(rng.integers(0, 10, n // b), b), sizes
    if name == "concatenated":
        return np.r_[rng.integers(0, 5, n // 2), rng.integers(5, 10, n // 2)], sizes
    if name == "drifting-prior":
        t = np.linspace(0, 1, n)
        p0 = 0.02 + 0.16 * t
        u = rng.random(n)
        x = rng.integers(2, 10, n)
        x[u < p0] = 0
        x[(u >= p0) & (u < 0.2)] = 1
        return x, sizes
    if name == "round-robin":
        batch = np.arange(n // b)
        favoured = np.repeat(batch % 7, b)
        x = rng.integers(0, 10, n)
        keep = rng.random(n) < 0.3
        x[keep] = favoured[keep]
        return x, sizes
    raise ValueError(name)


@pytest.mark.parametrize(
    "defect, test",
    [
        ("sorted", "runs"),
        ("shards-buffer", "runs"),
        ("one-class-per-batch", "batch"),
        ("concatenated", "window"),
        ("drifting-prior", "window"),
        ("round-robin", "acf"),
    ],
)
def test_power_against_defects(defect, test):
    x, sizes = _defect(defect, np.random.default_rng(7))
    res = CATEGORICAL[test](x, sizes)
    assert res.pvalue <= 1e-6, (defect, test, res.pvalue, res.details)
    assert res.effect > 0


def test_power_regression_sorted_by_target():
    rng = np.random.default_rng(8)
    v = np.sort(rng.lognormal(size=4096))
    sizes = _sizes(4096, 32)
    assert S.trend_test(v, sizes).pvalue <= 1e-6
    assert S.median_runs_test(v, sizes).pvalue <= 1e-6
    assert S.window_drift_test(S.decile_codes(v), sizes).pvalue <= 1e-6


def test_random_batches_sorted_inside_are_clean():
    rng = np.random.default_rng(9)
    n, b = 8192, 32
    x = _epoch(rng, n, np.full(10, 0.1))
    x = np.sort(x.reshape(-1, b), axis=1).ravel()
    sizes = _sizes(n, b)
    for name, test in CATEGORICAL.items():
        assert test(x, sizes).pvalue > 1e-3, name
    v = np.sort(rng.normal(size=n).reshape(-1, b), axis=1).ravel()
    assert S.trend_test(v, sizes).pvalue > 1e-3
    assert S.median_runs_test(v, sizes).pvalue > 1e-3

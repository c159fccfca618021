"""Statistics and p-values vs independent references (exact laws, scipy, hand-worked examples,
brute-force permutation p-values)."""

from __future__ import annotations

from math import comb

import numpy as np
from brute_force import distinct_permutations
import pytest
from scipy import stats as sps

import loadercheck.stats as S
from loadercheck.stats.batch import batch_rows
from loadercheck.stats.permutation import monte_carlo_outcome
from loadercheck.stats.runs import runs_rows


def ww_pmf(r: int, n1: int, n2: int) -> float:
    """Wald & Wolfowitz (1940) exact law of the number of runs R, from the combinatorial formula."""
    total = comb(n1 + n2, n1)
    s = r // 2
    if r % 2 == 0:
        return 2 * comb(n1 - 1, s - 1) * comb(n2 - 1, s - 1) / total
    return (comb(n1 - 1, s) * comb(n2 - 1, s - 1) + comb(n1 - 1, s - 1) * comb(n2 - 1, s)) / total


@pytest.mark.parametrize("n1, n2, seed", [(12, 8, 0), (30, 3, 1), (50, 50, 2), (95, 5, 3)])
def test_two_class_runs_test_is_the_exact_wald_wolfowitz_law(n1, n2, seed):
    rng = np.random.default_rng(seed)
    for trial in range(5):
        x = rng.permutation(np.r_[np.zeros(n1, int), np.ones(n2, int)])
        if trial == 0:
            x = np.sort(x)
        res = S.runs_test(x, np.ones(x.size, int))
        runs = 1 + int(np.count_nonzero(x[1:] != x[:-1]))
        expected = sum(ww_pmf(r, n1, n2) for r in range(2, runs + 1))
        assert res.statistic == x.size - runs
        assert res.pvalue == pytest.approx(max(expected, 1e-300), rel=1e-9)
        assert "Wald-Wolfowitz" in res.method
        # Wald-Wolfowitz moments of R
        mean_r = 1 + 2 * n1 * n2 / (n1 + n2)
        var_r = 2 * n1 * n2 * (2 * n1 * n2 - n1 - n2) / ((n1 + n2) ** 2 * (n1 + n2 - 1))
        assert res.details["expected_runs"] == pytest.approx(mean_r)
        assert res.details["sd"] == pytest.approx(np.sqrt(var_r))


def test_ww_exact_law_against_enumeration():
    x = np.array([0] * 5 + [1] * 4)
    perms = distinct_permutations(x)
    runs = 1 + (perms[:, 1:] != perms[:, :-1]).sum(1)
    for r in range(2, 10):
        assert np.mean(runs == r) == pytest.approx(ww_pmf(r, 5, 4))


@pytest.mark.parametrize("counts", [[10, 7, 3], [5, 5, 5, 5], [40, 2, 2, 1, 1]])
def test_k_category_runs_moments_are_barton_david(counts):
    n = sum(counts)
    x = np.repeat(np.arange(len(counts)), counts)
    res = S.runs_test(np.random.default_rng(0).permutation(x), np.ones(n, int))
    s2 = sum(c * c for c in counts)
    s3 = sum(c**3 for c in counts)
    mean_r = (n * (n + 1) - s2) / n
    var_r = (s2 * (s2 + n * (n + 1)) - 2 * n * s3 - n**3) / (n * n * (n - 1))
    assert res.details["expected_runs"] == pytest.approx(mean_r)
    assert res.details["sd"] == pytest.approx(np.sqrt(var_r))


def test_holm_hand_worked_example():
    # p sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06 after monotone max), 0.5 (x1)
    p = [0.03, 0.5, 0.01, 0.02]
    assert S.holm(p).tolist() == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert S.holm([0.9, 0.8]).tolist() == pytest.approx([1.0, 1.0])
    assert S.holm([]).size == 0


def test_holm_rejects_bad_input():
    with pytest.raises(ValueError, match=r"pvalues must lie in \[0, 1\]"):
        S.holm([0.1, 1.5])


def test_trend_without_batches_is_spearman():
    rng = np.random.default_rng(5)
    for values in (rng.normal(size=500), rng.poisson(2.0, size=700).astype(float)):
        values = values + np.linspace(0, 0.3, values.size)
        res = S.trend_test(values, np.ones(values.size, int))
        ref = sps.spearmanr(np.arange(values.size), values)
        assert res.statistic == pytest.approx(ref.statistic, rel=1e-10)
        assert res.details["z"] == pytest.approx(ref.statistic * np.sqrt(values.size - 1))
        assert res.pvalue == pytest.approx(2 * sps.norm.sf(abs(res.details["z"])))


def test_single_class_prefix_pvalue_exact():
    # 3 classes of 4, 2 draws: P(same class) = 3 * C(4,2) / C(12,2) = 18/66
    assert S.single_class_prefix_pvalue(2, [4, 4, 4]) == pytest.approx(18 / 66)
    assert S.single_class_prefix_pvalue(5, [4, 4, 4]) < 1e-300
    assert S.single_class_prefix_pvalue(1, [4, 4]) == 1.0
    big = S.single_class_prefix_pvalue(16_000, [6000] * 10 + [50_000])
    assert big == pytest.approx(np.exp(sps.hypergeom.logpmf(16_000, 110_000, 50_000, 16_000)), rel=1e-6)


def test_class_balance():
    info = S.class_balance(np.array([0, 0, 0, 1, 2, 2]), 4)
    assert info["shares"].tolist() == pytest.approx([0.5, 1 / 6, 1 / 3, 0.0])
    assert info["imbalance_ratio"] == 3.0
    assert info["observed_classes"] == 3
    assert info["effective_classes"] == pytest.approx(np.exp(-(0.5 * np.log(0.5) + np.log(1 / 6) / 6 + np.log(1 / 3) / 3)))
    with pytest.raises(ValueError, match="k=2"):
        S.class_balance(np.array([0, 3]), 2)


def test_expected_entropy_and_classes_match_enumeration():
    from loadercheck.stats.batch import expected_batch_classes, expected_batch_entropy

    x = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    b = 3
    perms = distinct_permutations(x)
    first = perms[:, :b]
    ent, ncls = [], []
    for row in first:
        c = np.bincount(row)
        c = c[c > 0] / b
        ent.append(-(c * np.log(c)).sum())
        ncls.append(c.size)
    assert expected_batch_entropy(np.bincount(x), b) == pytest.approx(np.mean(ent))
    assert expected_batch_classes(np.bincount(x), b) == pytest.approx(np.mean(ncls))


def _exact_pvalue(x, sizes, stat_rows):
    perms = distinct_permutations(x)
    values = stat_rows(perms)
    observed = stat_rows(x[None, :])[0]
    return float(np.mean(values >= observed - 1e-9))


SMALL = [
    (np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]), [3, 3, 3]),
    (np.array([0, 0, 1, 0, 1, 1, 2, 2, 1]), [2, 2, 2, 2, 1]),
    (np.array([0, 0, 0, 0, 0, 1, 1, 1, 1]), [1] * 9),
    (np.array([1, 1, 0, 0, 0, 0, 0, 0, 0]), [2, 2, 2, 3]),
]


@pytest.mark.parametrize("x, sizes", SMALL)
def test_monte_carlo_net_agrees_with_exact_enumeration(x, sizes):
    sizes = np.array(sizes)
    k = int(x.max()) + 1
    for stat in (lambda rows: runs_rows(rows, sizes, k),):
        exact = _exact_pvalue(x, sizes, stat)
        runs = [
            monte_carlo_outcome(lambda xx, ss: stat, x, sizes, rng=np.random.default_rng(seed), max_perms=20_000,
                                max_labels=100)[0]
            for seed in range(40)
        ]
        # every permutation drawn (no level to stop at): the 99% interval for the exact p-value
        # covers it, and the anytime-valid p-value sits above it (about 2x: gamma = 1/2), never far
        covered = [r.details()["mc_p_low"] <= exact <= r.details()["mc_p_high"] for r in runs]
        assert np.mean(covered) >= 0.9
        ps = np.array([r.pvalue for r in runs])
        assert exact * 0.9 <= np.median(ps) <= exact * 2.5


def test_fast_tails_agree_with_permutation_pvalues_on_small_streams():
    """The fast tails are within a factor 4 of a 20k-permutation p-value where p is 2e-3..1e-1
    (documented accuracy on streams of a few hundred labels)."""
    rng = np.random.default_rng(2)
    cases = 0
    for trial in range(60):
        k = [2, 4, 10][trial % 3]
        b = [1, 4, 16][(trial // 3) % 3]
        n = 256
        x = rng.integers(0, k, n)
        # plant mild clustering: sort a short random stretch
        lo = int(rng.integers(0, n - 48))
        length = int(rng.integers(4, 40))
        x[lo : lo + length] = np.sort(x[lo : lo + length])
        sizes = np.full(n // b, b)
        for name, fn, rows in (
            ("runs", S.runs_test, lambda r: runs_rows(r, sizes, k)),
            ("batch", S.batch_homogeneity_test, None),
        ):
            if name == "batch":
                if b == 1:
                    continue
                counts = np.bincount(x, minlength=k).astype(float)
                inv = np.where(counts > 0, 1 / np.maximum(counts, 1), 0)
                rows = lambda r, inv=inv: batch_rows(r, sizes, k, inv)  # noqa: E731
            res = fn(x, sizes)
            if not 2e-3 <= res.pvalue <= 0.1 or cases >= 8:
                continue
            perms = rng.permuted(np.broadcast_to(x, (20_000, n)), axis=1)
            obs = rows(x[None, :])[0]
            p_perm = (1 + np.sum(rows(perms) >= obs - 1e-9)) / 20_001
            assert 0.25 <= res.pvalue / p_perm <= 4, (name, k, b, res.pvalue, p_perm)
            cases += 1
    assert cases >= 3

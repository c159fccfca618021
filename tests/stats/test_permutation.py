"""The permutation safety net: which regime decides, and the Monte Carlo p-value's validity."""

import numpy as np
import pytest

from loadercheck.stats.permutation import CHEAP_NET_COST, NET_BAND, monte_carlo_pvalue, net_pvalue, safety_net


def _adjacent_matches(x: np.ndarray, sizes: np.ndarray):
    """Row statistic: adjacent equal labels (order inside the stream matters; batches of 1)."""
    return lambda rows: (rows[:, 1:] == rows[:, :-1]).sum(axis=1).astype(float)


def _net(fast_p, labels, *, cantelli_p=0.5, seed=0, mc_below=1e-3, perms=999):
    """The net on batches of one, permuting at most 4,096 labels."""
    sizes = np.ones(labels.size, dtype=np.int64)
    return safety_net(fast_p, "fast", cantelli_p, _adjacent_matches, labels, sizes,
                      rng=np.random.default_rng(seed), mc_below=mc_below, mc_max_perms=perms, mc_max_labels=4096)


CLEAN = np.random.default_rng(1).integers(0, 4, 400)
SORTED = np.sort(CLEAN)


def test_above_the_threshold_the_fast_p_value_stands_without_permutations():
    out = _net(0.2, CLEAN)
    assert out.pvalue == 0.2 and out.method == "fast" and out.details == {}


def test_on_short_prefixes_even_a_tiny_fast_p_value_is_checked_by_permutations():
    # a gross tail failure (a clean stream with fast p = 1e-10) is caught where permutations are cheap
    out = _net(1e-10, CLEAN)
    assert out.details["mc_perms"] > 0 and out.pvalue > 1e-2


def test_in_the_band_the_permutations_decide():
    # a clean stream whose fast tail claimed significance: the net overrules it
    clean = _net(5e-4, CLEAN)
    assert clean.details["mc_perms"] > 0 and clean.pvalue > 1e-2
    # a sorted stream: every permutation falls short, p = 2 (1 + 0) / (1 + B)
    ordered = _net(5e-4, SORTED)
    assert ordered.details["mc_perms"] == 999 and ordered.pvalue == pytest.approx(2 / 1000)


def test_a_tiny_cantelli_bound_skips_the_permutations():
    out = _net(5e-4, SORTED, cantelli_p=1e-6)
    assert out.pvalue == pytest.approx(1e-6) and out.details["mc_perms"] == 0.0


def test_monte_carlo_p_value_is_valid_on_clean_streams():
    """Besag-Clifford p on exchangeable streams: P(p <= q) <= q at every level checked."""
    sizes = np.ones(200, dtype=np.int64)
    pvalues = []
    for seed in range(400):
        rng = np.random.default_rng([7, seed])
        x = rng.integers(0, 3, 200)
        p, used, n = monte_carlo_pvalue(_adjacent_matches, x, sizes, rng=rng, max_perms=199, max_labels=200)
        assert n == 200 and 1 <= used <= 199
        pvalues.append(p)
    pvalues = np.array(pvalues)
    for q in (0.05, 0.1, 0.25, 0.5):
        # binomial slack: 400 draws, 3 standard deviations
        assert np.mean(pvalues <= q) <= q + 3 * np.sqrt(q * (1 - q) / 400), q
    assert pvalues.min() >= 1 / 200


def test_on_long_prefixes_far_below_the_threshold_the_fast_p_value_stands():
    long_sorted = np.sort(np.random.default_rng(2).integers(0, 4, 4096))
    assert 4096 * 16_000 > CHEAP_NET_COST
    fast = 0.5 * NET_BAND * 1e-3
    out = _net(fast, long_sorted, perms=16_000)
    assert out.pvalue == fast and "net not needed" in out.method


def test_net_pvalue_allows_one_exceedance_where_bonferroni_allowed_none():
    b = 15_999
    c0 = 1 / (1 + b)
    assert net_pvalue(0.5, 1 * c0, b) == pytest.approx(2 * c0)  # G = 0: as 2 min(C, p_mc)
    assert net_pvalue(0.5, 2 * c0, b) == pytest.approx(3 * c0)  # G = 1: 2 min(C, p_mc) gave 4 c0
    assert net_pvalue(c0 / 10, None, b) == pytest.approx(c0 / 10)  # Cantelli alone below c0
    with pytest.raises(ValueError, match="Monte Carlo p-value is needed"):
        net_pvalue(0.5, None, b)


def test_net_pvalue_is_valid_when_both_parts_are():
    """P(p <= t) <= t at every level, for a Cantelli bound and a Monte Carlo p-value that are each
    valid (here: a uniform bound, the worst valid case, and exact Monte Carlo p-values of a
    uniform permutation p-value), even when they are dependent (the same underlying statistic)."""
    rng = np.random.default_rng(11)
    perms, draws = 99, 400_000
    c0 = 1 / (1 + perms)
    u = rng.random(draws)  # the statistic's true permutation p-value
    g = rng.binomial(perms, u)  # exceedances among `perms` permutations
    p_mc = (1 + g) / (1 + perms)
    for cantelli in (u, rng.random(draws)):  # dependent on the statistic, and independent
        p = np.array([net_pvalue(c, m, perms) for c, m in zip(cantelli[:40_000], p_mc[:40_000])])
        for t in (c0, 2 * c0, 3 * c0, 0.05, 0.1, 0.3):
            assert np.mean(p <= t + 1e-12) <= t + 3 * np.sqrt(t / 40_000), t

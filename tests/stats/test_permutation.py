"""The permutation safety net: which regime decides, and the Monte Carlo p-value's validity."""

import numpy as np
import pytest

from loadercheck.stats.permutation import (
    CANTELLI_SHARE,
    CHEAP_NET_COST,
    GAMMA,
    NET_BAND,
    NET_BUDGET,
    NEAR_BUDGET,
    PERM_OVERHEAD,
    anytime_pvalue,
    monte_carlo_pvalue,
    net_batches,
    net_pvalue,
    net_size,
    p_interval,
    perms_to_certify,
    resolving_perms,
    safety_net,
    sequential_pvalue,
)


def _adjacent_matches(x: np.ndarray, sizes: np.ndarray):
    """Row statistic: adjacent equal labels (order inside the stream matters; batches of 1)."""
    return lambda rows: (rows[:, 1:] == rows[:, :-1]).sum(axis=1).astype(float)


def _net(fast_p, labels, *, cantelli_p=0.5, seed=0, mc_below=1e-3, perms=999, budget=None):
    """The net on batches of one, permuting at most 4,096 labels."""
    sizes = np.ones(labels.size, dtype=np.int64)
    return safety_net(fast_p, "fast", cantelli_p, _adjacent_matches, labels, sizes,
                      rng=np.random.default_rng(seed), mc_below=mc_below, mc_max_perms=perms, mc_max_labels=4096,
                      mc_budget=budget)


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
    # a sorted stream: every permutation falls short; a budget of 999 cannot certify 5e-4 (1,386
    # needed), so the net stops at it, unsettled, with p = about 1.39 / 1000 plus Cantelli's share
    ordered = _net(5e-4, SORTED, budget=999)
    assert ordered.details["mc_perms"] == 999 and ordered.details["mc_settled"] == 0.0
    assert ordered.pvalue == pytest.approx((1 - (1 - GAMMA) ** (1 / 1000)) / GAMMA + CANTELLI_SHARE * 1e-3, rel=1e-6)
    assert ordered.details["mc_exceedances"] == 0 and ordered.details["mc_p_high"] < 6e-3
    # with permutations enough it stops as soon as the level is certified
    certified = _net(5e-4, SORTED, perms=5000)
    assert certified.details["mc_settled"] == 1.0 and certified.pvalue <= 5e-4
    assert certified.details["mc_perms"] <= perms_to_certify(5e-4 - CANTELLI_SHARE * 1e-3) + 1024


def _rare_rows(threshold: int):
    """A statistic on 400 labels whose permuted rows reach the observed value with a small fixed
    probability (a hash of the row below ``threshold`` of 1e9), whatever the data."""
    def factory(x, sizes):
        def stat(rows):
            if rows.shape[0] == 1 and np.array_equal(rows[0], x):
                return np.array([1.0])
            u = (rows.astype(np.uint64) * np.arange(1, 401, dtype=np.uint64) ** 3).sum(axis=1) % np.uint64(10**9)
            return (u < threshold).astype(float)
        return stat
    return factory


def test_a_net_on_few_labels_draws_past_its_nominal_size_to_resolve_a_p_value_near_its_level():
    """400 labels: a net of nominal size 4,300 (1.5x what certifies 5e-4, so only ``resolving_perms``
    can lift it) may draw up to 5x while its p-value is near its level and can still reach it."""
    assert resolving_perms(999, 400) == 5 * 999
    assert resolving_perms(9541, 256) == NEAR_BUDGET // (256 + PERM_OVERHEAD) < 5 * 9541
    assert resolving_perms(9541, 2048) == 9541 and resolving_perms(9541, 4096) == 9541
    sizes = np.ones(400, dtype=np.int64)
    outs = [safety_net(5e-4, "fast", 0.5, _rare_rows(4 * 10**5), CLEAN, sizes, rng=np.random.default_rng(seed),
                       mc_below=1e-3, mc_max_perms=4300, mc_max_labels=4096) for seed in range(12)]
    past = [o for o in outs if o.details["mc_perms"] > 4300]
    assert past and any(o.pvalue <= 5e-4 for o in past)  # rejected after its nominal size
    assert all(o.details["mc_perms"] <= resolving_perms(4300, 400) for o in outs)


def test_past_its_nominal_size_a_net_stops_once_its_level_is_out_of_reach():
    """``resolve_from``: the permutations beyond it are drawn only while ``reject_at`` can still be
    reached within ``max_perms``; before it the run goes on as ever (here: to its budget)."""
    rng = np.random.default_rng(0)
    run = {}
    for resolve_from in (None, 100):
        run[resolve_from] = sequential_pvalue(lambda r: rng.random(r) < 0.05, max_perms=10_000, reject_at=1e-3,
                                              accept_above=1.0, resolve_from=resolve_from)
    assert run[None].perms == 10_000 and run[None].stop == "budget"
    assert run[100].stop == "budget" and 100 <= run[100].perms < 1_000
    assert anytime_pvalue(run[100].exceedances, 10_000) > 1e-3


def test_a_net_asked_for_a_level_below_its_nominal_one_draws_what_certifies_it():
    """A check of weight 0.5 in Holm's procedure asks its net for half the level the net was sized for:
    on 4,096 labels (where the extra permutations for few labels stop at 3,971) it may still draw 1.5x
    what certifies it."""
    x = np.sort(np.random.default_rng(2).integers(0, 4, 4096))
    out = safety_net(5e-4, "fast", 0.5, _adjacent_matches, x, np.ones(x.size, dtype=np.int64),
                     rng=np.random.default_rng(0), mc_below=1e-3, mc_max_perms=999, mc_max_labels=4096, reject_at=3e-4)
    assert out.details["mc_settled"] == 1.0 and out.pvalue <= 3e-4
    assert out.details["mc_perms"] > resolving_perms(999, 4096) == 3971  # 4,877 needed


def test_a_tiny_cantelli_bound_skips_the_permutations():
    out = _net(5e-4, SORTED, cantelli_p=1e-6)  # below its share of the level, 1e-3 / 64
    assert out.pvalue == pytest.approx(1e-6) and out.details["mc_perms"] == 0.0


def test_with_no_permutations_left_only_what_needs_none_stands():
    """``mc_budget=0``: Cantelli's bound within its share decides as ever; above it, it is the p-value
    (valid on its own, unsettled), where one permutation used to be drawn."""
    sizes = np.ones(SORTED.size, dtype=np.int64)

    def net(cantelli_p):
        return safety_net(5e-4, "fast", cantelli_p, _adjacent_matches, SORTED, sizes, rng=np.random.default_rng(0),
                          mc_below=1e-3, mc_max_perms=999, mc_max_labels=4096, mc_budget=0)

    bound = net(1e-6)
    assert bound.pvalue == pytest.approx(1e-6) and bound.details == {"mc_perms": 0.0}
    none_left = net(0.3)
    assert none_left.pvalue == 0.3 and none_left.details["mc_perms"] == 0.0 and none_left.details["mc_settled"] == 0.0
    assert (none_left.details["mc_p_low"], none_left.details["mc_p_high"]) == (0.0, 1.0)


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


def test_net_pvalue_allows_one_exceedance_where_bonferroni_allowed_none():  # the forensics' combination
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


# ------------------------------------------------------------------ the anytime-valid sequential p-value
def _exceedance_paths(streams: int, perms: int, seed: int) -> np.ndarray:
    """Exceedance counts G_l (l = 1..perms) of clean streams: p* uniform, then i.i.d. Bernoulli(p*)."""
    rng = np.random.default_rng(seed)
    p_star = rng.random(streams)[:, None]
    return np.cumsum(rng.random((streams, perms)) < p_star, axis=1)


def _reject_rate(pvalue_of, levels, streams=4000, perms=400, seed=5):
    """Share of clean streams whose p-value goes <= each level at *some* permutation count: the
    most aggressive stopping rule there is (stop as soon as the p-value looks significant)."""
    g = _exceedance_paths(streams, perms, seed)
    l = np.arange(1, perms + 1)[None, :]
    running_min = np.minimum.accumulate(pvalue_of(g, l), axis=1)[:, -1]
    return {u: float(np.mean(running_min <= u)) for u in levels}


def test_the_anytime_p_value_stays_valid_when_the_permutations_stop_at_will():
    """Ville's inequality: P(some l has p_l <= u) <= u, whatever rule stops the permutations."""
    rates = _reject_rate(anytime_pvalue, (0.01, 0.02, 0.05, 0.1))
    for u, rate in rates.items():
        assert rate <= u + 3 * np.sqrt(u / 4000), (u, rate)
    # and it is not a dead test: it does reject clean streams, at a sizeable share of the level
    assert rates[0.05] >= 0.25 * 0.05


def test_the_classic_p_value_is_not_valid_under_optional_stopping():
    """The two-sided counterpart: (1 + G) / (1 + l), valid for a fixed l, rejects clean streams far
    beyond its level when the permutations stop once it looks significant; the sequential net
    therefore reports the anytime p-value."""
    rates = _reject_rate(lambda g, l: (1.0 + g) / (1.0 + l), (0.05, 0.1))
    assert rates[0.05] > 1.5 * 0.05 and rates[0.1] > 1.5 * 0.1


def test_with_no_exceedance_the_anytime_p_value_is_the_classic_one_times_a_constant():
    l = np.array([9, 99, 999, 9999])
    expected = (1 - (1 - GAMMA) ** (1 / (l + 1))) / GAMMA  # about -ln(1 - gamma) / (gamma (l + 1))
    assert np.allclose(anytime_pvalue(np.zeros(4), l), expected, rtol=1e-9)
    assert perms_to_certify(1e-3) == pytest.approx(1386, abs=2)
    # exceedances only ever raise it
    assert np.all(np.diff(anytime_pvalue(np.arange(5), np.full(5, 1000))) > 0)


def test_sequential_pvalue_stops_as_soon_as_the_decision_is_settled():
    rng = np.random.default_rng(3)
    clean = sequential_pvalue(lambda r: rng.random(r) < 0.4, max_perms=100_000, reject_at=2.5e-4,
                              accept_above=1e-3)
    assert clean.stop == "accept" and clean.perms <= 64 and clean.pvalue > 0.1
    gross = sequential_pvalue(lambda r: np.zeros(r, bool), max_perms=100_000, reject_at=2.5e-4, accept_above=1e-3)
    assert gross.stop == "reject" and gross.pvalue <= 2.5e-4
    assert perms_to_certify(2.5e-4) <= gross.perms <= perms_to_certify(2.5e-4) + 1024
    # near the threshold it spends its budget and says it is unsettled
    near = sequential_pvalue(lambda r: rng.random(r) < 1.5e-4, max_perms=5000, reject_at=2.5e-4, accept_above=1e-3)
    assert near.stop == "budget" and not near.settled and near.perms == 5000
    d = near.details()
    assert d["mc_settled"] == 0.0 and d["mc_p_low"] <= 1.5e-4 <= d["mc_p_high"]


def test_p_interval_covers_the_exceedance_rate():
    lo, hi = p_interval(3, 10_000)
    assert 0 < lo < 3e-4 < hi < 1.5e-3
    assert p_interval(0, 1000)[0] == 0.0 and p_interval(0, 0) == (0.0, 1.0)


def test_net_size_depends_on_the_level_only_and_can_certify_it():
    perms, labels = net_size(2.25e-4)
    assert perms >= perms_to_certify(2.25e-4 - CANTELLI_SHARE * 4.5e-4)
    assert 1024 <= labels <= 16384 and labels * perms_to_certify(2.25e-4) <= NET_BUDGET + perms
    assert labels >= 4096  # a default stream of 4,096 labels is permuted whole
    tiny_perms, tiny_labels = net_size(2.25e-6)  # a guard's early look at alpha 1e-5
    assert tiny_labels == 1024 and tiny_perms > 100 * perms / 2


def test_net_batches_spread_over_the_stream():
    sizes = np.full(512, 32)
    keep = net_batches(sizes, 4096, 16)
    assert keep[0] == 0 and np.all(np.diff(keep) == 4) and sizes[keep].sum() <= 4096
    assert keep[-1] >= 500  # the whole stream, not a prefix
    assert np.array_equal(net_batches(sizes, 1 << 20), np.arange(512))
    # a stride never leaves fewer than min_batches
    assert net_batches(np.full(64, 256), 2048, 16).size >= 16

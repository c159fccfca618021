"""window-drift's sorted-order component: exact moments, a valid floor, calibration and power."""

import numpy as np
import pytest

from loadercheck import stats as S
from loadercheck import synthetic as syn
from loadercheck.stats.drift import _Sorted
from loadercheck.stats.tails import satterthwaite_sf


def _permuted(x, reps, seed):
    return np.random.default_rng(seed).permuted(np.broadcast_to(x, (reps, x.size)), axis=1)


@pytest.mark.parametrize("sizes, counts", [
    (np.full(40, 8), np.array([100, 60, 0, 120, 40])),        # an empty class between others
    (np.array([1, 2, 50, 3, 4, 60, 80]), np.array([30, 0, 40, 100, 0, 30])),  # ragged batches
    (np.full(32, 32), np.array([973, 51])),                   # 95/5
])
def test_exact_mean_and_variance_match_permutations(sizes, counts):
    x = np.repeat(np.arange(counts.size), counts)
    in_order = _Sorted(sizes, counts)
    for got, var in zip(in_order.statistics(_permuted(x, 200_000, 1)), in_order.var):
        se_mean = np.sqrt(var / got.size)
        assert abs(got.mean() - in_order.mean) < 5 * se_mean
        assert got.var() == pytest.approx(var, rel=0.02)


def test_the_nets_batch_tables_give_the_same_statistic():
    rng = np.random.default_rng(8)
    sizes = np.r_[np.full(20, 16), 9]
    x = rng.integers(0, 6, int(sizes.sum()))
    in_order = _Sorted(sizes, np.bincount(x))
    rows = _permuted(x, 5, 2)
    batch = np.repeat(np.arange(sizes.size), sizes)
    tables = np.stack([np.bincount(batch * 6 + r, minlength=sizes.size * 6).reshape(sizes.size, 6) for r in rows])
    for a, b in zip(in_order.from_tables(tables), in_order.statistics(rows)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("blur", [False, True])
def test_the_floor_bounds_every_arrangement_and_is_tight_for_a_majority_class(blur):
    """95/5, sharp blocks: L = 926 + 2 Y (Y: the rare class inside its own block), so the floor is 926
    and reached; blurred blocks: the floor is reached too (the rare class kept out of its blurred block)."""
    counts = np.array([975, 49])
    sizes = np.full(32, 32)
    x = np.repeat([0, 1], counts)
    in_order = _Sorted(sizes, counts, blur=blur)
    assert (in_order.reach > 0) == blur
    up, down = in_order.statistics(_permuted(x, 20_000, 3))
    if not blur:
        assert in_order.floor[0] == pytest.approx(926.0) and in_order.floor[1] == pytest.approx(926.0)
    assert up.min() >= in_order.floor[0] - 1e-9 and down.min() >= in_order.floor[1] - 1e-9
    assert up.min() == pytest.approx(in_order.floor[0])  # Y = 0 happens (P ~ 0.1 sharp, ~ 0.2 blurred)
    balanced = _Sorted(sizes, np.array([512, 512]), blur=blur)
    reversed_up = balanced.statistics(np.repeat([1, 0], 512))[0]  # sorted the other way: the least L
    assert balanced.floor[0] == pytest.approx(float(reversed_up))
    assert (balanced.floor == (0.0, 0.0)) != blur  # sharp: every class has room outside its block


@pytest.mark.parametrize("shares, n, b, blur", [
    (syn.uniform_shares(10), 1024, 32, True),
    (syn.uniform_shares(10), 1024, 32, False),
    (np.array([0.95, 0.05]), 1024, 32, True),  # sharp: anti-conservative (5x at 1e-3) with the tail from 0
    (syn.zipf_shares(100, 1.5), 1024, 2, True),
    (syn.uniform_shares(1000), 16384, 256, True),
])
def test_fast_tail_is_calibrated_on_clean_streams(shares, n, b, blur):
    """Both ways: at most 1.5x and at least 0.2x the nominal rate at 1e-2, never far above at 1e-3."""
    x = syn.shuffled(n, shares, np.random.default_rng(4), replace=True)
    in_order = _Sorted(np.full(n // b, b), np.bincount(x), blur=blur)
    assert in_order.regular
    reps = 40_000 if n <= 1024 else 6_000
    ps = np.concatenate([satterthwaite_sf(v, in_order.mean, var, floor)
                         for v, var, floor in zip(in_order.statistics(_permuted(x, reps, 5)), in_order.var, in_order.floor)])
    rate2, rate3 = np.mean(ps <= 1e-2), np.mean(ps <= 1e-3)
    assert 0.2e-2 <= rate2 <= 1.5e-2
    assert rate3 <= 2e-3


def test_a_few_samples_carrying_the_positions_sit_out():
    """A batch of 10,000 after 16 single samples, 5 of one class: one placement moves L by 20 sd."""
    sizes = np.r_[np.ones(16, dtype=int), 10_000]
    x = np.zeros(int(sizes.sum()), dtype=int)
    x[:5] = 1
    r = S.window_drift_test(x, sizes)
    assert not _Sorted(sizes, np.bincount(x)).regular
    assert r.details["sorted_pvalue"] == 1.0 and r.details["sorted"] == 0.0


@pytest.mark.parametrize("descending", [False, True])
def test_finds_a_faint_partial_sort_the_windows_miss(descending):
    """5% of 4,096 positions sorted among themselves (STATS.md psort 0.05): the windows flagged 0.28
    of such streams; the sorted order flags them, in the direction they were sorted."""
    found = 0
    for seed in range(10):
        x = syn.partial_sort(4096, syn.uniform_shares(10), 0.05, np.random.default_rng(seed))
        x = (9 - x) if descending else x
        # at about the battery's lowest Holm level (the net certifies p <= the level, no further)
        r = S.window_drift_test(x, np.full(128, 32), rng=np.random.default_rng(0), mc_below=2e-4)
        if r.pvalue <= 2e-4 and r.details["sorted"] == 1.0:
            found += 1
            assert r.details["sorted_descending"] == float(descending)
            assert r.details["sorted_rate"] > r.details["sorted_expected_rate"]
    assert found >= 8


def test_a_clean_stream_is_not_called_sorted():
    flagged = 0
    for seed in range(200):
        x = syn.shuffled(2048, syn.uniform_shares(10), np.random.default_rng(seed))
        flagged += S.window_drift_test(x, np.full(64, 32)).details["sorted_pvalue"] <= 0.01
    assert 0 < flagged <= 6  # about 2 expected at 1e-2: never 0 (a test that cannot reject fails too)


def test_check_says_the_feed_is_partly_sorted():
    """End to end: the window-drift finding names the sorted order and its direction."""
    import loadercheck

    x = 9 - syn.partial_sort(4096, syn.uniform_shares(10), 0.05, np.random.default_rng(3))
    batches = [(np.zeros((32, 1)), x[i:i + 32]) for i in range(0, x.size, 32)]
    result = loadercheck.check(batches)["window-drift"]
    assert str(result.status) == "warn"  # a faint sort: significant, below the effect that fails
    assert "partly in sorted order" in result.message and "(descending)" in result.message


def test_short_streams_are_tested_by_the_trend_and_the_sorted_order():
    """4-15 batches (a guard's early looks, a small CI prefix): no window scale fits, the trend and
    the sorted order still run. Clean streams: about the nominal rate at 5%, both ways."""
    rejected = 0
    for seed in range(300):
        x = syn.shuffled(256, syn.uniform_shares(10), np.random.default_rng(seed))
        r = S.window_drift_test(x, np.full(8, 32))
        assert r.details["scales"] == 0.0 and r.details["window"] == 64.0  # effect read at 4 windows
        rejected += r.pvalue <= 0.05
    assert 3 <= rejected <= 30  # 15 expected if exact; Bonferroni over 3 parts makes it fewer


def test_a_buffer_half_the_stream_is_found_in_eight_batches():
    """A shuffle buffer of half the stream over class-sorted data (STATS.md buffer 0.5), 256 labels:
    8 batches of 32, where the windows cannot run."""
    found = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        x = syn.shuffle_buffer(syn.sorted_epoch(256, syn.uniform_shares(10)), 128, rng)
        found += S.window_drift_test(x, np.full(8, 32), rng=np.random.default_rng(0), mc_below=2e-4).pvalue <= 2e-4
    assert found >= 8


def test_overlaps_and_the_lookup_table_agree(monkeypatch):
    """Small (batch, class) grids read W from a table; large ones compute the overlaps: same L."""
    import loadercheck.stats.drift as drift

    rng = np.random.default_rng(9)
    sizes = np.r_[np.full(30, 7), 3, np.full(10, 11)]
    x = rng.integers(0, 13, int(sizes.sum()))
    rows = _permuted(x, 7, 4)
    by_table = _Sorted(sizes, np.bincount(x), blur=False).statistics(rows)  # the overlaps are sharp
    monkeypatch.setattr(drift, "LOOKUP_CELLS", 0)
    by_overlap = _Sorted(sizes, np.bincount(x)).statistics(rows)
    for a, b in zip(by_table, by_overlap):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ---------------------------------------------------------------------- the sorted trend (1 df)
def _ranked(sizes, x):
    from loadercheck.stats.drift import _RankTrend, _Trend

    trend = _Trend(sizes, np.bincount(x))
    return trend, _RankTrend(trend, np.bincount(x))


@pytest.mark.parametrize("shares, n, b", [
    (syn.uniform_shares(10), 256, 32),
    (np.array([0.95, 0.05]), 1024, 32),
    (syn.zipf_shares(100, 1.5), 1024, 2),
    (np.array([0.9, 0.1]), 512, 64),
])
def test_sorted_trend_moments_bounds_and_tail(shares, n, b):
    """Exact variance (mean 0), least and greatest values never crossed, and a fast tail at most
    1.5x and at least 0.2x nominal at 1e-2, not above 2x at 1e-3, both directions."""
    x = syn.shuffled(n, shares, np.random.default_rng(6), replace=True)
    sizes = np.full(n // b, b)
    trend, ranked = _ranked(sizes, x)
    assert ranked.regular
    r = trend.sums_of_rows(_permuted(x, 60_000, 7)) @ ranked.a
    assert abs(r.mean()) < 5 * np.sqrt(ranked.var / r.size)
    assert r.var() == pytest.approx(ranked.var, rel=0.03)
    assert r.min() >= ranked.low - 1e-9 and r.max() <= ranked.high + 1e-9
    ps = np.concatenate([satterthwaite_sf(r, 0.0, ranked.var, ranked.low),
                         satterthwaite_sf(-r, 0.0, ranked.var, -ranked.high)])
    assert 0.2e-2 <= np.mean(ps <= 1e-2) <= 1.5e-2
    assert np.mean(ps <= 1e-3) <= 2e-3


def test_sorted_trend_sits_out_where_a_few_samples_carry_the_positions():
    sizes = np.r_[np.ones(16, dtype=int), 10_000]
    x = np.zeros(int(sizes.sum()), dtype=int)
    x[:5] = 1
    assert not _ranked(sizes, x)[1].regular
    assert S.window_drift_test(x, sizes).details["rank_trend_pvalue"] == 1.0


def test_sorted_trend_finds_a_buffer_in_four_batches():
    """A shuffle buffer of half the stream over class-sorted data, 128 labels in 4 batches: each
    class is spread over the stream, but the labels still rise along it."""
    found, by_rank = 0, 0
    for seed in range(20):
        x = syn.shuffle_buffer(syn.sorted_epoch(128, syn.uniform_shares(10)), 64, np.random.default_rng(seed))
        r = S.window_drift_test(x, np.full(4, 32), rng=np.random.default_rng(0), mc_below=2.5e-4)
        found += r.pvalue <= 2.5e-4
        by_rank += r.details["rank_trend"] == 1.0 and r.details["rank_correlation"] > 0
    assert found >= 4 and by_rank >= 15


def test_check_says_labels_rise_along_the_stream():
    import loadercheck

    x = syn.shuffle_buffer(syn.sorted_epoch(256, syn.uniform_shares(10)), 128, np.random.default_rng(2))
    batches = [(np.zeros((32, 1)), x[i:i + 32]) for i in range(0, x.size, 32)]
    result = loadercheck.check(batches)["window-drift"]
    assert str(result.status) == "fail"
    assert "labels rise along it (rank correlation with position +0." in result.message


@pytest.mark.parametrize("fraction, n, margin", [(0.05, 3072, 7), (0.2, 384, 3)])
def test_blurred_stretches_find_partial_sorts_the_sharp_ones_miss(fraction, n, margin):
    """A partial sort's chosen samples land near their class's stretch, not in it (the chosen class
    counts move the boundaries by about a tenth of the stream where the sort becomes detectable):
    5% of 3,072 labels (found in 95 of 100 streams blurred, 85 sharp) and 20% of 384 (94, 89), the
    same streams read both ways."""
    found = {True: 0, False: 0}
    for seed in range(100):
        x = syn.partial_sort(n, syn.uniform_shares(10), fraction, np.random.default_rng(seed))
        for blur in (True, False):
            in_order = _Sorted(np.full(n // 32, 32), np.bincount(x), blur=blur)
            up = in_order.of_stream(x)[0]
            found[blur] += satterthwaite_sf(up, in_order.mean, in_order.var[0], in_order.floor[0]) <= 1e-4
    assert found[True] >= found[False] + margin, found


# ---------------------------------------------------------------------- the sorted staircase (net only)
def _lattice(table):
    """The classic longest monotone lattice path (right or down, one cell at a time)."""
    nb, k = table.shape
    best = np.zeros((nb, k))
    for j in range(nb):
        for c in range(k):
            best[j, c] = table[j, c] + max(best[j - 1, c] if j else 0, best[j, c - 1] if c else 0)
    return best[-1, -1]


def test_the_staircase_is_the_longest_monotone_path_both_ways():
    from loadercheck.stats.drift import _Staircase

    rng = np.random.default_rng(11)
    for _ in range(100):
        nb, k = int(rng.integers(1, 7)), int(rng.integers(2, 6))
        table = rng.integers(0, 5, (nb, k))
        stair = _Staircase.__new__(_Staircase)
        stair.k = k
        got = stair.from_tables(table[None].astype(float))[0]
        assert got == max(_lattice(table), _lattice(table[:, ::-1]))


def test_the_staircase_standardisation_depends_on_the_multiset_only():
    """The net's p-value is exact only if its statistic is a fixed function: the fit may read what a
    permutation keeps (the labels' multiset, the batch sizes), never their order."""
    from loadercheck.stats.drift import _Staircase

    x = syn.partial_sort(512, syn.uniform_shares(10), 0.5, np.random.default_rng(2))
    sizes = np.full(16, 32)
    a = _Staircase(x, sizes, 10)
    b = _Staircase(np.random.default_rng(3).permutation(x), sizes, 10)
    assert (a.mean, a.var, a.floor) == (b.mean, b.var, b.floor)
    rows = _permuted(x, 20_000, 4)
    tail = a.logsf(a.statistics(rows)) >= -np.log(1e-3)
    assert 0.2e-3 <= tail.mean() <= 3e-3  # the fit is near the permutation tail (it only weighs the net's max)


@pytest.mark.parametrize("make, n, margin", [
    (lambda n, r: syn.shuffle_buffer(syn.sorted_epoch(n, syn.uniform_shares(10)), n // 2, r), 128, 10),
    (lambda n, r: syn.partial_sort(n, syn.uniform_shares(10), 0.2, r), 256, 5),
])
def test_the_staircase_finds_short_sorted_streams(monkeypatch, make, n, margin):
    """At Holm's first level with the net, 60 streams each: a buffer of half the stream at 128 labels
    (4 batches) was found in 42 with the staircase and 25 without; a 20% partial sort at 256 in 55
    and 46."""
    import loadercheck.stats.drift as drift

    def found():
        hits = 0
        for seed in range(60):
            x = make(n, np.random.default_rng(seed))
            r = S.window_drift_test(x, np.full(n // 32, 32), rng=np.random.default_rng(0), mc_below=4.5e-4,
                                    reject_at=2.25e-4, accept_above=9e-4)
            hits += r.pvalue <= 2.25e-4
        return hits

    with_staircase = found()
    monkeypatch.setattr(drift, "STAIRCASE_MAX_BATCHES", 0)
    assert with_staircase >= found() + margin


def test_short_clean_streams_keep_their_level_with_the_staircase():
    """Two-sided, at 5% with the net on every stream (the staircase only exists inside it): 300 clean
    streams of 256 labels."""
    rejected = 0
    for seed in range(300):
        x = syn.shuffled(256, syn.uniform_shares(10), np.random.default_rng(seed))
        r = S.window_drift_test(x, np.full(8, 32), rng=np.random.default_rng(seed), mc_below=0.1,
                                reject_at=0.05, accept_above=0.1)
        assert r.details["wants_net"] == float(r.details["fast_pvalue"] <= 0.05)
        rejected += r.pvalue <= 0.05
    assert 3 <= rejected <= 27  # 15 expected at most; never 0 (a test that cannot reject fails too)

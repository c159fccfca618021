"""The sequential permutation net at the decision level: calibration (two-sided), power, seed
stability, cost, and the uncertainty it reports. Fixed seeds throughout."""

from __future__ import annotations

import time

import numpy as np
import pytest

from loadercheck import synthetic as syn
from loadercheck.checks import CATEGORICAL_CHECKS, run_checks
from loadercheck.options import Options
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Status, Stream

ORDER_IDS = [c.id for c in CATEGORICAL_CHECKS]
U10 = syn.uniform_shares(10)


def _stream(labels: np.ndarray, b: int) -> Stream:
    n = labels.size - labels.size % b
    classes, codes = np.unique(labels[:n], return_inverse=True)
    sizes = np.full(n // b, b, dtype=np.int64)
    return Stream((Epoch(codes.astype(np.int64), sizes),), LabelKind.CATEGORICAL, tuple(classes.tolist()),
                  LoaderInfo("synthetic"))


def _order(results) -> dict:
    return {r.id: r for r in results if r.id in ORDER_IDS}


def _flagged(results) -> bool:
    return any(r.status in (Status.WARN, Status.FAIL) for r in _order(results).values())


def test_clean_streams_flag_at_the_nominal_rate_with_the_net_deciding():
    """Two-sided: at alpha 0.05 (where the net decides often) the family-wise share of clean streams
    with a flagged order check stays at most 3x nominal, and is not zero (a dead net fails)."""
    rng = np.random.default_rng(2026)
    streams, flagged, netted = 480, 0, 0
    for i in range(streams):
        x = syn.shuffled(512, np.array([0.8, 0.15, 0.05]), rng) if i % 2 else syn.shuffled(512, U10, rng)
        results = run_checks(_stream(x, 4), Options(alpha=0.05, seed=i))
        flagged += _flagged(results)
        netted += any(r.details.get("mc_perms", 0) > 0 for r in _order(results).values())
    alpha_order = 0.05 * 0.9  # the order checks' share
    assert netted >= 10  # the net did decide on these streams
    assert flagged <= 3 * alpha_order * streams, flagged
    assert flagged >= 0.1 * alpha_order * streams, flagged  # about 0.2-0.4x nominal measured; a dead net: 0


def test_faint_defects_are_flagged_through_the_net():
    """Power where the fast tails sit in the net's band: a 20% partial sort of 1,024 labels."""
    hits = netted = 0
    for seed in range(12):
        x = syn.partial_sort(1024, U10, 0.2, np.random.default_rng([8, seed]))
        results = run_checks(_stream(x, 32), Options(seed=seed))
        hits += _flagged(results)
        netted += any(r.details.get("mc_perms", 0) > 0 for r in _order(results).values())
    assert netted >= 6 and hits >= 10, (netted, hits)


def test_verdicts_do_not_depend_on_the_seed_where_the_net_settled():
    """Five seeds, defective and clean streams: the statuses agree wherever every net settled."""
    makers = [lambda r: syn.partial_sort(4096, U10, 0.05, r), lambda r: syn.drifting_prior(4096, 10, 0.05, r),
              lambda r: syn.shuffled(4096, U10, r)]
    compared = 0
    for k, make in enumerate(makers):
        for s in range(3):
            stream = _stream(make(np.random.default_rng([9, k, s])), 32)
            runs = [_order(run_checks(stream, Options(seed=seed))) for seed in range(5)]
            settled = all(r.details.get("mc_settled", 1.0) == 1.0 for run in runs for r in run.values())
            if settled:
                compared += 1
                assert len({tuple(r[i].status for i in ORDER_IDS) for r in runs}) == 1
    assert compared >= 6


def test_verdicts_and_pvalues_do_not_depend_on_the_seed_at_the_threshold():
    """Borderline streams, where nets end unsettled or near their level: every check's status and
    p-value are the same under every seed (the nets are seeded by the stream they test)."""
    makers = [lambda r: syn.partial_sort(4096, U10, 0.05, r), lambda r: syn.drifting_prior(4096, 10, 0.05, r)]
    netted = 0
    for k, make in enumerate(makers):
        for s in range(3):
            stream = _stream(make(np.random.default_rng([11, k, s])), 32)
            runs = [run_checks(stream, Options(seed=seed)) for seed in (0, 1, 7)]
            netted += any(r.details.get("mc_perms", 0) > 0 for r in runs[0])
            assert len({tuple((r.id, r.status, r.pvalue) for r in run) for run in runs}) == 1
    assert netted >= 3  # the nets ran: their Monte Carlo is what could have moved


def test_a_nets_generator_is_a_function_of_its_data_and_check():
    from loadercheck.stats.permutation import data_rng

    x, sizes = np.arange(64) % 4, np.full(2, 32)
    draw = lambda *a, salt: data_rng(*a, salt=salt).integers(1 << 62, size=4).tolist()  # noqa: E731
    assert draw(x, sizes, salt="label-runs") == draw(x.copy(), sizes, salt="label-runs")
    assert draw(x, sizes, salt="label-runs") != draw(x, sizes, salt="batch-entropy")
    assert draw(x, sizes, salt="label-runs") != draw(x[::-1], sizes, salt="label-runs")
    assert draw(x, sizes, salt="label-runs") != draw(x.astype(np.int32), sizes, salt="label-runs")


def test_the_net_reports_its_remaining_uncertainty():
    x = syn.partial_sort(2048, U10, 0.1, np.random.default_rng(4))
    results = _order(run_checks(_stream(x, 32), Options(seed=0)))
    netted = [r for r in results.values() if r.details.get("mc_perms", 0) > 0]
    assert netted
    for r in netted:
        d = r.details
        assert {"mc_perms", "mc_pvalue", "mc_exceedances", "mc_p_low", "mc_p_high", "mc_settled",
                "mc_labels", "raw_pvalue", "fast_pvalue"} <= set(d)
        assert 0.0 <= d["mc_p_low"] <= d["mc_p_high"] <= 1.0 and d["mc_settled"] in (0.0, 1.0)


@pytest.mark.parametrize("make", ["clean", "sorted", "psort 0.5", "batchpure 0.5"])
def test_a_guards_early_looks_do_not_stall(make):
    """Tiny alphas on 2-16 batches (a guard's early looks): clean prefixes stop at once, defective
    ones within the stream's budget."""
    gen = {"clean": lambda n, r: syn.shuffled(n, U10, r), "sorted": lambda n, r: syn.sorted_epoch(n, U10),
           "psort 0.5": lambda n, r: syn.partial_sort(n, U10, 0.5, r),
           "batchpure 0.5": lambda n, r: syn.batch_purity(n, 10, 32, 0.5, r)}[make]
    worst = 0.0
    for batches in (2, 4, 16):
        for seed in range(2):
            stream = _stream(gen(32 * batches, np.random.default_rng(seed)), 32)
            t0 = time.perf_counter()
            run_checks(stream, Options(alpha=1e-5, seed=seed))
            worst = max(worst, time.perf_counter() - t0)
    limit = 0.25 if make == "clean" else 3.0  # generous: the test machine is shared
    assert worst < limit, worst


def _scripted_check(check_id: str, fast_p: float, net_p: float, calls: list[str], bound: float = 0.3,
                    cost: float = 1.0):
    """An order check whose fast p-value, net p-value and net cost per label are given (the decision
    logic alone)."""
    from loadercheck.checks import OrderCheck
    from loadercheck.results import TestResult

    def test(data, batch_sizes, *, rng, mc_below, mc_budget=None, **_):
        if rng is None:
            return TestResult(1.0, fast_p, 0.5, "fast tail", {"fast_pvalue": fast_p})
        if mc_budget == 0:  # no permutations: Cantelli's bound, unsettled (as safety_net returns it)
            return TestResult(1.0, bound, 0.5, "bound", {"fast_pvalue": fast_p, "mc_perms": 0.0, "mc_settled": 0.0})
        calls.append(check_id)
        return TestResult(1.0, net_p, 0.5, "net", {"fast_pvalue": fast_p, "mc_perms": 100.0, "mc_labels": 64.0})

    return OrderCheck(check_id, test, 0.05, lambda r, ctx: "m", lambda values, sizes: cost)


def test_once_a_net_rejects_the_shuffled_feed_fast_tails_far_beyond_stand():
    """Every order check tests one null (a shuffled feed). Until a net rejects it every check with a
    small fast p-value gets its net, in order (the cheapest to certify of the decisive first: its
    cost per row over its Holm weight); after, a fast p-value far beyond the threshold names its
    check and one nearer it still gets its net (on these 2,048 labels, where clean streams' fast
    tails have reached 3.3e-10, 1e-10 is near)."""
    from loadercheck.checks import Context, _order_checks

    stream = _stream(np.arange(2048) % 10, 32)
    ctx = Context(stream, stream.labels, binned=False)
    calls: list[str] = []
    # certifying costs (per row / weight): label-runs 1, batch-entropy 2, window-drift 5, autocorrelation 6,
    # target-trend 8
    plan = [(_scripted_check("label-autocorrelation", 1e-13, 1e-12, calls, cost=3.0), stream.labels, ctx),
            (_scripted_check("label-runs", 1e-13, 0.5, calls), stream.labels, ctx),        # its net does not reject
            (_scripted_check("window-drift", 1e-10, 1e-5, calls, cost=10.0), stream.labels, ctx),  # near, short stream
            (_scripted_check("batch-entropy", 1e-13, 1e-5, calls), stream.labels, ctx),    # rejects first
            (_scripted_check("target-trend", 1e-13, 0.5, calls, bound=1e-6, cost=8.0), stream.labels, ctx)]  # own bound
    results = {r.id: r for r in _order_checks(plan, Options())}
    assert calls == ["label-runs", "batch-entropy", "window-drift"]
    assert "rejected by batch-entropy" in results["label-autocorrelation"].method
    # the rejecting net's p-value, not the fast tail's: an early look's smaller level must not read more
    assert results["label-autocorrelation"].details["raw_pvalue"] == 1e-5
    # a bound of its own, smaller than the rejecting p-value, stands; no net ran for it, so it is not unsettled
    assert results["target-trend"].details["raw_pvalue"] == 1e-6 and "mc_settled" not in results["target-trend"].details
    assert results["label-runs"].status is Status.PASS
    assert {results[c].status for c in ("batch-entropy", "window-drift", "label-autocorrelation")} == {Status.FAIL}


def test_a_check_named_after_the_rejection_is_significant_where_the_rejecting_check_is():
    """Weighted Holm: label-runs (weight 1) rejects at 0.99 x alpha/4; batch-entropy and the
    autocorrelation (weight 0.5), far beyond the threshold, are named with its p-value. Their own
    steps of Holm's procedure would need 2.2e-4 x 3 / 0.5 (above alpha): they test the null that was
    rejected, so they are significant with it and fail (effect 0.5)."""
    from loadercheck.checks import Context, _order_checks

    stream = _stream(np.arange(2048) % 10, 32)
    ctx = Context(stream, stream.labels, binned=False)
    calls: list[str] = []
    level = 0.9e-3 / 4  # label-runs' first level: the order checks' share of alpha 1e-3, weight 1 of 4
    plan = [(_scripted_check("label-runs", 1e-13, 0.99 * level, calls), stream.labels, ctx),
            (_scripted_check("batch-entropy", 1e-13, 0.5, calls), stream.labels, ctx),
            (_scripted_check("label-autocorrelation", 1e-13, 0.5, calls), stream.labels, ctx),
            (_scripted_check("window-drift", 0.5, 0.5, calls), stream.labels, ctx)]
    results = {r.id: r for r in _order_checks(plan, Options())}
    assert calls == ["label-runs"]
    for named in ("batch-entropy", "label-autocorrelation"):
        assert "rejected by label-runs" in results[named].method
        assert results[named].status is Status.FAIL and results[named].pvalue == results["label-runs"].pvalue
    assert results["label-runs"].status is Status.FAIL and results["window-drift"].status is Status.PASS


def test_a_gross_partial_sort_is_decided_by_one_net_and_names_every_check():
    """2,048 labels, 20% partially sorted: one net rejects the shuffled feed; the other checks,
    whose fast p-values are far beyond the threshold, are named without permutations of their own
    (each net used to certify its own Holm level, and the last ran out of budget and passed)."""
    y = syn.partial_sort(2048, U10, 0.2, np.random.default_rng([2026, 0]))
    results = _order(run_checks(_stream(y, 32), Options()))
    with_net = [r.id for r in results.values() if r.details.get("mc_perms", 0.0) > 0]
    assert len(with_net) == 1
    assert all(r.status in (Status.WARN, Status.FAIL) for r in results.values())
    assert all(r.details.get("mc_settled", 1.0) == 1.0 for r in results.values())


def test_a_check_named_after_the_rejection_keeps_the_evidence_it_has_without_permutations():
    """Continuous targets in alternating high and low batches: target-trend's median-runs part is far
    beyond the threshold and Cantelli's bound certifies it without permutations; named after the
    label-runs net rejected the null, the check must keep that (not fall to its trend part alone)."""
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(32), 32)
    values = np.where(group % 2 == 0, rng.uniform(0.5, 1, group.size), rng.uniform(0, 0.5, group.size))
    stream = Stream((Epoch(values, np.full(32, 32, dtype=np.int64)),), LabelKind.CONTINUOUS, None,
                    LoaderInfo("synthetic"))
    results = {r.id: r for r in run_checks(stream, Options())}
    trend = results["target-trend"]
    assert trend.status in (Status.WARN, Status.FAIL) and trend.pvalue <= 1e-3
    assert "Cantelli" in trend.method
    named = [r for r in results.values() if "rejected by" in (r.method or "")]
    assert named and all("mc_settled" not in r.details for r in named)  # no net ran: nothing unsettled


def test_the_streams_budget_counts_each_nets_permutations_at_its_statistics_cost():
    """A net whose statistic costs 4x the budget's unit per label is offered a quarter of the
    permutations, and what it spends is charged at 4x: the next net gets what is left."""
    import dataclasses

    from loadercheck.checks import Context, _order_checks
    from loadercheck.results import TestResult
    from loadercheck.stats.permutation import PERM_OVERHEAD, STREAM_BUDGET

    stream = _stream(np.arange(2048) % 10, 32)
    ctx = Context(stream, stream.labels, binned=False)
    offered: dict[str, int] = {}

    def scripted(check_id: str, cost: float, spend: float):
        def test(data, batch_sizes, *, rng, mc_below, mc_budget=None, **_):
            if rng is None:
                return TestResult(1.0, 1e-5, 0.5, "fast tail", {"fast_pvalue": 1e-5})
            offered[check_id] = mc_budget
            perms = float(int(spend * mc_budget))
            return TestResult(1.0, 0.5, 0.5, "net", {"mc_perms": perms, "mc_labels": 2048.0})
        check = _scripted_check(check_id, 1e-5, 0.5, [])
        return dataclasses.replace(check, test=test, net_cost=lambda values, sizes: cost)

    plan = [(scripted("label-runs", 4.0, 1.0), stream.labels, ctx),
            (scripted("window-drift", 1.0, 0.0), stream.labels, ctx)]
    _order_checks(plan, Options())
    per_perm = 2048 + PERM_OVERHEAD
    assert offered["label-runs"] == STREAM_BUDGET // (4 * per_perm)
    spent = offered["label-runs"] * per_perm * 4
    assert offered["window-drift"] == (STREAM_BUDGET - spent) // per_perm < STREAM_BUDGET // (4 * per_perm)


def test_rows_an_earlier_net_drew_are_charged_without_their_drawing():
    """Nets permuting the same labels share their rows: a second net reading the 1,000 rows the first
    drew is offered them at its cost less the drawing, and charged so; the third net gets the rest."""
    import dataclasses

    from loadercheck.checks import Context, _order_checks
    from loadercheck.results import TestResult
    from loadercheck.stats.permutation import DRAW_COST, PERM_OVERHEAD, STREAM_BUDGET

    stream = _stream(np.arange(2048) % 10, 32)
    ctx = Context(stream, stream.labels, binned=False)
    base = np.sort(stream.labels).astype(np.uint8)
    seen: dict[str, tuple[int, int]] = {}

    def scripted(check_id: str, cost: float, rows: int):
        def test(data, batch_sizes, *, rng, mc_below, mc_budget=None, **_):
            if rng is None:
                return TestResult(1.0, 1e-5, 0.5, "fast tail", {"fast_pvalue": 1e-5})
            seen[check_id] = (mc_budget, rng.affordable(base, mc_budget))
            rng.rows(base, rows)
            return TestResult(1.0, 0.5, 0.5, "net", {"mc_perms": float(rows), "mc_labels": 2048.0})
        check = _scripted_check(check_id, 1e-5, 0.5, [])
        return dataclasses.replace(check, test=test, net_cost=lambda values, sizes: cost)

    plan = [(scripted("label-runs", 1.0, 1000), stream.labels, ctx),
            (scripted("batch-entropy", 1.0, 1000), stream.labels, ctx),
            (scripted("window-drift", 1.0, 0), stream.labels, ctx)]
    _order_checks(plan, Options())
    per_perm = 2048 + PERM_OVERHEAD
    share = DRAW_COST * 2048 / per_perm
    first_budget, first_affordable = seen["label-runs"]
    assert first_budget == first_affordable == STREAM_BUDGET // per_perm  # nothing drawn yet
    second_budget, second_affordable = seen["batch-entropy"]
    assert second_budget == (STREAM_BUDGET - 1000 * per_perm) // per_perm
    assert abs(second_affordable - (1000 + second_budget - 1000 * (1 - share))) <= 1
    third_budget, _ = seen["window-drift"]
    charged = 1000 * per_perm + int((1000 - share * 1000) * per_perm)
    assert abs(third_budget - (STREAM_BUDGET - charged) // per_perm) <= 1


def test_the_decisive_net_cheapest_to_certify_runs_first():
    """Two checks far beyond the threshold: the autocorrelation (weight 0.5) and window-drift (weight 2,
    a first level four times larger, so a quarter of the permutations certify it). window-drift's net
    runs first even where its rows cost more, rejects, and the autocorrelation is named without a
    net (a dear net first could spend the stream's budget and leave window-drift none)."""
    from loadercheck.checks import Context, _order_checks

    stream = _stream(np.arange(2048) % 10, 32)
    ctx = Context(stream, stream.labels, binned=False)
    calls: list[str] = []
    plan = [(_scripted_check("label-autocorrelation", 1e-16, 1e-5, calls, cost=1.0), stream.labels, ctx),
            (_scripted_check("window-drift", 1e-19, 1e-5, calls, cost=1.8), stream.labels, ctx),
            (_scripted_check("label-runs", 0.5, 0.5, calls), stream.labels, ctx)]
    results = {r.id: r for r in _order_checks(plan, Options())}
    assert calls == ["window-drift"]
    assert "rejected by window-drift" in results["label-autocorrelation"].method

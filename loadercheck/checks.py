"""The check registry: stable check ids, each turning a Stream into a CheckResult.

The statistics live in :mod:`loadercheck.stats`; this module only chooses which tests apply,
corrects them together (Holm), and turns p-value + effect size into a status, a message and a hint.
The decision rule (SPEC §4) is written once, in :func:`decide`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import adapters, stats
from .adapters.pytorch import SHUFFLE_FIX, DataLoaderAdapter
from .options import Options
from .results import CheckResult, LabelKind, Signal, Status, Stream, TestResult
from .stats import autocorr, batch, drift, runs
from .stats.permutation import (DRAW_COST, MAX_NET_LABELS, NET_BAND, PERM_OVERHEAD, STREAM_BUDGET,
                                SharedPermutations,
                                data_rng, net_size)

from .ids import (  # noqa: F401 - re-exported: the ids have always been importable from here
    BATCH_ENTROPY,
    CHECK_IDS,
    CLASS_BALANCE,
    CROSS_EPOCH_ORDER,
    DUPLICATES,
    INPUT_DRIFT,
    INPUT_ORDER,
    LABEL_AUTOCORRELATION,
    LABEL_RUNS,
    LENGTH_ORDER,
    LOADER_CONFIG,
    METADATA_ORDER,
    ORDER_CHECK_IDS,
    PROBE,
    RANK_COVERAGE,
    SIGNAL_CHECK_IDS,
    TARGET_TREND,
    WINDOW_DRIFT,
)

MC_FACTOR = 2.0
"""A check runs its permutation safety net when its fast p-value is below MC_FACTOR x its first Holm
level, alpha w / W (its weight in ``HOLM_WEIGHTS`` over the weights of the checks that ran).

On a shuffled feed (the null the verdict promises about) every check is null, and weighted Holm
fails a check only if some p_i <= alpha w_i / W; so nets that are exact at every level up to their
first levels keep the family-wise false-alarm rate <= alpha whatever the fast tails do. The factor 2
is margin; a larger one only adds permutations (seconds each) on clean feeds."""


def _unit_net_cost(values: np.ndarray, batch_sizes: np.ndarray) -> float:
    return 1.0


@dataclass(frozen=True)
class OrderCheck:
    """A statistical order check: its id, test, effect threshold and wording."""

    id: str
    test: Callable[..., TestResult]
    min_effect: float
    """Smallest effect (kappa, or |rho| for target-trend) that fails; a significant smaller one warns."""
    describe: Callable[[TestResult, "Context"], str]
    net_cost: Callable[[np.ndarray, np.ndarray], float] = _unit_net_cost
    """What one permuted row of the check's net costs per label, in the unit of the stream's budget
    (``STREAM_BUDGET``: drawing a row and a cheap statistic), from the values and batch sizes."""


@dataclass(frozen=True)
class Context:
    """What the wording functions need besides the test result."""

    stream: Stream
    codes: np.ndarray
    binned: bool
    """True when codes are decile bins of a continuous target."""
    significant: bool = False
    """True when the check's adjusted p-value is at or below alpha."""
    signal: Signal | None = None
    """The signal tested, when it is not the label (input clusters, lengths, a metadata column)."""

    @property
    def unit(self) -> str:
        """One value, in the user's words: ``label``, ``target decile``, ``input cluster``, ``source``."""
        if self.signal is not None:
            return f"{self.signal.name} decile" if self.binned else self.signal.name
        return "target decile" if self.binned else "label"

    @property
    def plural(self) -> str:
        """What batches hold several of: ``classes``, ``target deciles``, ``input clusters``."""
        if self.signal is None and not self.binned:
            return "classes"
        return f"{self.unit}s"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _describe_runs(r: TestResult, ctx: Context) -> str:
    d = r.details
    text = (
        f"neighbouring samples share {_article(ctx.unit)} {ctx.unit} {_pct(d['match_rate'])} of the time; "
        f"a shuffled feed: {_pct(d['expected_rate'])}"
    )
    if not ctx.significant and (r.effect or 0.0) < -0.05:
        text += f" (fewer: {ctx.unit}s alternate, which does not cluster them; the test is one-sided)"
    return text


def _describe_batches(r: TestResult, ctx: Context) -> str:
    d = r.details
    what = ctx.plural
    text = (
        f"batches hold {d['mean_classes']:.1f} {what} on average (entropy {d['mean_entropy']:.2f} nats); "
        f"a shuffled feed: {d['expected_classes']:.1f} ({d['expected_entropy']:.2f} nats)"
    )
    single = d.get("single_class_share", 0.0)
    if single > 0:
        one = "class" if ctx.signal is None and not ctx.binned else ("decile" if ctx.signal is None else ctx.unit)
        text += f"; {_pct(single)} of batches hold a single {one}"
    return text


def _describe_autocorrelation(r: TestResult, ctx: Context) -> str:
    d = r.details
    lag = int(d.get("lag", 1))
    batches = "batch" if lag == 1 else "batches"
    if not ctx.significant:
        return f"no repeating pattern between batches (strongest: kappa {r.effect:.2f} at {lag} {batches})"
    text = f"{ctx.unit}s repeat at a distance of {lag} {batches} (kappa {r.effect:.2f})"
    if d.get("period"):
        text += f"; a period of {int(d['period'])} batches"
    return text


DRIFT_MIN_EFFECT = 0.005
"""window-drift's kappa below which a drift is faint (warn, not fail)."""


def _describe_drift(r: TestResult, ctx: Context) -> str:
    d = r.details
    what = "target distribution" if ctx.binned else "class mix"
    if ctx.signal is not None:
        what = f"{ctx.signal.name} distribution" if ctx.binned else f"mix of {ctx.plural}"
    if not ctx.significant:
        return f"the {what} is steady along the stream (strongest: kappa {r.effect:.3f} over windows of {int(d['window']):,} samples)"
    if d.get("sorted") == 1.0:
        order = "descending" if d.get("sorted_descending") == 1.0 else "ascending"
        return (f"the stream is partly in sorted order: {100 * d['sorted_rate']:.1f}% of samples sit at or near where "
                f"sorting by {ctx.unit} ({order}) would put them; a shuffled feed: {100 * d['sorted_expected_rate']:.1f}%")
    if d.get("rank_trend") == 1.0:
        direction = "rise" if d["rank_correlation"] > 0 else "fall"
        return (f"the stream is partly in sorted order: {ctx.unit}s {direction} along it (rank correlation "
                f"with position {d['rank_correlation']:+.2f})")
    if d.get("trend") == 1.0 and (r.effect or 0.0) < DRIFT_MIN_EFFECT:  # no window shows it plainly
        return (f"the {what} drifts steadily from the start of the stream to its end (strongest window: "
                f"kappa {r.effect:.3f} over {int(d['window']):,} samples)")
    return f"the {what} changes across windows of {int(d['window']):,} samples (kappa {r.effect:.3f})"


def _describe_trend(r: TestResult, ctx: Context) -> str:
    what = ctx.signal.name if ctx.signal is not None else "target"
    if not ctx.significant:
        return f"no trend of the {what} along the stream (rank correlation with position {r.effect:+.2f})"
    direction = "rises" if (r.effect or 0) > 0 else "falls"
    return f"the {what} {direction} along the stream (rank correlation with position {r.effect:+.2f})"


CATEGORICAL_CHECKS: tuple[OrderCheck, ...] = (
    OrderCheck(LABEL_RUNS, stats.runs_test, 0.05, _describe_runs, runs.net_row_cost),
    OrderCheck(BATCH_ENTROPY, stats.batch_homogeneity_test, 0.05, _describe_batches, batch.net_row_cost),
    OrderCheck(LABEL_AUTOCORRELATION, stats.autocorrelation_test, 0.05, _describe_autocorrelation,
               autocorr.net_row_cost),
    OrderCheck(WINDOW_DRIFT, stats.window_drift_test, DRIFT_MIN_EFFECT, _describe_drift, drift.net_row_cost),
)


def _target_trend_test(values: np.ndarray, batch_sizes: np.ndarray, **kw) -> TestResult:
    """Spearman trend and median runs, Bonferroni-combined into one target-trend p-value."""
    trend = stats.trend_test(values, batch_sizes, **kw)
    runs = stats.median_runs_test(values, batch_sizes, **kw)
    pvalue = min(1.0, 2.0 * min(trend.pvalue, runs.pvalue))
    method = f"{trend.method} + median runs ({runs.method}), Bonferroni x2"
    details = {**trend.details, "median_runs_pvalue": runs.pvalue, "trend_pvalue": trend.pvalue}
    return TestResult(trend.statistic, pvalue, trend.effect, method, details)


TARGET_TREND_CHECK = OrderCheck(TARGET_TREND, _target_trend_test, 0.1, _describe_trend)



NET_PERMS = 15999
"""Kept for callers of old: the label checks' nets are now sized by ``stats.permutation.net_size``."""
NET_LABELS = MAX_NET_LABELS
"""Labels the label checks' safety net permutes at most (a prefix of whole batches)."""
_WORDING_PREFERENCE = (LABEL_RUNS, WINDOW_DRIFT, BATCH_ENTROPY, TARGET_TREND, LABEL_AUTOCORRELATION)


def _signal_battery(signal: Signal) -> OrderCheck:
    """One order check for a signal: the label battery run on the signal's values, Bonferroni-combined.

    Categorical signals get the four categorical tests, continuous ones (lengths) the trend test and
    the four tests on decile bins. The check's p-value is ``min(1, m * min_j p_j)`` over its ``m``
    tests (Bonferroni, valid under any dependence). The tests run in wording order and stop at the
    first one significant at the level where it decides the family; the rest count as p = 1 (which
    only makes the combination larger, so it stays valid) and cost no permutations. Their safety
    net gets the permutations that level needs (more than the label checks' 15,999: Bonferroni
    over the tests and the larger family push the level down). Its statistic, effect, wording and effect
    threshold are the strongest test's (among tests within 10x of the smallest p-value, or
    significant on their own, the one whose wording reads most directly: runs, then drift,
    batches, trend, autocorrelation).
    """
    continuous = signal.kind is LabelKind.CONTINUOUS
    parts = ([TARGET_TREND_CHECK] if continuous else []) + list(CATEGORICAL_CHECKS)

    def test(values: np.ndarray, batch_sizes: np.ndarray, *, rng, mc_below: float, mc_budget: int | None = None,
             **_: object) -> TestResult:
        codes = stats.decile_codes(values) if continuous else values
        # the level at which one test decides the family (Holm's first step, after Bonferroni over
        # the parts), and a net sized to certify it within the label checks' budget; the parts share
        # the permutations the stream's budget leaves this check
        level = mc_below / (MC_FACTOR * len(parts))
        perms, labels = net_size(level) if level > 0 else (0, MAX_NET_LABELS)
        per_perm = max(1, min(int(np.size(values)), labels)) + PERM_OVERHEAD
        left = perms * per_perm if mc_budget is None else mc_budget * per_perm
        ran: list[tuple[OrderCheck, TestResult]] = []
        for part in sorted(parts, key=lambda c: _WORDING_PREFERENCE.index(c.id)):
            data = values if part is TARGET_TREND_CHECK else codes
            part_per_perm = per_perm * part.net_cost(data, batch_sizes)
            try:
                result = part.test(data, batch_sizes, rng=rng, mc_below=mc_below / len(parts), mc_max_perms=perms,
                                   mc_max_labels=labels, mc_budget=int(left // part_per_perm))
            except stats.NotEnoughData:
                continue
            left = max(0, left - int(result.details.get("mc_perms", 0.0) * part_per_perm))
            ran.append((part, result))
            if result.pvalue <= level:
                break  # decided: the tests not run count as p = 1 (valid, and saves their permutations)
        if not ran:
            raise stats.NotEnoughData(f"too few samples to test the {signal.name} order")
        smallest = min(r.pvalue for _, r in ran)
        # the test that words the finding best among those within 10x of the smallest p-value, or
        # among all that are significant on their own (a gross defect, where every test is)
        best, result = min((cr for cr in ran if cr[1].pvalue <= max(10 * smallest, level)),
                           key=lambda cr: _WORDING_PREFERENCE.index(cr[0].id))
        m = len(parts)
        pvalue = min(1.0, m * smallest)
        details = {**result.details, "subtest": best.id, "subtest_pvalues": {c.id: r.pvalue for c, r in ran},
                   "min_effect": best.min_effect, "signal": signal.name}
        method = f"strongest of {m} tests ({best.id}: {result.method}), Bonferroni x{m}"
        return TestResult(result.statistic, pvalue, result.effect, method, details)

    def describe(r: TestResult, ctx: Context) -> str:
        part = next(c for c in parts if c.id == r.details["subtest"])
        return part.describe(r, ctx)

    return OrderCheck(signal.check, test, min(c.min_effect for c in parts), describe)


NAMING_FLOOR = 1e-12
"""Once the shuffled-feed null is rejected, a fast p-value below this names its check without a net of its
own: 300x below the smallest fast p-value a clean stream has shown (3.3e-10: 95/5 classes, 1,024 labels,
``benchmarks/calibration.py``)."""
SINGLE_TESTS = frozenset({LABEL_RUNS, BATCH_ENTROPY, TARGET_TREND, LABEL_AUTOCORRELATION, WINDOW_DRIFT})
"""The order checks that are one test each; a signal's battery (several tests) runs its net last."""


def _net_order(fast_p: float, decisive: float, certify_cost: float, battery: bool) -> tuple:
    """The order the nets run in: checks whose fast p-value is far beyond the threshold (at most
    ``decisive``) first, the cheapest to certify among them (``certify_cost``: a permuted row's cost
    over the check's Holm weight, since the permutations that certify a level grow as 1 / level),
    signal batteries last; then the others by fast p-value.

    The first net that rejects rejects the shuffled-feed null for the whole family, so one
    decisive net is enough, and the cheapest will do (a dear one first could spend the stream's
    budget and leave the others none). Any order is valid (each net's p-value is, and Holm's first
    step is a union bound over them): this choice changes the cost only.
    """
    first = fast_p <= decisive
    return (not first, (battery, certify_cost) if first else (False, 0.0), fast_p)


def decide(adjusted_pvalue: float, effect: float | None, min_effect: float, alpha: float, ordered: bool) -> Status:
    """The decision rule of SPEC §4 for one statistical check.

    ``fail`` needs significance after the family correction AND an effect large enough to hurt
    training; a significant but small effect is ``warn``; a feed declared ``ordered`` never fails.
    """
    if adjusted_pvalue > alpha:
        return Status.PASS
    if ordered:
        return Status.PASS
    if effect is not None and abs(effect) >= min_effect:
        return Status.FAIL
    return Status.WARN


def verdict(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """Overall verdict: fail if any check fails, else warn if any warns, else pass (SPEC §4)."""
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.WARN in statuses:
        return Status.WARN
    return Status.PASS


def run_checks(stream: Stream, options: Options) -> tuple[CheckResult, ...]:
    """Run every applicable check on ``stream`` and return results in registry order.

    The label's order checks and one check per extra signal (input clusters, lengths, metadata
    columns) form one Holm family at the order checks' share of alpha.
    """
    from .forensics import annotate_order_results, order_alpha, run_forensics

    results: list[CheckResult] = []
    continuous = stream.kind is LabelKind.CONTINUOUS
    labelled = stream.kind is not LabelKind.NONE
    # the forensics tests spend their own share of alpha (forensics.FORENSICS_SHARE): family-wise <= alpha
    order_options = dataclasses.replace(options, alpha=order_alpha(options.alpha))
    plan: list[tuple[OrderCheck, np.ndarray, Context]] = []
    if labelled:
        codes = stats.decile_codes(stream.labels) if continuous else stream.labels
        if np.unique(codes).size < 2:
            if stream.signals:  # the prefix test and the signals' family split the order checks' alpha
                order_options = dataclasses.replace(order_options, alpha=order_options.alpha / 2)
            results.extend(_single_class(stream, codes, order_options))
        else:
            ctx = Context(stream, codes, binned=continuous)
            plan += [(c, stream.labels if c is TARGET_TREND_CHECK else codes, ctx)
                     for c in ([TARGET_TREND_CHECK] if continuous else []) + list(CATEGORICAL_CHECKS)]
    for signal in stream.signals:
        binned = signal.kind is LabelKind.CONTINUOUS
        codes = stats.decile_codes(signal.values) if binned else signal.values
        if np.unique(codes).size < 2:
            results.append(CheckResult(signal.check, Status.SKIP,
                                       f"all {codes.size:,} sampled values fall in one {signal.name}: its order "
                                       "cannot be read (constant or near-identical inputs)"))
            continue
        plan.append((_signal_battery(signal), signal.values, Context(stream, codes, binned=binned, signal=signal)))
    results.extend(annotate_order_results(_order_checks(plan, order_options), stream))
    if not labelled and not any(s.check == INPUT_ORDER for s in stream.signals):
        why = next((n for n in stream.notes if n.startswith("input sketches skipped")),
                   "the feed has no label, and its inputs could not be sketched")
        results.append(CheckResult(INPUT_ORDER, Status.SKIP, why))
    if labelled and not continuous:
        results.append(_class_balance(stream, options))
    results.extend(run_forensics(stream, options))
    return tuple(sorted(results, key=lambda c: CHECK_IDS.index(c.id)))


HOLM_WEIGHTS = {WINDOW_DRIFT: 2.0, LABEL_RUNS: 1.0, BATCH_ENTROPY: 0.5, LABEL_AUTOCORRELATION: 0.5}
"""Each order check's weight in Holm's procedure (any other: 1): its first level is alpha x its weight /
the family's weights. window-drift sees the defects that cost training most (datasets concatenated,
partial sorts, shuffle buffers over sorted data) and carries twice the share; batch-entropy reads the
batch x class counts label-runs reads (they fire together), and the autocorrelation sees periodic
patterns, which reach significance far beyond the threshold."""


def _order_checks(plan: list[tuple[OrderCheck, np.ndarray, Context]], options: Options) -> list[CheckResult]:
    m = len(plan)
    if m == 0:
        return []
    # every net sized to certify alpha / m within its budget of label-permutations (so its prefix, and
    # whether a fast p-value far beyond the threshold stands, depend on alpha and m only, never on the
    # data's order); a net on few labels may draw more near its level (resolving_perms)
    perms, labels = net_size(options.alpha / m)
    budget = {"mc_max_perms": perms, "mc_max_labels": labels}
    # first the fast p-values (no permutations), then the nets: each net stops once its p-value
    # reaches the Holm level it would get after the checks already rejected, or once it plainly
    # cannot reach alpha (the sequential p-value is valid whatever stops it, so these choices
    # change the cost, never the error rate)
    outcomes: list[tuple[OrderCheck, Context, TestResult | str]] = []
    for check, data, ctx in plan:
        try:
            outcomes.append((check, ctx, check.test(data, ctx.stream.batch_sizes, rng=None, mc_below=0.0, **budget)))
        except stats.NotEnoughData as exc:
            outcomes.append((check, ctx, str(exc)))
    fast = [r.pvalue if isinstance(r, TestResult) else np.inf for _, _, r in outcomes]
    # weighted Holm over the checks that ran: check i's first level is alpha w_i / W
    weight = [HOLM_WEIGHTS.get(check.id, 1.0) for check, _, _ in outcomes]
    total = sum(w for w, r in zip(weight, outcomes) if isinstance(r[2], TestResult)) or 1.0
    left = STREAM_BUDGET  # label-permutations the nets of this stream may still spend
    rejector: int | None = None  # the check whose net rejected the shuffled-feed null first
    named_checks: list[int] = []  # the checks named after that rejection, without a net of their own
    # the permuted rows the nets share, seeded by the stream alone: no seed moves a verdict
    shared = SharedPermutations(data_rng(*(data for _, data, _ in plan), plan[0][2].stream.batch_sizes,
                                         salt="order nets"))
    sizes = plan[0][2].stream.batch_sizes
    # a fast p-value 10,000x beyond the threshold makes a net decisive (it runs first); once the null
    # is rejected, one below NAMING_FLOOR names its check without a net of its own
    mc_below = [MC_FACTOR * options.alpha * w / total for w in weight]
    decisive = [NET_BAND * below for below in mc_below]
    costs = [check.net_cost(data, sizes) for check, data, _ in plan]
    rejected_weight = 0.0
    for i in sorted(range(m), key=lambda j: _net_order(fast[j], decisive[j], costs[j] / weight[j],
                                                       outcomes[j][0].id not in SINGLE_TESTS)):
        check, ctx, first = outcomes[i]
        if not isinstance(first, TestResult) or (first.pvalue > mc_below[i] and not first.details.get("wants_net")):
            continue  # (window-drift's staircase has no fast tail: on short streams it asks for its net)
        data = plan[i][1]
        holm_level = options.alpha * weight[i] / max(total - rejected_weight, weight[i])
        far = min(decisive[i], NAMING_FLOOR)
        if rejector is not None and first.pvalue <= far:
            # every order check tests the same null (a shuffled feed), which is rejected: no further
            # rejection can be a false alarm, so a check whose fast tail is this far beyond the
            # threshold is named without a net of its own. Its p-value: what needs no permutations
            # (Cantelli's bound, or a fast tail the net trusts) where that is smaller, else the
            # rejecting p-value (no smaller: that much was certified, and an early look's smaller
            # level must not read more)
            own = check.test(data, ctx.stream.batch_sizes, rng=shared.reader(), mc_below=mc_below[i],
                             reject_at=holm_level, accept_above=options.alpha, mc_budget=0, **budget)
            rejecting = outcomes[rejector][2]
            named = max(first.pvalue, rejecting.pvalue)
            if own.pvalue > named:
                method = (f"{first.method}; the shuffled-feed null rejected by {outcomes[rejector][0].id} "
                          f"(p={rejecting.pvalue:.2g}), whose p-value this check takes")
                own = dataclasses.replace(first, pvalue=named, method=method)
            # no net ran for it: nothing is unsettled
            own = dataclasses.replace(own, details={k: v for k, v in own.details.items() if not k.startswith("mc_")})
            outcomes[i] = (check, ctx, own)
            named_checks.append(i)
            if own.pvalue <= holm_level:
                rejected_weight += weight[i]
            continue
        # the stream's budget counts each permutation at its labels (plus a row's overhead) x what a row
        # of this check's statistic costs per label, less the drawing for a row an earlier net drew
        cost = costs[i]
        n_net = max(1, min(int(np.size(data)), labels)) + PERM_OVERHEAD
        reader = shared.reader(draw_share=DRAW_COST * (n_net - PERM_OVERHEAD) / (n_net * cost))
        result = check.test(data, ctx.stream.batch_sizes, rng=reader, mc_below=mc_below[i],
                            reject_at=holm_level, accept_above=options.alpha, mc_budget=int(left // (n_net * cost)),
                            **budget)
        outcomes[i] = (check, ctx, result)
        if result.pvalue <= holm_level:
            rejected_weight += weight[i]
            if rejector is None:
                rejector = i
        d = result.details
        spent = reader.spent(int(d.get("mc_perms", 0.0)))  # in rows drawn afresh
        left = max(0, left - int(spent * (d.get("mc_labels", n_net) + PERM_OVERHEAD) * cost))

    ran = [(c, r, w) for (c, _, r), w in zip(outcomes, weight) if isinstance(r, TestResult)]
    adjusted = dict(zip((id(c) for c, _, _ in ran), stats.holm([r.pvalue for _, r, _ in ran], [w for *_, w in ran])))
    for i in named_checks:
        # the null a named check tests is the one rejected: it is significant where the rejecting check
        # is (with weights, its own step of Holm's procedure could need more than the rejecting p-value)
        own, rejecting = id(outcomes[i][0]), id(outcomes[rejector][0])
        adjusted[own] = min(adjusted[own], adjusted[rejecting])

    results = []
    for check, ctx, outcome in outcomes:
        if isinstance(outcome, str):
            results.append(CheckResult(check.id, Status.SKIP, f"not enough data: {outcome}"))
            continue
        p_adj = float(adjusted[id(check)])
        min_effect = float(outcome.details.get("min_effect", check.min_effect))
        status = decide(p_adj, outcome.effect, min_effect, options.alpha, options.ordered)
        message = check.describe(outcome, dataclasses.replace(ctx, significant=p_adj <= options.alpha))
        if ctx.signal is not None and ctx.signal.check == METADATA_ORDER:
            message = f"{ctx.signal.name!r} column: {message}"
        if options.ordered and p_adj <= options.alpha:
            message = f"(feed declared ordered, not judged) {message}"
        results.append(
            CheckResult(
                id=check.id,
                status=status,
                message=message,
                statistic=outcome.statistic,
                pvalue=p_adj,
                effect=outcome.effect,
                hint=_hint(check.id, ctx) if status in (Status.FAIL, Status.WARN) else None,
                method=outcome.method,
                details={**outcome.details, "raw_pvalue": outcome.pvalue, "min_effect": min_effect},
            )
        )
    return results


def _single_class(stream: Stream, codes: np.ndarray, options: Options) -> list[CheckResult]:
    """A sampled stream holding one class: no conditional test can speak (SPEC §2 prefix caveat)."""
    n = codes.size
    if stream.kind is LabelKind.CONTINUOUS:
        value = stream.labels[0] if n else float("nan")
        msg = f"all {n:,} sampled targets equal {value:g}: order cannot be tested"
        return [CheckResult(TARGET_TREND, Status.WARN, msg, hint="check that the label is the right field (--label)")]
    name = stream.classes[int(codes[0])] if n else "?"
    msg = f"all {n:,} sampled labels are class {name!r}"
    reference = stream.dataset_labels
    counts = np.unique(reference, return_counts=True)[1] if reference is not None else np.zeros(0)
    if counts.size > 1:
        p = stats.single_class_prefix_pvalue(n, counts)
        k = counts.size
        status = Status.PASS if p > options.alpha or options.ordered else Status.FAIL
        full = (
            f"{msg}, though the dataset has {k} classes; a shuffled feed would give a single class "
            f"with probability {p:.1e}"
        )
        hint = _hint(LABEL_RUNS, Context(stream, codes, False)) if status is Status.FAIL else None
        return [CheckResult(LABEL_RUNS, status, full, statistic=float(n), pvalue=p, effect=1.0, hint=hint,
                            method="exact hypergeometric vs dataset labels")]
    hint = (
        "the first class block may be longer than the sample: draw more batches (--batches), "
        "or expose the dataset's labels (a `targets` attribute) so the order can be judged"
    )
    return [CheckResult(LABEL_RUNS, Status.WARN, f"{msg}: order cannot be tested on this sample", hint=hint)]


def _class_balance(stream: Stream, options: Options) -> CheckResult:
    k = max(len(stream.classes), 1)
    info = stats.class_balance(stream.labels, k)
    shares = np.asarray(info["shares"])
    order = np.argsort(-shares)[:3]
    top = ", ".join(f"{stream.classes[i]!r} ({_pct(shares[i])})" for i in order if shares[i] > 0)
    observed = int((shares > 0).sum())
    seen = "1 class seen" if observed == 1 else f"{observed} classes seen"
    message = f"{seen}; largest: {top}; imbalance ratio {info['imbalance_ratio']:.1f}"
    details = {"effective_classes": info["effective_classes"], "classes_seen": observed}
    coverage = _class_coverage(stream, options)
    if coverage is not None:
        status, text, hint, p = coverage
        return CheckResult(CLASS_BALANCE, status, f"{text}; {message}", statistic=float(info["imbalance_ratio"]),
                           pvalue=p, effect=float(info["effective_classes"]), hint=hint,
                           method="exact hypergeometric vs dataset labels (union bound over classes)",
                           details={**details, "coverage_pvalue": p})
    return CheckResult(
        CLASS_BALANCE,
        Status.PASS,
        message,
        statistic=float(info["imbalance_ratio"]),
        effect=float(info["effective_classes"]),
        details=details,
    )


COVERAGE_SHARE = 0.1
"""class-balance's coverage test warns at this share of alpha (it is outside the order checks' Holm family)."""
_PERMUTING_SAMPLERS = ("RandomSampler", "SequentialSampler", "DistributedSampler", "BatchSampler(RandomSampler)",
                       "BatchSampler(SequentialSampler)")
"""Samplers whose epoch visits every index once: a prefix of their feed is a prefix of a permutation."""


def _class_coverage(stream: Stream, options: Options) -> tuple[Status, str, str | None, float] | None:
    """Does the sampled prefix hold far fewer classes than the dataset it was drawn from? A prefix of a
    shuffled feed meets every sizeable class; one that misses them is grouped at a scale larger than
    itself (sorted data, one class per shard, shuffle blocks larger than the prefix), which the
    order checks on the prefix alone cannot see. Warn at most: the order checks own the fails."""
    reference = stream.dataset_labels
    first = stream.epochs[0].labels
    info = stream.loader
    if reference is None or first.size >= reference.size or first.size == 0 or info.epoch_samples is not None:
        return None  # no reference, or the whole pass was drawn: not a prefix
    if info.replacement or info.custom_batch_sampler or (info.sampler is not None
                                                        and info.sampler not in _PERMUTING_SAMPLERS):
        return None  # a sampler that draws a subset, with weights or its own batches: not the dataset's population
    counts = np.bincount(reference, minlength=len(stream.classes))
    drawn = np.bincount(first, minlength=counts.size)
    if np.any(drawn > counts):
        return None  # the loader's labels are not the metadata's (a label transform, another field)
    missing = (counts > 0) & (drawn == 0)
    if not missing.any():
        return None
    p = stats.missing_classes_pvalue(first.size, counts, missing)
    present = int((counts > 0).sum())
    text = (f"the {first.size:,} samples drawn hold {present - int(missing.sum())} of the {present} classes the "
            f"dataset has; a shuffled feed would miss classes this large with probability {p:.1e}")
    if p > options.alpha * COVERAGE_SHARE or options.ordered:
        return Status.PASS, text, None, p
    hint = ("the feed is grouped at a scale larger than the sample (class-sorted data, one class per shard or "
            "file, shuffle blocks longer than the sample): the order checks see only this prefix; draw more "
            "(--batches) or analyse whole epochs (--from-sampler), and shuffle across the whole data")
    return Status.WARN, text, hint, p


CAUSES = {
    TARGET_TREND: "the data is ordered by its target (sorted by value, time or size); if the order is intended "
                  "(a time series, a curriculum), pass --ordered",
    WINDOW_DRIFT: "the class mix drifts: datasets concatenated, class-sorted shards behind a small buffer, or a changing prior",
    BATCH_ENTROPY: "batches are built from one or few classes (class-sorted data, or a per-class batch sampler)",
    LABEL_AUTOCORRELATION: "labels repeat with a pattern (round-robin over classes, or sorted blocks)",
    LABEL_RUNS: "samples arrive in blocks of equal labels (class-sorted data)",
}
SIGNAL_CAUSES = {
    INPUT_ORDER: "similar inputs arrive together (data stored by visual cluster, domain, source file or shard, "
                 "read in that order)",
    LENGTH_ORDER: "sequences arrive ordered or grouped by length (a length-sorted dataset, or length-grouped "
                  "batching such as group_by_length; pass --ordered if that is intended)",
    METADATA_ORDER: "samples arrive grouped by their {name} (datasets concatenated one {name} after another, or "
                    "shards holding one {name} each)",
}
"""Causes for the signal checks (``{name}`` is the metadata column)."""
BINNED_CAUSES = {
    WINDOW_DRIFT: "the target's distribution drifts along the stream (sources concatenated, or data ordered by time)",
    BATCH_ENTROPY: "batches hold samples of similar targets (data sorted by target, or batches built per target range)",
    LABEL_AUTOCORRELATION: "targets repeat with a pattern along the stream",
    LABEL_RUNS: "samples arrive in blocks of similar targets (data sorted by target)",
}
"""Causes in a regression feed's terms (the categorical checks run on decile bins of the target)."""


def _hint(check_id: str, ctx: Context) -> str:
    """Cause and fix, in the user's own API where the loader is recognised."""
    if ctx.signal is not None:
        cause = SIGNAL_CAUSES[ctx.signal.check].format(name=ctx.signal.name)
        fix = shuffle_fix(ctx.stream)
        if ctx.signal.check == METADATA_ORDER:
            fix = (f"mix the {ctx.signal.name}s: shuffle after concatenating, or interleave them (e.g. Hugging Face "
                   f"datasets.interleave_datasets(..., probabilities=...)); {fix}")
        return f"{cause}; fix: {fix}"
    cause = (BINNED_CAUSES.get(check_id) if ctx.binned else None) or CAUSES.get(check_id, CAUSES[LABEL_RUNS])
    return f"{cause}; fix: {shuffle_fix(ctx.stream)}"


DATALOADER_SHUFFLE_FIX = SHUFFLE_FIX
"""The fix for a map-style DataLoader read in stored order (kept importable from here)."""


def shuffle_fix(stream: Stream) -> str:
    """The fix for an ordered feed, named in the user's API (the loader's library adapter words it)."""
    loader = stream.loader
    sampler = loader.sampler or ""
    iterable = (
        not loader.type_name.endswith("DataLoader") or "Infinite" in sampler or loader.dataset_kind == "iterable"
        or "Iterable" in (loader.dataset or "")
    )
    words = adapters.wording(loader)
    library = loader.library not in (None, "torch")
    if not iterable:  # a map-style DataLoader: its sampler decides, unless a library's own shuffle is on
        own = library and not loader.custom_batch_sampler and loader.shuffle is not False
        return (words.order_fix(loader) if own else None) or DataLoaderAdapter.order_fix(loader)
    continuous = stream.kind is LabelKind.CONTINUOUS
    codes = stats.decile_codes(stream.labels) if continuous else stream.labels
    span = _clustered_span(codes, stream.batch_sizes)
    if not _clustered(codes, span):
        return ("draw samples in random order: the labels do not cluster but follow a pattern (e.g. round-robin "
                "over classes or sources); shuffle the shard/file order every epoch and the samples behind a buffer")
    fix = words.order_fix(loader) if library or loader.example_level or loader.dataset_kind == "map" else None
    fix = fix or "shuffle shards and samples: shuffle the shard/file order every epoch and use a larger shuffle buffer"
    if continuous:  # categorical feeds get the size from the mixing window (forensics.mixing_note)
        fix += f" (at least {_suggest_buffer(span, codes):,} samples: targets stay clustered over ~{span:,})"
    return fix


def _clustered(codes: np.ndarray, span: int) -> bool:
    """Do equal labels arrive closer together than at random (clusters a buffer would mix), or is the
    order a pattern (neighbours differ more than at random: round-robin)? The mixing window decides
    when the runs are short: a buffered class-sorted feed has short runs yet clusters."""
    if span >= 2:
        return True
    from .stats import identity

    try:
        window = identity.mixing_window(codes)
    except stats.NotEnoughData:
        return False
    return window.lower_bound or window.samples >= 2


def _clustered_span(codes: np.ndarray, batch_sizes: np.ndarray) -> int:
    """Mean length of runs of equal labels, in samples (a rough scale of the clustering)."""
    if codes.size < 2:
        return int(codes.size)
    runs = 1 + int(np.count_nonzero(codes[1:] != codes[:-1]))
    return max(1, int(round(codes.size / runs)))


def _suggest_buffer(span: int, codes: np.ndarray) -> int:
    """A buffer spanning many clustered blocks of every class: 10 blocks per class, rounded up."""
    k = max(int(np.unique(codes).size), 2)
    raw = 10 * span * k
    magnitude = 10 ** max(int(np.floor(np.log10(raw))) - 1, 0)
    return int(np.ceil(raw / magnitude) * magnitude)

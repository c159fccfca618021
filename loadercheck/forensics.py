"""Pipeline forensics: the identity and configuration checks (SPEC §3, issue 5).

``duplicates``, ``cross-epoch-order``, ``input-drift``, ``rank-coverage`` and ``loader-config``,
each a function ``(stream, options) -> CheckResult``; :func:`run_forensics` runs those that apply.
The statistics live in :mod:`loadercheck.stats.identity`; this module chooses the identities
(sampler indices, else input fingerprints, else labels), reads the loader facts the sampling layer
recorded (:class:`~loadercheck.results.LoaderInfo`), and words the cause and the fix.

**False alarms.** The order checks are corrected together (Holm) at ``ORDER_SHARE * alpha``; the
forensics tests that can fail on a statistical test (``duplicates``' copy-proximity test,
``cross-epoch-order``, ``input-drift``, ``rank-coverage``'s label-mix test) each run at
``FORENSICS_SHARE * alpha / 4``. By the union bound a shuffled clean feed fails any check with
probability at most alpha. The other ways to fail are not statistical: a sampler repeating indices
it draws without replacement, every sample arriving exactly ``num_workers`` times from an
IterableDataset, ranks overlapping or missing data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import stats
from . import adapters
from .adapters.pytorch import SHUFFLE_FIX as DATALOADER_SHUFFLE_FIX
from .ids import CROSS_EPOCH_ORDER, DUPLICATES, INPUT_DRIFT, LOADER_CONFIG, ORDER_CHECK_IDS, RANK_COVERAGE, SIGNAL_CHECK_IDS
from .options import Options
from .results import CheckResult, LabelKind, LoaderInfo, Status, Stream, TestResult
from .stats import identity
from .stats.permutation import data_rng, net_perms  # noqa: F401 - re-exported: forensics nets are sized by it


FORENSICS_SHARE = 0.1
"""Share of ``alpha`` spent on the forensics tests; the order checks' Holm family gets the rest."""
ORDER_SHARE = 1.0 - FORENSICS_SHARE
STATISTICAL_CHECKS = 4
"""Forensics checks that can fail on a statistical test; each runs at ``FORENSICS_SHARE * alpha / 4``."""
MC_FACTOR = 2.0
"""The permutation net of a forensics test runs when its fast p-value is below MC_FACTOR x its level."""

DUPLICATE_MIN_EFFECT = 0.1
"""``duplicates`` fails when repeats the sampler does not explain are at least this share of the samples."""
REPLAY_EFFECT = 0.5
"""``cross-epoch-order`` fails at this excess match rate (0 independent shuffles, 1 identical order)."""
DRIFT_MIN_EFFECT = 0.3
"""``input-drift`` fails at this effect (rank correlation of batch means with position, or window share)."""
RANK_MIN_EFFECT = 0.05
"""``rank-coverage`` fails when ranks' label mixes differ by at least this kappa."""
SMALL_BUFFER = 0.01
"""``loader-config`` warns about a shuffle buffer holding less than this share of the data."""


def test_alpha(options: Options) -> float:
    """The level of each forensics test: ``FORENSICS_SHARE * alpha / STATISTICAL_CHECKS``."""
    return options.alpha * FORENSICS_SHARE / STATISTICAL_CHECKS


test_alpha.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def order_alpha(alpha: float) -> float:
    """The level of the order checks' Holm family when the forensics tests run beside it."""
    return alpha * ORDER_SHARE


# --------------------------------------------------------------------------- loader facts
@dataclass(frozen=True)
class Finding:
    """One fact read off the loader object: ``warn`` findings make ``loader-config`` warn."""

    code: str
    severity: str
    """``"warn"`` or ``"note"``."""
    text: str
    fix: str | None = None

    @property
    def cause(self) -> str:
        """A short cause for the hint."""
        return _CAUSES.get(self.code, self.code)


_CAUSES = {
    "shuffle-disabled": "shuffling is disabled on a training loader",
    "unsharded-iterable": "an IterableDataset without per-worker sharding is read by several workers",
    "set-epoch": "the order changes only through set_epoch, which nothing called here",
    "small-buffer": "the streaming shuffle buffer is far smaller than the data",
    "small-initial": "the shuffle buffer yields before it is filled (initial is far below its size)",
}


def _is_dataloader(info: LoaderInfo) -> bool:
    return info.type_name.endswith("DataLoader")


def _is_container(info: LoaderInfo) -> bool:
    return info.type_name in ("list", "tuple", "ndarray", "deque")


def _set_epoch_owner(info: LoaderInfo) -> str:
    if info.sampler and "Distributed" in info.sampler:
        return "sampler.set_epoch(epoch)"
    if info.dataset_kind == "iterable":
        return "dataset.set_epoch(epoch)"
    return "sampler.set_epoch(epoch)"


def config_findings(info: LoaderInfo, options: Options) -> list[Finding]:
    """What the loader's own configuration says (SPEC §8), without data."""
    out: list[Finding] = []
    workers = info.num_workers or 0
    if _is_dataloader(info) and info.dataset_kind == "map" and info.shuffle is False:
        sampler = info.sampler or "SequentialSampler"
        out.append(Finding(
            "shuffle-disabled", "note" if options.ordered else "warn",
            f"the DataLoader reads its map-style dataset with {sampler} (shuffle=False): the feed is the "
            "dataset's stored order, the same every epoch",
            DATALOADER_SHUFFLE_FIX,
        ))
    if info.dataset_kind == "iterable" and workers >= 2:
        if info.sharded is False:
            out.append(Finding(
                "unsharded-iterable", "warn",
                f"an IterableDataset is read by {workers} DataLoader workers and its code shows no per-worker "
                "split (torch.utils.data.get_worker_info()): every worker would deliver every sample",
                "shard inside __iter__: info = get_worker_info(); read only items[info.id::info.num_workers] "
                "(or give each worker its own files/shards)",
            ))
        elif info.sharded is None:
            out.append(Finding(
                "iterable-workers", "note",
                f"an IterableDataset is read by {workers} workers; its code could not be inspected for a "
                "per-worker split (the duplicates check looks at the samples themselves)",
            ))
    if info.has_set_epoch and info.shuffle is not False:
        owner = _set_epoch_owner(info)
        what = info.sampler if info.sampler and "Distributed" in info.sampler else (info.dataset or "the dataset")
        if info.epoch_changed is False:
            out.append(Finding(
                "set-epoch", "warn",
                f"{what} reshuffles only when {owner} is called, and its epoch stayed at "
                f"{info.sampler_epoch if info.sampler_epoch is not None else 0} over the passes drawn here: "
                "unless the training loop calls it, every epoch replays one order (DataLoader never calls it)",
                f"call {owner} at the start of every epoch, before iterating the loader",
            ))
        elif info.epoch_changed is True:
            out.append(Finding("set-epoch-called", "note", f"{what}: set_epoch was called between the passes drawn"))
        else:
            out.append(Finding(
                "set-epoch", "note",
                f"{what} reshuffles only when {owner} is called each epoch (DataLoader never calls it)",
            ))
    if info.shuffle_buffer is not None:
        size = info.dataset_length or info.epoch_samples
        words = adapters.wording(info)
        if _starts_unfilled(info, size):
            out.append(Finding(
                "small-initial", "note" if options.ordered else "warn",
                f"the shuffle buffer holds up to {info.shuffle_buffer:,} samples but starts yielding once it has "
                f"initial={info.shuffle_initial:,}: the first samples out are drawn from the first "
                f"{info.shuffle_initial:,} or so read, so the start of every epoch follows the stored order",
                f"fill the buffer before yielding: .shuffle({size}, initial={size})",
            ))
        if size and info.shuffle_buffer < SMALL_BUFFER * size:
            out.append(Finding(
                "small-buffer", "note" if options.ordered else "warn",
                f"the streaming shuffle buffer holds {info.shuffle_buffer:,} samples, "
                f"{info.shuffle_buffer / size:.2%} of the {size:,} in the data: labels stay in the order "
                "of the shards and files beyond that span",
                words.buffer_fix(info, None) or "shuffle the shard/file list every epoch and raise the buffer (see "
                "the order checks' hints for the size this feed needs)",
            ))
        else:
            out.append(Finding("buffer", "note", f"streaming shuffle buffer of {info.shuffle_buffer:,} samples"))
    if info.replacement:
        out.append(Finding("replacement", "note",
                           f"{info.sampler or 'the sampler'} draws with replacement: repeats within an epoch "
                           "are expected and the duplicates check discounts them"))
    if info.num_replicas is not None and info.num_replicas > 1:
        out.append(Finding("distributed", "note",
                           f"distributed sampler: rank {info.rank} of {info.num_replicas} (rank-coverage checks the views)"))
    return out


def loader_config(stream: Stream, options: Options) -> CheckResult:
    """``loader-config``: findings read off the loader object, ``warn`` at most (SPEC §4)."""
    info = stream.loader
    findings = config_findings(info, options)
    warns = [f for f in findings if f.severity == "warn"]
    notes = [f for f in findings if f.severity == "note"]
    described = info.describe()
    details = {"findings": [f.code for f in findings], "loader": described}
    if warns:
        message = "; ".join(f.text for f in warns)
        hint = "; ".join(f.cause for f in warns)
        fixes = "; ".join(f.fix for f in warns if f.fix)
        return CheckResult(LOADER_CONFIG, Status.WARN, message, hint=f"{hint}; fix: {fixes}",
                           method="read off the loader object (no data)", details=details)
    if notes:
        message = "; ".join(f.text for f in notes)
    elif _is_container(info):
        message = f"a {info.type_name} of batches: no sampler or dataset to inspect"
    elif _is_dataloader(info):
        message = f"nothing to flag in {described}"
    else:
        message = f"nothing to inspect on a {info.type_name} (no sampler or dataset attributes)"
    return CheckResult(LOADER_CONFIG, Status.PASS, message, method="read off the loader object (no data)",
                       details=details)


def _finding(stream: Stream, options: Options, code: str) -> Finding | None:
    return next((f for f in config_findings(stream.loader, options) if f.code == code), None)


# --------------------------------------------------------------------------- identities
def _epoch_ids(stream: Stream, epoch: int) -> tuple[np.ndarray | None, str]:
    e = stream.epochs[epoch]
    if e.indices is not None:
        return e.indices, "indices"
    if e.fingerprints is not None and e.fingerprints.size == e.labels.size:
        return e.fingerprints, "fingerprints"
    return None, "labels"


def _why_no_fingerprints(stream: Stream) -> str:
    for note in stream.notes:
        if note.startswith("sample fingerprints skipped"):
            return note
    return "no sample fingerprints were recorded (guard() records them with fingerprints=True)"


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def duplicates(stream: Stream, options: Options) -> CheckResult:
    """``duplicates``: samples drawn more often within an epoch than the sampler explains."""
    ids, source = _epoch_ids(stream, 0)
    if ids is None:
        return CheckResult(DUPLICATES, Status.SKIP, _why_no_fingerprints(stream))
    info = stream.loader
    sizes = stream.epochs[0].batch_sizes
    codes, counts = identity.identity_codes(ids)
    mult = identity.multiplicity_of_counts(counts)
    n = mult.samples
    what = "dataset indices" if source == "indices" else "inputs"
    if n < 2:
        return CheckResult(DUPLICATES, Status.SKIP, f"only {n} sample recorded")
    if source == "fingerprints" and mult.distinct == 1:
        return CheckResult(DUPLICATES, Status.SKIP,
                           f"all {n:,} sampled inputs are byte-identical (constant inputs): sample identity "
                           "cannot be read from them")
    # what the sampler explains
    mean_rep, var_rep, model = 0.0, 0.0, "each sample at most once per epoch"
    if info.replacement:
        if stream.sampler_probabilities is not None:
            mean_rep, var_rep = identity.expected_repeats(n, probabilities=stream.sampler_probabilities)
            model = f"{info.sampler or 'a weighted sampler'} with replacement"
        elif info.dataset_length:
            mean_rep, var_rep = identity.expected_repeats(n, population=info.dataset_length)
            model = f"uniform draws with replacement from {info.dataset_length:,} samples"
        else:
            mean_rep, var_rep, model = float(mult.repeats), 0.0, "a sampler with replacement (size unknown)"
    allowance = mean_rep + 3.0 * np.sqrt(var_rep)
    excess = max(0.0, mult.repeats - allowance)
    excess_share = excess / n
    alpha_f = test_alpha(options)
    workers = info.num_workers or 0
    worker_sig = (info.dataset_kind == "iterable" and workers >= 2 and mult.modal == workers
                  and mult.modal_share >= 0.5)
    prox: TestResult | None = None
    if mult.repeats > 0 and sizes.size >= 2:
        try:
            prox = identity.proximity_test(codes, sizes, band=max(1, workers), rng=data_rng(codes, sizes, salt=DUPLICATES),
                                           mc_below=MC_FACTOR * alpha_f, mc_max_perms=net_perms(alpha_f),
                                           mc_max_labels=1024)
        except stats.NotEnoughData:
            prox = None
    close = prox is not None and prox.pvalue <= alpha_f and prox.effect is not None and prox.effect > 0
    details: dict[str, Any] = {
        "identity": source, "samples": n, "distinct": mult.distinct, "repeats": mult.repeats,
        "expected_repeats": mean_rep, "excess_share": excess_share, "factor": mult.factor,
        "modal_multiplicity": mult.modal, "modal_share": mult.modal_share, "sampler_model": model,
        "alpha": alpha_f,
    }
    if prox is not None:
        details.update({"close_pairs": prox.statistic, "expected_close_pairs": prox.details["expected_pairs"],
                        "band_batches": prox.details["band_batches"], "proximity_pvalue": prox.pvalue})
    stat_p = prox.pvalue if prox is not None else None
    method = "multiplicity vs the sampler" + (f"; copy proximity: {prox.method}" if prox is not None else "")
    explained = f"{mult.repeats:,} repeats in {n:,} draws ({mult.distinct:,} distinct {what}), as {model} explains"
    if mult.repeats == 0:
        return CheckResult(DUPLICATES, Status.PASS, f"each of the {n:,} sampled {what} occurs once in the epoch",
                           statistic=0.0, effect=0.0, method=method, details=details)
    if excess_share == 0.0:
        if info.replacement:
            msg = f"{explained} (expected about {_fmt(mean_rep)})"
        else:
            msg = f"{mult.repeats:,} repeated {what} in {n:,} samples"
        return CheckResult(DUPLICATES, Status.PASS, msg, statistic=float(mult.repeats), pvalue=stat_p,
                           effect=0.0, method=method, details=details)
    factor_text = (f"each sample arrives {mult.factor:.1f} times per epoch ({n:,} draws of {mult.distinct:,} "
                   f"distinct {what})")
    if info.replacement:
        factor_text += f"; {model} explains about {_fmt(mean_rep)} repeats, not {mult.repeats:,}"
    big = excess_share >= DUPLICATE_MIN_EFFECT
    unsharded = _finding(stream, options, "unsharded-iterable")
    if source == "indices":
        status = Status.FAIL if big else Status.WARN
        cause = ("the sampler yields the same dataset index several times in one epoch although it draws "
                 "without replacement: an index list with repeats, a custom (batch) sampler, or a "
                 "ConcatDataset of overlapping parts")
        fix = "give the sampler each index once per epoch (e.g. torch.randperm(len(dataset)))"
    elif worker_sig or close:
        status = Status.FAIL if big else Status.WARN
        if worker_sig:
            cause = (f"every one of the {workers} DataLoader workers reads the whole IterableDataset (samples "
                     f"arrive {mult.modal} times each = num_workers)")
            if unsharded is not None:
                cause += "; its code shows no get_worker_info() split"
            fix = ("shard inside __iter__: info = torch.utils.data.get_worker_info(); read only "
                   "items[info.id::info.num_workers] (or give each worker its own files/shards)")
        else:
            band = int(prox.details["band_batches"]) if prox is not None else 1
            cause = (f"copies of the same sample arrive within {band} batch{'es' if band > 1 else ''} of each other "
                     "far more often than a shuffled feed puts them: one source read twice in parallel (several "
                     "workers or processes reading one stream), a loader yielding each batch twice, or a repeat "
                     "transform")
            fix = ("read each sample once per epoch: shard streams per worker (get_worker_info()) and per rank, "
                   "and remove repeat/duplicate stages")
    elif 2 <= mult.modal <= 16 and mult.modal_share >= 0.5 and mult.distinct >= 16:
        status = Status.WARN
        cause = (f"most samples arrive exactly {mult.modal} times, in random positions: the dataset holds them "
                 f"{mult.modal} times (a ConcatDataset of overlapping parts, files listed twice, a repeated index)")
        fix = "deduplicate the dataset (or the file/shard list) so each sample appears once per epoch"
    else:
        share = mult.repeats / n
        msg = (f"{share:.0%} of the {n:,} sampled inputs repeat an input already seen in the epoch, in random "
               "positions and counts: read as identical inputs in the data, not a pipeline defect")
        return CheckResult(DUPLICATES, Status.PASS, msg, statistic=float(mult.repeats), pvalue=stat_p,
                           effect=excess_share, method=method, details=details)
    return CheckResult(DUPLICATES, status, factor_text, statistic=float(mult.repeats), pvalue=stat_p,
                       effect=excess_share, hint=f"{cause}; fix: {fix}", method=method, details=details)


# --------------------------------------------------------------------------- cross-epoch order
CROSS_EPOCH_SAMPLES = 2**18
"""cross-epoch-order compares at most this many leading positions of two epochs: a replayed order
matches at every position, so a quarter of a million settle any question the test asks, and a
longer comparison (a million-sample draw, whole epochs from a sampler) only costs sorting time."""


def _comparable(stream: Stream) -> tuple[np.ndarray, np.ndarray, str] | None:
    e1, e2 = stream.epochs[0], stream.epochs[1]
    n = int(min(e1.labels.size, e2.labels.size, CROSS_EPOCH_SAMPLES))
    for kind in ("indices", "fingerprints"):
        a, b = getattr(e1, kind), getattr(e2, kind)
        if a is None or b is None or a.size < n or b.size < n:
            continue
        a, b = a[:n], b[:n]
        if kind == "indices" and min(a.min(), b.min()) >= 0:
            # indices are their own codes, unless they index a dataset far larger than the samples
            # compared (a whole-epoch subsample of 100M): then coded densely, so tables scale with n
            codes, _ = identity.identity_codes(np.concatenate([a, b]))
            return codes[:n], codes[n:], "sample"
        labels_distinct = identity.distinct_count(e1.labels[:n])
        # more informative than the labels (not constant inputs)
        if identity.more_distinct_than(a, max(labels_distinct, 1)):
            codes = identity.dense_codes(np.concatenate([a, b]))
            return codes[:n], codes[n:], "sample" if kind == "indices" else "input"
    if stream.kind is LabelKind.NONE:
        return None  # no label to compare, and no input identity either
    if stream.kind is LabelKind.CONTINUOUS:
        _, codes = np.unique(np.concatenate([e1.labels[:n], e2.labels[:n]]), return_inverse=True)
        codes = codes.ravel()
        return codes[:n], codes[n:], "target"
    return e1.labels[:n], e2.labels[:n], "label"


def cross_epoch_order(stream: Stream, options: Options) -> CheckResult:
    """``cross-epoch-order``: epoch 2 replaying epoch 1's order (by identity where known, else labels)."""
    if len(stream.epochs) < 2:
        why = "one pass was drawn"
        if any("one-shot" in note for note in stream.notes):
            why = "the loader is a one-shot iterator: one pass was drawn"
        return CheckResult(CROSS_EPOCH_ORDER, Status.SKIP, f"{why}, so epochs cannot be compared")
    comparable = _comparable(stream)
    if comparable is None:
        return CheckResult(CROSS_EPOCH_ORDER, Status.SKIP,
                           f"the feed has no label and {_why_no_fingerprints(stream)}: the epochs cannot be compared")
    first, second, unit = comparable
    alpha_f = test_alpha(options)
    try:
        r = identity.epoch_match_test(first, second, rng=data_rng(first, second, salt=CROSS_EPOCH_ORDER),
                                      mc_below=MC_FACTOR * alpha_f, mc_max_perms=net_perms(alpha_f),
                                      mc_max_labels=2048)
    except stats.NotEnoughData as exc:
        return CheckResult(CROSS_EPOCH_ORDER, Status.SKIP, f"cannot compare the epochs: {exc.reason}")
    info = stream.loader
    n = int(r.details["samples"])
    rate, expected = r.details["match_rate"], r.details["expected_rate"]
    message = (f"the first {n:,} samples of epoch 2 repeat epoch 1's {unit} at {rate:.0%} of positions; "
               f"independent shuffles: {expected:.0%}")
    details = {**r.details, "compared": unit, "alpha": alpha_f}
    base = dict(statistic=r.statistic, pvalue=r.pvalue, effect=r.effect, method=r.method, details=details)
    if r.pvalue > alpha_f:
        return CheckResult(CROSS_EPOCH_ORDER, Status.PASS, message, **base)
    if options.ordered:
        return CheckResult(CROSS_EPOCH_ORDER, Status.PASS, f"(feed declared ordered, not judged) {message}", **base)
    if _is_container(info):
        note = (f"not judged: a {info.type_name} of batches replays its order by construction ({message}); "
                "check the loader that builds it to compare its epochs")
        return CheckResult(CROSS_EPOCH_ORDER, Status.SKIP, note, **base)
    if info.example_level and info.dataset_kind == "map":
        fix = adapters.wording(info).replay_fix(info) or DATALOADER_SHUFFLE_FIX
        aside = " (ds.shuffle(seed) too: one fixed permutation)" if info.library == "datasets" else ""
        hint = f"iterating a {info.type_name} directly reads it in one stored order{aside}, the same every epoch; fix: {fix}"
        return CheckResult(CROSS_EPOCH_ORDER, Status.WARN, message, hint=hint, **base)
    if info.shuffle is False and _is_dataloader(info):
        hint = ("shuffle=False reads the dataset in its stored order, the same every epoch; fix: "
                + DATALOADER_SHUFFLE_FIX)
        return CheckResult(CROSS_EPOCH_ORDER, Status.WARN, message, hint=hint, **base)
    if info.has_set_epoch and info.epoch_changed is not True:
        owner = _set_epoch_owner(info)
        what = info.sampler if info.sampler and "Distributed" in info.sampler else (info.dataset or "the dataset")
        hint = (f"{what} reshuffles only when {owner} is called, and nothing called it between the passes drawn "
                "here; this check does not run your training loop, so it cannot tell whether yours does "
                f"(loadercheck.guard() sees the real loop and confirms it); fix: call {owner} at the start "
                "of every epoch (DataLoader never calls it)")
        return CheckResult(CROSS_EPOCH_ORDER, Status.WARN, message, hint=hint, **base)
    status = Status.FAIL if (r.effect or 0.0) >= REPLAY_EFFECT else Status.WARN
    if info.library not in (None, "torch") and adapters.wording(info).replay_fix(info):
        cause = ("every epoch is fed in (nearly) the same order: the library's shuffle is seeded the same way each "
                 "epoch, or nothing advances its epoch")
        fix = adapters.wording(info).replay_fix(info) or ""
    elif info.dataset_kind == "iterable" or not _is_dataloader(info):
        cause = ("every epoch streams in (nearly) the same order: files/shards read in one fixed order with no "
                 "or a re-seeded shuffle (a seeded WebDataset .shuffle(n, seed=s), a generator seeded the same "
                 "way every epoch)")
        fix = ("shuffle the shard list and the samples afresh every epoch (an epoch-dependent seed, "
               "set_epoch(epoch), WebDataset detshuffle=True) behind a large enough buffer")
    else:
        cause = ("every epoch is fed in (nearly) the same order: a fixed seed applied again each epoch (a "
                 "torch.Generator re-seeded in __iter__ or a sampler rebuilt with one seed, Dataset.shuffle(seed) "
                 "then shuffle=False) or a fixed index list")
        fix = ("draw a new permutation every epoch (shuffle=True with one generator created once, or "
               "set_epoch(epoch) on a seeded sampler)")
        if info.custom_batch_sampler:
            fix = (f"build the batch_sampler's ({info.sampler}) batches afresh every epoch: a new random grouping "
                   "and order of indices per epoch (e.g. BatchSampler(RandomSampler(dataset), batch_size, drop_last=False))")
    hint = f"{cause}; fix: {fix}"
    return CheckResult(CROSS_EPOCH_ORDER, status, message, hint=hint, **base)


# --------------------------------------------------------------------------- input drift
def input_drift(stream: Stream, options: Options) -> CheckResult:
    """``input-drift``: per-sample input summaries changing along the stream (whole batches permuted)."""
    from .fingerprints import FEATURE_NAMES

    features = stream.epochs[0].features
    if features is None:
        why = next((note for note in stream.notes if note.startswith("input summaries skipped")), None)
        return CheckResult(INPUT_DRIFT, Status.SKIP, why or "no input summaries were recorded (inputs are not numeric arrays)")
    alpha_f = test_alpha(options)
    features = _within_label(features, stream)
    try:
        r = identity.feature_drift_test(features, stream.batch_sizes, names=FEATURE_NAMES,
                                        rng=data_rng(features, stream.batch_sizes, salt=INPUT_DRIFT), mc_below=MC_FACTOR * alpha_f,
                                        mc_max_perms=net_perms(alpha_f))
    except stats.NotEnoughData as exc:
        return CheckResult(INPUT_DRIFT, Status.SKIP, f"not enough data: {exc.reason}")
    feature = FEATURE_NAMES[int(r.details["feature"])]
    window = int(r.details["window_batches"])
    if window == 0:
        way = "rises" if r.details["direction"] > 0 else "falls"
        shape = f"the batches' {feature} {way} along the stream (rank correlation {r.effect:.2f})"
    else:
        shape = f"the batches' {feature} differs between windows of {window} batches (share {r.effect:.2f})"
    significant = r.pvalue <= alpha_f
    details = {**r.details, "feature_name": feature, "alpha": alpha_f}
    base = dict(statistic=r.statistic, pvalue=r.pvalue, effect=r.effect, method=r.method, details=details)
    if not significant:
        msg = f"the inputs (given their labels) look alike along the stream (strongest: {shape})"
        return CheckResult(INPUT_DRIFT, Status.PASS, msg, **base)
    message = f"the inputs change along the stream beyond what the labels explain: {shape}"
    if options.ordered:
        return CheckResult(INPUT_DRIFT, Status.PASS, f"(feed declared ordered, not judged) {message}", **base)
    status = Status.FAIL if (r.effect or 0.0) >= DRIFT_MIN_EFFECT else Status.WARN
    hint = ("inputs arrive grouped by source, time or size: datasets or streams concatenated, data sorted by "
            "capture time or by length; fix: shuffle across the sources (shuffle=True over the whole "
            "ConcatDataset, interleave the streams, shuffle the shard list every epoch); if the grouping is "
            "on purpose (length-grouped batches, curricula), pass --ordered")
    return CheckResult(INPUT_DRIFT, status, message, hint=hint, **base)


def _within_label(features: np.ndarray, stream: Stream) -> np.ndarray:
    """Features minus their label's mean (decile of the target for regression): what the label
    order explains is removed, so a label-sorted feed with label-dependent inputs is left to the
    order checks. A per-sample function of the whole multiset, so batches stay exchangeable."""
    labels = stream.labels
    if labels.size != features.shape[0]:
        return features
    codes = stats.decile_codes(labels) if stream.kind is LabelKind.CONTINUOUS else labels
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes).astype(np.float64)
    sums = np.stack([np.bincount(codes, weights=column, minlength=counts.size) for column in features.T], axis=1)
    means = sums / np.maximum(counts, 1.0)[:, None]
    return features - means[codes]


# --------------------------------------------------------------------------- rank coverage
def rank_coverage(stream: Stream, options: Options) -> CheckResult | None:
    """``rank-coverage``: overlap, coverage and label balance across distributed ranks (None when no
    rank information was recorded)."""
    if stream.ranks is None:
        return None
    from .distributed import rank_coverage_result

    return rank_coverage_result(stream.ranks, options, alpha=test_alpha(options), min_effect=RANK_MIN_EFFECT)


# --------------------------------------------------------------------------- mixing window
def mixing_note(stream: Stream) -> tuple[str, dict[str, Any]] | None:
    """"this feed mixes labels over about 2,000 samples; the data has 500,000" (+ a buffer size that
    would mix them), for the order checks' hints; None when it cannot be estimated."""
    if stream.kind is not LabelKind.CATEGORICAL:
        return None
    try:
        w = identity.mixing_window(stream.labels)
    except stats.NotEnoughData:
        return None
    if w.samples < 2 and not w.lower_bound:
        return None  # neighbours already differ: a pattern, not clusters a buffer would mix
    info = stream.loader
    total = info.dataset_length or info.epoch_samples
    around = f"at least {w.samples:,}" if w.lower_bound else f"about {w.samples:,}"
    text = f"this feed mixes labels over {around} samples"
    if total:
        text += f"; the data has {total:,}"
    buffer = _round_up(max(20 * w.samples, 2 * (stream.loader.shuffle_buffer or 0)))
    if total:
        buffer = min(buffer, total)
    details = {"mixing_window": w.samples, "mixing_window_is_lower_bound": w.lower_bound,
               "suggested_buffer": buffer}
    streaming = info.dataset_kind == "iterable" or info.shuffle_buffer is not None
    if streaming or (not _is_dataloader(info) and info.dataset_kind != "map"):
        text += "; " + _buffer_advice(info, buffer, total)
    return text, details


def _starts_unfilled(info: LoaderInfo, size: int | None) -> bool:
    """A streaming buffer meant as a full shuffle (it holds the whole data) that yields once it has
    ``initial`` samples, under a tenth of the data: the start of every epoch follows the stored order."""
    held, initial = info.shuffle_buffer, info.shuffle_initial
    return bool(size) and held is not None and initial is not None and held >= size and initial < size / 10


def _buffer_advice(info: LoaderInfo, buffer: int, total: int | None) -> str:
    """What to change in the streaming shuffle, in the library's terms."""
    if _starts_unfilled(info, total):
        return (f"the shuffle buffer ({info.shuffle_buffer:,}) already holds the whole data, but it starts yielding "
                f"after initial={info.shuffle_initial:,} samples, so the first samples out follow the stored order: "
                f"fill it first, .shuffle({total}, initial={total})")
    library_fix = adapters.wording(info).buffer_fix(info, buffer)
    generic = f"a shuffle buffer of about {buffer:,} samples (20x that span) would mix them"
    return f"{generic}: {library_fix}" if library_fix else generic


def _round_up(x: int) -> int:
    x = max(int(x), 1)
    magnitude = 10 ** max(len(str(x)) - 2, 0)
    return int(-(-x // magnitude) * magnitude)


def annotate_order_results(results: list[CheckResult], stream: Stream) -> list[CheckResult]:
    """Add the mixing window to failing/warning order checks' hints and details."""
    flagged = [r for r in results if r.id in ORDER_CHECK_IDS and r.id not in SIGNAL_CHECK_IDS
               and r.status in (Status.FAIL, Status.WARN)]
    if not flagged:
        return results
    note = mixing_note(stream)
    if note is None:
        return results
    text, extra = note
    out = []
    for r in results:
        if r in flagged:
            hint = f"{r.hint} ({text})" if r.hint else text
            r = dataclasses.replace(r, hint=hint, details={**r.details, **extra})
        out.append(r)
    return out


# --------------------------------------------------------------------------- all of them
def run_forensics(stream: Stream, options: Options) -> tuple[CheckResult, ...]:
    """Run the forensics checks that apply to ``stream`` (each wrapped: a check that raises is a
    ``skip`` with the reason, never a crash)."""
    out: list[CheckResult] = []
    for check_id, fn in ((INPUT_DRIFT, input_drift), (DUPLICATES, duplicates), (CROSS_EPOCH_ORDER, cross_epoch_order),
                         (RANK_COVERAGE, rank_coverage), (LOADER_CONFIG, loader_config)):
        try:
            result = fn(stream, options)
        except Exception as exc:  # noqa: BLE001 - a forensics check must never stop the report
            result = CheckResult(check_id, Status.SKIP, f"could not run: {type(exc).__name__}: {exc}")
        if result is not None:
            out.append(result)
    return tuple(out)

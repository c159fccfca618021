"""Pipeline forensics: duplicates, cross-epoch-order, loader-config, input-drift, mixing window.

Each defect is built as a small real loader and must be caught with its cause and fix; each clean
counterpart (with-replacement sampling, set_epoch called, sharded workers, shuffled sources) passes.
The statistics are checked against brute-force enumeration and calibrated on clean streams.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import loaders as L
import numpy as np
import pytest
import torch
from torch.utils.data import (
    ConcatDataset,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    WeightedRandomSampler,
    get_worker_info,
)

import loadercheck
from loadercheck import forensics
from loadercheck.checks import CHECK_IDS
from loadercheck.options import Options
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Status, Stream
from loadercheck.stats import identity
from loadercheck.stats.moments import label_sums, pair_moments

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks.md"


def dataset(n=600, classes=10, seed=0, sort=False):
    labels = L.sorted_labels(n, classes) if sort else L.shuffled_labels(n, classes, seed)
    x = torch.from_numpy(L.features_for(labels, seed=seed))
    return L.ArrayDataset(x, torch.from_numpy(labels))


def check(loader, **kw):
    return loadercheck.check(loader, **kw)


# ---------------------------------------------------------------------- loaders with pipeline bugs
class Stream_(IterableDataset):
    """An IterableDataset over in-memory samples; ``shard`` splits them per worker."""

    def __init__(self, n=960, shard=False, seed=0):
        self.labels = L.shuffled_labels(n, 10, seed)
        self.x = L.features_for(self.labels, seed=seed)
        self.shard = shard

    def __iter__(self):
        start, step = 0, 1
        if self.shard:
            info = get_worker_info()
            if info is not None:
                start, step = info.id, info.num_workers
        for i in range(start, len(self.labels), step):
            yield torch.from_numpy(self.x[i]), int(self.labels[i])


class Unsharded(IterableDataset):
    """The SPEC §8 bug: every worker streams every sample (its code never splits by worker)."""

    def __init__(self, n=960, seed=0):
        self.labels = L.shuffled_labels(n, 10, seed)
        self.x = L.features_for(self.labels, seed=seed)

    def __iter__(self):
        for i in range(len(self.labels)):
            yield torch.from_numpy(self.x[i]), int(self.labels[i])


class EpochWrapper:
    """A training-loop-like wrapper that calls ``sampler.set_epoch`` before each pass (clean)."""

    def __init__(self, loader):
        self.loader = loader
        self.dataset = loader.dataset
        self.sampler = loader.sampler
        self.batch_size = loader.batch_size
        self.epoch = 0

    def __iter__(self):
        self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        return iter(self.loader)

    def __len__(self):
        return len(self.loader)


class Reseeded:
    """Re-iterable feed that shuffles with the same seed on every pass (a replayed order)."""

    def __init__(self, n=640, batch_size=32, keep=1.0, seed=0):
        self.labels = L.shuffled_labels(n, 10, seed)
        self.x = L.features_for(self.labels, seed=seed)
        self.batch_size, self.keep, self.passes = batch_size, keep, 0

    def __iter__(self):
        order = np.random.default_rng(0).permutation(self.labels.size)
        if self.passes and self.keep < 1.0:  # later passes: only a share of positions replayed
            rng = np.random.default_rng(self.passes)
            moved = np.flatnonzero(rng.random(order.size) >= self.keep)
            order[moved] = order[rng.permutation(moved)]
        self.passes += 1
        for s in range(0, order.size, self.batch_size):
            idx = order[s:s + self.batch_size]
            yield self.x[idx], self.labels[idx]


class Twice:
    """Yields every batch two times in a row (a loop or transform that repeats batches)."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        for b in self.batches:
            yield b
            yield b


# ---------------------------------------------------------------------- duplicates
def test_unsharded_iterable_dataset_read_by_two_workers_fails_with_cause_and_fix():
    loader = DataLoader(Unsharded(), batch_size=32, num_workers=2)
    report = check(loader)
    dup = report["duplicates"]
    assert dup.status is Status.FAIL
    assert dup.details["factor"] == pytest.approx(2.0) and dup.details["modal_multiplicity"] == 2
    assert "2 DataLoader workers" in dup.hint and "get_worker_info" in dup.hint
    assert "each sample arrives 2.0 times" in dup.message
    config = report["loader-config"]
    assert config.status is Status.WARN and "unsharded-iterable" in config.details["findings"]


def test_properly_sharded_workers_pass():
    loader = DataLoader(Stream_(shard=True), batch_size=32, num_workers=2)
    report = check(loader)
    assert report["duplicates"].status is Status.PASS
    assert report["loader-config"].status is Status.PASS


@pytest.mark.parametrize("kind", ["uniform", "weighted"])
def test_sampling_with_replacement_explains_its_repeats(kind):
    ds = dataset(600)
    if kind == "uniform":
        sampler = RandomSampler(ds, replacement=True, num_samples=1200, generator=torch.Generator().manual_seed(0))
    else:
        weights = torch.ones(600)
        weights[:60] = 5.0  # oversample a tenth of the data
        sampler = WeightedRandomSampler(weights, num_samples=1200, replacement=True,
                                        generator=torch.Generator().manual_seed(0))
    report = check(DataLoader(ds, batch_size=32, sampler=sampler))
    dup = report["duplicates"]
    assert dup.status is Status.PASS, dup.message
    assert dup.details["repeats"] > 300 and "with replacement" in dup.message
    assert abs(dup.details["repeats"] - dup.details["expected_repeats"]) < 4 * np.sqrt(dup.details["expected_repeats"])
    assert report.verdict is Status.PASS


def test_batches_repeated_back_to_back_fail_on_copy_proximity():
    batches = L.from_labels(L.shuffled_labels(640, 10), 32)
    dup = check(Twice(batches))["duplicates"]
    assert dup.status is Status.FAIL and dup.details["proximity_pvalue"] < 1e-10
    assert "within 1 batch" in dup.hint


def test_dataset_holding_every_sample_twice_warns():
    ds = dataset(300)
    loader = DataLoader(ConcatDataset([ds, ds]), batch_size=30, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    dup = check(loader)["duplicates"]
    assert dup.status is Status.WARN and "exactly 2 times" in dup.hint and "ConcatDataset" in dup.hint


def test_constant_inputs_skip_and_identical_inputs_in_random_places_pass():
    labels = L.shuffled_labels(640, 10)
    zeros = [(np.zeros((32, 2)), labels[i:i + 32]) for i in range(0, 640, 32)]
    assert check(zeros)["duplicates"].status is Status.SKIP
    # inputs that only encode the label: heavy repeats, no pipeline pattern
    coarse = [(labels[i:i + 32, None].astype(np.float32), labels[i:i + 32]) for i in range(0, 640, 32)]
    dup = check(coarse)["duplicates"]
    assert dup.status is Status.PASS and "identical inputs" in dup.message


def test_sampler_repeating_indices_fails_from_the_index_order():
    ds = dataset(400)
    order = np.random.default_rng(0).permutation(np.repeat(np.arange(200), 2))  # half the data, twice
    loader = DataLoader(ds, batch_size=40, sampler=order.tolist())
    dup = check(loader, from_sampler=True)["duplicates"]
    assert dup.status is Status.FAIL and dup.details["identity"] == "indices"
    assert "index several times" in dup.hint


def test_duplicates_skip_without_fingerprints():
    labels = L.shuffled_labels(320, 4)
    batches = [{"caption": ["a sentence"] * 32, "label": labels[i:i + 32]} for i in range(0, 320, 32)]
    result = check(batches)["duplicates"]
    assert result.status is Status.SKIP and "fingerprints skipped" in result.message


# ---------------------------------------------------------------------- cross-epoch order
def test_distributed_sampler_without_set_epoch_warns_in_the_cli_and_names_the_fix():
    ds = dataset(640)
    loader = DataLoader(ds, batch_size=32, sampler=DistributedSampler(ds, num_replicas=2, rank=0, seed=0))
    report = check(loader)
    cross, config = report["cross-epoch-order"], report["loader-config"]
    assert cross.status is Status.WARN and cross.effect == pytest.approx(1.0)
    assert "set_epoch(epoch)" in cross.hint and "guard()" in cross.hint
    assert config.status is Status.WARN and "set-epoch" in config.details["findings"]
    assert report.verdict is Status.WARN  # static + replay in the CLI: warn, never fail


def test_set_epoch_called_every_epoch_passes():
    ds = dataset(640)
    loader = DataLoader(ds, batch_size=32, sampler=DistributedSampler(ds, num_replicas=2, rank=0, seed=0))
    report = check(EpochWrapper(loader))
    assert report["cross-epoch-order"].status is Status.PASS
    assert report["loader-config"].status is Status.PASS
    assert "set-epoch-called" in report["loader-config"].details["findings"]


def test_reshuffling_dataloader_passes_and_a_reseeded_shuffle_fails():
    ds = dataset(640)
    fresh = check(DataLoader(ds, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1)))
    assert fresh["cross-epoch-order"].status is Status.PASS and fresh.verdict is Status.PASS
    replay = check(Reseeded())["cross-epoch-order"]
    assert replay.status is Status.FAIL and replay.effect == pytest.approx(1.0)
    assert replay.details["compared"] == "input" and "fix:" in replay.hint


def test_partial_replay_warns():
    result = check(Reseeded(n=3200, keep=0.3))["cross-epoch-order"]
    assert result.status is Status.WARN and 0.1 < result.effect < 0.5


def test_fixed_containers_are_not_judged_and_shuffle_false_replays_warn():
    batches = L.from_labels(L.shuffled_labels(640, 10), 32)
    listed = check(batches)
    assert listed["cross-epoch-order"].status is Status.SKIP
    assert "replays its order by construction" in listed["cross-epoch-order"].message
    assert listed.verdict is Status.PASS
    sequential = check(DataLoader(dataset(640), batch_size=32, shuffle=False))
    replay = sequential["cross-epoch-order"]
    assert replay.status is Status.WARN and "100% of positions" in replay.message and "shuffle=True" in replay.hint
    assert sequential["loader-config"].status is Status.WARN and sequential.verdict is Status.WARN
    declared = check(Reseeded(), ordered=True)["cross-epoch-order"]
    assert declared.status is Status.PASS and declared.message.startswith("(feed declared ordered")


def test_one_pass_skips():
    result = check(L.generator_loader(L.shuffled_labels(320, 4), 32))["cross-epoch-order"]
    assert result.status is Status.SKIP and "one-shot" in result.message


# ---------------------------------------------------------------------- loader-config
def test_loader_config_findings_read_off_the_object():
    sequential = forensics.loader_config(_stream(LoaderInfo("DataLoader", sampler="SequentialSampler", shuffle=False,
                                                           dataset_kind="map")), Options())
    assert sequential.status is Status.WARN and "shuffle=True" in sequential.hint
    ordered = forensics.loader_config(_stream(LoaderInfo("DataLoader", sampler="SequentialSampler", shuffle=False,
                                                        dataset_kind="map")), Options(ordered=True))
    assert ordered.status is Status.PASS
    buffer = forensics.loader_config(_stream(LoaderInfo("IterableDataset", dataset_kind="iterable", shuffle_buffer=100,
                                                       dataset_length=1_000_000)), Options())
    assert buffer.status is Status.WARN and "small-buffer" in buffer.details["findings"]
    plain = forensics.loader_config(_stream(LoaderInfo("list")), Options())
    assert plain.status is Status.PASS and "list of batches" in plain.message


def test_describe_loader_exposes_the_forensic_facts():
    from loadercheck.adapters import describe_loader

    ds = dataset(100)
    info = describe_loader(DataLoader(ds, sampler=DistributedSampler(ds, num_replicas=4, rank=1)))
    assert (info.num_replicas, info.rank, info.has_set_epoch, info.sampler_epoch) == (4, 1, True, 0)
    assert info.dataset_kind == "map" and info.replacement is False
    info = describe_loader(DataLoader(Unsharded(), num_workers=2))
    assert info.dataset_kind == "iterable" and info.sharded is False and info.num_workers == 2
    assert describe_loader(DataLoader(Stream_(shard=True))).sharded is True
    info = describe_loader(DataLoader(ds, sampler=RandomSampler(ds, replacement=True)))
    assert info.replacement is True and info.num_samples == 100


def test_guard_does_not_warn_about_set_epoch_it_cannot_see():
    ds = dataset(320)
    sampler = DistributedSampler(ds, num_replicas=2, rank=0, seed=0)
    g = loadercheck.guard(DataLoader(ds, batch_size=32, sampler=sampler), on_fail="log")
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for _ in g:
            pass
    assert g.report["loader-config"].status is Status.PASS
    assert g.cross_epoch.status is Status.PASS


# ---------------------------------------------------------------------- input drift
def _concatenated_sources(n=3200, shift=1.5, batch_size=32):
    labels = L.shuffled_labels(n, 10)
    x = L.features_for(labels)
    x[n // 2:] += shift  # the second source is brighter
    return [(x[s:s + batch_size], labels[s:s + batch_size]) for s in range(0, n, batch_size)]


def test_two_concatenated_sources_fail_input_drift_while_labels_pass():
    report = check(_concatenated_sources())
    drift = report["input-drift"]
    assert drift.status is Status.FAIL and drift.effect >= forensics.DRIFT_MIN_EFFECT
    assert "the inputs change along the stream" in drift.message and "concatenated" in drift.hint
    assert report["batch-entropy"].status is Status.PASS and report["window-drift"].status is Status.PASS


def test_shuffled_sources_pass_input_drift_and_ordered_is_not_judged():
    batches = _concatenated_sources()
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    order = np.random.default_rng(0).permutation(y.size)
    mixed = [(x[order[s:s + 32]], y[order[s:s + 32]]) for s in range(0, y.size, 32)]
    assert check(mixed)["input-drift"].status is Status.PASS
    declared = check(batches, ordered=True)["input-drift"]
    assert declared.status is Status.PASS and "declared ordered" in declared.message


def test_input_drift_skips_without_numeric_inputs():
    labels = L.shuffled_labels(320, 4)
    batches = [{"text": ["w"] * 32, "label": labels[i:i + 32]} for i in range(0, 320, 32)]
    assert check(batches)["input-drift"].status is Status.SKIP


def test_input_drift_is_calibrated_on_clean_streams_with_batch_effects():
    """Batches are exchangeable units: per-batch effects (dynamic padding) do not raise alarms."""
    rng = np.random.default_rng(5)
    levels = [0.05, 0.01]
    hits = np.zeros(len(levels))
    reps = 300
    for _ in range(reps):
        nb, b = int(rng.integers(8, 80)), int(rng.choice([4, 32]))
        per_batch = rng.normal(size=(nb, 1, 6)) * rng.choice([0.0, 2.0])  # a batch-level shift, or none
        feats = (rng.standard_t(3, size=(nb, b, 6)) + per_batch).reshape(-1, 6)
        p = identity.feature_drift_test(feats, np.full(nb, b)).pvalue
        hits += p <= np.array(levels)
    assert np.all(hits / reps <= np.array(levels) + 3 * np.sqrt(np.array(levels) / reps))


def test_input_drift_power_on_two_sources():
    rng = np.random.default_rng(6)
    flagged = 0
    for _ in range(20):
        feats = rng.normal(size=(64 * 32, 6))
        feats[32 * 32:, 0] += 0.5  # half a standard deviation, second half of the stream
        flagged += identity.feature_drift_test(feats, np.full(64, 32)).pvalue <= 1e-5
    assert flagged >= 19


# ---------------------------------------------------------------------- statistics vs brute force
def _distinct_permutations(seq):
    return set(itertools.permutations(seq))


@pytest.mark.parametrize("x, y", [([0, 0, 1, 2, 1, 0], [1, 0, 0, 2, 0, 1]), ([0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0]),
                                  ([0, 0, 0, 1, 1, 2, 2], [2, 0, 1, 0, 2, 1, 0])])
def test_match_moments_equal_brute_force(x, y):
    x, y = np.array(x), np.array(y)
    values = [np.count_nonzero(x == np.array(p)) for p in itertools.permutations(y)]
    mean, var = identity.match_moments(x, y)
    assert mean == pytest.approx(np.mean(values)) and var == pytest.approx(np.var(values))


def test_two_class_replay_pvalue_is_the_exact_law():
    x = np.array([0, 0, 0, 1, 1, 0, 0, 1])
    y = np.array([0, 1, 0, 0, 0, 1, 0, 1])
    values = np.array([np.count_nonzero(x == np.array(p)) for p in itertools.permutations(y)])
    result = identity.epoch_match_test(x, y)
    assert "exact" in result.method
    assert result.pvalue == pytest.approx(np.mean(values >= result.statistic))


@pytest.mark.parametrize("band", [0, 1, 2])
def test_band_pair_count_and_moments_equal_brute_force(band):
    codes = np.array([0, 0, 1, 1, 2, 0, 3, 1])
    sizes = np.array([3, 2, 1, 2])
    batch_of = np.repeat(np.arange(sizes.size), sizes)

    def naive(c):
        return sum(1 for i in range(c.size) for j in range(i + 1, c.size)
                   if c[i] == c[j] and abs(batch_of[i] - batch_of[j]) <= band)

    values = [naive(np.array(p)) for p in itertools.permutations(codes)]
    fast = identity._band_pairs(np.array(list(itertools.permutations(codes))[:50]), batch_of, band, 4)
    assert fast.tolist() == values[:50]
    mean, var = pair_moments(identity._band_graph(sizes, band), label_sums(np.bincount(codes)))
    assert mean == pytest.approx(np.mean(values)) and var == pytest.approx(np.var(values))


def test_expected_repeats_match_simulation():
    rng = np.random.default_rng(2)
    sims = np.array([500 - np.unique(rng.integers(0, 300, 500)).size for _ in range(4000)])
    mean, var = identity.expected_repeats(500, population=300)
    assert mean == pytest.approx(sims.mean(), rel=0.01) and var == pytest.approx(sims.var(), rel=0.1)
    p = np.r_[np.full(50, 5.0), np.ones(250)]
    p /= p.sum()
    sims = np.array([500 - np.unique(rng.choice(300, 500, p=p)).size for _ in range(4000)])
    mean, bound = identity.expected_repeats(500, probabilities=p)
    assert mean == pytest.approx(sims.mean(), rel=0.01) and bound >= sims.var() * 0.9


@pytest.mark.parametrize("shares", [np.full(10, 0.1), np.array([0.95, 0.05]), np.full(300, 1 / 300)])
def test_cross_epoch_match_test_false_alarms_stay_below_nominal(shares):
    rng = np.random.default_rng(3)
    n = 600
    levels = np.array([0.05, 0.01, 0.001])
    hits = np.zeros(3)
    reps = 1500
    labels = rng.choice(len(shares), size=n, p=shares)
    for _ in range(reps):
        p = identity.epoch_match_test(rng.permutation(labels), rng.permutation(labels)).pvalue
        hits += p <= levels
    assert np.all(hits / reps <= levels + 3 * np.sqrt(levels / reps) + 1e-3)


def test_proximity_test_false_alarms_with_replacement():
    rng = np.random.default_rng(4)
    hits = 0
    reps = 600
    for _ in range(reps):
        ids = rng.integers(0, 400, 640)  # with replacement: many repeats, random places
        hits += identity.proximity_test(ids, np.full(20, 32), band=2).pvalue <= 0.01
    assert hits / reps <= 0.01 + 3 * np.sqrt(0.01 / reps)


def test_mixing_window_tracks_the_block_length():
    rng = np.random.default_rng(0)
    assert identity.mixing_window(rng.integers(0, 10, 20_000)).samples == 1
    blocks = np.repeat(rng.integers(0, 10, 100), 200)  # blocks of 200 equal labels
    w = identity.mixing_window(blocks)
    assert 80 <= w.samples <= 400 and not w.lower_bound
    assert identity.mixing_window(np.sort(rng.integers(0, 2, 1000))).lower_bound


def test_order_check_hints_carry_the_mixing_window():
    labels = L.blocky_labels(4000, 10, block=256)
    report = check(L.from_labels(labels, 32))
    runs = report["label-runs"]
    assert runs.status is Status.FAIL and "mixes labels over about" in runs.hint
    assert 100 <= runs.details["mixing_window"] <= 600 and "shuffle buffer of about" in runs.hint


# ---------------------------------------------------------------------- registry, docs, alpha budget
def test_new_ids_are_registered_and_documented():
    text = DOCS.read_text()
    for check_id in ("duplicates", "cross-epoch-order", "loader-config", "input-drift", "rank-coverage"):
        assert check_id in CHECK_IDS
        section = re.search(rf"^## {re.escape(check_id)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
        assert section and "Planned" not in section.group(1) and "*Fix:*" in section.group(1)


def test_alpha_budget_adds_up_to_alpha():
    opts = Options(alpha=1e-3)
    total = forensics.order_alpha(opts.alpha) + forensics.STATISTICAL_CHECKS * forensics.test_alpha(opts)
    assert total == pytest.approx(opts.alpha)


def test_a_forensics_check_that_raises_becomes_a_skip(monkeypatch):
    def boom(stream, options):
        raise RuntimeError("kaput")

    monkeypatch.setattr(forensics, "duplicates", boom)
    results = {r.id: r for r in forensics.run_forensics(_stream(LoaderInfo("list")), Options())}
    assert results["duplicates"].status is Status.SKIP and "kaput" in results["duplicates"].message


def _stream(info, n=64):
    labels = np.arange(n) % 4
    return Stream((Epoch(labels, np.full(n // 16, 16)),), LabelKind.CATEGORICAL, (0, 1, 2, 3), info)


@pytest.mark.parametrize("replayed", [True, False])
def test_indices_into_a_huge_dataset_compare_like_small_ones(replayed):
    """Whole-epoch subsamples of a 100M-sample dataset carry indices far larger than the samples
    compared: coded densely, cross-epoch-order judges them exactly as the same order in small indices."""
    rng = np.random.default_rng(21)
    small = [rng.permutation(2048), None]
    small[1] = small[0].copy() if replayed else rng.permutation(2048)
    spread = np.sort(rng.choice(10**8, size=2048, replace=False))  # one huge index per small one

    def stream(indices):
        labels = [idx % 10 for idx in small]  # the same labels either way
        epochs = tuple(Epoch(lab.astype(np.int64), np.full(64, 32), indices=ix) for lab, ix in zip(labels, indices))
        return Stream(epochs, LabelKind.CATEGORICAL, tuple(range(10)), LoaderInfo("synthetic", reiterable=True))

    import tracemalloc

    a = forensics.cross_epoch_order(stream(small), Options())
    tracemalloc.start()
    b = forensics.cross_epoch_order(stream([spread[i] for i in small]), Options())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB: tables sized by the largest index, not the samples"
    assert (a.status, a.statistic, a.effect) == (b.status, b.statistic, b.effect)
    assert a.details["match_rate"] == b.details["match_rate"]
    assert a.status is (Status.FAIL if replayed else Status.PASS)


def test_cross_epoch_order_compares_a_bounded_prefix(monkeypatch):
    """Long epochs are compared on their first CROSS_EPOCH_SAMPLES positions, and the finding says so."""
    monkeypatch.setattr(forensics, "CROSS_EPOCH_SAMPLES", 512)
    rng = np.random.default_rng(5)
    first = rng.permutation(2048)

    def result(second):
        epochs = tuple(Epoch(ix % 10, np.full(64, 32), indices=ix) for ix in (first, second))
        stream = Stream(epochs, LabelKind.CATEGORICAL, tuple(range(10)), LoaderInfo("synthetic", reiterable=True))
        return forensics.cross_epoch_order(stream, Options())

    head_replayed = np.r_[first[:512], rng.permutation(first[512:])]
    tail_replayed = np.r_[rng.permutation(first[:512]), first[512:]]
    assert result(head_replayed).status is Status.FAIL and "first 512 samples" in result(head_replayed).message
    assert result(tail_replayed).status is Status.PASS

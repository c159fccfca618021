"""The whole battery (checks.run_checks) on synthetic feeds: clean shapes never fail, defects fail.

Deterministic seeds. The false-alarm *rate* is measured in benchmarks/calibration.py; here every
clean stream of a fixed seeded set must pass, and every defective one must fail, naming the check
that should catch it.
"""

import numpy as np
import pytest

from loadercheck import synthetic as syn
from loadercheck.checks import run_checks
from loadercheck.options import Options
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Status, Stream

U10 = syn.uniform_shares(10)


def stream_of(labels, batch_size, continuous=False, dataset_labels=None):
    n = labels.size - labels.size % batch_size
    sizes = np.full(n // batch_size, batch_size)
    if continuous:
        return Stream((Epoch(labels[:n].astype(float), sizes),), LabelKind.CONTINUOUS, (), LoaderInfo("DataLoader"))
    classes, codes = np.unique(labels[:n], return_inverse=True)
    return Stream((Epoch(codes.astype(np.int64), sizes),), LabelKind.CATEGORICAL, tuple(classes.tolist()),
                  LoaderInfo("DataLoader", sampler="SequentialSampler", shuffle=False), dataset_labels=dataset_labels)


def statuses(stream, **options):
    return {r.id: r.status for r in run_checks(stream, Options(**options))}


CLEAN = {
    "10 balanced b=32": (lambda r: syn.shuffled(4096, U10, r), 32, False),
    "10 balanced b=2": (lambda r: syn.shuffled(1024, U10, r), 2, False),
    "10 balanced b=4": (lambda r: syn.shuffled(1024, U10, r), 4, False),
    "10 balanced b=256": (lambda r: syn.shuffled(16384, U10, r), 256, False),
    "95/5 b=32": (lambda r: syn.shuffled(2048, np.array([0.95, 0.05]), r), 32, False),
    "1000 classes b=32": (lambda r: syn.shuffled(8192, syn.uniform_shares(1000), r), 32, False),
    "1000 zipf b=4": (lambda r: syn.shuffled(2048, syn.zipf_shares(1000), r), 4, False),
    "with replacement b=32": (lambda r: syn.shuffled(4096, U10, r, replace=True), 32, False),
    "regression b=32": (lambda r: syn.regression_targets(4096, r), 32, True),
    "regression ties b=16": (lambda r: syn.regression_targets(2048, r, "poisson"), 16, True),
    "within-batch sorted b=32": (lambda r: syn.within_batch_sorted(syn.shuffled(4096, U10, r), 32), 32, False),
    "within-batch sorted b=256": (lambda r: syn.within_batch_sorted(syn.shuffled(16384, U10, r), 256), 256, False),
}


@pytest.mark.parametrize("shape", list(CLEAN))
def test_clean_feeds_never_fail(shape):
    make, b, continuous = CLEAN[shape]
    for seed in range(8):
        rng = np.random.default_rng([7, seed])
        result = statuses(stream_of(make(rng), b, continuous), seed=seed)
        assert Status.FAIL not in result.values(), (shape, seed, result)


DEFECTS = {
    # name: (labels maker, batch size, continuous, check ids expected to fail (at least one of them))
    "sorted by label": (lambda r: syn.sorted_epoch(4000, U10), 32, False, {"label-runs", "batch-entropy"}),
    "sorted shards behind a small buffer": (
        lambda r: syn.shuffle_buffer(syn.sorted_shards(8000, U10, 200, r), 100, r), 32, False, {"label-runs", "window-drift"}),
    "one class per batch": (lambda r: syn.batch_purity(4096, 10, 32, 1.0, r), 32, False, {"batch-entropy"}),
    "two concatenated datasets": (lambda r: syn.concatenated(4096, 10, r), 32, False, {"window-drift"}),
    "drifting class prior": (lambda r: syn.drifting_mix(16384, 10, 0.5, r), 32, False, {"window-drift"}),
    "round-robin over batches": (lambda r: syn.batch_periodic(4096, 10, 32, 1.0, r), 32, False,
                                 {"label-autocorrelation", "batch-entropy"}),
    "regression sorted by target": (lambda r: np.sort(syn.regression_targets(4096, r)), 32, True, {"target-trend"}),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_defective_feeds_fail(defect):
    make, b, continuous, expected = DEFECTS[defect]
    for seed in range(3):
        rng = np.random.default_rng([11, seed])
        result = statuses(stream_of(make(rng), b, continuous), seed=seed)
        failing = {k for k, v in result.items() if v is Status.FAIL}
        assert failing & expected, (defect, seed, result)


def test_fully_sorted_feed_fails_within_two_batches_of_32():
    labels = np.repeat(np.arange(4), 16)  # 64 labels of 4 classes, sorted
    result = statuses(stream_of(labels, 32))
    assert Status.FAIL in result.values(), result


def test_ordered_option_never_fails():
    result = statuses(stream_of(syn.sorted_epoch(4000, U10), 32), ordered=True)
    assert Status.FAIL not in result.values()


def test_single_class_sample_warns_without_metadata():
    result = run_checks(stream_of(np.zeros(640, dtype=int), 32), Options())
    runs = next(r for r in result if r.id == "label-runs")
    assert runs.status is Status.WARN and "all 640 sampled labels are class 0" in runs.message


def test_single_class_sample_fails_against_dataset_labels():
    dataset = np.repeat(np.arange(10), 1000)
    result = run_checks(stream_of(np.zeros(640, dtype=int), 32, dataset_labels=dataset), Options())
    runs = next(r for r in result if r.id == "label-runs")
    assert runs.status is Status.FAIL and "dataset has 10 classes" in runs.message
    assert runs.pvalue < 1e-100


def test_single_class_sample_passes_when_dataset_is_nearly_one_class():
    dataset = np.r_[np.zeros(100_000, dtype=int), np.ones(10, dtype=int)]
    result = run_checks(stream_of(np.zeros(640, dtype=int), 32, dataset_labels=dataset), Options())
    runs = next(r for r in result if r.id == "label-runs")
    assert runs.status is Status.PASS  # 640 draws from 99.99% class 0 are single-class by chance


def test_same_seed_same_results():
    stream = stream_of(syn.partial_sort(4096, U10, 0.1, np.random.default_rng(3)), 32)
    assert run_checks(stream, Options(seed=5)) == run_checks(stream, Options(seed=5))

"""class-balance's coverage test: a sampled prefix that misses classes the dataset holds.

Calibration (fixed seeds): on prefixes of shuffled datasets the warn rate stays at or below alpha and
above zero (a test that never warns fails too); power: a prefix of a sorted or block-shuffled feed warns.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import loadercheck
from loadercheck import Status
from loadercheck.stats import missing_classes_pvalue

COUNTS = np.array([400, 200, 120, 80, 60, 40, 30, 25, 20, 10, 8, 7])


def prefix_pvalue(labels: np.ndarray, n: int, counts: np.ndarray) -> float:
    seen = np.bincount(labels[:n], minlength=counts.size) > 0
    return missing_classes_pvalue(n, counts, (counts > 0) & ~seen)


@pytest.mark.parametrize("n", [20, 50, 100])
def test_false_warn_rate_is_at_most_alpha_and_not_zero(n):
    rng = np.random.default_rng(n)
    labels = np.repeat(np.arange(COUNTS.size), COUNTS)
    alpha, reps = 0.05, 4000
    rate = np.mean([prefix_pvalue(rng.permutation(labels), n, COUNTS) <= alpha for _ in range(reps)])
    assert rate <= alpha, rate
    assert rate >= alpha / 10, rate  # a dead test fails here


def test_the_pvalue_is_exact_for_one_missing_class():
    # one class of 10 among 100: a prefix of 20 misses it with C(90, 20) / C(100, 20)
    from math import comb

    counts = np.array([90, 10])
    p = missing_classes_pvalue(20, counts, np.array([False, True]))
    assert p == pytest.approx(comb(90, 20) / comb(100, 20), rel=1e-9)
    assert missing_classes_pvalue(20, counts, np.array([False, False])) == 1.0


def sorted_loader(shuffle: bool, seed: int = 0, classes: int = 10):
    labels = torch.arange(2000) * classes // 2000
    data = TensorDataset(torch.randn(2000, 3), labels)
    data.targets = labels
    return DataLoader(data, batch_size=32, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))


def test_a_sorted_prefix_warns_with_a_hint():
    report = loadercheck.check(sorted_loader(False), batches=10)  # 320 samples: classes 0 and 1 of 10
    balance = report["class-balance"]
    assert balance.status is Status.WARN and "hold 2 of the 10 classes" in balance.message
    assert "--from-sampler" in balance.hint and balance.pvalue < 1e-10


@pytest.mark.parametrize("seed", range(5))
def test_a_shuffled_prefix_that_misses_classes_by_chance_passes(seed):
    report = loadercheck.check(sorted_loader(True, seed, classes=100), batches=2)  # 64 samples of 100 classes
    balance = report["class-balance"]
    assert balance.status is Status.PASS and balance.details["coverage_pvalue"] > 0.01  # the test ran


def test_only_a_prefix_of_the_whole_dataset_is_tested():
    from torch.utils.data import SubsetRandomSampler, WeightedRandomSampler

    labels = torch.arange(2000) % 10
    data = TensorDataset(torch.randn(2000, 3), labels)
    data.targets = labels
    half = torch.nonzero(labels < 5).ravel().tolist()
    subset = DataLoader(data, batch_size=32, sampler=SubsetRandomSampler(half))
    weighted = DataLoader(data, batch_size=32, sampler=WeightedRandomSampler((labels < 5).double(), 1000,
                                                                              replacement=False))
    for loader in (subset, weighted):
        assert "coverage_pvalue" not in loadercheck.check(loader)["class-balance"].details
    remapped = TensorDataset(torch.randn(2000, 3), (torch.arange(2000) * 10 // 2000 < 5).long())
    remapped.targets = torch.arange(2000) * 10 // 2000  # the metadata is not what the loader yields
    report = loadercheck.check(DataLoader(remapped, batch_size=32), batches=50)
    assert report["class-balance"].status is Status.PASS


def test_a_whole_pass_is_not_a_prefix():
    report = loadercheck.check(sorted_loader(True))
    assert "coverage_pvalue" not in report["class-balance"].details

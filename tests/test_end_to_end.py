"""check() on loaders of every kind SPEC §1-2 names: the right verdict, and never a fail on a clean feed.

The loaders are built with torch's own classes (DataLoader, samplers, ConcatDataset, IterableDataset)
and plain Python/numpy pipelines, the way users build them.
"""

import numpy as np
import pytest
import torch
from torch.utils.data import (BatchSampler, ConcatDataset, DataLoader, IterableDataset, RandomSampler,
                              TensorDataset, WeightedRandomSampler)

import loaders
import loadercheck
from loadercheck import Status, synthetic


def tensor_dataset(labels, features=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(labels)
    return TensorDataset(torch.randn(len(y), features, generator=g), y)


SORTED = np.repeat(np.arange(10), 400)


class ShuffleBufferStream(IterableDataset):
    """A streaming dataset reading class-sorted shards through a shuffle buffer (WebDataset style)."""

    def __init__(self, labels, buffer, seed=0):
        self.labels, self.buffer, self.seed, self.epoch = np.asarray(labels), buffer, seed, 0

    def __iter__(self):
        self.epoch += 1  # a new shuffle every epoch (a fixed seed would replay the order: cross-epoch-order)
        rng = np.random.default_rng([self.seed, self.epoch])
        for y in synthetic.shuffle_buffer(self.labels, self.buffer, rng):
            yield {"pixels": np.zeros(3, np.float32), "cls": int(y)}


def verdict(loader, **options):
    return loadercheck.check(loader, **options).verdict


CLEAN = {
    "DataLoader shuffle=True": lambda: DataLoader(tensor_dataset(SORTED), batch_size=32, shuffle=True,
                                                  generator=torch.Generator().manual_seed(1)),
    "RandomSampler(replacement=True)": lambda: DataLoader(
        tensor_dataset(SORTED), batch_size=64,
        sampler=RandomSampler(range(len(SORTED)), replacement=True, generator=torch.Generator().manual_seed(2))),
    "WeightedRandomSampler 95/5": lambda: DataLoader(
        tensor_dataset(np.r_[np.zeros(3800, int), np.ones(200, int)]), batch_size=16,
        sampler=WeightedRandomSampler(torch.ones(4000), 4000, generator=torch.Generator().manual_seed(3))),
    "BatchSampler(RandomSampler) as sampler": lambda: DataLoader(
        tensor_dataset(SORTED), batch_size=None,
        sampler=BatchSampler(RandomSampler(range(len(SORTED)), generator=torch.Generator().manual_seed(4)), 32, False)),
    "ConcatDataset shuffled": lambda: DataLoader(
        ConcatDataset([tensor_dataset(SORTED[:2000]), tensor_dataset(SORTED[2000:], seed=1)]), batch_size=32,
        shuffle=True, generator=torch.Generator().manual_seed(5)),
    "streaming, buffer >= data": lambda: DataLoader(ShuffleBufferStream(SORTED, buffer=len(SORTED)), batch_size=32),
    "generator of numpy dict batches": lambda: ({"x": np.zeros((32, 2)), "target": y}
                                               for y in np.random.default_rng(6).permutation(SORTED).reshape(-1, 32)),
    "HF-style dict, torch labels": lambda: loaders.from_labels(np.random.default_rng(7).permutation(SORTED),
                                                               batch="hf", array="torch"),
    "object batches, list labels": lambda: loaders.from_labels(np.random.default_rng(8).permutation(SORTED),
                                                               batch="object", array="list"),
    "one-hot labels": lambda: loaders.from_labels(np.random.default_rng(9).permutation(SORTED), onehot=10),
    "string labels": lambda: [(None, list(np.array(["cat", "dog", "emu", "fox"])[y]))
                              for y in np.random.default_rng(10).integers(0, 4, (100, 16))],
    "single samples (batch_size=None)": lambda: loaders.sample_loader(SORTED[::4], shuffle=True),
    "regression targets shuffled": lambda: DataLoader(
        TensorDataset(torch.zeros(3000, 2), torch.from_numpy(np.random.default_rng(11).normal(size=3000))),
        batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(12)),
}


@pytest.mark.parametrize("kind", list(CLEAN))
def test_clean_loaders_pass_without_warnings(kind):
    assert verdict(CLEAN[kind]()) is Status.PASS  # a false warn is a false alarm too


DEFECTIVE = {
    "DataLoader shuffle=False on sorted data": lambda: DataLoader(tensor_dataset(SORTED), batch_size=32),
    "ConcatDataset of two datasets, shuffle=False": lambda: DataLoader(
        ConcatDataset([tensor_dataset(np.random.default_rng(0).integers(0, 5, 2000)),
                       tensor_dataset(np.random.default_rng(1).integers(5, 10, 2000))]), batch_size=32),
    "class-sorted stream behind a small buffer": lambda: DataLoader(ShuffleBufferStream(SORTED, buffer=200),
                                                                    batch_size=32),
    "one class per batch (custom batch sampler)": lambda: DataLoader(
        tensor_dataset(SORTED), batch_sampler=[list(range(i, i + 32)) for i in
                                               np.random.default_rng(2).permutation(np.arange(0, 4000, 400))
                                               for i in range(i, i + 384, 32)]),
    "generator of sorted numpy batches": lambda: ((np.zeros((32, 2)), y) for y in SORTED.reshape(-1, 32)),
    "regression sorted by target": lambda: DataLoader(
        TensorDataset(torch.zeros(3000, 2), torch.from_numpy(np.sort(np.random.default_rng(3).normal(size=3000)))),
        batch_size=32),
}


@pytest.mark.parametrize("kind", list(DEFECTIVE))
def test_defective_loaders_fail(kind):
    report = loadercheck.check(DEFECTIVE[kind]())
    assert report.verdict is Status.FAIL, [(c.id, c.status, c.message) for c in report.checks]
    assert all(c.hint for c in report.failed)


def test_sorted_prefix_holding_one_class_fails_against_the_dataset_labels():
    dataset = tensor_dataset(np.repeat(np.arange(10), 2000))
    dataset.targets = dataset.tensors[1]
    report = loadercheck.check(DataLoader(dataset, batch_size=32), batches=20)
    assert report.verdict is Status.FAIL and report["label-runs"].status is Status.FAIL
    assert "all 640 sampled labels are class 0, though the dataset has 10 classes" in report["label-runs"].message


def test_single_class_prefix_under_the_default_budget_reads_the_order_from_the_sampler():
    dataset = tensor_dataset(np.repeat(np.arange(2), 40_000))  # the first class block outlasts 500 batches
    dataset.targets = dataset.tensors[1]
    report = loadercheck.check(DataLoader(dataset, batch_size=32))
    assert report.verdict is Status.FAIL and report["label-runs"].status is Status.FAIL
    assert any("sampler" in note for note in report.stream.notes), report.stream.notes


class NoMetadata(torch.utils.data.Dataset):
    """A map-style dataset that exposes its labels only by loading samples."""

    def __init__(self, labels):
        self.data = tensor_dataset(labels)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]


def test_sorted_prefix_holding_one_class_warns_without_metadata():
    report = loadercheck.check(DataLoader(NoMetadata(np.repeat(np.arange(10), 2000)), batch_size=32), batches=20)
    assert report.verdict is Status.WARN
    assert "cannot be tested" in report["label-runs"].message


def test_a_sorted_tensor_dataset_fails_within_two_batches_of_32():
    """SPEC §6: a TensorDataset's label tensor is the unconditional reference (no `targets` needed)."""
    report = loadercheck.check(DataLoader(tensor_dataset(SORTED), batch_size=32), batches=2)
    assert report.verdict is Status.FAIL and report["label-runs"].status is Status.FAIL
    assert "all 64 sampled labels are class 0, though the dataset has 10 classes" in report["label-runs"].message
    # labels first: --label 0 names the label tensor
    flipped = TensorDataset(torch.as_tensor(SORTED), torch.randn(SORTED.size, 4))
    report = loadercheck.check(DataLoader(flipped, batch_size=32), batches=2, label=0)
    assert report["label-runs"].status is Status.FAIL


def test_check_leaves_the_loader_output_untouched():
    batches = loaders.from_labels(SORTED, array="torch")
    before = [b[1].clone() for b in batches]
    loadercheck.check(batches)
    assert all(torch.equal(a, b[1]) for a, b in zip(before, batches))


def test_fixes_are_ones_the_user_can_apply():
    """A custom batch_sampler cannot take shuffle=True (DataLoader raises): its fix names the batch sampler;
    a regression feed's causes speak of targets, not classes."""
    per_class = DEFECTIVE["one class per batch (custom batch sampler)"]()
    report = loadercheck.check(per_class)
    assert report.loader.custom_batch_sampler
    assert any("batch_sampler (list)" in fix and "BatchSampler(RandomSampler(dataset)" in fix for fix in report.fixes)
    assert not any("shuffle=True" in fix for fix in report.fixes), report.fixes
    regression = loadercheck.check(DEFECTIVE["regression sorted by target"]())
    hints = [c.hint for c in regression.failed if c.hint]
    assert hints and not any("class-sorted" in h for h in hints)
    assert not loadercheck.check(DataLoader(tensor_dataset(SORTED), batch_size=32, shuffle=True)).loader.custom_batch_sampler

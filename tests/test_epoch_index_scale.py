"""Whole-epoch index analysis at scale: replayed sampler orders, compact labels, the sample cap.

The figures at 100M samples are printed by ``benchmarks/whole_epoch.py``; these tests pin what the
speed rests on, at small sizes: a replayed order is the order the DataLoader itself feeds (and the
training run's order is untouched), labels are coded exactly as ``np.unique`` codes them, and a
capped analysis still gets sorted, shuffled and concatenated feeds right.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

import loadercheck
from loadercheck import epoch_index
from loadercheck.epoch_index import code_labels, read_index_order, whole_batch_subsample
from loadercheck.errors import LoaderError
from loadercheck.results import LabelKind, Status

N = 1003


class Indexed:
    """Yields its index (so iterating the DataLoader shows the order it really feeds); ``targets``."""

    def __init__(self, targets):
        self.targets = np.asarray(targets)

    def __len__(self):
        return self.targets.size

    def __getitem__(self, i):
        return np.asarray(i, dtype=np.int64) if isinstance(i, list) else int(i)  # a list: a batch sampler as sampler


class MyRandomSampler(RandomSampler):
    """A subclass: may change ``__iter__``, so it is iterated, not replayed."""


def _gen(seed=5):
    return torch.Generator().manual_seed(seed)


DS = Indexed(np.arange(N) % 7)
CASES = {
    "sequential": lambda: DataLoader(DS, batch_size=10),
    "sequential-sampler-drop-last": lambda: DataLoader(DS, batch_size=64, sampler=SequentialSampler(DS), drop_last=True),
    "shuffle-global-rng": lambda: DataLoader(DS, batch_size=10, shuffle=True),
    "shuffle-generator": lambda: DataLoader(DS, batch_size=10, shuffle=True, generator=_gen()),
    "replacement": lambda: DataLoader(DS, batch_size=10, sampler=RandomSampler(DS, replacement=True, num_samples=2500,
                                                                               generator=_gen())),
    "num-samples-drop-last": lambda: DataLoader(DS, batch_size=10, sampler=RandomSampler(DS, num_samples=2500),
                                                drop_last=True),
    "num-samples-below-n": lambda: DataLoader(DS, batch_size=16, sampler=RandomSampler(DS, num_samples=500,
                                                                                       generator=_gen())),
    "subset": lambda: DataLoader(DS, batch_size=7, sampler=SubsetRandomSampler(list(range(0, N, 3)))),
    "subset-generator": lambda: DataLoader(DS, batch_size=7, sampler=SubsetRandomSampler(torch.arange(5, N, 2),
                                                                                         generator=_gen())),
    "weighted": lambda: DataLoader(DS, batch_size=7, sampler=WeightedRandomSampler(torch.rand(N), 900,
                                                                                   generator=_gen())),
    "distributed": lambda: DataLoader(DS, batch_size=7, sampler=DistributedSampler(DS, num_replicas=3, rank=2, seed=1)),
    "distributed-drop-last": lambda: DataLoader(DS, batch_size=7, sampler=DistributedSampler(
        DS, num_replicas=4, rank=1, drop_last=True, shuffle=False)),
    "single-samples": lambda: DataLoader(DS, batch_size=None, shuffle=True, generator=_gen()),
    "batch-sampler-as-sampler": lambda: DataLoader(DS, batch_size=None, sampler=BatchSampler(
        RandomSampler(DS, generator=_gen()), 16, drop_last=True)),
}


def _epochs(loader, epochs):
    """What the DataLoader feeds: (indices, batch sizes) per epoch."""
    out = []
    for _ in range(epochs):
        batches = [np.atleast_1d(np.asarray(b)) for b in loader]
        out.append((np.concatenate(batches).tolist(), [b.size for b in batches]))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_replayed_order_is_what_the_dataloader_feeds_and_training_is_untouched(case):
    torch.manual_seed(11)
    checked = CASES[case]()
    order = read_index_order(checked, epochs=3)
    assert order.replayed
    after = _epochs(checked, 3)  # the training run after the check
    torch.manual_seed(11)
    reference = _epochs(CASES[case](), 3)  # the same run, unchecked
    assert after == reference
    for epoch, (indices, sizes) in enumerate(reference):
        assert order.indices[epoch].tolist() == indices, epoch
        assert order.batch_sizes[epoch].tolist() == sizes, epoch
        assert order.epoch_samples[epoch] == len(indices) and order.epoch_batches[epoch] == len(sizes)


def test_max_batches_keeps_the_whole_epoch_order_of_a_replayed_sampler():
    loader = CASES["shuffle-generator"]()
    whole = read_index_order(loader, epochs=2)
    cut = read_index_order(loader, epochs=2, max_batches=5)
    for epoch in range(2):
        assert cut.batch_sizes[epoch].tolist() == [10] * 5
        assert cut.indices[epoch].tolist() == whole.indices[epoch][:50].tolist()


def test_other_samplers_are_iterated_and_give_the_same_order():
    make = lambda: DataLoader(DS, batch_size=10, sampler=MyRandomSampler(DS, generator=_gen()))  # noqa: E731
    order = read_index_order(make(), epochs=2)
    assert not order.replayed
    reference = _epochs(make(), 2)
    assert [o.tolist() for o in order.indices] == [r[0] for r in reference]
    batches = [[3, 1], [2], [0, 4]]
    custom = read_index_order(DataLoader(DS, batch_sampler=batches), epochs=1)
    assert not custom.replayed and custom.indices[0].tolist() == [3, 1, 2, 0, 4]
    assert custom.batch_sizes[0].tolist() == [2, 1, 2]


def test_replayed_indices_are_checked_against_the_labels():
    loader = DataLoader(Indexed(np.arange(10) % 2), batch_size=4, sampler=SubsetRandomSampler([1, 2, 30]))
    with pytest.raises(LoaderError, match="the sampler yields index 30 but there are 10 labels"):
        read_index_order(loader, epochs=1, size=10)


@pytest.mark.parametrize("values", [
    np.array([5, -3, 5, 7, 1000, -3], dtype=np.int64),
    np.array([3, 1, 2, 1], dtype=np.uint8),
    np.arange(70_000, dtype=np.int32) % 66_000,
    np.array([0.0, 2.0, 2.0, 1.0]),
    np.array(["b", "a", "c", "a"]),
    np.array([True, False, True]),
    np.array([10**12, 3, 10**12]),
    np.array([2**64 - 1, 2**64 - 2, 2**64 - 1], dtype=np.uint64),  # beyond int64
])
def test_labels_are_coded_as_numpy_unique_codes_them_in_a_compact_type(values):
    table, inverse = np.unique(values, return_inverse=True)
    coded, classes = code_labels(values, LabelKind.CATEGORICAL)
    assert coded.tolist() == inverse.ravel().tolist()
    assert classes == tuple(table.tolist()) and [type(c) for c in classes] == [type(c) for c in table.tolist()]
    assert coded.itemsize == (1 if table.size <= 256 else 2 if table.size <= 65_536 else 4)


def test_whole_batch_subsample_is_spread_bounded_and_of_whole_batches():
    sizes = np.array([256] * 1000 + [100])
    assert whole_batch_subsample(sizes, int(sizes.sum())) is None
    chosen = whole_batch_subsample(sizes, 256 * 100, blocks=10)
    assert chosen.size == 100 and int(sizes[chosen].sum()) <= 256 * 100
    assert np.all(np.diff(chosen) > 0)  # ascending, no batch twice
    starts = chosen[np.r_[True, np.diff(chosen) != 1]]
    assert starts.tolist() == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]  # evenly over the epoch
    assert whole_batch_subsample(np.ones(50, dtype=np.int64), 7, blocks=1024).size == 7  # single samples


class Stored:
    """Labels only, read in stored order or shuffled by the DataLoader."""

    def __init__(self, targets):
        self.targets = np.asarray(targets)

    def __len__(self):
        return self.targets.size

    def __getitem__(self, i):
        raise AssertionError("a sample was loaded")


def _halves(n=24_000, seed=0):
    """Two datasets concatenated: classes 0-4 shuffled, then classes 5-9 shuffled."""
    rng = np.random.default_rng(seed)
    half = n // 2
    return np.concatenate([rng.permutation(np.arange(half) % 5), 5 + rng.permutation(np.arange(half) % 5)])


def test_a_capped_analysis_still_judges_sorted_shuffled_and_concatenated_feeds(monkeypatch):
    monkeypatch.setattr(epoch_index, "SAMPLE_CAP", 3_000)
    n = 24_000
    sorted_ds = Stored(np.sort(np.arange(n) % 10))
    sorted_report = loadercheck.check(DataLoader(sorted_ds, batch_size=32), from_sampler=True)
    assert sorted_report.verdict is Status.FAIL and sorted_report["batch-entropy"].status is Status.FAIL
    notes = sorted_report.stream.notes
    assert any("2 epochs of 24,000 samples, 750 batches" in note for note in notes)
    assert any(note.startswith("each epoch of 24,000 samples is longer than the 3,000 the checks analyse") for note in notes)
    assert sorted_report.stream.samples == 32 * 93 and sorted_report.stream.batches == 93

    halves = loadercheck.check(DataLoader(Stored(_halves(n)), batch_size=32), from_sampler=True)
    assert halves.verdict is Status.FAIL and halves["window-drift"].status is Status.FAIL

    for seed in range(4):
        shuffled = DataLoader(Stored(_halves(n)), batch_size=32, shuffle=True, generator=_gen(seed))
        report = loadercheck.check(shuffled, from_sampler=True)
        assert report.verdict is Status.PASS, (seed, [(c.id, c.status) for c in report.checks])
        assert report.stream.samples <= 3_000


def test_the_stream_keeps_compact_dataset_labels_and_at_most_the_cap(monkeypatch):
    monkeypatch.setattr(epoch_index, "SAMPLE_CAP", 1_000)
    loader = DataLoader(Stored(np.arange(5_000) % 300), batch_size=50, shuffle=True, generator=_gen())
    stream = epoch_index.sampler_stream(loader)
    assert stream.dataset_labels.dtype == np.uint16 and stream.dataset_labels.size == 5_000
    assert [e.labels.size for e in stream.epochs] == [1_000, 1_000]
    assert stream.labels.dtype == np.int64 and stream.epochs[0].indices.dtype == np.int64
    whole = read_index_order(loader, epochs=2)
    positions = np.concatenate([np.arange(s, s + 50) for s in range(0, 5_000, 250)])  # 20 blocks of 1 batch
    for epoch in range(2):
        assert stream.epochs[epoch].indices.tolist() == whole.indices[epoch][positions].tolist()
        assert np.array_equal(np.asarray(stream.classes)[stream.epochs[epoch].labels],
                              loader.dataset.targets[stream.epochs[epoch].indices])


@pytest.mark.parametrize("large_calls", [True, False])
def test_many_draws_with_replacement_replay_the_calls_of_32(monkeypatch, large_calls):
    if not large_calls:
        monkeypatch.setattr(epoch_index, "_same_draws", lambda n, generator: False)
    num = 2 * 65_536 + 1_000 + 7
    make = lambda: RandomSampler(DS, replacement=True, num_samples=num, generator=_gen(3))  # noqa: E731
    order = read_index_order(DataLoader(DS, batch_size=1_000, sampler=make()), epochs=2)
    sampler = make()
    for epoch in range(2):
        assert order.indices[epoch].tolist() == list(sampler), epoch


def test_a_sampler_that_cannot_produce_an_epoch_is_a_loader_error():
    """torch's own complaint, named as the user's sampler's, not as a loadercheck bug."""

    class Unloadable(torch.utils.data.Dataset):
        targets = np.arange(100) % 5

        def __len__(self):
            return 100

        def __getitem__(self, i):
            raise RuntimeError("no sample may be loaded")

    sampler = torch.utils.data.WeightedRandomSampler(torch.ones(100), 200, replacement=False)
    with pytest.raises(LoaderError, match="WeightedRandomSampler cannot produce an epoch"):
        loadercheck.check(torch.utils.data.DataLoader(Unloadable(), sampler=sampler, batch_size=10), from_sampler=True)

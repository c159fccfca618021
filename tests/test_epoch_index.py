"""Whole-epoch index analysis: the order read from a map-style DataLoader's batch sampler."""

from __future__ import annotations

import random

import loaders as L
import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler, Subset

import loadercheck
from loadercheck.epoch_index import order_unreadable, read_index_order, sampler_labels, sampler_stream
from loadercheck.errors import LoaderCheckError, LoaderError
from loadercheck.results import Status


class LabelsOnly:
    """Sorted by class, ``targets`` exposed, and loading a sample is an error."""

    def __init__(self, n=4000, classes=4, targets=True):
        labels = np.sort(np.arange(n) % classes)
        if targets:
            self.targets = labels
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        raise AssertionError("a sample was loaded")


class Columns:
    """A Hugging Face-like dataset: ``column_names`` and ``ds["label"]`` give a whole column."""

    column_names = ["text", "label"]

    def __init__(self, labels):
        self._labels = list(labels)

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, key):
        if key == "label":
            return self._labels
        raise AssertionError("a sample was loaded")


def test_sorted_dataset_read_from_the_sampler_fails_without_loading_a_sample():
    loader = DataLoader(LabelsOnly(), batch_size=32, shuffle=False)
    report = loadercheck.check(loader, from_sampler=True)
    assert report.verdict is Status.FAIL and report["batch-entropy"].status is Status.FAIL
    assert report.stream.samples == 4000 and report.stream.epochs == 2
    assert any("order read from the batch sampler" in n and "dataset.targets" in n for n in report.stream.notes)


def test_shuffled_loader_passes_and_its_training_order_is_untouched():
    ds = L.ArrayDataset(torch.randn(2000, 2), torch.from_numpy(L.sorted_labels(2000, 10)))

    def first_epoch(check_first):
        loader = DataLoader(ds, batch_size=50, shuffle=True, generator=torch.Generator().manual_seed(7))
        torch.manual_seed(3)
        random.seed(3)
        if check_first:
            report = loadercheck.check(loader, from_sampler=True)
            assert report.verdict is Status.PASS, [(c.id, c.status) for c in report.checks]
        return [y.tolist() for _, y in loader], random.random(), torch.rand(1).item()

    assert first_epoch(True) == first_epoch(False)


def test_whole_epoch_stream_matches_the_batches_the_loader_yields():
    ds = L.ArrayDataset(torch.randn(300, 2), torch.from_numpy(L.shuffled_labels(300, 7)))
    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))
    stream = sampler_stream(loader, epochs=1)
    yielded = torch.cat([y for _, y in loader]).numpy()
    assert np.array_equal(np.asarray(stream.classes)[stream.labels], yielded)
    assert stream.batch_sizes.tolist() == [32] * 9 + [12]
    assert np.array_equal(stream.dataset_labels, stream.epochs[0].labels[np.argsort(stream.epochs[0].indices)])


def test_label_sources_user_array_column_and_subset():
    user = DataLoader(LabelsOnly(targets=False), batch_size=16)
    with pytest.raises(LoaderError, match=r"give the dataset a `targets` attribute.*check\(loader, labels=\.\.\.\)"):
        sampler_stream(user)
    labels = np.sort(np.arange(4000) % 4)
    stream = sampler_stream(user, labels=labels)
    assert "the labels= array" in stream.notes[-1] and stream.samples == 4000
    with pytest.raises(LoaderError, match="labels= has 10 values but the dataset has 4,000"):
        sampler_labels(user, labels=np.arange(10))
    column = DataLoader(Columns(["a", "b"] * 50), batch_size=10)
    values, where = sampler_labels(column)
    assert values.tolist()[:2] == ["a", "b"] and "column" in where
    base = L.ArrayDataset(torch.zeros(100, 1), torch.arange(100) % 5)
    subset = DataLoader(Subset(base, list(range(10, 60))), batch_size=10)
    values, where = sampler_labels(subset)
    assert values.tolist() == (np.arange(10, 60) % 5).tolist() and "Subset" in where


def test_single_samples_and_batch_sampler_as_sampler():
    ds = LabelsOnly(200, 2)
    single = read_index_order(DataLoader(ds, batch_size=None, shuffle=False), epochs=1)
    assert single.indices[0].tolist() == list(range(200)) and set(single.batch_sizes[0].tolist()) == {1}
    bs = BatchSampler(RandomSampler(ds, generator=torch.Generator().manual_seed(0)), batch_size=20, drop_last=False)
    batched = read_index_order(DataLoader(ds, sampler=bs, batch_size=None), epochs=2)
    assert batched.batch_sizes[0].tolist() == [20] * 10 and sorted(batched.indices[0].tolist()) == list(range(200))
    assert batched.indices[0].tolist() != batched.indices[1].tolist()


def test_unreadable_orders_are_clear_errors():
    iterable = L.iterable_dataset_loader(L.shuffled_labels(64, 4), 8)
    assert "IterableDataset" in order_unreadable(iterable)
    with pytest.raises(LoaderCheckError, match="needs a map-style DataLoader"):
        loadercheck.check(iterable, from_sampler=True)
    with pytest.raises(LoaderCheckError, match="needs a map-style DataLoader"):
        loadercheck.check(L.from_labels(L.shuffled_labels(64, 4), 8), labels=np.zeros(64))
    with pytest.raises(LoaderCheckError, match="from_sampler must be True, False or None"):
        loadercheck.check([], from_sampler="yes")


def test_single_class_prefix_switches_to_whole_epochs_by_default():
    ds = L.ArrayDataset(torch.zeros(20_000, 1), torch.from_numpy(L.sorted_labels(20_000, 4)))
    loader = DataLoader(ds, batch_size=8, shuffle=False)  # class blocks of 5,000 > 500 batches of 8
    report = loadercheck.check(loader)
    assert report.stream.samples == 20_000
    assert any("single class" in n for n in report.stream.notes)
    assert report["batch-entropy"].status is Status.FAIL
    kept = loadercheck.check(loader, from_sampler=False)
    assert kept.stream.samples == 4000 and "all 4,000 sampled labels" in kept["label-runs"].message


def test_distributed_sampler_order_replays_without_set_epoch():
    ds = LabelsOnly(1000, 10)
    ds.targets = L.shuffled_labels(1000, 10)
    loader = DataLoader(ds, batch_size=25, sampler=DistributedSampler(ds, num_replicas=2, rank=1, seed=0))
    report = loadercheck.check(loader, from_sampler=True)
    assert report["cross-epoch-order"].status is Status.WARN and report["cross-epoch-order"].details["compared"] == "sample"
    assert report["rank-coverage"].status is Status.PASS


def test_cli_from_sampler(tmp_path):
    from cli_runner import invoke

    module = tmp_path / "feeds.py"
    module.write_text(
        "import numpy as np\nfrom torch.utils.data import DataLoader\n"
        "class D:\n    targets = np.sort(np.arange(3000) % 3)\n    def __len__(self): return 3000\n"
        "    def __getitem__(self, i): raise AssertionError('loaded')\n"
        "def make():\n    return DataLoader(D(), batch_size=30)\n"
    )
    result = invoke(f"{module}:make", "--from-sampler", "--format", "json")
    assert result.exit_code == 1, result.output
    assert "order read from the batch sampler" in result.stdout

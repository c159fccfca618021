"""Inspection, recording and drawing: describe_loader, StreamRecorder, draw (budgets, epochs, errors, RNG)."""

from __future__ import annotations

import gc
import random
import time

import numpy as np
import pytest
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    WeightedRandomSampler,
)

from loadercheck.errors import LabelError, LoaderError
from loadercheck.results import LabelKind, LoaderInfo
from loadercheck.adapters import dataset_label_values, describe_loader
from loadercheck.drawing import DEFAULT_BATCHES, draw
from loadercheck.fingerprints import fingerprint, hash_rows
from loadercheck.recording import StreamRecorder
import loaders as L

LABELS = L.sorted_labels(400, 5)


def decoded(stream, epoch=0):
    """The stream's labels as the original values, in feed order."""
    return np.asarray(stream.classes, dtype=object)[stream.epochs[epoch].labels].tolist()


# ---------------------------------------------------------------------- every loader kind
KINDS = {
    "torch DataLoader": lambda: L.dataloader(LABELS, 32),
    "tuple numpy": lambda: L.from_labels(LABELS, 32),
    "list batch": lambda: L.from_labels(LABELS, 32, batch="list"),
    "triple (x, mask, y)": lambda: L.from_labels(LABELS, 32, batch="triple"),
    "dict": lambda: L.from_labels(LABELS, 32, batch="dict", array="torch"),
    "hugging face dict": lambda: L.from_labels(LABELS, 32, batch="hf", array="torch"),
    "webdataset samples": lambda: L.from_labels(LABELS, 1, batch="webdataset", array="list"),
    "object batch": lambda: L.from_labels(LABELS, 32, batch="object", array="list"),
    "one-hot": lambda: L.from_labels(LABELS, 32, onehot=5, array="torch"),
    "single samples": lambda: L.sample_loader(LABELS),
    "list of samples": lambda: DataLoader(L.ArrayDataset(L.features_for(LABELS), LABELS.tolist()), 32, collate_fn=list),
    "IterableDataset": lambda: L.iterable_dataset_loader(LABELS, 32),
    "re-iterable": lambda: L.Reiterable(L.from_labels(LABELS, 32)),
    "generator": lambda: L.generator_loader(LABELS, 32),
}


@pytest.mark.parametrize("make", KINDS.values(), ids=KINDS.keys())
def test_every_loader_kind_gives_the_labels_in_feed_order(make):
    stream = draw(make())
    assert stream.kind is LabelKind.CATEGORICAL
    assert stream.classes == (0, 1, 2, 3, 4)
    assert decoded(stream) == LABELS.tolist()
    assert stream.batch_sizes.sum() == len(LABELS)
    assert stream.epochs[0].labels.dtype == np.int64
    assert stream.notes[0].startswith("labels read from")


def test_string_labels_in_a_dataloader():
    stream = draw(L.dataloader(["cat", "dog", "emu", "dog"] * 25, 8))
    assert stream.classes == ("cat", "dog", "emu")
    assert decoded(stream)[:4] == ["cat", "dog", "emu", "dog"]


def test_bool_labels():
    stream = draw(L.from_labels(np.arange(64) % 3 == 0, 16))
    assert stream.classes == (False, True)


def test_continuous_and_integral_float_labels():
    targets = np.random.default_rng(1).normal(size=300)
    stream = draw(L.from_labels(targets, 30, array="torch"))
    assert stream.kind is LabelKind.CONTINUOUS
    assert stream.classes == ()
    assert stream.labels.dtype == np.float64
    np.testing.assert_allclose(stream.labels, targets)
    binary = draw(L.from_labels(np.arange(60, dtype=np.float32) % 2, 10))
    assert binary.kind is LabelKind.CATEGORICAL and binary.classes == (0.0, 1.0)
    few = draw(L.from_labels(np.tile([0.1, 0.9], 30), 10))
    assert few.kind is LabelKind.CATEGORICAL and few.classes == (0.1, 0.9)


def test_custom_label_spec_is_used():
    batches = [{"x": np.zeros((2, 2)), "meta": {"fine": np.array([i, i + 1])}} for i in range(5)]
    stream = draw(batches, label="meta.fine")
    assert stream.classes == (0, 1, 2, 3, 4, 5)
    assert "labels read from batch.meta.fine" in stream.notes


# ---------------------------------------------------------------------- budgets and epochs
def test_second_epoch_only_for_reiterables():
    assert len(draw(L.from_labels(LABELS)).epochs) == 2
    assert len(draw(L.from_labels(LABELS), epochs=1).epochs) == 1
    stream = draw(L.generator_loader(LABELS))
    assert len(stream.epochs) == 1
    assert not stream.loader.reiterable
    assert any("one-shot iterator" in n for n in stream.notes)


def test_shuffled_dataloader_has_a_fresh_order_each_epoch():
    stream = draw(L.shuffled_loader(400, 5))
    first, second = decoded(stream, 0), decoded(stream, 1)
    assert sorted(first) == sorted(second) == LABELS.tolist()
    assert first != second


def test_batches_caps_each_epoch():
    stream = draw(L.dataloader(LABELS, 10), batches=7)
    assert [e.batch_sizes.size for e in stream.epochs] == [7, 7]
    assert stream.samples == 70
    assert "each pass stopped at 7 of 40 batches (--batches)" in stream.notes


def test_default_cap_is_500_batches_and_says_so():
    stream = draw(L.from_labels(np.arange(DEFAULT_BATCHES + 20) % 2, 1), epochs=1)
    assert stream.batches == DEFAULT_BATCHES
    assert any("the default cap; set --batches" in n for n in stream.notes)


def test_max_samples_keeps_the_crossing_batch_whole():
    stream = draw(L.from_labels(LABELS, 32), max_samples=100)
    assert [int(e.batch_sizes.sum()) for e in stream.epochs] == [128, 128]
    assert any("100 samples (--max-samples)" in n for n in stream.notes)


def test_progress_is_called_per_batch():
    calls = []
    draw(L.dataloader(LABELS, 100), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (6, 8), (7, 8), (8, 8)]
    calls.clear()
    draw(L.generator_loader(LABELS, 200), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, None), (2, None)]


def test_dataloader_with_two_workers():
    stream = draw(L.shuffled_loader(400, 5, batch_size=16, num_workers=2))
    assert len(stream.epochs) == 2
    assert sorted(decoded(stream, 1)) == LABELS.tolist()
    assert stream.loader.num_workers == 2


def test_iterable_dataset_read_by_every_worker_repeats_samples():
    stream = draw(L.iterable_dataset_loader(LABELS, 20, num_workers=2, shard=False), epochs=1)
    assert stream.samples == 2 * len(LABELS)
    prints = stream.epochs[0].fingerprints
    assert np.unique(prints).size == len(LABELS)


# ---------------------------------------------------------------------- leaving the user's state alone
class _Augmenting(L.ArrayDataset):
    """Touches every global RNG per sample, like random augmentations."""

    def __getitem__(self, i):
        noise = np.random.rand() + random.random() + float(torch.rand(()))
        return self.x[i] + 0 * noise, self.y[i]


def test_rng_state_is_restored_and_training_sees_the_same_first_epoch():
    loader = DataLoader(_Augmenting(torch.zeros(200, 2), torch.arange(200) % 4), batch_size=20, shuffle=True)
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    before = (torch.get_rng_state().clone(), np.random.get_state(), random.getstate())
    stream = draw(loader)
    assert torch.equal(torch.get_rng_state(), before[0])
    after_np = np.random.get_state()
    assert after_np[0] == before[1][0] and np.array_equal(after_np[1], before[1][1]) and after_np[2:] == before[1][2:]
    assert random.getstate() == before[2]
    training_epoch = torch.cat([y for _, y in loader]).tolist()  # what training would see now
    assert training_epoch == decoded(stream, 0)


def test_rng_state_is_restored_when_the_loader_raises():
    state = torch.get_rng_state().clone()
    np_state = np.random.get_state()[1].copy()

    def gen():
        torch.rand(10)
        np.random.rand(10)
        yield (np.zeros(2), np.array([1, 2]))
        raise OSError("disk gone")

    with pytest.raises(LoaderError):
        draw(gen())
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_batches_and_labels_are_not_mutated():
    batches = L.from_labels(LABELS, 32, array="torch")
    copies = [(x.clone(), y.clone()) for x, y in batches]
    ids = [(id(x), id(y)) for x, y in batches]
    draw(batches, keep_inputs=True)
    for (x, y), (x0, y0), (ix, iy) in zip(batches, copies, ids):
        assert torch.equal(x, x0) and torch.equal(y, y0)
        assert (id(x), id(y)) == (ix, iy)
    labels = np.array([[0, 1], [1, 0]], dtype=np.float32)
    draw([(np.zeros((2, 3)), labels)])
    assert labels.tolist() == [[0, 1], [1, 0]]


# ---------------------------------------------------------------------- errors
def test_not_iterable():
    with pytest.raises(LoaderError, match=r"the target is a builtins.int, which is not iterable.*DataLoader"):
        draw(42)


def test_empty_loader():
    with pytest.raises(LoaderError, match=r"yielded no batches.*dataset is not empty"):
        draw(L.empty_loader())


def test_loader_of_empty_batches():
    with pytest.raises(LoaderError, match="yielded 2 batches but no samples"):
        draw([(np.zeros((0, 2)), np.zeros(0, dtype=int))] * 2)


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["direct", "threaded"])
def test_loader_raising_mid_stream(timeout):
    with pytest.raises(LoaderError, match=r"^the loader raised ValueError after 17 batches: corrupt record 1234$") as info:
        draw(L.raising_loader(after=17), timeout=timeout)
    assert isinstance(info.value.__cause__, ValueError)


def test_loader_raising_in_the_second_pass():
    class SecondPassFails:
        passes = 0

        def __iter__(self):
            self.passes += 1
            if self.passes == 2:
                raise PermissionError("shard 3 unreadable")
            return iter(L.from_labels(LABELS, 50))

    with pytest.raises(LoaderError, match=r"raised PermissionError when iteration started in pass 2: shard 3 unreadable"):
        draw(SecondPassFails())


def test_dataloader_worker_error_is_reported():
    class Broken(L.ArrayDataset):
        def __getitem__(self, i):
            if i == 45:
                raise KeyError("sample 45")
            return super().__getitem__(i)

    loader = DataLoader(Broken(torch.zeros(100, 2), torch.arange(100)), batch_size=10)
    with pytest.raises(LoaderError, match=r"the loader raised KeyError after 4 batches: 'sample 45'"):
        draw(loader)
    # in a worker process torch embeds the worker's traceback in the message: only its last line is kept
    loader = DataLoader(Broken(torch.zeros(100, 2), torch.arange(100)), batch_size=10, num_workers=1)
    with pytest.raises(LoaderError, match=r"after 4 batches: Caught KeyError in DataLoader worker process 0: "
                                          r"KeyError: 'sample 45'$") as info:
        draw(loader)
    assert "Traceback" not in str(info.value)


def test_nothing_readable_in_a_batch():
    with pytest.raises(LabelError, match=r"no label found in batch 0, a dict with keys \['caption'\].*"
                                         r"Nor does it hold inputs"):
        draw([{"caption": ["a", "b"]}])


def test_a_batch_without_labels_is_read_from_its_inputs():
    stream = draw([{"image": np.arange(4.0).reshape(2, 2)}])
    assert stream.kind is LabelKind.NONE and stream.target_kind == "none"
    assert stream.labels.tolist() == [0, 0] and [s.check for s in stream.signals] == ["input-order"]
    assert any("no label field was found" in note for note in stream.notes)


def test_nan_label_names_its_batch():
    batches = L.from_labels(np.arange(40, dtype=float) + 0.5, 10)
    batches[2][1][3] = np.nan
    with pytest.raises(LabelError, match=r"labels in batch 2 contain nan"):
        draw(batches)


def test_mixed_label_types_across_batches():
    batches = [(np.zeros((2, 2)), [1, 2]), (np.zeros((2, 2)), ["a", "b"])]
    with pytest.raises(LabelError, match=r"change type along the stream \(batch 0 has number labels, batch 1 has string labels\)"):
        draw(batches)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batches": 0}, "batches must be a positive integer"),
        ({"max_samples": -1}, "max_samples must be a positive integer"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"epochs": 0}, "epochs must be a positive integer"),
    ],
)
def test_bad_budgets(kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw([(0, 1)], **kwargs)


# ---------------------------------------------------------------------- timeout
def _settled_clock() -> float:
    """Now, after collecting earlier tests' garbage: a DataLoader iterator with workers finalized by
    the collector mid-test waits up to 5 s for its workers, which is not the draw's time."""
    gc.collect()
    return time.monotonic()


def test_timeout_keeps_what_was_drawn():
    loader = L.hanging_generator(after=3)
    started = _settled_clock()
    try:
        stream = draw(loader, timeout=1.0)
    finally:
        loader.release()
    assert time.monotonic() - started < 2.0
    assert stream.batches == 3
    assert "stopped after 1.0 s (--timeout) with 3 batches drawn" in stream.notes


def test_timeout_with_nothing_drawn():
    loader = L.hanging_generator(after=0)
    started = _settled_clock()
    try:
        with pytest.raises(LoaderError, match=r"produced no batch within 0.5 s \(--timeout\).*raise --timeout"):
            draw(loader, timeout=0.5)
    finally:
        loader.release()
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("workers", [0, 2])
def test_timeout_that_is_not_reached_changes_nothing(workers):
    stream = draw(L.shuffled_loader(400, 5, num_workers=workers), timeout=30)
    assert len(stream.epochs) == 2
    assert sorted(decoded(stream, 1)) == LABELS.tolist()
    assert not any("--timeout" in n for n in stream.notes)


# ---------------------------------------------------------------------- dataset label metadata
def test_dataset_targets_are_coded_with_the_stream():
    stream = draw(L.dataloader(np.array([2, 4, 6, 8] * 10), 8), batches=2)
    assert stream.classes == (2, 4, 6, 8)
    assert stream.dataset_labels.tolist() == [0, 1, 2, 3] * 10
    assert draw(L.dataloader(LABELS, 8, targets=False)).dataset_labels is None


def test_dataset_targets_that_do_not_match_are_dropped_with_a_note():
    loader = L.dataloader(LABELS, 8)
    loader.dataset.targets = [t + 10 for t in loader.dataset.targets]
    stream = draw(loader)
    assert stream.dataset_labels is None
    assert any("label metadata does not match" in n for n in stream.notes)


def test_dataset_label_column_like_hugging_face():
    class Columns:
        column_names = ["text", "label"]

        def __len__(self):
            return 4

        def __getitem__(self, key):
            return [1, 0, 1, 1] if key == "label" else None

    loader = type("Loader", (), {"dataset": Columns()})()
    assert dataset_label_values(loader).tolist() == [1, 0, 1, 1]
    Columns.column_names = ["text", "stars"]
    assert dataset_label_values(loader) is None
    assert dataset_label_values(loader, "stars") is None  # the column getter above only knows "label"
    Columns.__getitem__ = lambda self, key: [5, 4, 4, 1] if key == "stars" else None
    assert dataset_label_values(loader, "stars").tolist() == [5, 4, 4, 1]
    assert dataset_label_values(object()) is None


# ---------------------------------------------------------------------- describe_loader
@pytest.mark.parametrize(
    ("make", "sampler", "shuffle"),
    [
        (lambda ds: DataLoader(ds, 4), "SequentialSampler", False),
        (lambda ds: DataLoader(ds, 4, shuffle=True), "RandomSampler", True),
        (lambda ds: DataLoader(ds, 4, sampler=WeightedRandomSampler([1.0] * 8, 8)), "WeightedRandomSampler", True),
        (lambda ds: DataLoader(ds, None, sampler=BatchSampler(RandomSampler(ds), 4, False)), "BatchSampler(RandomSampler)", True),
        (lambda ds: DataLoader(ds, batch_sampler=BatchSampler(RandomSampler(ds), 4, False)), "RandomSampler", True),
        (lambda ds: DataLoader(ds, batch_sampler=[[0, 1], [2, 3]]), "list", None),
        (lambda ds: DataLoader(ds, 4, sampler=DistributedSampler(ds, 1, 0, shuffle=False)), "DistributedSampler", False),
    ],
)
def test_describe_dataloader_samplers(make, sampler, shuffle):
    info = describe_loader(make(L.ArrayDataset(torch.zeros(8, 2), torch.arange(8))))
    assert (info.sampler, info.shuffle) == (sampler, shuffle)
    assert info.type_name == "DataLoader" and info.reiterable
    assert info.dataset == "ArrayDataset" and info.dataset_length == 8


def test_describe_dataloader_fields_and_no_draw():
    loader = L.shuffled_loader(100, 5, batch_size=16, drop_last=True)
    state = torch.get_rng_state().clone()
    info = describe_loader(loader)
    assert torch.equal(torch.get_rng_state(), state)
    assert (info.batch_size, info.num_workers, info.drop_last) == (16, 0, True)
    assert info.describe().startswith("DataLoader(batch_size=16, sampler=RandomSampler, shuffle=True")


def test_describe_other_objects_never_raises():
    assert describe_loader(L.generator_loader(LABELS)) == LoaderInfo(type_name="generator")
    assert describe_loader([1, 2]).reiterable

    class Hostile:
        def __getattr__(self, name):
            raise RuntimeError(name)

    assert describe_loader(Hostile()).type_name == "Hostile"
    assert describe_loader(42) == LoaderInfo(type_name="int")


# ---------------------------------------------------------------------- recorder and fingerprints
def test_recorder_incremental_use():
    recorder = StreamRecorder("label", keep_inputs=True, fingerprints=False)
    batches = L.from_labels(LABELS[:64], 16, batch="dict")
    for b in batches[:2]:
        recorder.add(b)
    assert recorder.batches == 2
    recorder.new_epoch()
    recorder.new_epoch()  # no-op while empty
    assert recorder.batches == 0 and recorder.epochs == 2
    for b in batches:
        recorder.add(b)
    stream = recorder.finish(LoaderInfo("list"), notes=("drawn by guard",), seconds=1.5)
    assert [e.labels.size for e in stream.epochs] == [32, 64]
    assert stream.epochs[0].fingerprints is None
    assert [x is b["image"] for x, b in zip(stream.inputs, batches)] == [True, True]
    assert stream.notes[-1] == "drawn by guard" and stream.seconds == 1.5


def test_recorder_with_nothing_recorded():
    with pytest.raises(LoaderError, match="yielded no batches"):
        StreamRecorder().finish(LoaderInfo("x"))


def test_fingerprints_match_across_epochs_and_formats():
    stream = draw(L.shuffled_loader(200, 4))
    first, second = stream.epochs[0].fingerprints, stream.epochs[1].fingerprints
    assert first.dtype == np.uint64 and first.size == 200
    assert np.unique(first).size == 200
    assert set(first.tolist()) == set(second.tolist())
    x = L.features_for(np.arange(6))
    assert np.array_equal(fingerprint(x, 6)[0], fingerprint(torch.from_numpy(x), 6)[0])
    assert np.array_equal(fingerprint(x, 6)[0], fingerprint(list(x), 6)[0])


def test_fingerprints_skipped_with_a_reason():
    stream = draw([({"a": 1}, [0, 1]), ({"a": 2}, [1, 0])])
    assert stream.epochs[0].fingerprints is None
    assert any("fingerprints skipped: the inputs are dict" in n for n in stream.notes)
    assert fingerprint(np.zeros((3, 2)), 4) == (None, "the inputs (shape (3, 2)) do not have one row per label (4 labels)")
    assert fingerprint(["a", b"b"], 2)[0].size == 2


def test_hash_rows_properties():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 255, size=(50, 13), dtype=np.uint8)  # width not a multiple of 8
    rows[7] = rows[3]
    original = rows.copy()
    h = hash_rows(rows)
    assert np.array_equal(rows, original)
    assert h[7] == h[3]
    assert np.unique(h).size == 49
    one_bit = rows.copy()
    one_bit[0, 12] ^= 1
    assert hash_rows(one_bit)[0] != h[0]
    assert hash_rows(rows.astype(np.int16))[0] != h[0]  # dtype is part of the hash
    bf16 = torch.ones(4, 3, dtype=torch.bfloat16)
    assert np.unique(fingerprint(bf16, 4)[0]).size == 1


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_labels_and_cuda_rng_are_handled():
    batches = [(torch.zeros(4, 2, device="cuda"), torch.arange(4, device="cuda") % 2) for _ in range(3)]

    def gen():
        for b in batches:
            torch.cuda.manual_seed(torch.randint(0, 100, ()).item())  # touches the CUDA RNG
            yield b

    torch.cuda.init()
    state = torch.cuda.get_rng_state_all()
    stream = draw(gen())
    assert stream.classes == (0, 1) and stream.samples == 12
    assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), state))


# ---------------------------------------------------------------------- forensic facts (issue 5)
def test_feature_summaries_are_per_sample_deterministic_and_read_only():
    from loadercheck.fingerprints import FEATURE_NAMES, feature_summaries

    x = np.random.default_rng(0).normal(size=(6, 3, 4)).astype(np.float32)
    original = x.copy()
    f = feature_summaries(x, 6)
    assert f.shape == (6, len(FEATURE_NAMES)) and np.array_equal(x, original)
    assert np.allclose(f[:, 0], x.reshape(6, -1).mean(axis=1), atol=1e-6)
    assert np.allclose(feature_summaries(torch.from_numpy(x), 6), f)
    assert np.allclose(feature_summaries(x[2:4], 2), f[2:4])  # the same directions for every batch
    assert feature_summaries(["a", "b"], 2) is None and feature_summaries(x, 5) is None


def test_draw_records_features_and_the_sampler_facts():
    from loadercheck.adapters import sampler_probabilities

    stream = draw(L.dataloader(LABELS, 32))
    assert stream.epochs[0].features.shape == (len(LABELS), 6) and stream.epochs[1].features is not None
    recorder = StreamRecorder()  # features are off unless asked (guard stays cheap)
    recorder.add((np.zeros((4, 3)), np.arange(4)))
    assert recorder.finish(LoaderInfo("list")).epochs[0].features is None
    weights = torch.ones(len(LABELS))
    weights[:10] = 3.0
    ds = L.ArrayDataset(torch.zeros(len(LABELS), 2), torch.from_numpy(LABELS))
    loader = DataLoader(ds, batch_size=20, sampler=WeightedRandomSampler(weights, 100, replacement=True))
    probs = sampler_probabilities(loader)
    assert probs.sum() == pytest.approx(1.0) and probs[0] == pytest.approx(3 * probs[-1])
    assert draw(loader).sampler_probabilities is not None


def test_draw_notices_whether_the_sampler_epoch_moves():
    ds = L.ArrayDataset(torch.zeros(64, 2), torch.arange(64) % 4)
    sampler = DistributedSampler(ds, num_replicas=2, rank=0)
    assert draw(DataLoader(ds, batch_size=8, sampler=sampler)).loader.epoch_changed is False

    class CallsSetEpoch:
        def __init__(self):
            self.loader, self.dataset, self.sampler, self.epoch = DataLoader(ds, batch_size=8, sampler=sampler), ds, sampler, 0

        def __iter__(self):
            self.sampler.set_epoch(self.epoch)
            self.epoch += 1
            return iter(self.loader)

    assert draw(CallsSetEpoch()).loader.epoch_changed is True
    assert draw(L.from_labels(LABELS, 32)).loader.epoch_changed is None


def test_dataset_labels_of_a_subset():
    from torch.utils.data import Subset

    ds = L.ArrayDataset(torch.zeros(40, 1), torch.arange(40) % 4)
    loader = DataLoader(Subset(ds, [3, 4, 5, 9]), batch_size=2)
    assert dataset_label_values(loader).tolist() == [3, 0, 1, 1]


def test_tensor_dataset_label_tensor_is_the_dataset_labels():
    from torch.utils.data import TensorDataset

    x, y, w = torch.randn(4, 2), torch.tensor([3, 1, 2, 0]), torch.tensor([9, 9, 8, 8])
    holder = type("Loader", (), {})
    two, three = holder(), holder()
    two.dataset, three.dataset = TensorDataset(x, y), TensorDataset(x, y, w)
    assert dataset_label_values(two).tolist() == [3, 1, 2, 0]  # position 1 of two tensors
    assert dataset_label_values(three).tolist() == [9, 9, 8, 8]  # the last of three
    assert dataset_label_values(three, 1).tolist() == [3, 1, 2, 0]  # --label 1
    assert dataset_label_values(three, "1").tolist() == [3, 1, 2, 0]

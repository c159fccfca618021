"""The fast paths of issue 10 ("fast where users wait") give what the plain ones gave, bit for bit.

- ``hash_rows`` (chunked, scratch buffers): frozen hashes of the implementation it replaced.
- The recorder hashes small input rows a few hundred batches at a time: its fingerprints equal the
  per-batch ``fingerprint()`` of every batch, also when a loader refills one buffer in place, and
  the duplicates found on streams with known copies are the known ones.
- ``identity_codes`` / ``dense_codes`` / ``distinct_count`` (a packed sort, a count table) equal
  ``np.unique``, including when the packed sort has to give way.
- Labels coded through a lookup table equal ``np.unique`` + ``np.searchsorted``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from loadercheck import forensics
from loadercheck.drawing import draw
from loadercheck.fingerprints import feature_summaries, fingerprint, hash_rows
from loadercheck.options import Options
from loadercheck.recording import StreamRecorder
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Stream
from loadercheck.stats import identity


# ---------------------------------------------------------------------- hash_rows
def _hash_cases():
    rng = np.random.default_rng(2024)
    raw = rng.integers(0, 256, size=4_000_000, dtype=np.uint8)
    yield "u8x3", raw[: 64 * 3].reshape(64, 3)
    yield "u8x13", raw[: 50 * 13].reshape(50, 13)
    yield "f32x4", raw[: 1000 * 16].view(np.float32).reshape(1000, 4)
    yield "i64x2", raw[: 300 * 16].view(np.int64).reshape(300, 2)
    yield "f64x3x5", raw[: 40 * 120].view(np.float64).reshape(40, 3, 5)
    yield "u16x9_many", raw[: 20000 * 18].view(np.uint16).reshape(20000, 9)  # several chunks, padded rows
    yield "f32x3x32x32", raw[: 20 * 12288].view(np.float32).reshape(20, 3, 32, 32)
    yield "u8x70000", raw[: 3 * 70000].reshape(3, 70000)  # rows wider than a chunk
    yield "empty_rows", np.zeros((5, 0), np.float32)


# blake2b-128 of all the hashes and the first hash, from the implementation before issue 10 (commit b40d8c1)
FROZEN = {
    "u8x3": ("65773d05dbabbb6445b8865ad483cb7d", 1291446995852073139),
    "u8x13": ("3b911b855e2f000c54e2067debf26628", 7733900008503994109),
    "f32x4": ("c03358db593e0c9185e5b3d41c35e4c5", 15093089149816825171),
    "i64x2": ("37ebee1d88b2ae949ec108b9340ce290", 13017236896888246491),
    "f64x3x5": ("b479169e3580a7c7c65048d3914cbc6e", 12076271826743915291),
    "u16x9_many": ("39ebc17bcdca68689fa8028f5f195344", 8799813277044761528),
    "f32x3x32x32": ("662a9192bfa2029be05eb134406c7664", 11094615483906497890),
    "u8x70000": ("197a6b47c1f75787e50efb01810f1f35", 4974750165176160731),
    "empty_rows": ("d4d9cd0f9cfeeb5aff7c578bff7b3c28", 11211377339427751130),
}


@pytest.mark.parametrize("name,array", list(_hash_cases()), ids=[name for name, _ in _hash_cases()])
def test_hash_rows_equals_the_frozen_hashes_and_reads_only(name, array):
    before = array.copy()
    h = hash_rows(array)
    assert array.tobytes() == before.tobytes()  # (random bytes: some are NaN floats)
    assert (hashlib.blake2b(h.tobytes(), digest_size=16).hexdigest(), int(h[0])) == FROZEN[name]
    if array.shape[0] > 2:  # a row's hash depends on that row alone
        assert np.array_equal(hash_rows(array[1:3]), h[1:3])


# ---------------------------------------------------------------------- recorder fingerprints
def _per_batch(batches, label_at=1):
    """The reference: every batch hashed on its own by ``fingerprint()``."""
    parts = []
    for batch in batches:
        inputs, labels = batch[1 - label_at], batch[label_at]
        parts.append(fingerprint(inputs, len(labels))[0])
    return np.concatenate(parts)


def _mixed_batches():
    """Small rows (hashed later, in blocks) of two layouts, wide rows and lists (hashed at once), copies."""
    rng = np.random.default_rng(3)
    pool = rng.normal(size=(400, 4)).astype(np.float32)
    out = []
    for i in range(40):
        idx = rng.integers(0, 400, 16)  # draws with replacement: known copies across batches
        x = pool[idx]
        if i % 7 == 3:
            x = x.astype(np.float64)  # another layout: the pending block is hashed first
        if i % 11 == 5:
            x = np.repeat(x[:, :1], 200, axis=1)  # 800-byte rows: hashed at once
        if i % 13 == 8:
            x = torch.from_numpy(np.ascontiguousarray(x))
        if i == 20:
            x = list(x)  # a list of per-sample arrays
        out.append((x, rng.integers(0, 3, 16)))
    return out


def test_recorder_fingerprints_equal_per_batch_hashes():
    batches = _mixed_batches()
    recorder = StreamRecorder(features=True)
    for batch in batches:
        recorder.add(batch)
    recorder.new_epoch()
    for batch in batches[::-1]:
        recorder.add(batch)
    stream = recorder.finish(LoaderInfo("list"))
    assert np.array_equal(stream.epochs[0].fingerprints, _per_batch(batches))
    assert np.array_equal(stream.epochs[1].fingerprints, _per_batch(batches[::-1]))
    expected_features = np.concatenate([feature_summaries(x, len(y)) for x, y in batches])
    assert np.array_equal(stream.epochs[0].features, expected_features)


def test_a_look_mid_stream_sees_every_fingerprint_and_recording_goes_on():
    batches = _mixed_batches()
    recorder = StreamRecorder()
    for batch in batches[:10]:
        recorder.add(batch)
    early = recorder.finish(LoaderInfo("list"))  # guard() looks while training goes on
    assert np.array_equal(early.epochs[0].fingerprints, _per_batch(batches[:10]))
    for batch in batches[10:]:
        recorder.add(batch)
    assert np.array_equal(recorder.finish(LoaderInfo("list")).epochs[0].fingerprints, _per_batch(batches))


def test_input_summaries_wait_with_the_hashes_and_equal_per_batch_summaries():
    """Small numeric rows are summarised a block at a time (also with fingerprints off), in batch
    order around those summarised at once (wide rows, lists, an empty batch, a NaN), and a look
    mid-stream sees every summary so far."""
    batches = _mixed_batches()
    nan = batches[4][0].copy()
    nan[2, 1] = np.nan
    batches[4] = (nan, batches[4][1])
    batches.insert(9, (np.zeros((0, 4), np.float32), np.zeros(0, np.int64)))
    per_batch = [feature_summaries(x, len(y)) if len(y) else np.empty((0, 6)) for x, y in batches]
    recorder = StreamRecorder(fingerprints=False, features=True)
    for batch in batches[:12]:
        recorder.add(batch)
    early = recorder.finish(LoaderInfo("list"))
    assert np.array_equal(early.epochs[0].features, np.concatenate(per_batch[:12]))
    for batch in batches[12:]:
        recorder.add(batch)
    assert np.array_equal(recorder.finish(LoaderInfo("list")).epochs[0].features, np.concatenate(per_batch))


def test_a_loader_refilling_one_buffer_in_place_is_hashed_as_it_was_yielded():
    rng = np.random.default_rng(1)
    contents = [rng.normal(size=(8, 3)).astype(np.float32) for _ in range(12)]
    contents[5] = contents[2].copy()  # one batch repeats another: 8 copies

    def refilling():
        x = np.empty((8, 3), np.float32)
        y = torch.zeros(8, dtype=torch.int64)
        for i, c in enumerate(contents):
            x[...] = c  # the same array object every batch, refilled
            y[:] = torch.arange(8) % 2
            yield x, y

    stream = draw(refilling())
    assert np.array_equal(stream.epochs[0].fingerprints, np.concatenate([hash_rows(c) for c in contents]))
    assert np.unique(stream.epochs[0].fingerprints).size == 8 * 11
    assert np.array_equal(stream.epochs[0].features, np.concatenate([feature_summaries(c, 8) for c in contents]))


def test_known_copies_are_found_and_counted():
    rng = np.random.default_rng(7)
    pool = rng.normal(size=(300, 5)).astype(np.float32)
    order = np.concatenate([np.arange(300), np.arange(100)])  # 100 samples twice, in random places
    rng.shuffle(order)
    labels = rng.integers(0, 4, 300)
    batches = [(pool[order[i:i + 20]], labels[order[i:i + 20]]) for i in range(0, 400, 20)]
    stream = draw(batches)
    prints = stream.epochs[0].fingerprints
    codes, counts = identity.identity_codes(prints)
    _, reference, reference_counts = np.unique(prints, return_inverse=True, return_counts=True)
    assert np.array_equal(codes, reference) and np.array_equal(counts, reference_counts)
    # one code per sample: the codes partition the positions exactly as the sample ids do
    assert np.unique(np.stack([codes, order]), axis=1).shape[1] == np.unique(order).size == counts.size == 300
    assert np.array_equal(np.sort(counts), np.sort(np.bincount(order)))
    result = forensics.duplicates(stream, Options())
    assert (result.details["samples"], result.details["distinct"], result.details["repeats"]) == (400, 300, 100)
    first, second, unit = forensics._comparable(stream)
    both = np.unique(np.concatenate([stream.epochs[0].fingerprints, stream.epochs[1].fingerprints]),
                     return_inverse=True)[1]
    assert unit == "input" and np.array_equal(first, both[:400]) and np.array_equal(second, both[400:])


# ---------------------------------------------------------------------- identity codes
def _id_cases():
    rng = np.random.default_rng(11)
    yield "random uint64", rng.integers(0, 2**64 - 1, 50_000, dtype=np.uint64, endpoint=True)
    yield "uint64 copies", np.repeat(rng.integers(0, 2**63, 3000).astype(np.uint64), 3)
    yield "int64 both signs", rng.integers(-10**15, 10**15, 5000)
    yield "int64 extremes", np.array([-2**63, 2**63 - 1, 0, -1, -1, 2**63 - 1])
    yield "uint64 extremes", np.array([2**64 - 1, 0, 2**63, 2**63 - 1, 2**64 - 1], np.uint64)
    # ids that share their high bits but differ below: the packed sort must give way to argsort
    yield "high-bit ties", np.array([10**10 + 1, 10**10, 10**10 + 1, 10**10, 5 * 10**12], np.uint64)
    yield "high-bit ties, signed", np.array([-(10**10) + 1, -(10**10), -(10**10) + 1, 4 * 10**12])
    yield "floats", np.array([2.5, -1.0, 2.5, 7.0])


@pytest.mark.parametrize("name,ids", list(_id_cases()), ids=[name for name, _ in _id_cases()])
def test_identity_codes_equal_np_unique(name, ids):
    _, codes, counts = np.unique(ids, return_inverse=True, return_counts=True)
    got_codes, got_counts = identity.identity_codes(ids)
    assert got_codes.dtype == np.int64 and got_counts.dtype == np.int64
    assert np.array_equal(got_codes, codes.ravel()) and np.array_equal(got_counts, counts)
    assert np.array_equal(identity.dense_codes(ids), codes.ravel())
    assert identity.distinct_count(ids) == np.unique(ids).size


def test_the_packed_sort_gives_way_on_high_bit_ties():
    ties = np.array([10**10 + 1, 10**10, 10**10 + 1, 10**10, 5 * 10**12], np.uint64)
    assert identity._sorted_runs(ties) is None
    order, first = identity._sorted_runs(np.array([9, 3 * 10**12, 9, 10**13], np.uint64))
    assert np.array_equal(order[:2], [0, 2]) or np.array_equal(order[:2], [2, 0])
    assert first.tolist() == [True, False, True, True]


@pytest.mark.parametrize("values", [
    np.array([True, False, True]), np.array([False, False]), np.array([3, 3, 3]), np.arange(10) % 4,
    np.array([-128, 127, 0], np.int8), np.array([2**64 - 1, 0], np.uint64), np.array([1.0, np.nan, np.nan]),
])
def test_distinct_count_equals_np_unique(values):
    assert identity.distinct_count(values) == np.unique(values).size


@pytest.mark.parametrize("values,k", [
    (np.random.default_rng(0).integers(0, 2**63, 10_000).astype(np.uint64), 10),
    (np.repeat(np.arange(5, dtype=np.uint64) * 10**15, 1000), 4),
    (np.repeat(np.arange(5, dtype=np.uint64) * 10**15, 1000), 5),
    (np.zeros(10_000, np.uint64), 1),
    (np.concatenate([np.zeros(10_000, np.uint64), np.arange(1, 3, dtype=np.uint64) * 10**15]), 2),  # late values
    (np.concatenate([np.zeros(10_000, np.uint64), np.arange(1, 3, dtype=np.uint64) * 10**15]), 3),
])
def test_more_distinct_than_equals_np_unique(values, k):
    assert identity.more_distinct_than(values, k) == (np.unique(values).size > k)


def test_small_integer_ids_stay_their_own_codes():
    ids = np.array([5, 0, 5, 2])
    codes, counts = identity.identity_codes(ids)
    assert codes.tolist() == [5, 0, 5, 2] and counts.tolist() == [1, 0, 1, 0, 0, 2]
    assert identity.dense_codes(ids).tolist() == [2, 0, 2, 1]


# ---------------------------------------------------------------------- label codes
@pytest.mark.parametrize("labels,reference", [
    (np.array([7, -3, 7, 2, -3]), None),
    (np.array([7, -3, 7, 2, -3]), np.array([9, -3, 2, 7, 11])),
    (np.array([1, 0, 1], np.uint8), None),
    (np.array([True, False, True]), None),
    (np.array([10**12, 5]), None),  # a wide range: sorted as before
    (np.array([2**63 + 5, 3], np.uint64), None),
    (np.array([0.5, 1.5, 0.5]), None),
    (np.array(["b", "a", "b"]), np.array(["c", "a", "b"])),
])
def test_label_codes_equal_unique_and_searchsorted(labels, reference):
    table = np.unique(labels if reference is None else np.concatenate([labels, reference]))
    recorder = StreamRecorder(fingerprints=False)
    for i in range(0, labels.size, 2):
        recorder.add((np.zeros((len(labels[i:i + 2]), 1)), labels[i:i + 2]))
    stream = recorder.finish(LoaderInfo("list"), dataset_labels=reference)
    assert stream.classes == tuple(table.tolist())
    assert [type(c) for c in stream.classes] == [type(c) for c in table.tolist()]
    assert np.array_equal(stream.labels, np.searchsorted(table, labels)) and stream.labels.dtype == np.int64
    if reference is not None:
        assert np.array_equal(stream.dataset_labels, np.searchsorted(table, reference))


def test_single_class_prefix_is_detected_without_sorting():
    from loadercheck.drawing import _single_class

    def stream(codes):
        return Stream((Epoch(np.asarray(codes, np.int64), np.array([len(codes)])),), LabelKind.CATEGORICAL,
                      (), LoaderInfo("x"))

    assert _single_class(stream([3, 3, 3])) and _single_class(stream([]))
    assert not _single_class(stream([3, 0, 3]))


@pytest.mark.parametrize("with_nan", [False, True])
def test_feature_summaries_only_read_float32_inputs(with_nan):
    x = np.arange(24, dtype=np.float32).reshape(6, 4)  # C-ordered float32: read in place, never written
    if with_nan:
        x[2, 1] = np.nan
    before = x.copy()
    f = feature_summaries(x, 6)
    assert np.array_equal(x, before, equal_nan=True) and np.isfinite(f).all()
    assert np.allclose(f[:, 1], np.nan_to_num(x).std(axis=1), atol=1e-5)

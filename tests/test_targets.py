"""Structured targets reduced to one code per sample (loadercheck.targets), and label-free sketches
(loadercheck.sketch): each reduction reads one sample only, and the sketch codes depend on the sampled
set as a multiset, never on its order (what keeps the permutation null exact)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loadercheck import sketch, targets
from loadercheck.targets import Kind, reduce_structured


# ---------------------------------------------------------------------- structured targets
def test_multi_hot_rows_read_as_their_lead_label():
    rows = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 1]], dtype=np.float32)
    reduced = reduce_structured(torch.from_numpy(rows))
    assert reduced.kind == Kind.MULTI_LABEL
    assert reduced.values.tolist() == [1, 0, targets.NO_OBJECT, 2]


def test_one_hot_and_probability_rows_are_not_multi_label():
    assert reduce_structured(np.eye(4)[[0, 2, 1]]) is None  # argmax reading stays with labels.py
    assert reduce_structured(np.array([[0.2, 0.8], [0.6, 0.4]])) is None


def test_detection_targets_read_as_each_images_most_frequent_class():
    records = (
        {"boxes": torch.rand(3, 4), "labels": torch.tensor([7, 2, 7])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
        {"boxes": torch.rand(2, 4), "labels": torch.tensor([5, 3])},  # a tie goes to the smaller class
    )
    reduced = reduce_structured(records)
    assert reduced.kind == Kind.DETECTION
    assert reduced.values.tolist() == [7, targets.NO_OBJECT, 3]


def test_coco_annotation_lists_are_detection_targets():
    images = [[{"category_id": 4, "bbox": [0, 0, 1, 1]}, {"category_id": 4, "bbox": [1, 1, 2, 2]},
               {"category_id": 9, "bbox": [0, 0, 3, 3]}], [], [{"category_id": 1, "bbox": [0, 0, 1, 1]}]]
    reduced = reduce_structured(images)
    assert reduced.kind == Kind.DETECTION and reduced.values.tolist() == [4, targets.NO_OBJECT, 1]


def test_named_detection_classes_get_stable_codes():
    a = reduce_structured([{"labels": ["cat", "dog", "cat"]}, {"labels": ["dog"]}]).values
    b = reduce_structured([{"labels": ["dog"]}, {"labels": ["cat"]}]).values
    assert a[0] == b[1] and a[1] == b[0] and a[0] != a[1]


def test_masks_read_as_their_largest_foreground_class():
    masks = np.zeros((4, 6, 6), dtype=np.int64)
    masks[0, :2] = 3                   # background dominates, 3 is the largest other class
    masks[1, :3] = 2
    masks[1, 3:4] = 5
    masks[2] = 255                     # all void
    masks[2, 0, 0] = 0                 # ... but one background pixel: background it is
    masks[3, :, :] = 255               # nothing valid at all
    reduced = reduce_structured(torch.from_numpy(masks))
    assert reduced.kind == Kind.SEGMENTATION
    assert reduced.values.tolist() == [3, 2, 0, targets.NO_OBJECT]


def test_language_model_labels_are_not_classes():
    ids = np.array([[5, 6, 7, 0], [8, 9, 0, 0]])
    labels = np.where(ids > 0, ids, -100)
    assert reduce_structured(labels).kind == Kind.TOKENS          # -100 on padding
    assert reduce_structured(ids, inputs=ids).kind == Kind.TOKENS  # labels repeat the inputs
    assert reduce_structured(ids, inputs=ids + 1) is None          # other integer rows: not recognised here


def test_plain_labels_are_left_to_the_label_reader():
    assert reduce_structured(np.arange(8)) is None
    assert reduce_structured([1, 2, 3]) is None
    assert reduce_structured(np.random.default_rng(0).normal(size=(4, 3))) is None


# ---------------------------------------------------------------------- sketches
def test_cluster_codes_do_not_depend_on_the_order_of_the_set():
    rng = np.random.default_rng(3)
    sketches = np.concatenate([rng.normal(c, 1.0, size=(200, sketch.SKETCH_DIM)) for c in (-2, 0, 3)])
    codes = sketch.cluster_codes(sketches)
    for seed in range(5):
        perm = np.random.default_rng(seed).permutation(len(sketches))
        assert np.array_equal(sketch.cluster_codes(sketches[perm]), codes[perm])
    assert 2 <= np.unique(codes).size <= 2 ** sketch.CODE_BITS


def test_cluster_codes_separate_clusters_and_give_one_code_to_identical_inputs():
    rng = np.random.default_rng(4)
    a, b = rng.normal(-5, 0.1, size=(100, 4)), rng.normal(5, 0.1, size=(100, 4))
    codes = sketch.cluster_codes(np.concatenate([a, b]))
    assert set(codes[:100]).isdisjoint(codes[100:])
    assert sketch.cluster_codes(np.ones((50, 4))).tolist() == [0] * 50


def test_token_sketches_read_only_unmasked_tokens_and_count_them():
    ids = np.array([[11, 12, 13, 0], [11, 12, 13, 99]])
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 0]], dtype=float)
    sketches, lengths = sketch.token_sketches(ids, mask)
    assert np.array_equal(sketches[0], sketches[1]) and lengths.tolist() == [3, 3]
    other, _ = sketch.token_sketches(np.array([[40, 41, 42, 0]]), mask[:1])
    assert not np.array_equal(other[0], sketches[0])


def test_input_sketches_of_arrays_lists_and_token_sequences():
    images = torch.randn(8, 3, 5, 5)
    found, lengths = sketch.input_sketches(images, 8)
    assert found.shape == (8, sketch.SKETCH_DIM) and lengths is None
    ragged = [torch.randn(3, 4 + i, 5) for i in range(4)]
    assert sketch.input_sketches(ragged, 4)[0].shape == (4, sketch.SKETCH_DIM)
    sequences = [[1, 2, 3], [4, 5], [6]]
    found, lengths = sketch.input_sketches(sequences, 3)
    assert lengths.tolist() == [3, 2, 1]
    assert sketch.input_sketches(images, 7) is None          # not one row per sample
    assert sketch.input_sketches(["a", object()], 2) is None  # nothing numeric


def test_sketching_never_modifies_the_inputs():
    images = torch.randn(4, 3, 2, 2)
    before = images.clone()
    sketch.input_sketches(images, 4)
    assert torch.equal(images, before)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_sets_get_codes(n):
    assert sketch.cluster_codes(np.arange(n * 2, dtype=float).reshape(n, 2)).shape == (n,)

"""Label extraction (LabelSpec) and conversion (to_label_array): pure functions of one batch."""

from __future__ import annotations

from collections import namedtuple
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from loadercheck.errors import LabelError
from loadercheck.labels import LabelSpec, to_label_array

X = np.zeros((4, 3), dtype=np.float32)
Y = np.array([3, 1, 2, 0])


def first_label(batch):
    """Used as ``--label test_labels:first_label``."""
    return batch["meta"]["label"][:1]


# ---------------------------------------------------------------------- auto-detection
@pytest.mark.parametrize("key", ["label", "labels", "target", "targets", "y", "class", "cls"])
def test_auto_finds_each_label_key(key):
    raw, where = LabelSpec.parse(None).locate({"image": X, key: Y})
    assert raw is Y
    assert where == f"batch[{key!r}]"


def test_auto_key_order_prefers_label_over_targets():
    assert LabelSpec.parse(None).extract({"targets": Y[::-1], "label": Y}) is Y


@pytest.mark.parametrize(
    ("batch", "expected"),
    [((X, Y), "batch[1]"), ([X, Y], "batch[1]"), ((X, X, Y), "batch[2]"), ((X, X, X, Y), "batch[3]")],
)
def test_auto_positions(batch, expected):
    raw, where = LabelSpec.parse(None).locate(batch)
    assert raw is Y and where == expected


@pytest.mark.parametrize("attr", ["label", "labels", "y"])
def test_auto_object_attributes(attr):
    batch = SimpleNamespace(x=X, **{attr: Y})
    assert LabelSpec.parse(None).extract(batch) is Y
    assert LabelSpec.parse(None).extract_inputs(batch) is X


def test_auto_namedtuple_prefers_field_name():
    Pair = namedtuple("Pair", ["target", "image", "extra"])
    assert LabelSpec.parse(None).extract(Pair(Y, X, X)) is Y


def test_auto_list_of_samples_collects_each_label():
    samples = [(X[0], 3), (X[1], 1), (X[2], 2)]
    raw = LabelSpec.parse(None).extract(samples)
    assert raw == [3, 1, 2]
    assert to_label_array(raw, 0).tolist() == [3, 1, 2]
    dicts = [{"x": X[0], "label": "cat"}, {"x": X[1], "label": "dog"}]
    assert LabelSpec.parse(None).extract(dicts) == ["cat", "dog"]


def test_auto_failure_lists_keys_and_suggests_label():
    with pytest.raises(LabelError, match=r"no label found in batch 7, a dict with keys \['image', 'mask'\].*--label"):
        LabelSpec.parse(None).extract({"image": X, "mask": X}, batch_index=7)


@pytest.mark.parametrize("batch", [X, torch.zeros(4, 3), (X,), "text"])
def test_auto_failure_on_unlabelled_batches(batch):
    with pytest.raises(LabelError, match="no label found"):
        LabelSpec.parse(None).extract(batch)


# ---------------------------------------------------------------------- explicit specs
def test_index_spec():
    spec = LabelSpec.parse(0)
    assert spec.extract((Y, X)) is Y
    assert spec.extract_inputs((Y, X)) is X  # labels at 0: inputs are the next position
    assert LabelSpec.parse("2").extract((X, X, Y)) is Y
    assert LabelSpec.parse(-1).extract((X, Y)) is Y


def test_index_spec_out_of_range():
    with pytest.raises(LabelError, match=r"--label 5 selects position 5, but batch 0 is a tuple of 2"):
        LabelSpec.parse(5).extract((X, Y), batch_index=0)


def test_key_and_dotted_path_specs():
    batch = {"x": X, "meta": {"label": Y, "ids": [Y, Y[::-1]]}, "a.b": Y}
    assert LabelSpec.parse("meta.label").extract(batch) is Y
    assert LabelSpec.parse("meta.ids.1").extract(batch)[0] == 0
    assert LabelSpec.parse("a.b").extract(batch) is Y  # a key with a dot wins
    obj = SimpleNamespace(meta=SimpleNamespace(label=Y))
    assert LabelSpec.parse("meta.label").extract(obj) is Y


def test_path_spec_missing_part_names_it():
    with pytest.raises(LabelError, match=r"--label 'meta.cls': batch.meta has no key, attribute or position 'cls'.*keys \['label'\]"):
        LabelSpec.parse("meta.cls").extract({"meta": {"label": Y}}, batch_index=0)


def test_callable_and_module_function_specs():
    batch = {"meta": {"label": Y}}
    assert LabelSpec.parse(lambda b: b["meta"]["label"]).extract(batch) is Y
    spec = LabelSpec.parse("test_labels:first_label")
    assert spec.mode == "call"
    assert spec.extract(batch).tolist() == [3]


def test_callable_spec_raising_is_a_label_error():
    spec = LabelSpec.parse(lambda b: b["nope"])
    with pytest.raises(LabelError, match=r"the label function .* raised KeyError on batch 2") as info:
        spec.extract({"x": X}, batch_index=2)
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:fn", "cannot import module 'no_such_module_xyz'"),
        ("test_labels:X", "names a ndarray, not a function"),
        ("a..b", "has an empty part"),
        ("", "is not a label spec"),
        (True, "is not a label spec"),
        (2.5, "is not a label spec"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(LabelError, match=message):
        LabelSpec.parse(spec)


# ---------------------------------------------------------------------- inputs
def test_extract_inputs():
    spec = LabelSpec.parse(None)
    assert spec.extract_inputs((X, Y)) is X
    assert spec.extract_inputs({"pixel_values": X, "labels": Y}) is X
    assert spec.extract_inputs({"ids": Y, "labels": Y, "emb": X}) is Y  # first array that is not the label
    assert spec.extract_inputs({"__key__": "k", "labels": Y}) is None
    assert spec.extract_inputs(SimpleNamespace(inputs=X, y=Y)) is X
    rows = [X[0], X[1]]
    assert spec.extract_inputs([(rows[0], 1), (rows[1], 2)])[1] is rows[1]
    assert spec.extract_inputs((Y,)) is Y  # a one-element batch (TensorDataset(x) collated) holds its inputs


# ---------------------------------------------------------------------- conversion
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (torch.tensor([3, 1, 2]), [3, 1, 2]),
        (np.array([3, 1, 2], dtype=np.uint8), [3, 1, 2]),
        ([3, 1, 2], [3, 1, 2]),
        ((3, 1, 2), [3, 1, 2]),
        (7, [7]),
        (np.int64(7), [7]),
        (torch.tensor(7), [7]),
        (True, [True]),
        ([True, False], [True, False]),
        ("cat", ["cat"]),
        (["cat", "dog"], ["cat", "dog"]),
        (("cat", "dog"), ["cat", "dog"]),  # how default_collate batches strings
        (b"3", ["3"]),
        ([torch.tensor(1), torch.tensor(2)], [1, 2]),
        (np.array([[1], [2]]), [1, 2]),
        (torch.tensor([0.5, 1.5]), [0.5, 1.5]),
        ([1, 2.5], [1.0, 2.5]),
    ],
)
def test_to_label_array_kinds(raw, expected):
    out = to_label_array(raw, 0)
    assert out.ndim == 1
    assert out.tolist() == expected


def test_one_hot_and_probability_rows_reduce_by_argmax():
    onehot = torch.nn.functional.one_hot(torch.tensor([2, 0, 1]), 3)
    assert to_label_array(onehot, 0).tolist() == [2, 0, 1]
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    assert to_label_array(probs, 0).tolist() == [1, 0]
    assert to_label_array([[0, 1], [1, 0]], 0).tolist() == [1, 0]


def test_tensor_with_grad_and_bfloat16():
    t = torch.tensor([0.25, 0.5], requires_grad=True)
    assert to_label_array(t, 0).tolist() == [0.25, 0.5]
    assert to_label_array(torch.tensor([1.0, 2.0], dtype=torch.bfloat16), 0).tolist() == [1.0, 2.0]


def test_conversion_copies_and_never_mutates():
    raw = np.array([1, 2, 3])
    out = to_label_array(raw, 0)
    out[0] = 99
    assert raw.tolist() == [1, 2, 3]
    t = torch.tensor([1, 2, 3])
    to_label_array(t, 0)[0] = 99
    assert t.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (np.array([[1, 1, 0], [0, 1, 1]]), r"batch 4 have shape \(2, 3\): several values per sample.*--label module:function"),
        (np.zeros((2, 3, 4)), r"shape \(2, 3, 4\)"),
        ([[1, 2], [3]], "ragged"),
        ([1, "a"], "mix int and str"),
        ([1, None], "contain None"),
        (None, "are None"),
        ({"a": 1}, "not a tensor, array, list or scalar"),
        (np.array([1 + 2j]), "dtype complex128"),
        ([object()], "hold object values"),
    ],
)
def test_unusable_labels(raw, message):
    with pytest.raises(LabelError, match=message):
        to_label_array(raw, 4)


class _BadArray:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("lazy column failed")


def test_conversion_failures_keep_their_cause():
    with pytest.raises(LabelError, match=r"cannot convert the labels of batch 1 \(_BadArray\) to an array: lazy column failed"):
        to_label_array(_BadArray(), 1)
    with pytest.raises(LabelError, match=r"cannot read the label tensor of batch 2 \(dtype torch.int64, device meta\)") as info:
        to_label_array(torch.empty(3, dtype=torch.int64, device="meta"), 2)
    assert info.value.__cause__ is not None
    with pytest.raises(LabelError, match="integer labels in batch 3 do not fit in 64 bits"):
        to_label_array([1, 2**70], 3)
    with pytest.raises(LabelError, match="the dataset's label metadata contain nan"):
        to_label_array([0.5, float("nan")], -1)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_name_the_batch(bad):
    with pytest.raises(LabelError, match=r"labels in batch 12 contain (nan|inf)"):
        to_label_array(torch.tensor([0.5, bad]), 12)


def test_label_function_missing_says_what_the_function_must_be(tmp_path, monkeypatch):
    (tmp_path / "labelfns.py").write_text("def by_key(batch):\n    return batch['y']\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LabelError, match=r"has no attribute 'by_kye'.*Did you mean 'by_key'.*must name a function "
                                         r"taking a batch and returning its labels"):
        LabelSpec.parse("labelfns:by_kye")

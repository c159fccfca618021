"""Property: whatever a loader yields, check() returns a Report or raises LoaderCheckError, and every
Report renders as plain text (no ESC, no BEL), strict JSON, the HTML document and the notebook fragment.

Hypothesis draws the feed: 1-12 batches of 0-9 samples (empty batches included), the container of a
batch (tuple, list, dict, per-sample dicts or tuples, a bare array, token dicts, detection tuples),
the labels (ints, bools, hostile strings, discrete and continuous floats with inf and NaN, None,
one-hot and multi-hot rows, masks, a scalar per batch, no label), the inputs (numpy arrays of several
dtypes and shapes, torch tensors, lists, raw strings, none) and the glitches a real pipeline has
(label kinds mixed across batches, fewer or more labels than inputs). The seed is fixed
(``derandomize=True``) so CI sees the same examples on every run.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")

from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import loadercheck  # noqa: E402
from loadercheck import api  # noqa: E402
from loadercheck.errors import LoaderCheckError  # noqa: E402
from loadercheck.render import plots  # noqa: E402
from loadercheck.render.html import render_html  # noqa: E402
from loadercheck.render.text import render_text  # noqa: E402
from loadercheck.report import Report  # noqa: E402

# --------------------------------------------------------------------------------------------------
# strategies
#
# Hypothesis draws the structure of a feed (batch count and sizes, container, label and input kinds,
# the form labels take, glitches, options); the values inside the batches come from a numpy
# generator seeded by a drawn integer. Few draws per example let the 200 examples cover many
# structures instead of many variants of a few, and keep generation cheap; shrinking still reduces
# the structure (and the seed) of a failing feed.

HOSTILE = (
    "[/]", "[bold]x", "[red]", "\x1b[2J", "\x1b]0;pwned\x07", "\x07", "", " ", "\r", "\n", "\t", "a\rb",
    "\x00", "\x9b31m", "\x7f", "\u202e", "\u2028", "\u200f", "é", "日本語", "🙂", "$", "$x$", "a$b", "$\\frac$",
    "\\", "<script>", "&amp;", "'", '"', "nan", "None", "-1", "0", "True", "x" * 40,
)
"""Label strings that have broken terminals, rich, HTML or matplotlib somewhere."""
_ALPHABET = (
    [chr(c) for c in range(0x20)] + [chr(c) for c in range(0x7F, 0xA0)] + list("abcXYZ019 -_[]/$\\<>&'\"%{}")
    + list("éßж日本\u202e\u2066\u2028\u200f🙂\U0010fffd")
)

LABEL_KINDS = (
    "int", "bool", "str", "float", "continuous", "nan", "none", "onehot", "multihot", "mask", "scalar",
    "nolabel", "object", "blocks", "str-blocks", "drift",
)
"""``blocks`` and ``str-blocks`` give every sample of batches 2i and 2i+1 the same label, ``drift`` is a
continuous target that grows along the feed: sorted feeds that fail (and so reach the renderers' hints
and fixes, with hostile class names)."""
label_kinds = st.sampled_from(LABEL_KINDS + ("int", "str", "continuous", "blocks", "str-blocks", "drift"))
INPUT_KINDS = (
    "f32", "f64", "u8-image", "i64", "bool", "f16", "vector", "t-f32", "t-i64", "t-f16", "t-bf16", "t-image",
    "list", "nested-list", "strings", "none", "nan", "constant",
)
CONTAINERS = ("tuple", "list", "dict", "samples", "sample-tuples", "bare", "triple", "tokens", "detection")
LABEL_KEYS = ("label", "labels", "target", "y", "cls", "class")
INPUT_KEYS = ("x", "image", "input", "pixel_values", "data", "features", "input_ids", "text")
FORMS = ("np", "list", "torch", "tuple", "np-narrow", "object")
"""How a batch's labels arrive: a numpy array, a list, a tensor, a tuple, a narrow dtype, an object array."""


def _string(rng: np.random.Generator) -> str:
    if rng.random() < 0.6:
        return HOSTILE[rng.integers(len(HOSTILE))]
    return "".join(_ALPHABET[i] for i in rng.integers(len(_ALPHABET), size=rng.integers(0, 5)))


def _strings(rng: np.random.Generator, n: int) -> list[str]:
    return [_string(rng) for _ in range(n)]


def _ints(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.integers(0, 4, n)
    if rng.random() < 0.2:  # negative and huge class ids
        values[rng.random(n) < 0.3] = rng.choice([-1, -3, 9, 10**9, -(2**40)])
    return values.astype(np.int64)


def _shaped(values: np.ndarray, form: str) -> Any:
    """``values`` in one of :data:`FORMS` (a form that cannot hold them falls back to numpy)."""
    if form == "list":
        return values.tolist()
    if form == "tuple":
        return tuple(values.tolist())
    if form == "object":
        return np.array(values.tolist() + [None], dtype=object)[: len(values)]
    if form == "torch" and values.dtype.kind in "biuf":
        return torch.from_numpy(values.copy())
    if form == "np-narrow" and values.dtype.kind in "iuf":
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 as float32 is inf, -1 as uint8 is 255
            return values.astype(np.float32 if values.dtype.kind == "f" else np.int32 if values.min(initial=0) < 0
                                 else np.uint8)
    return values


def _labels(kind: str, n: int, form: str, width: int, rng: np.random.Generator, index: int) -> Any:
    """The labels of batch ``index`` (``n`` samples), in one of the forms a collate function gives."""
    if kind == "int":
        return _shaped(_ints(rng, n), form)
    if kind == "bool":
        return _shaped(rng.random(n) < 0.5, form)
    if kind == "str":
        values = _strings(rng, n)
        return np.array(values, dtype=str) if form in ("np", "np-narrow", "torch") else _shaped(np.array(values, dtype=object), form)
    if kind == "float":
        return _shaped(rng.choice([0.0, 0.5, 1.0, -1.0], n), form)
    if kind in ("continuous", "drift"):  # distinct values: a regression target
        scale = rng.choice([1e-6, 1.0, 1e6])
        values = scale * (rng.standard_normal(n) + (index if kind == "drift" else 0))
        if n and rng.random() < 0.1:
            values[0] = rng.choice([5e-324, 1e300, -0.0])
        return _shaped(values, form)
    if kind == "nan":  # NaN and infinities among ordinary values
        return _shaped(rng.choice([0.0, 1.0, 0.5, np.nan, np.inf, -np.inf], n), form)
    if kind == "none":
        return [None, [None] * n, np.array([None] * n, dtype=object)][rng.integers(3)]
    if kind == "object":  # ints, strings, floats, bools and None in one batch
        pool = [0, 1, 2, "a", "\x1b[2J", None, 1.5, True, np.int64(3)]
        return _shaped(np.array([pool[i] for i in rng.integers(len(pool), size=n)] + [None], dtype=object)[:n], form)
    if kind == "onehot":
        rows = np.eye(width, dtype=rng.choice([np.float32, np.int64, np.uint8]))[rng.integers(0, width, n)]
        return torch.from_numpy(rows) if form == "torch" else rows.reshape(n, width)
    if kind == "multihot":
        rows = (rng.random((n, width)) < 0.5).astype(np.float32)
        return torch.from_numpy(rows) if form == "torch" else rows
    if kind == "mask":
        side = int(rng.integers(1, 4))
        mask = rng.integers(0, 3, (n, side, side))
        if n and rng.random() < 0.3:
            mask[0] = 255  # an all-void mask
        return torch.from_numpy(mask) if form == "torch" else mask
    if kind == "scalar":  # one label per batch (a mis-collated feed)
        return [int(rng.integers(-1, 4)), _string(rng), np.int64(2), np.float32(0.5), torch.tensor(1)][rng.integers(5)]
    if kind == "blocks":
        return _shaped(np.full(n, index // 2, dtype=np.int64), form)
    if kind == "str-blocks":  # the block names start with the escape sequences
        return [HOSTILE[(index // 2 + 3) % len(HOSTILE)]] * n
    raise AssertionError(kind)


def _inputs(kind: str, n: int, rng: np.random.Generator) -> Any:
    """The inputs of one batch of ``n`` samples."""
    if kind == "f32":
        return rng.random((n, 3), dtype=np.float32)
    if kind == "f64":
        return rng.standard_normal((n, 2, 2))
    if kind == "u8-image":
        return rng.integers(0, 256, (n, 2, 2, 3), dtype=np.uint8)
    if kind == "i64":
        return rng.integers(-5, 5, n)
    if kind == "bool":
        return rng.random((n, 4)) < 0.5
    if kind == "f16":
        return rng.random((n, 3)).astype(np.float16)
    if kind == "vector":
        return rng.random(n)
    if kind == "t-f32":
        return torch.from_numpy(rng.random((n, 3), dtype=np.float32))
    if kind == "t-i64":
        return torch.from_numpy(rng.integers(0, 50, (n, 5)))
    if kind == "t-f16":
        return torch.from_numpy(rng.random((n, 3))).half()
    if kind == "t-bf16":
        return torch.from_numpy(rng.random((n, 3))).bfloat16()
    if kind == "t-image":
        return torch.from_numpy(rng.random((n, 1, 2, 2), dtype=np.float32))
    if kind == "list":
        return [float(v) for v in rng.random(n)]
    if kind == "nested-list":
        return rng.random((n, 2)).tolist()
    if kind == "strings":
        return _strings(rng, n)
    if kind == "none":
        return None
    if kind == "nan":
        x = rng.random((n, 3))
        x[:, 0] = np.nan
        x[:, 1] = np.inf
        return x
    if kind == "constant":
        return np.zeros((n, 3), dtype=np.float32)
    raise AssertionError(kind)


def _sample_of(x: Any, i: int) -> Any:
    if x is None:
        return None
    try:
        return x[i]
    except (IndexError, TypeError, KeyError):
        return None


def _batch(container: str, label_kind: str, input_kind: str, form: str, n: int, width: int, mismatch: int,
           rng: np.random.Generator, keys: tuple[str, str], index: int) -> Any:
    """Batch ``index``: ``n`` samples, labels for ``n + mismatch`` of them."""
    if container == "tokens":
        length = int(rng.integers(1, 6))
        ids = torch.from_numpy(rng.integers(0, 30, (n, length)))
        mask = torch.ones(n, length, dtype=torch.int64)
        if length > 1 and n:
            mask[0, -1] = 0  # one padded position
        labels = ids.clone()
        labels[mask == 0] = -100
        if rng.random() < 0.5:
            labels[:, 0] = -100
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        if label_kind in ("int", "bool", "str", "float", "continuous", "blocks", "drift", "nan"):
            batch["labels"] = _labels(label_kind, n + mismatch, form, width, rng, index)  # one class per sequence
        elif label_kind == "nolabel":
            del batch["labels"]
        if rng.random() < 0.3:
            del batch["attention_mask"]
        return batch
    if container == "detection":
        images = tuple(torch.from_numpy(rng.random((1, 2, 2), dtype=np.float32)) for _ in range(n))
        targets = []
        for _ in range(n + mismatch):
            m = int(rng.integers(0, 4))  # 0 objects: an image without boxes
            target = {"boxes": torch.from_numpy(rng.random((m, 4), dtype=np.float32)),
                      "labels": torch.from_numpy(_ints(rng, m))}
            if label_kind in ("str", "str-blocks"):
                target["labels"] = _strings(rng, m)
            elif label_kind == "blocks":
                target["labels"] = torch.full((m,), index // 2, dtype=torch.int64)
            targets.append(target)
        return (images, tuple(targets)) if form in ("np", "tuple", "torch") else [list(images), targets]
    x = _inputs(input_kind, n, rng)
    y = None if label_kind == "nolabel" else _labels(label_kind, n + mismatch, form, width, rng, index)
    label_key, input_key = keys
    if container == "bare":
        return x if x is not None else rng.random((n, 2))
    if container in ("tuple", "list", "triple"):
        parts: list[Any] = [x] if label_kind == "nolabel" else [x, y]
        if container == "triple":  # a third field: its last position is where labels are looked for
            parts.append(_strings(rng, n))
        return parts if container == "list" else tuple(parts)
    if container == "dict":
        batch = {input_key: x}
        if label_kind != "nolabel":
            batch[label_key] = y
        if rng.random() < 0.4:  # a metadata column (an order signal of its own)
            batch["source"] = _strings(rng, n)
        return batch
    if container == "samples":  # collate_fn=lambda b: b over a dataset of dicts
        out = []
        for i in range(n):
            sample_ = {input_key: _sample_of(x, i)}
            if label_kind != "nolabel":
                sample_[label_key] = y if label_kind == "scalar" else _sample_of(y, i)
            out.append(sample_)
        return out
    if container == "sample-tuples":
        if label_kind == "nolabel":
            return [(_sample_of(x, i),) for i in range(n)]
        return [(_sample_of(x, i), y if label_kind == "scalar" else _sample_of(y, i)) for i in range(n)]
    raise AssertionError(container)


class OneShot:
    """A loader that can be iterated once (iter(loader) is loader), like a generator."""

    def __init__(self, batches: list[Any]) -> None:
        self._it = iter(batches)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)


@st.composite
def feeds(draw):
    """(batches, loader kind, check() keywords): one feed and how to check it."""
    container = draw(st.sampled_from(CONTAINERS))
    label_kind = draw(label_kinds)
    input_kind = draw(st.sampled_from(INPUT_KINDS))
    form = draw(st.sampled_from(FORMS))
    n_batches = draw(st.integers(1, 12))
    sizes = draw(st.lists(st.integers(0, 9), min_size=n_batches, max_size=n_batches))
    mixed = draw(st.integers(0, 3)) == 3  # label kinds change along the stream (rare flags: the largest value,
    # since Hypothesis often tries the smallest)
    mismatched = draw(st.integers(0, 3)) == 3  # some batches have one label too few or too many
    width = draw(st.integers(1, 4))  # one-hot / multi-hot row width
    keys = (draw(st.sampled_from(LABEL_KEYS)), draw(st.sampled_from(INPUT_KEYS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kinds = [label_kind if not mixed or rng.random() < 0.5 else LABEL_KINDS[rng.integers(len(LABEL_KINDS))]
             for _ in sizes]
    mismatches = [int(rng.choice([-1, 1])) if mismatched and n and rng.random() < 0.5 else 0 for n in sizes]
    batches = [_batch(container, kinds[i], input_kind, form, n, width, mismatches[i], rng, keys, i)
               for i, n in enumerate(sizes)]
    options: dict[str, Any] = {"target": draw(st.sampled_from(("feed", "feeds.py:train") + HOSTILE))}
    if draw(st.booleans()):
        options["batches"] = draw(st.integers(1, 12))
    if draw(st.integers(0, 5)) == 5:
        options["max_samples"] = draw(st.integers(1, 40))
    if draw(st.booleans()):
        options["alpha"] = draw(st.sampled_from([1e-3, 0.05, 0.2, 0.49]))
    if draw(st.integers(0, 7)) == 7:
        options["label"] = draw(st.sampled_from([0, 1, -1, keys[0], "labels", "0.label", "nope"]))
    if draw(st.integers(0, 5)) == 5:
        options["ordered"] = True
    if draw(st.integers(0, 5)) == 5:
        options["seed"] = draw(st.integers(1, 3))
    loader_kind = draw(st.sampled_from(["list", "list", "tuple", "one-shot"]))
    return batches, loader_kind, options


def _loader(batches: list[Any], kind: str) -> Any:
    if kind == "tuple":
        return tuple(batches)
    if kind == "one-shot":
        return OneShot(batches)
    return list(batches)


# --------------------------------------------------------------------------------------------------
# the property

_SGR = re.compile(r"\x1b\[[0-9;]*m")


@contextmanager
def quick_figures():
    """The HTML figures at a low resolution and without constrained layout: the same figure code
    runs (the data reach matplotlib, every tick label is laid out and drawn into a PNG) in about a
    third of the time."""
    original = plots.to_data_uri

    def small(fig, dpi: int = 144) -> str:
        fig.set_layout_engine("none")
        return original(fig, dpi=12)

    with mock.patch.object(plots, "to_data_uri", small):
        yield


def check_renders(report: Report, stream: Any) -> None:
    """Every renderer accepts ``report``: plain text without ESC or BEL, coloured text whose only
    escapes are colours, strict JSON, the HTML document (with the stream) and the notebook fragment."""
    assert isinstance(report, Report)
    text = render_text(report)
    assert isinstance(text, str) and "verdict:" in text
    assert "\x1b" not in text and "\x07" not in text, repr(text)
    colored = render_text(report, color=True)
    assert "\x07" not in colored and "\x1b" not in _SGR.sub("", colored), repr(colored)
    doc = json.loads(report.to_json())
    assert doc["verdict"] in ("pass", "warn", "fail")
    assert doc["verdict"] == str(report.verdict)
    fragment = report._repr_html_()
    assert isinstance(fragment, str) and fragment.startswith("<div") and fragment.endswith("</div>")
    html = render_html(report, stream)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def check_feed(batches: list[Any], loader_kind: str, options: dict[str, Any]) -> str:
    """The property for one feed: check() returns a Report that renders, or raises LoaderCheckError.
    Returns what happened, for Hypothesis' statistics."""
    # check() is called as users call it; the spy only hands its Stream on to render_html.
    with mock.patch.object(api, "evaluate", wraps=api.evaluate) as spy:
        try:
            report = loadercheck.check(_loader(batches, loader_kind), **options)
        except LoaderCheckError as exc:
            return f"raised {type(exc).__name__}"
    check_renders(report, spy.call_args.args[0])
    return f"report: {report.verdict}, {report.stream.label_kind} labels, {report.stream.target_kind} targets"


# --------------------------------------------------------------------------------------------------
# feeds the property once broke on (fixed; kept as plain regression tests below)

EMPTY_MASK_FEEDS = {
    "only-batch": [(np.zeros((0, 3)), np.zeros((0, 1, 1), dtype=np.int64))],
    "empty-tail": [(np.zeros((2, 3)), np.zeros((2, 1, 1), dtype=np.int64)),
                   (np.zeros((0, 3)), np.zeros((0, 1, 1), dtype=np.int64))],
}
MATHTEXT_FEED = [(np.zeros((1, 2)), np.array(["$\\frac$"]))]


@settings(derandomize=True, database=None, max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(feeds())
def test_check_returns_a_report_that_renders_or_raises_loadercheck_error(feed):
    batches, loader_kind, options = feed
    with quick_figures():
        outcome = check_feed(batches, loader_kind, options)
    event(outcome)


# --------------------------------------------------------------------------------------------------
# regressions the property found (plain tests, real figures)


@pytest.mark.parametrize("name", sorted(EMPTY_MASK_FEEDS))
def test_an_empty_batch_of_masks_is_read_or_refused(name):
    # was: ValueError 'cannot reshape array of size 0' in targets.mask_classes
    check_feed(EMPTY_MASK_FEEDS[name], "list", {})


def test_a_dollar_class_name_renders_in_the_html_report():
    # was: matplotlib read the class name '$\\frac$' as mathtext in the HTML report's colour bar
    check_feed(MATHTEXT_FEED, "list", {})

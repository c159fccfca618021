"""Structured targets reduced to one order signal per sample.

Multi-hot rows, detection targets, segmentation masks and per-token label sequences carry several
values per sample. The order checks need one: each function here maps one sample's target to one
categorical code, looking at that sample only. Any function of one sample keeps the permutation null
exact (a shuffled feed stays a shuffle of the codes), so the calibrated battery applies unchanged;
the choice of function only decides which orders are visible.

Pure functions of the label container: nothing here iterates a loader, mutates a batch or imports
torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .sketch import to_numpy

NO_OBJECT = -1
"""Code of a sample with no label present (an image without boxes, an all-zero multi-hot row)."""
MASK_IGNORE = 255
"""Segmentation value that marks void pixels (PASCAL VOC, Cityscapes), never a sample's class."""
MASK_BACKGROUND = 0
"""Segmentation class read as background: a mask's class is its largest other class when it has one."""
DETECTION_KEYS: tuple[str, ...] = ("labels", "label", "category_id", "class", "classes", "cls")
"""Keys of a per-image target dict (or a COCO annotation) that hold its object classes."""


class Kind:
    """How a batch's labels were read (``Stream.target_kind``)."""

    CLASS = "class"
    MULTI_LABEL = "multi-label"
    DETECTION = "detection"
    SEGMENTATION = "segmentation"
    TOKENS = "tokens"
    NONE = "none"


DESCRIPTIONS = {
    Kind.MULTI_LABEL: "labels are multi-hot rows (multi-label); each sample is tested as its lead label "
                      "(the first label present, -1 when none)",
    Kind.DETECTION: "labels are per-image detection targets; each image is tested as its most frequent "
                    "object class (-1 without objects)",
    Kind.SEGMENTATION: f"labels are segmentation masks; each mask is tested as its largest class (background "
                       f"{MASK_BACKGROUND} only when nothing else is present, {MASK_IGNORE} ignored)",
    Kind.TOKENS: "the labels are per-token sequences (language modelling: they repeat the inputs), not classes",
}


@dataclass(frozen=True)
class Reduced:
    """One code per sample, and how it was read (a :class:`Kind` value)."""

    values: np.ndarray | None
    """One value per sample (``None`` for :attr:`Kind.TOKENS`: no label to test)."""
    kind: str


def reduce_structured(raw: object, inputs: object = None) -> Reduced | None:
    """Read a structured label container as one code per sample, or None when it is not one.

    Recognised: a list of per-image target mappings (``labels``/``category_id`` ...) or of COCO
    annotation lists (detection); integer arrays of 3 or more dimensions (segmentation masks);
    2-D 0/1 rows that are not one-hot (multi-label); 2-D integer rows holding -100 or equal to the
    token inputs (language-model labels). Everything else is left to
    :func:`loadercheck.labels.to_label_array`.
    """
    if isinstance(raw, (list, tuple)) and raw and all(_is_target_record(x) for x in raw):
        return Reduced(np.array([_image_class(x) for x in raw], dtype=np.int64), Kind.DETECTION)
    if _ragged_token_labels(raw, inputs):
        return Reduced(None, Kind.TOKENS)
    array = to_numpy(raw)
    if array is None or array.dtype.kind not in "biuf" or array.ndim < 2:
        return None
    if array.ndim >= 3 and array.dtype.kind in "biu":
        if _looks_like_masks(array, inputs):
            return Reduced(mask_classes(array), Kind.SEGMENTATION)
        return None
    if array.ndim != 2 or array.shape[1] < 2:
        return None
    if _token_labels(array, inputs):
        return Reduced(None, Kind.TOKENS)
    if _multi_hot(array):
        return Reduced(lead_labels(array), Kind.MULTI_LABEL)
    return None


def _ragged_token_labels(raw: object, inputs: object) -> bool:
    """Unpadded language-model labels: a list of integer sequences of differing lengths (examples of a
    tokenized dataset grouped without a collator) that hold -100 or repeat the token inputs."""
    if not isinstance(raw, (list, tuple)) or len(raw) < 2 or not all(isinstance(x, (list, tuple)) for x in raw):
        return False
    if len({len(x) for x in raw}) < 2 or not all(isinstance(v, int) for x in raw for v in x):
        return False
    if any(-100 in x for x in raw):
        return True
    return isinstance(inputs, (list, tuple)) and len(inputs) == len(raw) and all(
        isinstance(t, (list, tuple)) and list(t) == list(x) for t, x in zip(inputs, raw))


def lead_labels(rows: np.ndarray) -> np.ndarray:
    """Index of each row's first nonzero entry; :data:`NO_OBJECT` for an all-zero row."""
    present = rows != 0
    lead = np.argmax(present, axis=1).astype(np.int64)
    lead[~present.any(axis=1)] = NO_OBJECT
    return lead


def mask_classes(masks: np.ndarray) -> np.ndarray:
    """Each mask's largest class, ignoring :data:`MASK_IGNORE` and preferring any class but background.

    Ties go to the smaller class; an all-void mask gives :data:`NO_OBJECT`.
    """
    n = masks.shape[0]
    out = np.full(n, NO_OBJECT, dtype=np.int64)
    if n == 0 or masks.size == 0:
        return out
    flat = masks.reshape(n, -1).astype(np.int64)
    valid = (flat != MASK_IGNORE) & (flat >= 0)
    top = int(flat[valid].max()) + 1 if valid.any() else 1
    rows = np.repeat(np.arange(n), flat.shape[1])[valid.ravel()]
    counts = np.bincount(rows * top + flat[valid], minlength=n * top).reshape(n, top)
    foreground = counts.copy()
    if top > MASK_BACKGROUND:
        foreground[:, MASK_BACKGROUND] = 0
    has_fg = foreground.any(axis=1)
    out[has_fg] = np.argmax(foreground[has_fg], axis=1)
    only_bg = ~has_fg & counts.any(axis=1)
    out[only_bg] = MASK_BACKGROUND
    return out


def _looks_like_masks(array: np.ndarray, inputs: object) -> bool:
    """Integer maps, one channel per sample ((n, H, W) or (n, 1, H, W)), not shaped like the inputs:
    a second view of uint8 images (a contrastive pair) is not a mask."""
    if not (array.ndim == 3 or (array.ndim == 4 and array.shape[1] == 1)):
        return False
    shape = getattr(inputs, "shape", None)
    return shape is None or tuple(shape) != tuple(array.shape)


def _is_target_record(x: object) -> bool:
    """A per-image target: a mapping with object classes, or a (possibly empty) COCO annotation list."""
    if isinstance(x, Mapping):
        return any(k in x for k in DETECTION_KEYS)
    if isinstance(x, (list, tuple)):
        return all(isinstance(a, Mapping) and any(k in a for k in DETECTION_KEYS) for a in x)
    return False


def _object_classes(record: object) -> np.ndarray:
    if isinstance(record, Mapping):
        key = next(k for k in DETECTION_KEYS if k in record)
        value = record[key]
        array = to_numpy(value)
        if array is None:
            array = np.asarray(value if isinstance(value, Sequence) and not isinstance(value, str) else [value])
        return np.asarray(array).reshape(-1)
    parts = [_object_classes(a) for a in record]  # COCO: one annotation dict per object
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _image_class(record: object) -> int:
    """The most frequent object class of one image (ties: the smaller), :data:`NO_OBJECT` without objects."""
    classes = _object_classes(record)
    if classes.size == 0:
        return NO_OBJECT
    if classes.dtype.kind not in "biu":
        try:
            classes = classes.astype(np.int64)
        except (TypeError, ValueError):  # class names: the most frequent name, as a stable integer
            names, counts = np.unique(classes.astype(str), return_counts=True)
            return _stable_code(str(names[np.argmax(counts)]))
    values, counts = np.unique(classes.astype(np.int64), return_counts=True)
    return int(values[np.argmax(counts)])


def _stable_code(name: str) -> int:
    """A class name as a stable non-negative integer (for detection targets named by strings)."""
    import zlib

    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def _multi_hot(array: np.ndarray) -> bool:
    """0/1 rows (bool, int or float) that are not all one-hot (several labels per sample)."""
    if array.size == 0:
        return False
    if array.dtype.kind == "b":
        ones = array.sum(axis=1)
    else:
        if not np.isin(array, (0, 1)).all():
            return False
        ones = array.sum(axis=1)
    return bool((ones != 1).any())


def _token_labels(array: np.ndarray, inputs: object) -> bool:
    """Integer rows that are language-model labels: they hold -100 or repeat the token inputs."""
    if array.dtype.kind not in "iu" or array.shape[1] < 2:
        return False
    if array.dtype.kind == "i" and (array == -100).any():
        return True
    tokens = to_numpy(inputs)
    if tokens is None or tokens.shape != array.shape:
        return False
    return bool(np.array_equal(tokens, array))

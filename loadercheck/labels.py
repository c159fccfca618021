"""Finding labels in a batch and turning them into one value per sample.

Pure functions of the batch object: nothing here iterates a loader, mutates a batch or imports
torch (a tensor can only reach us if the user's code imported torch already, so
``sys.modules.get("torch")`` is enough to recognise one).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LabelError, TargetError

LABEL_KEYS: tuple[str, ...] = ("label", "labels", "target", "targets", "y", "class", "cls")
"""Mapping keys tried in this order when no label is specified (``cls`` is WebDataset's)."""
LABEL_ATTRIBUTES: tuple[str, ...] = ("label", "labels", "y")
"""Attributes tried in this order on batch objects that are neither mappings nor sequences."""
INPUT_KEYS: tuple[str, ...] = (
    "input", "inputs", "x", "image", "images", "img", "pixel_values", "input_ids", "data",
    "features", "jpg", "jpeg", "png", "webp", "npy", "text", "txt",
)  # fmt: skip
"""Mapping keys tried in this order for the input part of a batch (fingerprints, probe)."""
INPUT_ATTRIBUTES: tuple[str, ...] = ("x", "input", "inputs")
METADATA_KEYS: tuple[str, ...] = ("source", "domain", "lang", "language", "task", "dataset", "subset")
"""Mapping keys read as categorical metadata columns: each is an order signal beside the label."""

_HINT = (
    "pass --label (label= in Python): an index, a key, a dotted path such as 'meta.label', "
    "or 'module:function' returning the labels of a batch"
)
_HINT_SENTENCE = _HINT[0].upper() + _HINT[1:]


def is_tensor(obj: object) -> bool:
    """True for a ``torch.Tensor``, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _is_array(obj: object) -> bool:
    return isinstance(obj, np.ndarray) or is_tensor(obj)


def _is_mapping(obj: object) -> bool:
    return isinstance(obj, Mapping)


def _is_scalar_like(obj: object) -> bool:
    """One label value: a python/numpy scalar, a string, or a 0-d (or 1-element) array."""
    if isinstance(obj, (bool, int, float, str, bytes, np.generic)):
        return True
    if _is_array(obj):
        return obj.ndim == 0
    return False


def _describe(batch: object) -> str:
    """'dict with keys [...]', 'tuple of 3 (Tensor, Tensor, list)', 'Tensor of shape (32, 3)'."""
    name = type(batch).__name__
    if _is_mapping(batch):
        keys = list(batch.keys())
        shown = ", ".join(repr(k) for k in keys[:12]) + (", ..." if len(keys) > 12 else "")
        return f"{name} with keys [{shown}]"
    if isinstance(batch, (tuple, list)):
        kinds = ", ".join(type(x).__name__ for x in batch[:8]) + (", ..." if len(batch) > 8 else "")
        return f"{name} of {len(batch)} ({kinds})"
    if _is_array(batch):
        return f"{name} of shape {tuple(batch.shape)}"
    public = [a for a in dir(batch) if not a.startswith("_")][:12]
    return f"{name} with attributes [{', '.join(public)}]" if public else name


def _sample_list(batch: object) -> bool:
    """A list of samples (``collate_fn=lambda b: b``): tuples or mappings, one scalar label each."""
    if not isinstance(batch, (list, tuple)) or not batch:
        return False
    first = batch[0]
    if _is_mapping(first):
        if not all(_is_mapping(s) for s in batch):
            return False
        key = next((k for k in LABEL_KEYS if k in first), None)
        return key is not None and all(key in s and _is_scalar_like(s[key]) for s in batch)
    if isinstance(first, tuple) and len(first) >= 2:
        pos = 1 if len(first) == 2 else -1
        return all(
            isinstance(s, tuple) and len(s) == len(first) and _is_scalar_like(s[pos]) for s in batch
        )
    return False


@dataclass(frozen=True)
class LabelSpec:
    """How to find the labels in a batch.

    Build one with :meth:`parse`. ``mode`` is ``"auto"`` (SPEC §2 detection order), ``"index"``,
    ``"path"`` (a key, attribute or dotted path) or ``"call"`` (a function ``batch -> labels``).
    """

    mode: str
    index: int | None = None
    path: tuple[str, ...] = ()
    function: Callable[[Any], Any] | None = None
    text: str = "auto"
    """The spec as the user wrote it, for messages."""

    @classmethod
    def parse(cls, spec: str | int | Callable[[Any], Any] | LabelSpec | None) -> LabelSpec:
        """Read a ``--label`` value.

        ``None``: auto-detect. An ``int`` or a string of digits: a position in tuple/list batches.
        ``"key"``: a mapping key or an attribute. ``"meta.label"``: a dotted path through keys,
        attributes and (digit parts) positions. ``"module:function"`` or ``"file.py:function"``:
        a callable taking the batch and returning its labels. A callable is used as is.
        """
        if spec is None:
            return cls("auto")
        if isinstance(spec, LabelSpec):
            return spec
        if isinstance(spec, bool):
            raise LabelError(f"label={spec!r} is not a label spec; {_HINT}.")
        if isinstance(spec, int):
            return cls("index", index=spec, text=str(spec))
        if callable(spec) and not isinstance(spec, str):
            name = getattr(spec, "__qualname__", None) or type(spec).__name__
            return cls("call", function=spec, text=name)
        if not isinstance(spec, str) or not spec.strip():
            raise LabelError(f"label={spec!r} is not a label spec; {_HINT}.")
        text = spec.strip()
        if ":" in text:
            from ._target import resolve

            try:
                function, _ = resolve(text, role="a function taking a batch and returning its labels")
            except TargetError as exc:
                raise LabelError(f"--label {text!r}: {exc}") from exc
            if not callable(function):
                raise LabelError(
                    f"--label {text!r} names a {type(function).__name__}, not a function; "
                    "'module:function' must name a callable taking a batch and returning its labels."
                )
            return cls("call", function=function, text=text)
        if text.lstrip("-").isdigit():
            return cls("index", index=int(text), text=text)
        parts = tuple(text.split("."))
        if any(not p for p in parts):
            raise LabelError(f"--label {text!r} has an empty part; {_HINT}.")
        return cls("path", path=parts, text=text)

    def __str__(self) -> str:
        return self.text

    # ------------------------------------------------------------------ labels
    def extract(self, batch: object, batch_index: int | None = None) -> object:
        """Return the raw label container of ``batch`` (not yet converted to an array)."""
        return self.locate(batch, batch_index)[0]

    def locate(self, batch: object, batch_index: int | None = None) -> tuple[object, str]:
        """Like :meth:`extract`, also returning where the labels were found (``"batch['label']"``)."""
        where = f"batch {batch_index}" if batch_index is not None else "the batch"
        if self.mode == "call":
            try:
                return self.function(batch), f"{self.text}(batch)"  # type: ignore[misc]
            except Exception as exc:
                raise LabelError(
                    f"the label function {self.text} raised {type(exc).__name__} on {where} "
                    f"({_describe(batch)}): {exc}"
                ) from exc
        if self.mode == "index":
            return self._by_index(batch, where)
        if self.mode == "path":
            return self._by_path(batch, where)
        return self._auto(batch, where)

    def _auto(self, batch: object, where: str) -> tuple[object, str]:
        if _is_mapping(batch):
            for key in LABEL_KEYS:
                if key in batch:
                    return batch[key], f"batch[{key!r}]"
        elif _sample_list(batch):
            return _per_sample(batch, self._auto), "each sample's label"
        elif _unlabelled_list(batch):
            pass  # texts, or per-sample dicts without a label key: no label (the feed is read from its inputs)
        elif isinstance(batch, tuple) and hasattr(batch, "_fields"):
            for name in (*LABEL_ATTRIBUTES, "target", "targets"):
                if name in batch._fields:
                    return getattr(batch, name), f"batch.{name}"
            if len(batch) >= 2:
                pos = 1 if len(batch) == 2 else len(batch) - 1
                return batch[pos], f"batch[{pos}]"
        elif isinstance(batch, (tuple, list)):
            if len(batch) >= 2:
                pos = 1 if len(batch) == 2 else len(batch) - 1
                return batch[pos], f"batch[{pos}]"
        elif not _is_array(batch) and not isinstance(batch, (str, bytes, int, float)):
            for name in LABEL_ATTRIBUTES:
                value = getattr(batch, name, None)
                if value is not None and not callable(value):
                    return value, f"batch.{name}"
        raise LabelError(
            f"no label found in {where}, a {_describe(batch)}. loadercheck looks for the keys "
            f"{', '.join(LABEL_KEYS)}; position 1 of a pair or the last position of a longer "
            f"tuple; the attributes {', '.join('.' + a for a in LABEL_ATTRIBUTES)}. To read them "
            f"elsewhere, {_HINT}."
        )

    def _by_index(self, batch: object, where: str) -> tuple[object, str]:
        assert self.index is not None
        if _sample_list(batch):  # a list of sample tuples: the index selects inside each sample
            return _per_sample(batch, self._by_index), f"each sample's [{self.index}]"
        if isinstance(batch, (tuple, list)) and -len(batch) <= self.index < len(batch):
            return batch[self.index], f"batch[{self.index}]"
        raise LabelError(
            f"--label {self.index} selects position {self.index}, but {where} is a "
            f"{_describe(batch)}. Use a position that exists (0-based), or {_HINT}."
        )

    def _by_path(self, batch: object, where: str) -> tuple[object, str]:
        if _is_mapping(batch) and self.text in batch:  # a key that itself contains dots
            return batch[self.text], f"batch[{self.text!r}]"
        if isinstance(batch, (list, tuple)) and batch and all(_is_mapping(s) for s in batch):
            return _per_sample(batch, self._by_path), f"each sample's {self.text}"
        value: object = batch
        for depth, part in enumerate(self.path):
            if _per_sample_records(value, part):  # e.g. json.label over a list of per-sample dicts
                rest = self.path[depth:]
                walked = "batch" + "".join(f".{p}" for p in self.path[:depth])
                return [_walk_record(item, rest, walked, i, where) for i, item in enumerate(value)], \
                    f"{walked}[i].{'.'.join(rest)}"
            found, value = _step(value, part)
            if not found:
                walked = "batch" + "".join(f".{p}" for p in self.path[:depth])
                raise LabelError(
                    f"--label {self.text!r}: {walked} has no key, attribute or position "
                    f"{part!r} in {where} ({walked} is a {_describe(value)}). {_HINT_SENTENCE}."
                )
        return value, f"batch.{self.text}"

    # ------------------------------------------------------------------ inputs
    def extract_inputs(self, batch: object) -> object | None:
        """The input part of ``batch`` (used for fingerprints and the probe), or ``None``.

        Tuples and lists: position 0 (position 1 when the labels are at 0). Mappings: the first of
        :data:`INPUT_KEYS` present, else the first array-valued key that holds neither the labels
        nor metadata (``__key__``). Objects: ``.x``, ``.input`` or ``.inputs``. A list of samples
        gives the list of per-sample inputs.
        """
        if _is_mapping(batch):
            for key in INPUT_KEYS:
                if key in batch:
                    return batch[key]
            skip = set(LABEL_KEYS)
            if self.mode == "path" and len(self.path) == 1:
                skip.add(self.path[0])
            for key, value in batch.items():
                if key in skip or (isinstance(key, str) and key.startswith("__")):
                    continue
                if _is_array(value) or isinstance(value, (bytes, bytearray)):
                    return value
            return None
        if _sample_list(batch) or (_unlabelled_list(batch) and _is_mapping(batch[0])):
            inputs = [self.extract_inputs(sample) for sample in batch]
            return None if any(x is None for x in inputs) else inputs
        if _unlabelled_list(batch):
            return batch  # raw texts
        if isinstance(batch, (tuple, list)):
            if len(batch) == 1 and (_is_array(batch[0]) or isinstance(batch[0], (list, tuple))):
                return batch[0]  # a one-tensor TensorDataset's batch: [inputs]
            if len(batch) < 2:
                return None
            if self.mode == "index" and self.index is not None and self.index % len(batch) == 0:
                return batch[1]
            return batch[0]
        if _is_array(batch) or isinstance(batch, (str, bytes, int, float, bool)):
            return None
        for name in INPUT_ATTRIBUTES:
            value = getattr(batch, name, None)
            if value is not None and not callable(value):
                return value
        return None


def _unlabelled_list(batch: object) -> bool:
    """A list of samples with no label in them: raw texts, or per-sample mappings without a label key."""
    if not isinstance(batch, list) or not batch:
        return False
    if len(batch) >= 3 and all(isinstance(x, (str, bytes)) for x in batch):
        return True
    return all(_is_mapping(x) for x in batch) and not any(k in batch[0] for k in LABEL_KEYS)


def _per_sample(batch: list | tuple, locate: Callable[[object, str], tuple[object, str]]) -> list:
    return [locate(sample, f"sample {i}")[0] for i, sample in enumerate(batch)]


def _per_sample_records(value: object, part: str) -> bool:
    """A list of per-sample records (dicts or objects) reached by a path whose next part is a name,
    not a position: the rest of the path is read from each record."""
    if not isinstance(value, (list, tuple)) or hasattr(value, "_fields") or not value or part.lstrip("-").isdigit():
        return False
    return all(_is_mapping(item) or (hasattr(item, part) and not isinstance(item, (str, bytes))) for item in value)


def _walk_record(item: object, parts: tuple[str, ...] | list[str], walked: str, index: int, where: str) -> object:
    value = item
    for part in parts:
        found, value = _step(value, part)
        if not found:
            raise LabelError(
                f"--label: record {index} of {walked} in {where} has no key, attribute or position {part!r} "
                f"(it is a {_describe(value)}). {_HINT_SENTENCE}."
            )
    return value


def _step(value: object, part: str) -> tuple[bool, object]:
    if _is_mapping(value):
        if part in value:
            return True, value[part]
        if part.lstrip("-").isdigit() and int(part) in value:
            return True, value[int(part)]
    if part.lstrip("-").isdigit() and isinstance(value, (list, tuple)):
        i = int(part)
        if -len(value) <= i < len(value):
            return True, value[i]
        return False, value
    if part.isidentifier() and not _is_mapping(value):
        try:
            return True, getattr(value, part)
        except AttributeError:
            pass
    return False, value


# ---------------------------------------------------------------------- conversion
def to_label_array(raw: object, batch_index: int) -> np.ndarray:
    """One label per sample, as a 1-D numpy array (a copy; ``raw`` is never modified).

    Accepts torch tensors (detached and moved to the CPU), numpy arrays, lists and tuples,
    Python and numpy scalars (a batch of one sample), bools, strings and bytes (decoded as UTF-8).
    ``(n, 1)`` columns are flattened; one-hot or probability rows ``(n, k)`` are reduced by argmax.

    Returns an integer, bool, floating or unicode array.

    Raises
    ------
    LabelError
        Several values per sample (multi-label rows, masks, ragged or 3-D labels), ``None`` or mixed
        values, or a NaN/inf label; the message names ``batch_index``.
    """
    where = f"batch {batch_index}" if batch_index >= 0 else "the dataset's label metadata"
    array = _as_array(raw, where)
    if array.dtype.kind == "O":
        array = _from_objects(array, where)
    if array.dtype.kind == "S":
        array = np.char.decode(array, "utf-8")
    if array.dtype.kind == "c" or array.dtype.kind not in "biufU":
        raise LabelError(
            f"labels in {where} have dtype {array.dtype}; loadercheck reads integer, bool, float or "
            f"string labels. {_HINT_SENTENCE}."
        )
    if array.ndim == 0:
        array = array.reshape(1)
    elif array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    elif array.ndim == 2 and array.dtype.kind in "biuf":
        array = _argmax_rows(array, where)
    elif array.ndim != 1:
        raise _not_one_per_sample(array.shape, where)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = array[~np.isfinite(array)][0]
        raise LabelError(
            f"labels in {where} contain {bad} ({int((~np.isfinite(array)).sum())} of {array.size} "
            "values are NaN or infinite); fix the data or the label transform, or use --label "
            "module:function to read a different field."
        )
    return array


def _as_array(raw: object, where: str) -> np.ndarray:
    if is_tensor(raw):
        return _tensor_to_numpy(raw, where)
    if isinstance(raw, np.ndarray):
        return raw.copy()
    if isinstance(raw, (bytes, bytearray)):
        return np.array(bytes(raw).decode("utf-8", errors="replace"))
    if isinstance(raw, (bool, int, float, str, np.generic)):
        return np.array(raw)
    if isinstance(raw, (list, tuple)):
        return _from_sequence(raw, where)
    if raw is None:
        raise LabelError(f"the labels of {where} are None. {_HINT_SENTENCE}.")
    if hasattr(raw, "__array__"):  # jax, tensorflow, pandas, ...
        try:
            return np.array(raw, copy=True)
        except Exception as exc:
            raise LabelError(
                f"cannot convert the labels of {where} ({type(raw).__name__}) to an array: {exc}"
            ) from exc
    raise LabelError(
        f"the labels of {where} are a {_describe(raw)}, not a tensor, array, list or scalar. "
        f"{_HINT_SENTENCE}."
    )


def _tensor_to_numpy(tensor: Any, where: str) -> np.ndarray:
    torch = sys.modules["torch"]
    try:
        t = tensor.detach()
        if t.layout != torch.strided:
            t = t.to_dense()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype in (torch.bfloat16,) or (t.is_floating_point() and t.element_size() == 1):
            t = t.float()
        return np.array(t.numpy(), copy=True)
    except Exception as exc:
        raise LabelError(
            f"cannot read the label tensor of {where} (dtype {tensor.dtype}, device "
            f"{getattr(tensor, 'device', '?')}) as numbers: {exc}"
        ) from exc


def _from_sequence(seq: list | tuple, where: str) -> np.ndarray:
    items = [_scalar_or_array(x) for x in seq]
    if any(isinstance(x, np.ndarray) for x in items):
        shapes = {x.shape if isinstance(x, np.ndarray) else () for x in items}
        if len(shapes) > 1:
            raise LabelError(
                f"the labels of {where} are ragged (per-sample shapes {sorted(shapes)[:4]}); "
                f"loadercheck needs one value per sample. {_HINT_SENTENCE}."
            )
        return np.stack([np.asarray(x) for x in items])
    return _from_objects(np.array(items, dtype=object), where)


def _scalar_or_array(x: object) -> object:
    if is_tensor(x):
        return x.item() if x.numel() == 1 and x.ndim == 0 else _tensor_to_numpy(x, "")
    if isinstance(x, np.ndarray):
        return x.item() if x.ndim == 0 else x
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", errors="replace")
    if isinstance(x, (list, tuple)):
        if x and not any(isinstance(v, (list, tuple)) for v in x):
            return np.asarray(x)
        return np.array(x, dtype=object)
    return x


def _from_objects(array: np.ndarray, where: str) -> np.ndarray:
    """An object array of python scalars -> a typed array; mixed or unusable values -> LabelError."""
    flat = [_scalar_or_array(x) for x in array.ravel().tolist()]
    kinds = {_kind(x) for x in flat}
    if not flat:
        return np.zeros(array.shape, dtype=np.int64)
    if kinds == {"str"}:
        return np.array(flat, dtype=str).reshape(array.shape)
    if kinds == {"bool"}:
        return np.array(flat, dtype=bool).reshape(array.shape)
    if kinds == {"int"}:
        try:
            return np.array(flat, dtype=np.int64).reshape(array.shape)
        except OverflowError as exc:
            raise LabelError(f"integer labels in {where} do not fit in 64 bits") from exc
    if kinds <= {"int", "float"}:
        return np.array(flat, dtype=np.float64).reshape(array.shape)
    if "none" in kinds:
        raise LabelError(f"the labels of {where} contain None. {_HINT_SENTENCE}.")
    if "other" in kinds or "array" in kinds:
        odd = next(x for x in flat if _kind(x) in ("other", "array"))
        raise LabelError(
            f"the labels of {where} hold {type(odd).__name__} values, not one number or string "
            f"per sample (ragged or nested labels). {_HINT_SENTENCE}."
        )
    raise LabelError(
        f"the labels of {where} mix {' and '.join(sorted(kinds))} values; labels must all have one "
        f"type. {_HINT_SENTENCE}."
    )


def _kind(x: object) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float"
    if isinstance(x, str):
        return "str"
    if x is None:
        return "none"
    if isinstance(x, np.ndarray):
        return "array"
    return "other"


def _argmax_rows(array: np.ndarray, where: str) -> np.ndarray:
    """Reduce one-hot or probability rows to class indices; anything else is an error."""
    values = array.astype(np.float64, copy=False)
    if values.size and np.isfinite(values).all() and (values >= 0).all():
        sums = values.sum(axis=1)
        if np.allclose(sums, 1.0, rtol=0, atol=1e-3):
            return np.argmax(values, axis=1).astype(np.int64)
    raise _not_one_per_sample(array.shape, where)


def _not_one_per_sample(shape: tuple[int, ...], where: str) -> LabelError:
    return LabelError(
        f"labels in {where} have shape {tuple(shape)}: several values per sample (multi-label rows, "
        "a mask, a sequence), not one label per sample nor one-hot/probability rows. loadercheck "
        "tests the order of one label per sample: pass --label module:function returning one label "
        "per sample (e.g. the class of a segmentation mask's largest region, or a sequence's first token)."
    )

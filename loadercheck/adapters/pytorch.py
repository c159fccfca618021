"""PyTorch: ``DataLoader`` (and subclasses such as torchdata's ``StatefulDataLoader``), its samplers,
and torch datasets (map-style, ``IterableDataset``, ``TensorDataset``, ``Subset``, torchvision-style
``targets``)."""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np

from ..labels import LabelSpec, is_tensor, to_label_array
from ..results import LoaderInfo
from .base import Adapter, attr, int_attr, length, mro_names

__all__ = ["DataLoaderAdapter", "TorchDataset", "SHUFFLE_FIX", "sampler_object", "sampler_probabilities",
           "describe_sampler", "dataset_kind", "holder_labels", "label_column", "column_labels", "LABEL_COLUMNS"]

SHUFFLE_FIX = "pass DataLoader(..., shuffle=True) (or a RandomSampler) for training"
"""The fix for a map-style DataLoader read in stored order (order checks and loader-config share it)."""

_SHUFFLING_SAMPLERS = {"RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler"}
_ORDERED_SAMPLERS = {"SequentialSampler"}
MAX_DATASET_LABELS = 50_000_000
"""Label metadata longer than this is not read (it would cost memory the check does not need)."""


def is_loader(obj: object) -> bool:
    """A torch DataLoader, a subclass (torchdata's StatefulDataLoader, litdata's StreamingDataLoader), or
    any loader-like wrapper exposing a ``dataset`` with a ``sampler``/``batch_sampler`` or ``batch_size``."""
    if attr(obj, "dataset") is None:
        return False
    return "DataLoader" in mro_names(obj) or any(attr(obj, n) is not None for n in ("sampler", "batch_sampler", "batch_size"))


def custom_batch_sampler(obj: object) -> Any:
    """A DataLoader's ``batch_sampler`` when it is not torch's ``BatchSampler`` (it then decides
    both the batches and their order), else None."""
    batch_sampler = attr(obj, "batch_sampler")
    if batch_sampler is not None and type(batch_sampler).__name__ != "BatchSampler":
        return batch_sampler
    return None


def sampler_object(obj: object) -> Any:
    """The object that decides a DataLoader's index order: the innermost sampler (unwrapping
    ``BatchSampler``), a custom batch sampler, or None (an iterable dataset, a plain iterable)."""
    sampler = attr(obj, "sampler")
    batch_sampler = attr(obj, "batch_sampler")
    if custom_batch_sampler(obj) is not None:
        return batch_sampler
    if batch_sampler is not None and attr(batch_sampler, "sampler") is not None:
        sampler = attr(batch_sampler, "sampler")
    while sampler is not None and type(sampler).__name__ == "BatchSampler" and attr(sampler, "sampler") is not None:
        sampler = attr(sampler, "sampler")
    if sampler is None or type(sampler).__name__ == "_InfiniteConstantSampler":
        return None
    return sampler


def describe_sampler(obj: object) -> tuple[str | None, bool | None]:
    """(name of the sampler as built, e.g. ``BatchSampler(RandomSampler)``; does it shuffle?)."""
    sampler = attr(obj, "sampler")
    batch_sampler = attr(obj, "batch_sampler")
    if custom_batch_sampler(obj) is not None:
        sampler = batch_sampler  # a custom batch sampler decides the order
    elif batch_sampler is not None and attr(batch_sampler, "sampler") is not None:
        sampler = attr(batch_sampler, "sampler")
    if sampler is None:
        shuffle = attr(obj, "shuffle")
        return None, shuffle if isinstance(shuffle, bool) else None
    names = [type(sampler).__name__]
    inner = sampler
    while type(inner).__name__ == "BatchSampler" and attr(inner, "sampler") is not None:
        inner = attr(inner, "sampler")  # BatchSampler(RandomSampler(...)) passed as sampler=
        names.append(type(inner).__name__)
    name = names[-1]
    for outer in reversed(names[:-1]):
        name = f"{outer}({name})"
    kind = type(inner).__name__
    if kind in _SHUFFLING_SAMPLERS:
        return name, True
    if kind in _ORDERED_SAMPLERS:
        return name, False
    shuffle = attr(inner, "shuffle")
    return name, shuffle if isinstance(shuffle, bool) else None


def sampler_probabilities(obj: object) -> np.ndarray | None:
    """Normalised per-index draw probabilities of a weighted sampler with replacement, else None."""
    sampler = sampler_object(obj)
    if sampler is None or attr(sampler, "replacement") is not True:
        return None
    weights = attr(sampler, "weights")
    if weights is None:
        return None
    try:
        if is_tensor(weights):
            weights = weights.detach().cpu().numpy()
        w = np.asarray(weights, dtype=np.float64).ravel()
    except Exception:
        return None
    if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        return None
    return w / w.sum()


def dataset_kind(dataset: object) -> str | None:
    """``"iterable"`` (a torch IterableDataset), ``"map"`` (``__getitem__`` and ``__len__``) or None."""
    if dataset is None:
        return None
    if "IterableDataset" in mro_names(dataset):
        return "iterable"
    cls = type(dataset)
    if hasattr(cls, "__getitem__") and hasattr(cls, "__len__"):
        return "map"
    return None


def visibly_sharded(dataset: object) -> bool | None:
    """Does an iterable dataset's own code split the data per DataLoader worker? None when unknown."""
    try:
        source = inspect.getsource(type(dataset))
    except (OSError, TypeError):
        return None
    return any(word in source for word in ("get_worker_info", "worker_info", "split_by_worker"))


def epoch_of(*holders: object) -> int | None:
    for holder in holders:
        for name in ("epoch", "_epoch"):
            value = attr(holder, name)
            if isinstance(value, int) and not isinstance(value, bool):
                return int(value)
    return None


def holder_labels(holder: object, spec: Any) -> np.ndarray | None:
    """Labels of a torch-style dataset from its metadata: ``targets``/``labels`` as long as the
    dataset, or a ``TensorDataset``'s label tensor; else None (a ``Subset`` is mapped by the caller)."""
    size = length(holder)
    if size is None or size == 0 or size > MAX_DATASET_LABELS:
        return None
    candidates: list[Any] = [attr(holder, "targets"), attr(holder, "labels")]
    tensors = attr(holder, "tensors")
    if isinstance(tensors, tuple) and len(tensors) >= 2:  # torch TensorDataset: the label tensor's position
        position = spec.index if isinstance(spec, LabelSpec) and spec.mode == "index" else (1 if len(tensors) == 2 else -1)
        with contextlib.suppress(IndexError, TypeError):
            candidates.append(tensors[position])
    for value in candidates:
        array = label_column(value, size)
        if array is not None:
            return array
    return None


LABEL_COLUMNS = ("label", "labels", "target", "targets", "y", "class", "cls")
"""Column names tried, in order, for a table-like dataset's labels (``column_names``)."""


def column_labels(holder: object, spec: Any) -> np.ndarray | None:
    """The label column of a table-like dataset (``column_names`` and ``holder[column]``, as Hugging
    Face ``Dataset`` has); a ``--label`` key names the column."""
    columns = attr(holder, "column_names")
    size = length(holder)
    if not isinstance(columns, (list, tuple)) or not size or size > MAX_DATASET_LABELS:
        return None
    keys = [spec.path[0]] if isinstance(spec, LabelSpec) and spec.mode == "path" and len(spec.path) == 1 else []
    key = next((k for k in [*keys, *LABEL_COLUMNS] if k in columns), None)
    if key is None:
        return None
    with contextlib.suppress(Exception):
        return label_column(list(holder[key]), size)  # type: ignore[index]
    return None


def label_column(value: Any, size: int) -> np.ndarray | None:
    if value is None or callable(value) or length(value) != size:
        return None
    try:
        array = to_label_array(value, -1)
    except Exception:
        return None
    return array if array.size == size else None


class DataLoaderAdapter(Adapter):
    """A torch ``DataLoader``: batch size, workers, the sampler that decides a map-style order."""

    library = "torch"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return is_loader(obj)

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        sampler_name, shuffle = describe_sampler(obj)
        batch_size = int_attr(obj, "batch_size")
        if batch_size is None:
            batch_size = int_attr(attr(obj, "batch_sampler"), "batch_size")
        drop_last = attr(obj, "drop_last")
        facts: dict[str, Any] = {
            "batch_size": batch_size, "sampler": sampler_name, "shuffle": shuffle,
            "num_workers": int_attr(obj, "num_workers"),
            "drop_last": drop_last if isinstance(drop_last, bool) else None,
            "custom_batch_sampler": custom_batch_sampler(obj) is not None,
        }
        sampler = sampler_object(obj)
        if sampler is not None:
            replacement = attr(sampler, "replacement")
            facts["replacement"] = replacement if isinstance(replacement, bool) else None
            if type(sampler).__name__ in ("SequentialSampler", "SubsetRandomSampler", "DistributedSampler"):
                facts["replacement"] = False
            facts["num_samples"] = length(sampler)
            facts["num_replicas"] = int_attr(sampler, "num_replicas")
            facts["rank"] = int_attr(sampler, "rank")
        return facts

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        sampler = info.sampler or ""
        if info.custom_batch_sampler:
            return (f"the batch_sampler ({sampler}) decides which samples share a batch and the batch order: "
                    "draw every batch's indices at random across classes (e.g. BatchSampler(RandomSampler(dataset), "
                    "batch_size, drop_last=False)), or shuffle its batches and their composition every epoch")
        if "Sequential" in sampler or info.shuffle is False:
            return SHUFFLE_FIX
        return f"the sampler ({sampler}) yields an ordered index sequence: use shuffle=True or a RandomSampler"

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        if info.custom_batch_sampler:
            return (f"build the batch_sampler's ({info.sampler}) batches afresh every epoch: a new random grouping "
                    "and order of indices per epoch (e.g. BatchSampler(RandomSampler(dataset), batch_size, "
                    "drop_last=False))")
        return ("draw a new permutation every epoch (shuffle=True with one generator created once, or "
                "set_epoch(epoch) on a seeded sampler)")


class TorchDataset(Adapter):
    """A torch dataset (map-style or ``IterableDataset``), or any object with a torch-like shape."""

    library = "torch"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return True  # the fallback for datasets no library adapter claims

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        kind = dataset_kind(obj)
        facts: dict[str, Any] = {"dataset_kind": kind, "example_level": kind == "map"}
        if kind == "iterable":
            facts["sharded"] = visibly_sharded(obj)
        return facts

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        if info.dataset_kind == "map":
            return ("iterating a Dataset directly reads it in index order: train through "
                    "DataLoader(dataset, batch_size=..., shuffle=True)")
        return None

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        return cls.order_fix(info)

    @classmethod
    def dataset_labels(cls, obj: object, spec: Any) -> np.ndarray | None:
        found = holder_labels(obj, spec)
        return found if found is not None else column_labels(obj, spec)


def is_torch_dataset(obj: object) -> bool:
    """A ``torch.utils.data`` Dataset (map-style or iterable) iterated directly, not a plain container."""
    return any(c.__module__.startswith("torch.utils.data") and c.__name__ in ("Dataset", "IterableDataset")
               for c in type(obj).__mro__)

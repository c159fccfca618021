"""Small deterministic synthetic loaders of every kind, for loadercheck's tests.

In tests, ``import loaders`` (pytest's default import mode puts ``tests/`` on ``sys.path``, since
``tests/`` has no ``__init__.py``); from the repository root, ``from tests import loaders``.
Nothing here imports torch at module level: the torch factories import it when called.

Label orders (numpy, one label per sample): :func:`sorted_labels`, :func:`shuffled_labels`,
:func:`roundrobin_labels`, :func:`blocky_labels`.

Loaders:

- torch: :func:`sorted_loader`, :func:`shuffled_loader`, :func:`dataloader` (any labels),
  :func:`iterable_dataset_loader`, :func:`sample_loader` (``batch_size=None``: single samples)
- plain: :func:`from_labels` (list of batches, any batch format and array type),
  :func:`generator_loader` (one-shot), :class:`Reiterable` (a fresh generator per ``iter``)
- misbehaving: :func:`raising_loader`, :func:`hanging_generator`, :func:`empty_loader`
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ArrayDataset",
    "Batch",
    "Reiterable",
    "blocky_labels",
    "dataloader",
    "empty_loader",
    "from_labels",
    "generator_loader",
    "hanging_generator",
    "iterable_dataset_loader",
    "raising_loader",
    "roundrobin_labels",
    "sample_loader",
    "shuffled_labels",
    "shuffled_loader",
    "sorted_labels",
    "sorted_loader",
]


# ---------------------------------------------------------------------- label orders
def sorted_labels(n: int = 2000, classes: int = 10) -> np.ndarray:
    """``classes`` equal blocks in class order: 0,0,...,1,1,...,9 (int64)."""
    return np.sort(np.arange(n, dtype=np.int64) % classes)


def shuffled_labels(n: int = 2000, classes: int = 10, seed: int = 0) -> np.ndarray:
    """Balanced classes in a seeded random order (int64)."""
    return np.random.default_rng(seed).permutation(np.arange(n, dtype=np.int64) % classes)


def roundrobin_labels(n: int = 2000, classes: int = 10) -> np.ndarray:
    """0,1,...,9,0,1,...: perfectly alternating classes (int64)."""
    return np.arange(n, dtype=np.int64) % classes


def blocky_labels(n: int = 2000, classes: int = 10, block: int = 64, seed: int = 0) -> np.ndarray:
    """Runs of ``block`` equal labels, block classes drawn at random (int64)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, classes, size=-(-n // block))
    return np.repeat(blocks, block)[:n].astype(np.int64)


def features_for(labels: np.ndarray, features: int = 4, seed: int = 0) -> np.ndarray:
    """float32 inputs ``(n, features)``: unique per sample, class-dependent mean."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(labels), features)).astype(np.float32)
    if np.asarray(labels).dtype.kind in "biuf":
        x[:, 0] += np.asarray(labels, dtype=np.float32)
    return x


# ---------------------------------------------------------------------- plain loaders
@dataclass
class Batch:
    """An object batch with ``.x`` and ``.y`` (like a custom collate's dataclass)."""

    x: Any
    y: Any


def _convert(values: np.ndarray, array: str) -> Any:
    if array == "numpy":
        return values
    if array == "list":
        return values.tolist()
    if array == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(values))
    raise ValueError(f"array must be numpy, list or torch, got {array!r}")


def _format(x: Any, y: Any, batch: str) -> Any:
    if batch == "tuple":
        return (x, y)
    if batch == "list":
        return [x, y]
    if batch == "triple":  # (x, mask, y): the label is the last position
        return (x, x, y)
    if batch == "dict":
        return {"image": x, "label": y}
    if batch == "hf":
        return {"input_ids": x, "attention_mask": x, "labels": y}
    if batch == "webdataset":
        return {"__key__": "k", "npy": x, "cls": y}
    if batch == "object":
        return Batch(x, y)
    raise ValueError(f"unknown batch format {batch!r}")


def from_labels(
    labels: Iterable[Any],
    batch_size: int = 32,
    *,
    batch: str = "tuple",
    array: str = "numpy",
    features: int = 4,
    seed: int = 0,
    onehot: int | None = None,
) -> list[Any]:
    """A re-iterable list of batches carrying ``labels`` in order.

    ``batch``: ``tuple`` (x, y), ``list`` [x, y], ``triple`` (x, x, y), ``dict`` {image, label},
    ``hf`` {input_ids, attention_mask, labels}, ``webdataset`` {__key__, npy, cls}, ``object``
    (:class:`Batch`). ``array``: ``numpy``, ``torch`` or ``list`` for both x and y.
    ``onehot=k`` gives labels as one-hot rows of width ``k``.
    """
    values = np.asarray(list(labels) if not isinstance(labels, np.ndarray) else labels)
    x_all = features_for(values, features, seed)
    out = []
    for start in range(0, len(values), batch_size):
        y = values[start : start + batch_size]
        if onehot is not None:
            y = np.eye(onehot, dtype=np.float32)[y]
        out.append(_format(_convert(x_all[start : start + batch_size], array), _convert(y, array), batch))
    return out


class Reiterable:
    """Re-iterable (``iter(x) is not x``): each ``iter`` replays ``batches`` from a new generator.

    ``reshuffle_seed`` reorders the batches differently on every pass (epoch-varying order).
    """

    def __init__(self, batches: list[Any], reshuffle_seed: int | None = None) -> None:
        self.batches = batches
        self._seed = reshuffle_seed
        self.passes = 0

    def __iter__(self) -> Iterator[Any]:
        self.passes += 1
        order = np.arange(len(self.batches))
        if self._seed is not None:
            order = np.random.default_rng(self._seed + self.passes).permutation(order)
        return (self.batches[i] for i in order)


def generator_loader(labels: Iterable[Any], batch_size: int = 32, **kwargs: Any) -> Iterator[Any]:
    """A one-shot generator (``iter(g) is g``) of :func:`from_labels` batches."""
    return (b for b in from_labels(labels, batch_size, **kwargs))


def empty_loader() -> list[Any]:
    """A loader with no batch at all."""
    return []


class raising_loader:  # noqa: N801 - used like a factory function
    """Yields ``after`` good batches, then raises ``exc`` (re-iterable)."""

    def __init__(self, after: int = 17, exc: BaseException | None = None, batch_size: int = 8) -> None:
        self.after = after
        self.exc = exc if exc is not None else ValueError("corrupt record 1234")
        self.batches = from_labels(shuffled_labels(after * batch_size, 4), batch_size)

    def __iter__(self) -> Iterator[Any]:
        yield from self.batches
        raise self.exc


class hanging_generator:  # noqa: N801 - used like a factory function
    """A one-shot iterator: ``after`` batches, then blocks until :meth:`release` (or 60 s)."""

    def __init__(self, after: int = 3, batch_size: int = 8) -> None:
        self.batches = iter(from_labels(shuffled_labels(max(after, 1) * batch_size, 4), batch_size)[:after])
        self.event = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        for b in self.batches:
            return b
        self.event.wait(60)
        raise StopIteration

    def release(self) -> None:
        self.event.set()


# ---------------------------------------------------------------------- torch loaders
class ArrayDataset:
    """Map-style dataset of ``(x[i], y[i])`` with a ``targets`` attribute (like torchvision).

    A plain class (DataLoader needs only ``__getitem__``/``__len__``), so it pickles for workers.
    """

    def __init__(self, x: Any, y: Any, *, targets: bool = True) -> None:
        self.x = x
        self.y = y
        if targets:
            self.targets = list(np.asarray(y).tolist())

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.x[i], self.y[i]


def dataloader(labels: Any, batch_size: int = 32, *, shuffle: bool = False, seed: int = 0,
               features: int = 4, targets: bool = True, **kwargs: Any) -> Any:
    """A torch ``DataLoader`` over an :class:`ArrayDataset` with these labels (as given order).

    With ``shuffle=True`` the DataLoader's RandomSampler uses a ``torch.Generator`` seeded with
    ``seed``, so every construction replays the same epochs.
    """
    import torch
    from torch.utils.data import DataLoader

    labels = np.asarray(labels)
    x = torch.from_numpy(features_for(labels, features, seed))
    y = torch.from_numpy(labels) if labels.dtype.kind in "biuf" else labels.tolist()
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(ArrayDataset(x, y, targets=targets), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, **kwargs)


def sorted_loader(n: int = 2000, classes: int = 10, batch_size: int = 32, **kwargs: Any) -> Any:
    """A torch DataLoader (``shuffle=False``) over label-sorted data: the textbook defect."""
    return dataloader(sorted_labels(n, classes), batch_size, shuffle=False, **kwargs)


def shuffled_loader(n: int = 2000, classes: int = 10, batch_size: int = 32, seed: int = 0,
                    **kwargs: Any) -> Any:
    """A torch DataLoader (``shuffle=True``, seeded generator) over label-sorted data: healthy."""
    return dataloader(sorted_labels(n, classes), batch_size, shuffle=True, seed=seed, **kwargs)


def sample_loader(labels: Any, **kwargs: Any) -> Any:
    """A DataLoader with ``batch_size=None``: yields single samples ``(x, 0-d label tensor)``."""
    return dataloader(labels, batch_size=None, **kwargs)


def iterable_dataset_loader(labels: Any, batch_size: int = 32, *, num_workers: int = 0,
                            shard: bool = True, **kwargs: Any) -> Any:
    """A DataLoader over a torch ``IterableDataset`` streaming ``labels`` in order.

    With ``shard=False`` and ``num_workers > 1`` every worker streams every sample (the SPEC §8
    duplication pitfall).
    """
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    values = np.asarray(labels)
    x = features_for(values)

    class LabelStream(IterableDataset):
        def __iter__(self) -> Iterator[Any]:
            info = get_worker_info()
            start, step = (info.id, info.num_workers) if (shard and info is not None) else (0, 1)
            for i in range(start, len(values), step):
                yield torch.from_numpy(x[i]), int(values[i])

    return DataLoader(LabelStream(), batch_size=batch_size, num_workers=num_workers, **kwargs)

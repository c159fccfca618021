"""Whole-epoch index analysis: read a map-style DataLoader's order from its batch sampler.

A map-style ``DataLoader`` decides its feed order with its (batch) sampler alone: the dataset only
maps an index to a sample. When the dataset also exposes its labels without loading samples (a
``targets``/``labels`` attribute as torchvision datasets have, a Hugging Face label column, a
``Subset`` of one, or a ``labels=`` array the user passes), the label stream of a whole epoch is
``labels[indices]`` with the sampler's real batch boundaries: millions of samples in seconds, no
sample loaded, no worker started. This is the unconditional reference of SPEC §2 for a sorted
dataset whose first class block is longer than any affordable prefix.

What reading the sampler touches: the global RNGs (python, numpy, torch) and the state of a
``torch.Generator`` the sampler holds are saved and restored, so the training run gets the order it
would have had unchecked. A sampler that keeps a private RNG of another kind (a custom sampler with
its own ``numpy`` generator) advances as one training epoch would.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .errors import LoaderError
from .labels import LabelSpec, is_tensor, to_label_array
from .results import Epoch, LabelKind, LoaderInfo, Stream
from .rng import preserved_rng

__all__ = ["IndexOrder", "read_index_order", "order_unreadable", "sampler_labels", "sampler_stream"]


@dataclass(frozen=True, eq=False)
class IndexOrder:
    """Dataset indices per epoch in feed order, with the batch sizes the sampler gives."""

    indices: tuple[np.ndarray, ...]
    batch_sizes: tuple[np.ndarray, ...]
    seconds: float


def _attr(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _epoch_reader(loader: object) -> tuple[object, Any] | None:
    """(dataset, its adapter) when the dataset's library computes an epoch's order from its
    configuration (MosaicML ``StreamingDataset``), else None."""
    from .adapters import adapter_for, source_of

    source = source_of(loader)
    adapter = adapter_for(source)
    return (source, adapter) if callable(getattr(adapter, "read_epochs", None)) else None


def order_unreadable(loader: object) -> str | None:
    """Why ``loader``'s order cannot be read from a sampler (a sentence), or None when it can."""
    if _epoch_reader(loader) is not None:
        return None
    if type(loader).__name__ != "DataLoader" and _attr(loader, "batch_sampler") is None:
        return f"the loader is a {type(loader).__name__}, not a map-style DataLoader with a sampler"
    dataset = _attr(loader, "dataset")
    if dataset is not None and "IterableDataset" in {c.__name__ for c in type(dataset).__mro__}:
        return "the DataLoader reads an IterableDataset, whose order is decided inside the dataset, not by a sampler"
    if _attr(loader, "batch_sampler") is None and _attr(loader, "sampler") is None:
        return "the DataLoader has neither a sampler nor a batch sampler"
    return None


@contextlib.contextmanager
def _preserved_sampler_state(loader: object) -> Iterator[None]:
    """Restore the global RNGs and every torch.Generator reachable from the loader's samplers."""
    generators: list[Any] = []
    seen: set[int] = set()
    for holder in (loader, _attr(loader, "sampler"), _attr(loader, "batch_sampler"),
                   _attr(_attr(loader, "batch_sampler"), "sampler")):
        gen = _attr(holder, "generator")
        if gen is not None and callable(_attr(gen, "get_state")) and id(gen) not in seen:
            seen.add(id(gen))
            generators.append(gen)
    states = [g.get_state() for g in generators]
    with preserved_rng():
        try:
            yield
        finally:
            for gen, state in zip(generators, states):
                gen.set_state(state)


def _as_indices(item: Any) -> list[int] | int:
    if isinstance(item, (int, np.integer)):
        return int(item)
    if is_tensor(item):
        item = item.tolist()
    return item  # a list of indices (a batch)


def _draw_base_seed(loader: object) -> None:
    """Consume what a torch DataLoader iterator draws before the sampler runs (its workers' base
    seed, from ``loader.generator`` or the global torch RNG), so the order read here is the one the
    loader itself would feed next. A no-op for anything but a torch DataLoader."""
    torch = sys.modules.get("torch")
    if torch is None or type(loader).__module__.split(".")[0] != "torch" or not hasattr(loader, "generator"):
        return
    torch.empty((), dtype=torch.int64).random_(generator=loader.generator)


def read_index_order(loader: object, epochs: int = 2, max_batches: int | None = None) -> IndexOrder:
    """Iterate the loader's batch sampler (or sampler) ``epochs`` times, indices only.

    Nothing is loaded: the dataset is never indexed and no worker starts. RNG state is restored
    afterwards (see the module docstring). ``max_batches`` truncates each epoch.

    Raises
    ------
    LoaderError
        The order cannot be read (:func:`order_unreadable`) or the sampler yields something
        other than indices.
    """
    reason = order_unreadable(loader)
    if reason is not None:
        raise LoaderError(f"cannot read the order from the sampler: {reason}")
    reader = _epoch_reader(loader)
    if reader is not None:
        return _configured_order(loader, *reader, epochs=epochs, max_batches=max_batches)
    batch_sampler = _attr(loader, "batch_sampler")
    source = batch_sampler if batch_sampler is not None else _attr(loader, "sampler")
    started = time.perf_counter()
    all_indices, all_sizes = [], []
    with _preserved_sampler_state(loader):
        for _ in range(epochs):
            items = iter(source)
            _draw_base_seed(loader)
            if max_batches is not None:
                items = itertools.islice(items, max_batches)
            batches = [_as_indices(item) for item in items]
            if not batches:
                raise LoaderError("the sampler yielded no index: the dataset is empty")
            if isinstance(batches[0], int):
                if not all(isinstance(b, int) for b in batches):
                    raise LoaderError("the sampler mixes single indices and batches of indices")
                flat = np.fromiter(batches, dtype=np.int64, count=len(batches))
                sizes = np.ones(flat.size, dtype=np.int64)
            else:
                try:
                    sizes = np.fromiter((len(b) for b in batches), dtype=np.int64, count=len(batches))
                    flat = np.fromiter(itertools.chain.from_iterable(batches), dtype=np.int64, count=int(sizes.sum()))
                except (TypeError, ValueError) as exc:
                    raise LoaderError(
                        f"the batch sampler yields {type(batches[0]).__name__} items, not lists of integer "
                        f"indices ({exc}); its order cannot be read"
                    ) from exc
            all_indices.append(flat)
            all_sizes.append(sizes)
    return IndexOrder(tuple(all_indices), tuple(all_sizes), time.perf_counter() - started)


def _configured_order(loader: object, dataset: object, adapter: Any, *, epochs: int,
                      max_batches: int | None) -> IndexOrder:
    started = time.perf_counter()
    try:
        indices, sizes = adapter.read_epochs(dataset, loader, epochs)
    except LookupError as exc:
        raise LoaderError(f"cannot read the {type(dataset).__name__}'s epoch order: {exc}") from exc
    if max_batches is not None:
        cut = [int(s[:max_batches].sum()) for s in sizes]
        indices = [flat[:n] for flat, n in zip(indices, cut)]
        sizes = [s[:max_batches] for s in sizes]
    return IndexOrder(tuple(indices), tuple(sizes), time.perf_counter() - started)


def sampler_labels(loader: object, labels: Any = None, label: Any = None) -> tuple[np.ndarray | None, str]:
    """The dataset's labels (one per index) and where they came from, or ``(None, why not)``.

    ``labels`` (a user-given array, one label per dataset index) wins; else the dataset metadata
    that :func:`loadercheck.adapters.dataset_label_values` finds (``label`` names a column).
    """
    from .adapters import dataset_label_values, source_of

    size = None
    with contextlib.suppress(Exception):
        size = len(source_of(loader))  # type: ignore[arg-type]
    if labels is not None:
        if is_tensor(labels):
            labels = labels.detach().cpu().numpy()
        array = to_label_array(labels, -1)
        if size is not None and array.size != size:
            raise LoaderError(f"labels= has {array.size:,} values but the dataset has {size:,} samples; "
                              "pass one label per dataset index")
        return array, "the labels= array"
    found = dataset_label_values(loader, label)
    reader = _epoch_reader(loader)
    if found is None and reader is not None and callable(getattr(reader[1], "read_labels", None)):
        with contextlib.suppress(Exception):
            spec = LabelSpec.parse(label) if isinstance(label, (str, int)) and ":" not in str(label) else label
            found = reader[1].read_labels(reader[0], spec)
    if found is None:
        return None, ("the dataset exposes no labels without loading samples (no `targets`/`labels` "
                      "attribute, TensorDataset label tensor or label column); give the dataset a `targets` "
                      "attribute (one label per index), or in Python pass check(loader, labels=...)")
    dataset = source_of(loader)
    where = "dataset metadata"
    for name in ("targets", "labels"):
        if _attr(dataset, name) is not None:
            where = f"dataset.{name}"
            break
    else:
        if _attr(dataset, "column_names") is not None:
            where = "the dataset's label column"
        elif _attr(dataset, "indices") is not None:
            where = "the parent dataset's labels through Subset.indices"
    return found, where


def sampler_stream(
    loader: object,
    *,
    labels: Any = None,
    label: Any = None,
    epochs: int = 2,
    max_batches: int | None = None,
    info: LoaderInfo | None = None,
    notes: tuple[str, ...] = (),
) -> Stream:
    """The Stream of whole epochs read from the batch sampler: ``labels[indices]``, real batches.

    Each :class:`~loadercheck.results.Epoch` carries ``indices`` (the dataset indices in feed
    order), which the identity checks use instead of input fingerprints. Categorical labels are
    coded over the whole dataset's classes; ``dataset_labels`` is the whole dataset, coded.

    Raises
    ------
    LoaderError
        The order cannot be read, or no labels are available (the message says what to pass).
    """
    values, where = sampler_labels(loader, labels, label)
    if values is None:
        raise LoaderError(f"cannot analyse whole epochs from the sampler: {where}")
    order = read_index_order(loader, epochs=epochs, max_batches=max_batches)
    size = values.size
    for flat in order.indices:
        if flat.size and (flat.min() < -size or flat.max() >= size):
            raise LoaderError(f"the sampler yields index {int(flat.max())} but there are {size:,} labels")
    started = time.perf_counter()
    kind = _kind(values)
    if kind is LabelKind.CONTINUOUS:
        coded_all = values.astype(np.float64)
        classes: tuple[Any, ...] = ()
    else:
        table, coded_all = np.unique(values, return_inverse=True)
        coded_all = coded_all.astype(np.int64).ravel()
        classes = tuple(table.tolist())
    out = []
    for flat, sizes in zip(order.indices, order.batch_sizes):
        out.append(Epoch(labels=coded_all[flat], batch_sizes=sizes, indices=flat))
    info = info if info is not None else _describe(loader)
    n = out[0].labels.size
    passes = "1 epoch" if len(out) == 1 else f"{len(out)} epochs"
    source = "the batch sampler" if _epoch_reader(loader) is None else f"the {info.dataset or info.type_name}'s shuffle configuration"
    text = (f"order read from {source} ({passes} of {n:,} samples, {out[0].batch_sizes.size:,} batches; "
            f"no sample loaded), labels from {where}")
    return Stream(
        epochs=tuple(out),
        kind=kind,
        classes=classes,
        loader=info,
        notes=(*notes, text),
        seconds=order.seconds + (time.perf_counter() - started),
        dataset_labels=coded_all,
    )


def _describe(loader: object) -> LoaderInfo:
    from .adapters import describe_loader

    return describe_loader(loader)


def _kind(values: np.ndarray) -> LabelKind:
    from .recording import label_kind as _label_kind

    return _label_kind(values)


def with_sampler_order(stream: Stream, loader: object, *, labels: Any = None, label: Any = None) -> Stream:
    """``stream`` replaced by the whole epochs read from the sampler, keeping its notes; for the
    single-class prefix (SPEC §2). Raises LoaderError when the order cannot be read."""
    whole = sampler_stream(loader, labels=labels, label=label, epochs=max(len(stream.epochs), 1),
                           info=stream.loader, notes=stream.notes)
    return replace(whole, seconds=stream.seconds + whole.seconds)


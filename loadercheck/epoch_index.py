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

Scale. The standard torch samplers (``SequentialSampler``, ``RandomSampler`` with or without a
generator, replacement or ``num_samples``, ``SubsetRandomSampler``, ``WeightedRandomSampler``,
``DistributedSampler``, each alone or inside a ``BatchSampler``, with ``drop_last``) are not iterated:
their order is replayed with the same torch calls their ``__iter__`` makes, on the same generators
in the same sequence, so it is bit-identical to what iteration yields (tests compare the two; not
after a first epoch with ``persistent_workers=True``, nor for a ``DataLoader`` subclass, whose base-seed
draws are not replayed) at numpy speed instead of a Python loop over every index. Other samplers are iterated, a chunk of
batches at a time. Memory is bounded: an epoch's full order exists only while it is being read
(8 bytes per sample, the ``randperm`` tensor torch itself builds), the dataset's labels are kept
coded in the smallest integer type that holds the classes (2 bytes per sample up to 65,536
classes), and the checks see at most :data:`SAMPLE_CAP` samples per epoch: beyond it they analyse a
fixed systematic subsample of whole batches (:func:`whole_batch_subsample`) and the stream's notes
say so.
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

__all__ = ["IndexOrder", "SAMPLE_CAP", "code_labels", "read_index_order", "order_unreadable", "sampler_labels",
           "sampler_stream", "whole_batch_subsample"]

SAMPLE_CAP = 2**24
"""Samples per epoch the checks analyse (16,777,216: ImageNet-21k's 14M fits whole). A longer epoch is
analysed on a systematic subsample of whole batches (:func:`whole_batch_subsample`), which keeps the
checks' time and memory those of a 16.8M-sample epoch whatever the dataset's size."""
SUBSAMPLE_BLOCKS = 1024
"""Evenly spaced blocks of consecutive whole batches that make up a subsample."""
_CHUNK = 1 << 22
"""Elements per chunk when coding labels or collecting iterated batches (bounds the temporaries)."""


@dataclass(frozen=True, eq=False)
class IndexOrder:
    """Dataset indices per epoch in feed order, with the batch sizes the sampler gives."""

    indices: tuple[np.ndarray, ...]
    batch_sizes: tuple[np.ndarray, ...]
    seconds: float
    replayed: bool = False
    """True when the order was computed with the sampler's own torch calls instead of iterating it."""
    epoch_samples: tuple[int, ...] = ()
    """Samples in each whole epoch read (before any subsample); empty when not recorded."""
    epoch_batches: tuple[int, ...] = ()
    """Batches in each whole epoch read (before any subsample)."""
    subsample: str | None = None
    """How the epochs were subsampled (a sentence for the notes), or None when they are whole."""
    truncated: bool = False
    """True when ``max_batches`` cut an epoch short."""


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
                   _attr(_attr(loader, "batch_sampler"), "sampler"), _attr(_attr(loader, "sampler"), "sampler")):
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


def read_index_order(loader: object, epochs: int = 2, max_batches: int | None = None, *,
                     cap: int | None = None, size: int | None = None) -> IndexOrder:
    """The loader's order for ``epochs`` epochs, indices only, as its batch sampler gives it.

    A standard torch sampler's order is replayed with its own torch calls (bit-identical to
    iterating it, see the module docstring); any other (batch) sampler is iterated. Nothing is
    loaded: the dataset is never indexed and no worker starts. RNG state is restored afterwards.

    Parameters
    ----------
    loader : DataLoader
        A map-style loader (see :func:`order_unreadable`).
    epochs : int
        Epochs to read, in training order (epoch 2 is what the sampler yields after epoch 1).
    max_batches : int, optional
        Truncate each epoch to its first ``max_batches`` batches. A replayed sampler's epochs are
        still those of a whole-epoch training run; an iterated one stops after ``max_batches``, so
        its next epoch starts where that left the sampler.
    cap : int, optional
        Keep at most ``cap`` samples per epoch: a longer epoch is cut to the systematic subsample of
        whole batches of :func:`whole_batch_subsample` (the same positions in every epoch of equal
        length), so only the subsample outlives the reading of its epoch. None keeps whole epochs.
    size : int, optional
        The number of labels: an index outside ``[-size, size)`` is an error.

    Raises
    ------
    LoaderError
        The order cannot be read (:func:`order_unreadable`), the sampler yields something other
        than indices, no index, or an index beyond ``size``.
    """
    reason = order_unreadable(loader)
    if reason is not None:
        raise LoaderError(f"cannot read the order from the sampler: {reason}")
    started = time.perf_counter()
    reader = _epoch_reader(loader)
    if reader is not None:
        raw = _configured_order(loader, *reader, epochs=epochs)
        replayed = False
    else:
        batch_sampler = _attr(loader, "batch_sampler")
        source = batch_sampler if batch_sampler is not None else _attr(loader, "sampler")
        plan = _replay_plan(source)
        replayed = plan is not None
        raw = (_replayed_epochs(loader, plan, epochs) if plan is not None
               else _iterated_epochs(loader, source, epochs, max_batches))
    indices, sizes, samples, batches, how, truncated = [], [], [], [], None, False
    with contextlib.closing(raw):  # restores the RNG state even when an epoch is refused
        for flat, sz in raw:  # one epoch at a time: its full order is dropped before the next is read
            truncated = truncated or (max_batches is not None and sz.size > max_batches)
            flat, sz, chosen = _checked(flat, sz, max_batches, cap, size)
            samples.append(int(flat.size))
            batches.append(int(sz.size))
            if chosen is not None:
                positions = _positions(sz, chosen)
                how = _subsample_note(flat.size, sz.size, chosen, positions.size, cap)
                flat, sz = flat[positions], sz[chosen]
            indices.append(np.asarray(flat, dtype=np.int64))
            sizes.append(np.asarray(sz, dtype=np.int64))
            del flat
    return IndexOrder(tuple(indices), tuple(sizes), time.perf_counter() - started, replayed=replayed,
                      epoch_samples=tuple(samples), epoch_batches=tuple(batches), subsample=how, truncated=truncated)


def _checked(flat: np.ndarray, sz: np.ndarray, max_batches: int | None, cap: int | None,
             size: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """An epoch truncated to ``max_batches``, checked, and the batches of its subsample (or None)."""
    if max_batches is not None and sz.size > max_batches:
        sz = sz[:max_batches]
        flat = flat[: int(sz.sum())]
    if flat.size == 0:
        raise LoaderError("the sampler yielded no index: the dataset is empty")
    if size is not None and (int(flat.min()) < -size or int(flat.max()) >= size):
        raise LoaderError(f"the sampler yields index {int(flat.max())} but there are {size:,} labels")
    return flat, sz, (whole_batch_subsample(sz, cap) if cap is not None else None)


def _subsample_note(samples: int, batches: int, chosen: np.ndarray, kept: int, cap: int) -> str:
    return (f"each epoch of {samples:,} samples is longer than the {cap:,} the checks analyse: they read a "
            f"fixed systematic subsample of whole batches, {chosen.size:,} of the {batches:,} ({kept:,} samples) "
            f"in {_blocks(chosen)} evenly spaced blocks of consecutive batches at the same positions in every "
            "epoch (chosen from the batch sizes alone, never the labels, so a shuffled feed's subsample is "
            "still a shuffled feed); duplicates and cross-epoch-order compare those positions only")


def whole_batch_subsample(batch_sizes: np.ndarray, cap: int, blocks: int = SUBSAMPLE_BLOCKS) -> np.ndarray | None:
    """The batches (their numbers, ascending) of an epoch's subsample of at most ``cap`` samples, or
    None when the whole epoch fits.

    ``blocks`` evenly spaced runs of ``L`` consecutive whole batches, ``L * blocks`` the most whole
    batches of the largest size that fit in ``cap``. The choice depends on the batch sizes and
    ``cap`` alone, never on the labels or indices: under the null (a uniformly random order) the
    labels at any fixed set of positions are themselves in uniformly random order, so every
    conditional test stays exact on the subsample; whole batches keep ``batch-entropy``'s unit, the
    runs of consecutive batches keep the short-range structure (runs, autocorrelation), and their
    spread over the epoch keeps the long-range one (drift, class-sorted data).
    """
    sizes = np.asarray(batch_sizes)
    if int(sizes.sum()) <= cap:
        return None
    count = sizes.size
    fit = max(1, cap // max(1, int(sizes.max())))  # < count, since the epoch does not fit
    length = -(-fit // blocks)
    runs = fit // length
    starts = (np.arange(runs, dtype=np.int64) * count) // runs  # spaced >= count // runs >= length apart
    return (starts[:, None] + np.arange(length, dtype=np.int64)).ravel()


def _positions(batch_sizes: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Sample positions of the ``chosen`` batches, in order."""
    ends = np.cumsum(batch_sizes, dtype=np.int64)
    first = ends[chosen] - batch_sizes[chosen]
    picked = batch_sizes[chosen].astype(np.int64)
    shift = np.repeat(first - (np.cumsum(picked) - picked), picked)
    return shift + np.arange(int(picked.sum()), dtype=np.int64)


def _blocks(chosen: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(chosen) != 1)) + 1 if chosen.size else 0


# --------------------------------------------------------------------------- iterating a sampler
def _iterated_epochs(loader: object, source: Any, epochs: int,
                     max_batches: int | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate an unrecognised (batch) sampler (each epoch up to ``max_batches``), a chunk of
    batches at a time into int64 arrays."""
    with _preserved_sampler_state(loader):
        for _ in range(epochs):
            items = iter(source)
            _draw_base_seed(loader)
            if max_batches is not None:
                items = itertools.islice(items, max_batches)
            flats: list[np.ndarray] = []
            sizes: list[np.ndarray] = []
            single: bool | None = None
            while True:
                chunk = [_as_indices(item) for item in itertools.islice(items, max(1, _CHUNK // 256))]
                if not chunk:
                    break
                single = isinstance(chunk[0], int) if single is None else single
                flat, sz = _chunk_arrays(chunk, single)
                flats.append(flat)
                sizes.append(sz)
            if not flats:
                raise LoaderError("the sampler yielded no index: the dataset is empty")
            yield np.concatenate(flats), np.concatenate(sizes)


def _chunk_arrays(batches: list[Any], single: bool) -> tuple[np.ndarray, np.ndarray]:
    if single:
        if not all(isinstance(b, int) for b in batches):
            raise LoaderError("the sampler mixes single indices and batches of indices")
        return np.fromiter(batches, dtype=np.int64, count=len(batches)), np.ones(len(batches), dtype=np.int64)
    try:
        sizes = np.fromiter((len(b) for b in batches), dtype=np.int64, count=len(batches))
        flat = np.fromiter(itertools.chain.from_iterable(batches), dtype=np.int64, count=int(sizes.sum()))
    except (TypeError, ValueError) as exc:
        raise LoaderError(
            f"the batch sampler yields {type(batches[0]).__name__} items, not lists of integer "
            f"indices ({exc}); its order cannot be read"
        ) from exc
    return flat, sizes


# --------------------------------------------------------------------------- replaying a torch sampler
@dataclass(frozen=True)
class _Plan:
    """A recognised sampler, and how its flat order is cut into batches."""

    sampler: Any
    batch_size: int | None
    """None: the sampler's items are the loader's items (one index each)."""
    drop_last: bool = False


def _torch_samplers() -> dict[str, type] | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    from torch.utils.data import distributed, sampler

    return {name: getattr(sampler, name) for name in ("BatchSampler", "SequentialSampler", "RandomSampler",
                                                      "SubsetRandomSampler", "WeightedRandomSampler")} | {
        "DistributedSampler": distributed.DistributedSampler}


def _replay_plan(source: Any) -> _Plan | None:
    """The plan for a standard torch sampler, or None (iterate it). Exact classes only: a subclass
    may change ``__iter__``."""
    known = _torch_samplers()
    if known is None or source is None:
        return None
    inner, batch_size, drop_last = source, None, False
    if type(source) is known["BatchSampler"]:
        inner, batch_size, drop_last = _attr(source, "sampler"), _attr(source, "batch_size"), bool(source.drop_last)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            return None
    if type(inner) not in {cls for name, cls in known.items() if name != "BatchSampler"}:
        return None
    if type(inner) is known["SubsetRandomSampler"]:
        with contextlib.suppress(Exception):
            indices = np.asarray(inner.indices)
            if indices.dtype.kind in "iu" and indices.ndim == 1:
                return _Plan(inner, batch_size, drop_last)
        return None
    return _Plan(inner, batch_size, drop_last)


def _replayed_epochs(loader: object, plan: _Plan, epochs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    with _preserved_sampler_state(loader):
        for epoch in range(epochs):
            _draw_base_seed(loader)  # as the DataLoader iterator does before the sampler's body runs
            try:
                flat = _sampler_order(plan.sampler, last=epoch == epochs - 1)
            except (RuntimeError, ValueError) as exc:  # what the sampler itself would raise in training
                raise LoaderError(
                    f"the loader's {type(plan.sampler).__name__} cannot produce an epoch: {exc} "
                    "(torch raises the same when the loader is iterated). Fix the sampler's arguments, "
                    "or check without --from-sampler."
                ) from exc
            yield _batched(flat, plan)


def _batched(flat: np.ndarray, plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    """``BatchSampler``'s grouping of a flat order: full batches, then the remainder unless ``drop_last``."""
    if plan.batch_size is None:
        return flat, np.ones(flat.size, dtype=np.int64)
    full, rest = divmod(int(flat.size), plan.batch_size)
    sizes = np.full(full, plan.batch_size, dtype=np.int64)
    if plan.drop_last:
        return flat[: full * plan.batch_size], sizes
    return flat, (np.append(sizes, rest) if rest else sizes)


def _sampler_order(sampler: Any, last: bool) -> np.ndarray:
    """One epoch of ``sampler``'s indices, with the torch calls of its ``__iter__`` (torch 2.x) on the
    same generators in the same order. ``last``: no epoch follows, so a draw whose values are
    discarded (``RandomSampler``'s trailing empty ``randperm``) may be skipped, its generator being
    restored afterwards."""
    import torch

    name = type(sampler).__name__
    if name == "SequentialSampler":
        return np.arange(len(sampler.data_source), dtype=np.int64)
    if name == "RandomSampler":
        n, num = len(sampler.data_source), sampler.num_samples
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        generator, private = sampler.generator, sampler.generator is None
        if private:
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            generator = torch.Generator()
            generator.manual_seed(seed)
        if sampler.replacement:
            return _draws_with_replacement(n, num, generator)
        parts = [torch.randperm(n, generator=generator) for _ in range(num // n)]
        if num % n or not (last or private):  # the trailing randperm runs even when it keeps nothing
            parts.append(torch.randperm(n, generator=generator)[: num % n])
        return (torch.cat(parts) if len(parts) != 1 else parts[0]).numpy()
    if name == "SubsetRandomSampler":
        order = torch.randperm(len(sampler.indices), generator=sampler.generator).numpy()
        return np.asarray(sampler.indices).astype(np.int64, copy=False)[order]
    if name == "WeightedRandomSampler":
        return torch.multinomial(sampler.weights, sampler.num_samples, sampler.replacement,
                                 generator=sampler.generator).numpy()
    # DistributedSampler
    n = len(sampler.dataset)
    if sampler.shuffle:
        g = torch.Generator()
        g.manual_seed(sampler.seed + sampler.epoch)
        order = torch.randperm(n, generator=g).numpy()
    else:
        order = np.arange(n, dtype=np.int64)
    total = sampler.total_size
    order = np.concatenate([order, np.resize(order, total - n)]) if not sampler.drop_last else order[:total]
    if order.size != total:
        raise LoaderError(f"the DistributedSampler's {order.size:,} indices do not match its total_size {total:,}")
    order = order[sampler.rank:total:sampler.num_replicas]
    if order.size != sampler.num_samples:
        raise LoaderError(f"the DistributedSampler's rank gets {order.size:,} indices, not its num_samples "
                          f"{sampler.num_samples:,}")
    return order


_DRAW_CALL = 32
"""``RandomSampler(replacement=True)`` draws its indices 32 per ``torch.randint`` call."""
_LARGE_CALL = 1 << 16
"""Draws per call when one call is shown to give what ``_LARGE_CALL / 32`` calls give."""


def _draws_with_replacement(n: int, num: int, generator: Any) -> np.ndarray:
    """``RandomSampler(replacement=True)``'s ``num`` draws: ``randint`` calls of 32, then one of
    ``num % 32``. Calls of ``_LARGE_CALL`` replace runs of ``_LARGE_CALL / 32`` of them (a Python
    loop of 3M calls costs a minute at 100M draws) once a copy of the generator shows that both give
    the same values and leave the same state for this ``n``; else the calls of 32 are made as they are."""
    import torch

    out = np.empty(num, dtype=np.int64)
    large = num >= _LARGE_CALL and _same_draws(n, generator)
    done = 0
    if large:
        for done in range(0, num - num % _LARGE_CALL, _LARGE_CALL):
            out[done:done + _LARGE_CALL] = torch.randint(high=n, size=(_LARGE_CALL,), dtype=torch.int64,
                                                         generator=generator).numpy()
        done = num - num % _LARGE_CALL
    for done in range(done, num - num % _DRAW_CALL, _DRAW_CALL):
        out[done:done + _DRAW_CALL] = torch.randint(high=n, size=(_DRAW_CALL,), dtype=torch.int64,
                                                    generator=generator).numpy()
    rest = num % _DRAW_CALL
    out[num - rest:] = torch.randint(high=n, size=(rest,), dtype=torch.int64, generator=generator).numpy()
    return out


def _same_draws(n: int, generator: Any) -> bool:
    import torch

    state = generator.get_state()
    try:
        copy = torch.Generator().manual_seed(0)
        copy.set_state(state)
        small = torch.cat([torch.randint(high=n, size=(_DRAW_CALL,), dtype=torch.int64, generator=copy)
                           for _ in range(_LARGE_CALL // _DRAW_CALL)])
        after_small = copy.get_state()
        copy.set_state(state)
        large = torch.randint(high=n, size=(_LARGE_CALL,), dtype=torch.int64, generator=copy)
        return bool(torch.equal(small, large)) and bool(torch.equal(after_small, copy.get_state()))
    except Exception:
        return False


def _configured_order(loader: object, dataset: object, adapter: Any, *,
                      epochs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    try:
        indices, sizes = adapter.read_epochs(dataset, loader, epochs)
    except LookupError as exc:
        raise LoaderError(f"cannot read the {type(dataset).__name__}'s epoch order: {exc}") from exc
    yield from zip(indices, sizes)


def sampler_labels(loader: object, labels: Any = None, label: Any = None) -> tuple[np.ndarray | None, str]:
    """The dataset's labels (one per index) and where they came from, or ``(None, why not)``.

    ``labels`` (a user-given array, one label per dataset index) wins; else the dataset metadata
    that :func:`loadercheck.adapters.dataset_label_values` finds (``label`` names a column).
    """
    from .adapters import dataset_label_values, source_of
    from .adapters.pytorch import MAX_DATASET_LABELS

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
    if found is None and size is not None and size > MAX_DATASET_LABELS:
        found = _long_targets(source_of(loader), size)
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


def _long_targets(dataset: object, size: int) -> np.ndarray | None:
    """``targets``/``labels`` of a dataset longer than the adapters read for an ordinary draw's
    reference (``MAX_DATASET_LABELS``): the whole-epoch analysis needs them whatever the length."""
    from .adapters.pytorch import label_column

    for name in ("targets", "labels"):
        found = label_column(_attr(dataset, name), size)
        if found is not None:
            return found
    return None


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
    coded over the whole dataset's classes (int64 in the epochs, as a drawn stream has them);
    ``dataset_labels`` is the whole dataset, coded in the smallest unsigned type that holds the
    classes (:func:`code_labels`). An epoch longer than :data:`SAMPLE_CAP` samples is replaced by
    its subsample of whole batches (:func:`whole_batch_subsample`), and a note says so.

    Raises
    ------
    LoaderError
        The order cannot be read, or no labels are available (the message says what to pass).
    """
    values, where = sampler_labels(loader, labels, label)
    if values is None:
        raise LoaderError(f"cannot analyse whole epochs from the sampler: {where}")
    started = time.perf_counter()
    kind = _kind(values)
    coded_all, classes = code_labels(values, kind)  # coded before the order is read: one n-sized copy at a time
    del values
    coding = time.perf_counter() - started
    order = read_index_order(loader, epochs=epochs, max_batches=max_batches, cap=SAMPLE_CAP, size=coded_all.size)
    started = time.perf_counter()
    out = [Epoch(labels=coded_all[flat].astype(np.float64 if kind is LabelKind.CONTINUOUS else np.int64),
                 batch_sizes=sizes, indices=flat)
           for flat, sizes in zip(order.indices, order.batch_sizes)]
    info = info if info is not None else _describe(loader)
    if order.subsample is not None and not order.truncated:  # whole passes were read, then subsampled
        info = replace(info, epoch_samples=order.epoch_samples[0])
    n, batches = order.epoch_samples[0], order.epoch_batches[0]
    passes = "1 epoch" if len(out) == 1 else f"{len(out)} epochs"
    source = "the batch sampler" if _epoch_reader(loader) is None else f"the {info.dataset or info.type_name}'s shuffle configuration"
    how = "replayed with the sampler's own torch calls, " if order.replayed else ""
    text = (f"order read from {source} ({passes} of {n:,} samples, {batches:,} batches; {how}"
            f"no sample loaded), labels from {where}")
    return Stream(
        epochs=tuple(out),
        kind=kind,
        classes=classes,
        loader=info,
        notes=(*notes, text, *((order.subsample,) if order.subsample else ())),
        seconds=coding + order.seconds + (time.perf_counter() - started),
        dataset_labels=coded_all,
    )


def code_labels(values: np.ndarray, kind: LabelKind) -> tuple[np.ndarray, tuple[Any, ...]]:
    """The dataset's labels coded as :func:`numpy.unique` codes them (the rank of each value among the
    distinct values) in the smallest unsigned type that holds the codes, and the class values.

    Continuous targets are returned as float64 with no classes. Integer labels over a range of at
    most ``_CHUNK`` values are coded in linear time, ``_CHUNK`` values at a time; others through
    ``np.unique``.
    """
    if kind is LabelKind.CONTINUOUS:
        return values.astype(np.float64), ()
    if values.dtype.kind in "iu" and values.size and not (values.dtype.kind == "u" and values.dtype.itemsize == 8):
        low, high = int(values.min()), int(values.max())  # (uint64 beyond 2^63 does not fit int64: a sort)
        if high - low < _CHUNK:
            present = np.zeros(high - low + 1, dtype=bool)
            for s in range(0, values.size, _CHUNK):
                present[values[s:s + _CHUNK].astype(np.int64) - low] = True
            table = (np.flatnonzero(present) + low).astype(values.dtype)
            lookup = (np.cumsum(present) - 1).astype(_code_dtype(table.size))
            coded = np.empty(values.size, dtype=lookup.dtype)
            for s in range(0, values.size, _CHUNK):
                coded[s:s + _CHUNK] = lookup[values[s:s + _CHUNK].astype(np.int64) - low]
            return coded, tuple(table.tolist())
    table, inverse = np.unique(values, return_inverse=True)
    return inverse.ravel().astype(_code_dtype(table.size)), tuple(table.tolist())


def _code_dtype(classes: int) -> type:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if classes <= np.iinfo(dtype).max + 1:
            return dtype
    return np.int64


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


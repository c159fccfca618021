"""One adapter per data library: what loadercheck knows about each, and nowhere else.

``describe_loader`` reads a loader's configuration without drawing (the loader's own adapter, e.g. a
torch ``DataLoader``, then the adapter of the dataset or pipeline it reads); ``dataset_label_values``
reads every label from metadata where the library keeps them; ``wording`` gives the adapter whose
fixes speak the library's language, from a :class:`~loadercheck.results.LoaderInfo` alone.
Adapters never import their library: they recognise objects by module and class name, so importing
loadercheck costs nothing extra and a library that is not installed is simply never met.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import numpy as np

from ..labels import LabelSpec
from ..results import LoaderInfo
from . import grain, hf_datasets, litdata, mosaic, pytorch, torchdata, webdataset
from .base import Adapter, attr, is_iterable, is_reiterable, length

__all__ = ["Adapter", "describe_loader", "dataset_label_values", "set_epoch_state",
           "sampler_object", "sampler_probabilities", "wording", "is_iterable", "length", "source_of",
           "adapter_for"]

sampler_object = pytorch.sampler_object
sampler_probabilities = pytorch.sampler_probabilities

LIBRARIES: tuple[type[Adapter], ...] = (
    hf_datasets.HuggingFaceDataset, webdataset.WebDataset, mosaic.MosaicStreaming, litdata.LitData,
    grain.Grain, torchdata.TorchDataNodes,
)
"""Adapters of datasets and pipelines, tried in this order (the first that claims an object wins)."""
LOADERS: tuple[type[Adapter], ...] = (grain.GrainLoader, pytorch.DataLoaderAdapter)
"""Adapters of loader objects that wrap a dataset (``loader.dataset``)."""
_BY_LIBRARY = {a.library: a for a in (*LOADERS, *LIBRARIES)}


def loader_adapter(obj: object) -> type[Adapter] | None:
    return next((a for a in LOADERS if a.claims(obj)), None)


def source_of(obj: object) -> object:
    """The dataset or pipeline that decides the order: ``loader.dataset`` of a known loader, else ``obj``."""
    if loader_adapter(obj) is not None:
        dataset = attr(obj, "dataset")
        if dataset is not None:
            return dataset
    return obj


def adapter_for(source: object, *, inside_loader: bool = False) -> type[Adapter]:
    """The adapter of a dataset or pipeline: its library's, else torch's (any dataset a DataLoader
    reads, or a torch Dataset iterated directly), else the plain-iterable :class:`Adapter`."""
    found = next((a for a in LIBRARIES if a.claims(source)), None)
    if found is not None:
        return found
    if inside_loader or pytorch.is_torch_dataset(source):
        return pytorch.TorchDataset
    return Adapter


def describe_loader(obj: object) -> LoaderInfo:
    """Describe ``obj`` (a DataLoader, a library's dataset, any iterable) without drawing; never raises.

    ``shuffle`` is True for random samplers, False for ``SequentialSampler``, and otherwise what the
    library's adapter reads (a streaming shuffle), None when the order is decided elsewhere.
    ``reiterable`` is ``iter(obj) is not obj``, decided from the type without calling ``iter``
    (on a DataLoader that would start workers and draw a seed).
    """
    type_name = type(obj).__name__
    try:
        outer = loader_adapter(obj)
        dataset = attr(obj, "dataset")
        source = source_of(obj)
        inner = adapter_for(source, inside_loader=outer is not None)
        fields: dict[str, Any] = {
            "type_name": type_name,
            "dataset": type(dataset).__name__ if dataset is not None else None,
            "dataset_length": length(dataset) if dataset is not None else None,
            "reiterable": is_reiterable(obj),
        }
        if outer is not None:
            fields.update(outer.facts(obj))
        if inner is not Adapter:
            source_facts = inner.facts(source)
            if outer is not None:  # the loader's own batching and shuffle decide, the dataset adds its knobs
                source_facts = {k: v for k, v in source_facts.items()
                                if k not in fields or fields[k] is None or k == "dataset_length"}
                source_facts.pop("example_level", None)
            fields.update(source_facts)
            fields["library"] = inner.library
        elif outer is not None:
            fields["library"] = outer.library
        fields.update(_epoch_facts(obj, source, outer is not None or inner is not Adapter))
        info = LoaderInfo(**fields)
    except Exception:  # a description must never stop a check
        return LoaderInfo(type_name=type_name, reiterable=_safe_reiterable(obj))
    return info


def _safe_reiterable(obj: object) -> bool:
    try:
        return is_reiterable(obj)
    except Exception:
        return False


def _epoch_holders(obj: object, source: object) -> list[object]:
    """What in ``obj`` reshuffles by ``set_epoch``: its sampler, its batch sampler, its dataset."""
    holders = (pytorch.sampler_object(obj), attr(obj, "batch_sampler"), source)
    return [h for h in holders if h is not None and adapter_for(h, inside_loader=True).reshuffles_by_epoch(h)]


def _epoch_facts(obj: object, source: object, inspectable: bool) -> dict[str, Any]:
    holders = _epoch_holders(obj, source)
    return {"has_set_epoch": bool(holders) if inspectable else None,
            "sampler_epoch": pytorch.epoch_of(*holders) if holders else None}


def set_epoch_state(obj: object) -> int | None:
    """The current ``epoch`` of whatever in ``obj`` has ``set_epoch`` (sampler first), else None."""
    holders = _epoch_holders(obj, source_of(obj))
    return pytorch.epoch_of(*holders) if holders else None


def dataset_label_values(loader: object, spec: Any = None) -> np.ndarray | None:
    """The labels of the whole dataset from its metadata, without loading a sample; else None.

    Asks the adapter of ``loader.dataset`` (or of the loader itself): torchvision-style
    ``targets``/``labels``, a ``TensorDataset``'s label tensor (position 1 of two tensors, else the
    last, or the ``--label`` index), a Hugging Face label column (a ``--label`` key names it); a
    ``torch.utils.data.Subset`` maps its parent's labels through its ``indices``. Never raises.
    """
    if spec is not None and not isinstance(spec, LabelSpec):
        try:  # a key names the column; a module:function is not imported here
            spec = LabelSpec.parse(spec) if isinstance(spec, (str, int)) and ":" not in str(spec) else None
        except Exception:
            spec = None
    for holder in (attr(loader, "dataset"), loader):
        if holder is None:
            continue
        with contextlib.suppress(Exception):
            found = dataset_labels_of(holder, spec)
            if found is not None:
                return found
    return None


def dataset_labels_of(holder: object, spec: Any, depth: int = 0) -> np.ndarray | None:
    """One dataset's labels from metadata (its adapter's reading, or a ``Subset`` of one)."""
    found = adapter_for(holder, inside_loader=True).dataset_labels(holder, spec)
    if found is not None:
        return found
    parent, indices = attr(holder, "dataset"), attr(holder, "indices")
    size = length(holder)
    if depth < 4 and parent is not None and indices is not None and size:  # torch Subset
        base = dataset_labels_of(parent, spec, depth + 1)
        if base is not None:
            with contextlib.suppress(Exception):
                idx = np.asarray(indices, dtype=np.int64)
                if idx.size == size and (idx.min() >= -base.size and idx.max() < base.size):
                    return base[idx]
    return None


def wording(info: LoaderInfo) -> type[Adapter]:
    """The adapter whose ``*_fix`` methods word fixes for this loader (by ``info.library``)."""
    if info.library == "torch" and info.example_level:
        return pytorch.TorchDataset  # a torch dataset iterated directly, not through a DataLoader
    return _BY_LIBRARY.get(info.library or "", Adapter)

"""Hugging Face ``datasets``: map-style ``Dataset`` and streaming ``IterableDataset``.

Both yield single examples (dicts) when iterated directly: they are samples, batched for the checks.
A map-style ``Dataset.shuffle(seed)`` is one fixed permutation (an indices mapping), the same every
epoch unless a ``DataLoader(shuffle=True)`` draws anew; ``IterableDataset.shuffle(seed, buffer_size)``
shuffles the shard order and the samples behind a buffer, reseeded by ``set_epoch(epoch)``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ..labels import LabelSpec
from ..results import LoaderInfo
from .base import Adapter, attr, int_attr, length, module_root
from .pytorch import LABEL_COLUMNS, column_labels

__all__ = ["HuggingFaceDataset"]

def _ex_chain(dataset: object) -> list[object]:
    """The nested examples-iterables of a streaming dataset, outermost first."""
    chain = []
    node = attr(dataset, "_ex_iterable")
    for _ in range(16):
        if node is None:
            break
        chain.append(node)
        node = attr(node, "ex_iterable")
    return chain


def _buffered(dataset: object) -> object | None:
    """The buffer-shuffling stage of a streaming dataset (it has ``buffer_size``), or None."""
    return next((node for node in _ex_chain(dataset) if int_attr(node, "buffer_size") is not None), None)


def _is_iterable(obj: object) -> bool:
    return type(obj).__name__ == "IterableDataset" or attr(obj, "_ex_iterable") is not None


class HuggingFaceDataset(Adapter):
    library = "datasets"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return module_root(obj) == "datasets"

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        facts: dict[str, Any] = {"dataset_kind": "iterable" if _is_iterable(obj) else "map",
                                 "sharded": True, "example_level": True}
        if _is_iterable(obj):
            buffered = _buffered(obj)
            facts["shuffle"] = buffered is not None
            if buffered is not None:
                facts["shuffle_buffer"] = int_attr(buffered, "buffer_size")
                entropy = attr(attr(attr(attr(buffered, "generator"), "bit_generator"), "seed_seq"), "entropy")
                if isinstance(entropy, int):
                    facts["shuffle_seed"] = entropy
            facts["dataset_length"] = _streaming_length(obj)
        else:
            # an indices mapping comes from .shuffle() but also from .select() or .filter(): not read as a shuffle
            facts["dataset_length"] = length(obj)
        return {k: v for k, v in facts.items() if v is not None}

    @classmethod
    def reshuffles_by_epoch(cls, obj: object) -> bool:
        """A streaming dataset reshuffles by ``set_epoch`` only when ``.shuffle()`` put a buffer in it."""
        return _is_iterable(obj) and callable(attr(obj, "set_epoch")) and _buffered(obj) is not None

    @classmethod
    def dataset_labels(cls, obj: object, spec: Any) -> np.ndarray | None:
        return None if _is_iterable(obj) else column_labels(obj, spec)

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        if info.dataset_kind == "map":
            if info.type_name == "DataLoader":
                return "pass DataLoader(dataset, shuffle=True) so every epoch draws a new permutation"
            return ("shuffle the Dataset before training (ds = ds.shuffle(seed=epoch) every epoch) or feed it "
                    "through DataLoader(ds, shuffle=True)")
        return ("shuffle the stream: ds = ds.shuffle(seed=..., buffer_size=...) after splitting it into many shards "
                "(to_iterable_dataset(num_shards=64): shard order is shuffled too), and call ds.set_epoch(epoch) "
                "every epoch")

    @classmethod
    def buffer_fix(cls, info: LoaderInfo, suggested: int | None) -> str | None:
        return (f"raise the buffer: ds.shuffle(seed=..., buffer_size={suggested or 10000}); with more shards "
                "(to_iterable_dataset(num_shards=64) or more files) the shard order is shuffled as well")

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        if info.dataset_kind == "map":
            return ("a Dataset.shuffle(seed) is one fixed permutation: shuffle anew each epoch (ds.shuffle(seed=epoch)) "
                    "or read it through DataLoader(ds, shuffle=True)")
        return "call ds.set_epoch(epoch) at the start of every epoch: IterableDataset.shuffle reseeds with seed + epoch"


def _streaming_length(obj: object) -> int | None:
    """Rows of a streaming dataset made by ``Dataset.to_iterable_dataset`` (its Arrow shards), if visible."""
    info_splits, split = attr(attr(obj, "info"), "splits"), attr(obj, "split")
    with contextlib.suppress(Exception):
        if info_splits and split is not None and str(split) in info_splits:
            total = int(info_splits[str(split)].num_examples)
            if total > 0:
                return total
    for node in reversed(_ex_chain(obj)):
        kwargs = attr(node, "kwargs")
        if isinstance(kwargs, dict):
            tables = kwargs.get("tables") or kwargs.get("shards")
            with contextlib.suppress(Exception):
                total = sum(len(t) for t in tables)
                if total > 0:
                    return total
    return None

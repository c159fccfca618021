"""Google ``grain``: ``MapDataset``/``IterDataset`` pipelines and ``grain.DataLoader`` with an ``IndexSampler``."""

from __future__ import annotations

from typing import Any

from ..results import LoaderInfo
from .base import Adapter, attr, int_attr, module_root

__all__ = ["Grain", "GrainLoader"]


def _parents(dataset: object) -> list[object]:
    """A grain dataset and its parents, outermost first."""
    out, node = [], dataset
    for _ in range(64):
        if node is None:
            break
        out.append(node)
        parents = attr(node, "parents") or attr(node, "_parents")
        node = parents[0] if isinstance(parents, (list, tuple)) and parents else attr(node, "_parent")
    return out


class Grain(Adapter):
    library = "grain"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return module_root(obj) == "grain" and not GrainLoader.claims(obj)

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        facts: dict[str, Any] = {"dataset_kind": "map" if "MapDataset" in {c.__name__ for c in type(obj).__mro__}
                                 else "iterable", "shuffle": False}
        for node in _parents(obj):
            name = type(node).__name__
            if "Shuffle" in name:
                facts["shuffle"] = True
                seed = int_attr(node, "_seed")
                seed = seed if seed is not None else int_attr(node, "seed")
                if seed is not None:
                    facts["shuffle_seed"] = seed
            if "Batch" in name and int_attr(node, "_batch_size") is not None:
                facts["batch_size"] = int_attr(node, "_batch_size")
        return facts

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        return "shuffle the dataset before batching: ds.shuffle(seed=...) (grain reshuffles every epoch of a repeat)"

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        return "shuffle before .repeat() so each epoch gets its own permutation: ds.shuffle(seed=...).repeat()"


class GrainLoader(Adapter):
    """``grain.DataLoader``: an ``IndexSampler`` decides the order (``shuffle``, ``seed``)."""

    library = "grain"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return module_root(obj) == "grain" and type(obj).__name__ == "DataLoader"

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        sampler = attr(obj, "_sampler") or attr(obj, "sampler")
        shuffle = attr(sampler, "_shuffle")
        if not isinstance(shuffle, bool):
            shuffle = attr(sampler, "shuffle")
        facts: dict[str, Any] = {"sampler": type(sampler).__name__ if sampler is not None else None,
                                 "shuffle": shuffle if isinstance(shuffle, bool) else None,
                                 "shuffle_seed": int_attr(sampler, "_seed")}
        return {k: v for k, v in facts.items() if v is not None}

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        return "pass grain.IndexSampler(..., shuffle=True, seed=...) to the grain.DataLoader"

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        return "IndexSampler(shuffle=True, num_epochs=...) draws a new permutation per epoch: do not rebuild it per epoch"

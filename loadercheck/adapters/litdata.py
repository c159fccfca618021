"""Lightning ``litdata``: ``StreamingDataset`` (and ``StreamingDataLoader``, a torch DataLoader).

litdata splits chunks across ranks and DataLoader workers itself and, with ``shuffle=True``,
shuffles the chunk order and the samples within the chunks a worker holds, seeded by ``seed`` and the
epoch.
"""

from __future__ import annotations

from typing import Any

from ..results import LoaderInfo
from .base import Adapter, attr, int_attr, length, module_root

__all__ = ["LitData"]


class LitData(Adapter):
    library = "litdata"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return module_root(obj) == "litdata" and "DataLoader" not in type(obj).__name__

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        shuffle = attr(obj, "shuffle")
        facts: dict[str, Any] = {"dataset_kind": "iterable", "sharded": True,
                                 "shuffle": shuffle if isinstance(shuffle, bool) else None,
                                 "dataset_length": length(obj), "shuffle_seed": int_attr(obj, "seed")}
        return {k: v for k, v in facts.items() if v is not None}

    @classmethod
    def reshuffles_by_epoch(cls, obj: object) -> bool:
        """litdata reshuffles by its own ``current_epoch``, which StreamingDataLoader advances every
        epoch: nothing for the training loop to call, so no ``set_epoch`` note."""
        return False

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        if info.shuffle is False:
            return "pass StreamingDataset(..., shuffle=True)"
        return ("write the chunks with the classes mixed (litdata.optimize over shuffled inputs): shuffle=True "
                "mixes samples only within the chunks a worker holds")

    @classmethod
    def buffer_fix(cls, info: LoaderInfo, suggested: int | None) -> str | None:
        return ("optimize the data into smaller chunks (chunk_size / chunk_bytes) from shuffled inputs, so each "
                "worker's chunks hold every class")

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        return ("use StreamingDataLoader (it advances the dataset's epoch) or call dataset.set_epoch(epoch) every "
                "epoch")

"""MosaicML ``streaming``: ``StreamingDataset`` over MDS shards.

A StreamingDataset partitions its samples across nodes, ranks and DataLoader workers itself, and
shuffles with ``shuffle_algo`` (``py1e``, ``py1br``, ``py1b``, ``py1s``, ``py2s``, ``naive``) in blocks of
``shuffle_block_size`` samples over ``num_canonical_nodes`` canonical nodes, seeded by
``shuffle_seed`` and the epoch: an epoch's order is a pure function of that configuration.
"""

from __future__ import annotations

from typing import Any

from ..results import LoaderInfo
from .base import Adapter, attr, int_attr, length, module_root

__all__ = ["MosaicStreaming"]


class MosaicStreaming(Adapter):
    library = "streaming"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return module_root(obj) == "streaming"

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        shuffle = attr(obj, "shuffle")
        facts: dict[str, Any] = {"dataset_kind": "iterable", "sharded": True,
                                 "shuffle": shuffle if isinstance(shuffle, bool) else None,
                                 "dataset_length": length(obj)}
        algo = attr(obj, "shuffle_algo")
        if isinstance(algo, str):
            facts["shuffle_algo"] = algo
        block = int_attr(obj, "shuffle_block_size")
        if block is not None:
            facts["shuffle_block_size"] = block
        seed = int_attr(obj, "shuffle_seed")
        if seed is not None:
            facts["shuffle_seed"] = seed
        return {k: v for k, v in facts.items() if v is not None}

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        if info.shuffle is False:
            return "pass StreamingDataset(..., shuffle=True) (shuffle_algo='py1e', the default)"
        block = f" (now {info.shuffle_block_size:,})" if info.shuffle_block_size else ""
        return (f"mix more: StreamingDataset(..., shuffle_algo='py1e', shuffle_block_size larger{block}, e.g. "
                "several shards' worth), and write shards with the classes mixed (not one class per shard)")

    @classmethod
    def buffer_fix(cls, info: LoaderInfo, suggested: int | None) -> str | None:
        size = f"at least {suggested:,}" if suggested else "larger"
        return f"raise shuffle_block_size ({size} samples) with shuffle_algo='py1e' or 'py1br'"

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        return ("StreamingDataset reshuffles by epoch on its own; a replay means the epoch counter did not advance "
                "(a fresh dataset object per epoch, or resume state restored to epoch 0): keep one dataset object "
                "across epochs")

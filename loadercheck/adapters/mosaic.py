"""MosaicML ``streaming``: ``StreamingDataset`` over MDS shards.

A StreamingDataset partitions its samples across nodes, ranks and DataLoader workers itself, and
shuffles with ``shuffle_algo`` (``py1e``, ``py1br``, ``py1b``, ``py1s``, ``py2s``, ``naive``) in blocks of
``shuffle_block_size`` samples over ``num_canonical_nodes`` canonical nodes, seeded by
``shuffle_seed`` and the epoch: an epoch's order is a pure function of that configuration.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..results import LoaderInfo
from .base import Adapter, attr, int_attr, length, module_root

__all__ = ["MosaicStreaming", "epoch_order"]

MAX_READ = 1_000_000
"""Samples of a local store whose label column the whole-epoch analysis reads at most."""


def _library(name: str) -> Any:
    """A submodule of ``streaming`` (already imported by the user's code: their dataset exists)."""
    import importlib

    if "streaming" not in sys.modules:
        raise LookupError("the streaming package is not imported")
    return importlib.import_module(name)


def _supported(dataset: object) -> None:
    """The configurations :func:`epoch_order` replays; anything else raises LookupError (the order is
    then not read, rather than read wrong)."""
    method = attr(dataset, "batching_method")
    if method not in (None, "random"):
        raise LookupError(f"batching_method={method!r} (only 'random', the default, is replayed)")
    replication = attr(dataset, "replication")
    if replication not in (None, 1):
        raise LookupError(f"replication={replication!r} (only no replication is replayed)")
    world = attr(dataset, "world")
    for name in ("num_nodes", "num_ranks"):
        value = attr(world, name)
        if isinstance(value, int) and value > 1:
            raise LookupError(f"a world of {value} {name[4:]} (only one node and rank are replayed)")


def epoch_order(dataset: object, epoch: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ids in the order one rank's loader (``workers`` DataLoader workers, 0 or 1 = in process)
    yields them in ``epoch``, and the batch sizes; computed from the configuration, no sample read.

    It follows the library's own steps for its default ``batching_method='random'`` on one node and
    rank: the epoch's sample units (``resample_streams``), their partition over canonical nodes and
    workers into batches (``get_partitions``), the shuffle (``get_shuffle``), and the DataLoader taking
    one batch from each worker in turn.
    """
    shuffle_mod = _library("streaming.base.shuffle")
    partition_mod = _library("streaming.base.partition")
    _supported(dataset)
    algo = attr(dataset, "shuffle_algo")
    nodes = attr(dataset, "num_canonical_nodes") or (64 if algo in ("py1s", "py2s") else 1)
    block = attr(dataset, "shuffle_block_size") or max(4_000_000 // nodes, 1 << 18)
    batch = attr(dataset, "batch_size") or 1
    units, small_per_big = dataset.resample_streams(epoch)  # type: ignore[attr-defined]
    work = partition_mod.get_partitions(attr(dataset, "partition_algo"), attr(dataset, "epoch_size"), nodes, 1, 1,
                                        max(workers, 1), batch, 0, None)
    if attr(dataset, "shuffle"):
        mapping = shuffle_mod.get_shuffle(algo, units, nodes, attr(dataset, "shuffle_seed"), epoch, block)
        work = np.where(work != -1, mapping[work], -1)
    ids = np.where(work != -1, small_per_big[work], -1)[0, 0]  # (workers, batches, batch)
    batches = ids.transpose(1, 0, 2).reshape(-1, ids.shape[-1])  # one batch from each worker in turn
    sizes = (batches != -1).sum(axis=1)
    flat = batches[batches != -1]
    return flat.astype(np.int64), sizes[sizes > 0].astype(np.int64)


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
    def read_epochs(cls, dataset: object, loader: object, epochs: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Whole epochs' sample ids and batch sizes from the configuration, starting at the epoch the
        dataset will run next; raises LookupError when the library's internals cannot be reached."""
        workers = (int_attr(loader, "num_workers") or 0) if loader is not dataset else 0
        loader_batch = int_attr(loader, "batch_size") if loader is not dataset else None
        if loader_batch is not None and loader_batch != (int_attr(dataset, "batch_size") or 1):
            raise LookupError(f"the DataLoader's batch_size ({loader_batch}) differs from the StreamingDataset's "
                              f"({int_attr(dataset, 'batch_size')}); pass the same batch_size to both")
        start = int_attr(dataset, "next_epoch") or 0
        indices, sizes = [], []
        try:
            for epoch in range(start, start + epochs):
                flat, batch = epoch_order(dataset, epoch, workers)
                indices.append(flat)
                sizes.append(batch)
        except LookupError:
            raise
        except Exception as exc:  # a streaming version whose internals differ
            raise LookupError(f"streaming's shuffle could not be replayed ({type(exc).__name__}: {exc})") from exc
        return indices, sizes

    @classmethod
    def read_labels(cls, obj: object, spec: Any) -> np.ndarray | None:
        """Labels of a local store for the whole-epoch analysis (``--from-sampler`` asks for it; a
        plain check never does): MDS keeps no label index, so each sample is decoded, only when every
        stream is local (no download) and the store holds at most :data:`MAX_READ` samples."""
        streams = attr(obj, "streams") or []
        if not streams or any(attr(s, "remote") not in (None, "") for s in streams):
            return None
        size = length(obj)
        if not size or size > MAX_READ:
            return None
        keys = [spec.path[0]] if getattr(spec, "mode", None) == "path" and len(spec.path) == 1 else []
        first = obj.get_item(0)  # type: ignore[attr-defined]
        key = next((k for k in [*keys, "label", "labels", "target", "targets", "y", "class", "cls"] if k in first), None)
        if key is None:
            return None
        return np.asarray([obj.get_item(i)[key] for i in range(size)])  # type: ignore[attr-defined]

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

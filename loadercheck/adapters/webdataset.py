"""WebDataset (``webdataset`` pipelines and ``wids`` indexed datasets).

A ``WebDataset``/``DataPipeline`` lists its stages in ``pipeline``: ``shardshuffle`` shuffles the
shard list, a ``.shuffle(bufsize, initial=...)`` stage shuffles samples behind a buffer that starts
yielding once ``initial`` samples are in it (default 100): a buffer larger than the data still
yields its first samples from the first ``initial`` of the stream.
"""

from __future__ import annotations

from typing import Any

from ..results import LoaderInfo
from .base import Adapter, attr, module_root

__all__ = ["WebDataset", "shuffle_stage"]


def _stage_kwargs(stage: object) -> dict[str, Any]:
    """Keyword arguments of a curried pipeline stage (``webdataset.filters.pipelinefilter``)."""
    for name in ("kw", "kwargs", "keywords"):
        value = attr(stage, name)
        if isinstance(value, dict):
            return value
    return {}


def _stage_args(stage: object) -> tuple[Any, ...]:
    for name in ("args",):
        value = attr(stage, name)
        if isinstance(value, tuple):
            return value
    return ()


def _stage_name(stage: object) -> str:
    if type(stage).__name__ == "detshuffle":
        return "detshuffle"
    for obj in (attr(stage, "f"), attr(stage, "func"), stage):
        name = attr(obj, "__name__")
        if isinstance(name, str):
            return name
    return type(stage).__name__


def shuffle_stage(pipeline: object) -> tuple[int | None, int | None, Any]:
    """(bufsize, initial, seed) of the sample shuffle of a webdataset pipeline, else Nones.

    Shard shuffles are the same kind of stage, placed before the stage that opens the tar files;
    the sample shuffle is the last shuffle after it. ``shardshuffle=False`` leaves a no-op shuffle
    of size ``False``: a size of 0 or 1 (or a bool) is no shuffle.
    """
    stages = attr(pipeline, "pipeline")
    if not isinstance(stages, list):
        return None, None, None
    opened = next((i for i, stage in enumerate(stages)
                   if any(word in _stage_name(stage).lower() for word in ("tar", "expander", "open"))), -1)
    found: tuple[int | None, int | None, Any] = (None, None, None)
    for stage in stages[opened + 1:]:
        name = _stage_name(stage).lstrip("_")
        if name not in ("shuffle", "detshuffle"):
            continue
        kwargs, args = _stage_kwargs(stage), _stage_args(stage)
        bufsize = kwargs.get("bufsize", args[0] if args else attr(stage, "bufsize"))
        initial = kwargs.get("initial", args[1] if len(args) > 1 else attr(stage, "initial"))
        seed = kwargs.get("seed", attr(stage, "seed"))
        if isinstance(bufsize, int) and not isinstance(bufsize, bool) and bufsize > 1:
            initial = initial if isinstance(initial, int) and not isinstance(initial, bool) else 100
            found = (bufsize, min(initial, bufsize), seed)
    return found


class WebDataset(Adapter):
    library = "webdataset"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return module_root(obj) in ("webdataset", "wids")

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        bufsize, initial, seed = shuffle_stage(obj)
        facts: dict[str, Any] = {"dataset_kind": "iterable", "sharded": True}
        if bufsize is not None:
            facts.update(shuffle=bufsize > 1, shuffle_buffer=bufsize, shuffle_initial=initial)
            if isinstance(seed, int):
                facts["shuffle_seed"] = seed
        return facts

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        return ("shuffle shards and samples: WebDataset(urls, shardshuffle=True) (or .shuffle on the shard list) "
                "and .shuffle(bufsize, initial=bufsize) on the samples")

    @classmethod
    def buffer_fix(cls, info: LoaderInfo, suggested: int | None) -> str | None:
        size = suggested or 5000
        return (f"raise the sample buffer: .shuffle({size}, initial={size}), and shuffle the shard list every "
                "epoch (shardshuffle=True) so no shard's block lands in one place")

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        return ("shuffle afresh every epoch: an epoch-dependent seed (detshuffle with set_epoch, or no fixed seed "
                "in .shuffle) and shardshuffle=True")

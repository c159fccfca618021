"""torchdata: ``StatefulDataLoader`` (a torch DataLoader subclass, handled by the torch adapter) and
``torchdata.nodes`` graphs (``Loader`` over ``SamplerWrapper``/``Batcher``/``MultiNodeWeightedSampler``)."""

from __future__ import annotations

from typing import Any

from ..results import LoaderInfo
from .base import Adapter, attr, module_root

__all__ = ["TorchDataNodes"]


def _nodes(root: object) -> list[object]:
    """The nodes of a torchdata.nodes graph, outermost first (following ``root``/``source``/``sampler``)."""
    out, seen = [], set()
    stack = [root]
    while stack and len(out) < 64:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        for name in ("root", "source", "_root", "_source", "sampler", "_sampler", "base_node"):
            child = attr(node, name)
            if child is not None and not isinstance(child, (int, float, str, bytes, dict, list, tuple)):
                stack.append(child)
    return out


class TorchDataNodes(Adapter):
    library = "torchdata"

    @classmethod
    def claims(cls, obj: object) -> bool:
        return module_root(obj) == "torchdata" and "DataLoader" not in {c.__name__ for c in type(obj).__mro__}

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        facts: dict[str, Any] = {"dataset_kind": "iterable", "sharded": True}
        for node in _nodes(obj):
            name = type(node).__name__
            if name == "Batcher":
                size = attr(node, "batch_size")
                if isinstance(size, int):
                    facts["batch_size"] = size
            if name in ("RandomSampler", "SequentialSampler"):
                facts["shuffle"] = name == "RandomSampler"
                facts["sampler"] = name
        return facts

    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        return ("feed SamplerWrapper(RandomSampler(dataset)) (or DistributedSampler(shuffle=True)) into the graph, "
                "and call set_epoch on it every epoch")

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        return "call the sampler's set_epoch(epoch) (SamplerWrapper passes the epoch on) at every epoch start"

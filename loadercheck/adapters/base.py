"""What every adapter shares: safe attribute reads and the :class:`Adapter` interface.

An adapter is the one place that knows one data library: how to recognise its objects, read their
configuration without drawing (batch size, workers, shuffle knobs, per-worker sharding, epoch
state), read labels and order without loading samples where the library allows it, and word a fix
in the library's own terms. Adapters import only the foundation (results, labels, errors): they sit
below recording, drawing and the checks, which ask them; nothing here decides a verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from ..results import LoaderInfo

__all__ = ["Adapter", "attr", "int_attr", "length", "is_iterable", "is_reiterable", "module_root", "mro_names"]


def attr(obj: object, name: str) -> Any:
    """``getattr(obj, name, None)`` that never raises (properties of user objects can)."""
    if obj is None:
        return None
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def int_attr(obj: object, name: str) -> int | None:
    value = attr(obj, name)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def length(obj: object) -> int | None:
    try:
        return int(len(obj))  # type: ignore[arg-type]
    except Exception:
        return None


def is_iterable(obj: object) -> bool:
    cls = type(obj)
    return hasattr(cls, "__iter__") or hasattr(cls, "__getitem__")


def is_reiterable(obj: object) -> bool:
    return is_iterable(obj) and not isinstance(obj, Iterator)


def module_root(obj: object) -> str:
    """The top-level package that defines ``type(obj)`` (``"torch"``, ``"datasets"``, ...)."""
    return type(obj).__module__.split(".")[0]


def mro_names(obj: object) -> set[str]:
    return {c.__name__ for c in type(obj).__mro__}


class Adapter:
    """One data library's knowledge. Subclasses override what their library allows.

    ``claims`` recognises the library's objects; ``facts`` reads the :class:`LoaderInfo` fields
    the library exposes (without drawing); the ``*_fix`` methods word a fix from a
    :class:`LoaderInfo` alone (the checks hold no loader object), returning None to fall back on
    the generic wording.
    """

    library: ClassVar[str] = "python"
    """The name stored in ``LoaderInfo.library`` (the distribution users install)."""

    @classmethod
    def claims(cls, obj: object) -> bool:
        return False

    @classmethod
    def facts(cls, obj: object) -> dict[str, Any]:
        """LoaderInfo fields read off ``obj`` (a dataset or pipeline of this library)."""
        return {}

    @classmethod
    def dataset_labels(cls, obj: object, spec: Any) -> np.ndarray | None:
        """Every sample's label from metadata, without loading a sample; None when not exposed."""
        return None

    @classmethod
    def reshuffles_by_epoch(cls, obj: object) -> bool:
        """Has ``set_epoch`` and shuffles with it (its order changes only when the loop calls it)."""
        return obj is not None and callable(attr(obj, "set_epoch"))

    # ------------------------------------------------------------------ fixes in the library's words
    @classmethod
    def order_fix(cls, info: LoaderInfo) -> str | None:
        """How to feed this library's samples in random order (the order checks failed)."""
        return None

    @classmethod
    def buffer_fix(cls, info: LoaderInfo, suggested: int | None) -> str | None:
        """How to make this library's streaming shuffle mix more (``suggested`` samples, if known)."""
        return None

    @classmethod
    def replay_fix(cls, info: LoaderInfo) -> str | None:
        """How to get a fresh order every epoch (``cross-epoch-order`` found a replay)."""
        return None

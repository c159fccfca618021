"""Plain frozen data passed between the layers: stream, check results, report.

Nothing here computes statistics or formats output; renderers import these types, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping

import numpy as np


class Status(StrEnum):
    """Outcome of one check (and, for the report, of the whole run)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


class LabelKind(StrEnum):
    """How labels are read: classes (categorical) or a continuous target (regression)."""

    CATEGORICAL = "categorical"
    CONTINUOUS = "continuous"
    NONE = "none"
    """No label: the feed is judged on its inputs (and metadata) through :class:`Signal` s."""


@dataclass(frozen=True)
class TestResult:
    """What a statistical test in :mod:`loadercheck.stats` returns.

    All p-values are one-sided toward *order* (clustering, drift) unless the test says otherwise.
    """

    __test__ = False  # not a pytest test class

    statistic: float
    """The observed statistic (its meaning is given by ``method``)."""
    pvalue: float
    """P-value under the permutation null (exact, approximated or Monte Carlo; see ``method``)."""
    effect: float | None
    """Effect size in user terms, 0 for a shuffled feed (see each test's docstring)."""
    method: str
    """How the p-value was obtained, e.g. ``"negative-binomial tail"`` or ``"permutation (B=2000)"``."""
    details: Mapping[str, float] = field(default_factory=dict)
    """Extra numbers for the report (expected value, z-score, worst lag, ...)."""


@dataclass(frozen=True, eq=False)
class Epoch:
    """One pass over the loader as the sampling layer recorded it.

    ``labels`` are in feed order: int64 class codes ``0..k-1`` (categorical) or float64 targets
    (continuous). ``batch_sizes`` partitions them into batches (``batch_sizes.sum() == len(labels)``).
    """

    labels: np.ndarray
    batch_sizes: np.ndarray
    fingerprints: np.ndarray | None = None
    """uint64 hash of each sample's input bytes, or None when inputs are not arrays."""
    indices: np.ndarray | None = None
    """Dataset indices in feed order (int64) when the order was read from the sampler, else None."""
    features: np.ndarray | None = None
    """Per-sample input summaries ``(n, F)`` float64 (mean, sd, fixed random projections), or None."""


@dataclass(frozen=True, eq=False)
class Signal:
    """A per-sample order signal besides the label: input sketch codes, sequence lengths, a metadata column.

    Each value is a function of one sample (or of the sampled set as a multiset), so a shuffled feed
    gives a shuffle of the same values and the order checks' permutation null stays exact.
    """

    check: str
    """The check id that tests it (``input-order``, ``length-order``, ``metadata-order``)."""
    name: str
    """What one value is, in the user's words (``"input cluster"``, ``"source"``)."""
    values: np.ndarray
    """First-epoch values in feed order: int64 codes (categorical) or float64 (continuous)."""
    kind: LabelKind
    classes: tuple[Any, ...] = ()
    """Original values of the codes (categorical), for messages."""
    description: str = ""
    """How the values were read, for the report's notes."""


@dataclass(frozen=True)
class LoaderInfo:
    """A short description of the loader object, read without drawing data."""

    type_name: str
    batch_size: int | None = None
    sampler: str | None = None
    shuffle: bool | None = None
    num_workers: int | None = None
    dataset: str | None = None
    dataset_length: int | None = None
    drop_last: bool | None = None
    reiterable: bool = False
    dataset_kind: str | None = None
    """``"map"`` (``__getitem__``/``__len__``) or ``"iterable"`` (a torch ``IterableDataset``); None if unknown."""
    replacement: bool | None = None
    """True when the sampler draws with replacement (``RandomSampler(replacement=True)``, ``WeightedRandomSampler``)."""
    num_samples: int | None = None
    """Indices the sampler yields per epoch (``len(sampler)``), when known."""
    sharded: bool | None = None
    """For an ``IterableDataset``: True when its code visibly splits the data per worker (``get_worker_info``)."""
    num_replicas: int | None = None
    """A distributed sampler's world size (``num_replicas``)."""
    rank: int | None = None
    """A distributed sampler's rank."""
    sampler_epoch: int | None = None
    """The ``epoch`` attribute of a sampler or dataset with ``set_epoch`` (when it was described)."""
    has_set_epoch: bool | None = None
    """True when the sampler or dataset has ``set_epoch`` (its order changes only when the loop calls it)."""
    epoch_changed: bool | None = None
    """Whether that ``epoch`` changed between the passes loadercheck drew (None: unknown or one pass)."""
    shuffle_buffer: int | None = None
    """The shuffle buffer size a known streaming pipeline exposes, when found."""
    custom_batch_sampler: bool = False
    """True when a custom ``batch_sampler`` (not torch's ``BatchSampler``) decides the batches; ``sampler`` names it."""
    library: str | None = None
    """The data library whose adapter read the dataset or pipeline (``"torch"``, ``"datasets"``,
    ``"webdataset"``, ``"streaming"``, ``"litdata"``, ``"torchdata"``, ``"grain"``); None for plain iterables."""
    example_level: bool = False
    """True when the object yields single examples (a Hugging Face or torch dataset iterated directly):
    loadercheck groups them into batches of ``batch_size`` for the checks."""
    shuffle_initial: int | None = None
    """Samples a streaming shuffle buffer collects before it yields (WebDataset ``initial``)."""
    shuffle_seed: int | None = None
    """The seed of the library's shuffle, when it exposes one."""
    shuffle_algo: str | None = None
    """The library's shuffle algorithm (MosaicML ``shuffle_algo``)."""
    shuffle_block_size: int | None = None
    """Samples per shuffle block (MosaicML ``shuffle_block_size``)."""
    epoch_samples: int | None = None
    """Samples in one whole pass, when loadercheck drew a pass to its end (the data size of a stream
    whose length is not exposed)."""

    def describe(self) -> str:
        """One line such as ``DataLoader(batch_size=32, sampler=SequentialSampler, ...)``."""
        parts = []
        for name in ("batch_size", "sampler", "shuffle", "num_workers", "drop_last", "shuffle_buffer",
                     "shuffle_initial", "shuffle_algo", "shuffle_block_size"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        if self.dataset is not None:
            length = f"[{self.dataset_length:,}]" if self.dataset_length is not None else ""
            parts.append(f"dataset={self.dataset}{length}")
        return f"{self.type_name}({', '.join(parts)})" if parts else self.type_name


@dataclass(frozen=True, eq=False)
class Stream:
    """Everything the checks see: labels in feed order with batch boundaries, per epoch."""

    epochs: tuple[Epoch, ...]
    kind: LabelKind
    classes: tuple[Any, ...]
    """Original label values of the codes (categorical); empty for continuous targets."""
    loader: LoaderInfo
    notes: tuple[str, ...] = ()
    """Plain-language notes from sampling (budget hit, timeout, partial second epoch, ...)."""
    inputs: Any = None
    """Optional per-batch inputs kept for the probe (list of arrays), else None."""
    seconds: float = 0.0
    """Wall time spent drawing batches."""
    dataset_labels: np.ndarray | None = None
    """Labels of the whole dataset from its metadata (``dataset.targets``), coded like ``labels``; else None."""
    sampler_probabilities: np.ndarray | None = None
    """Per-index draw probabilities of a weighted sampler with replacement (``WeightedRandomSampler``); else None."""
    ranks: Any = None
    """Rank views or gathered rank summaries (:class:`loadercheck.distributed.RankReport`) for ``rank-coverage``."""
    target_kind: str = "class"
    """How the labels were read: ``class``, ``multi-label``, ``detection``, ``segmentation``, ``tokens`` or ``none``."""
    signals: tuple[Signal, ...] = ()
    """Order signals besides the label (label-free feeds, token streams, metadata columns)."""

    @property
    def labels(self) -> np.ndarray:
        """Labels of the first epoch, in feed order."""
        return self.epochs[0].labels

    @property
    def batch_sizes(self) -> np.ndarray:
        """Batch sizes of the first epoch."""
        return self.epochs[0].batch_sizes

    @property
    def samples(self) -> int:
        return int(self.labels.size)

    @property
    def batches(self) -> int:
        return int(self.batch_sizes.size)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, in the user's terms (SPEC §3)."""

    id: str
    status: Status
    message: str
    statistic: float | None = None
    pvalue: float | None = None
    effect: float | None = None
    hint: str | None = None
    method: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON keys of SPEC §5 plus ``method`` and ``details``."""
        return {
            "id": self.id,
            "status": str(self.status),
            "message": self.message,
            "statistic": _finite_or_none(self.statistic),
            "pvalue": _finite_or_none(self.pvalue),
            "effect": _finite_or_none(self.effect),
            "hint": self.hint,
            "method": self.method,
            "details": {k: jsonable(v) for k, v in self.details.items()},
        }


@dataclass(frozen=True)
class StreamSummary:
    """What was sampled, for the report header and JSON ``stream`` object."""

    samples: int
    batches: int
    epochs: int
    classes: int | None
    label_kind: LabelKind
    batch_size: int | None
    seconds: float
    notes: tuple[str, ...] = ()
    target_kind: str = "class"
    """``class``, ``multi-label``, ``detection``, ``segmentation``, ``tokens`` or ``none`` (no label)."""
    signals: tuple[str, ...] = ()
    """The order signals tested besides the label, as ``"check-id: what"``."""


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _finite_or_none(value)
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)

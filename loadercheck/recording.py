"""Recording a feed batch by batch: labels (or label-free order signals), fingerprints, summaries.

:class:`StreamRecorder` is told each batch as training (or :func:`loadercheck.drawing.draw`) consumes
it and encodes what it saw as a :class:`~loadercheck.results.Stream`. It reads batches only: it never
mutates, replaces or reorders them. It knows nothing of loaders or of decisions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import sketch, targets
from .errors import LabelError, LoaderError
from .fingerprints import FEATURE_NAMES, feature_summaries, fingerprint, hash_rows, input_array
from .ids import INPUT_ORDER, LENGTH_ORDER, METADATA_ORDER
from .labels import METADATA_KEYS, LabelSpec, is_tensor, to_label_array
from .results import Epoch, LabelKind, LoaderInfo, Signal, Stream

__all__ = ["CONTINUOUS_MIN_DISTINCT", "METADATA_MAX_VALUES", "StreamRecorder", "label_kind"]

CONTINUOUS_MIN_DISTINCT = 20
"""Floating labels with more distinct values than this, not all integral, are continuous targets."""
METADATA_MAX_VALUES = 256
"""A metadata column is a categorical order signal when it holds 2..this many distinct values (and
at most one per two samples): more and it is an identifier, not a group."""
_DEFER_ROW_BYTES = 512
"""Inputs whose rows are at most this many bytes are copied, hashed and summarised a few hundred
batches at a time (a row's hash and summary depend on that row alone, so they are the same): for
small rows the cost is the per-call overhead, not the bytes."""
_PENDING_BYTES = 1 << 22
"""Copied input bytes an epoch buffer holds before it hashes them."""


# ---------------------------------------------------------------------- recorder
@dataclasses.dataclass
class _EpochBuffer:
    labels: list[np.ndarray] = dataclasses.field(default_factory=list)
    fingerprints: list[np.ndarray] | None = dataclasses.field(default_factory=list)
    inputs: list[Any] = dataclasses.field(default_factory=list)
    samples: int = 0
    features: list[np.ndarray] | None = None
    pending: list[np.ndarray] = dataclasses.field(default_factory=list)
    """Copies of the latest batches' inputs (small rows of one dtype and shape), not hashed or summarised yet."""
    pending_bytes: int = 0
    pending_from: int = 0
    """The batch index of ``pending[0]``, for a note."""

    def defer(self, array: np.ndarray, index: int) -> None:
        """Keep a copy of a batch's inputs to hash and summarise with its neighbours (a loader may reuse
        its buffers)."""
        layout = (array.dtype.str, array.shape[1:])
        if self.pending and (self.pending[0].dtype.str, self.pending[0].shape[1:]) != layout:
            self.flush()
        if not self.pending:
            self.pending_from = index
        self.pending.append(np.array(array, copy=True))
        self.pending_bytes += array.nbytes
        if self.pending_bytes >= _PENDING_BYTES:
            self.flush()

    def flush(self) -> str | None:
        """Hash the pending inputs into ``fingerprints`` and summarise them into ``features`` (each
        row's hash and summary depend on that row alone); a note when they could not be hashed."""
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        if not pending or (self.fingerprints is None and self.features is None):
            return None
        rows = pending[0] if len(pending) == 1 else np.concatenate(pending)
        if self.features is not None:
            self.features.append(feature_summaries(rows, rows.shape[0]))  # never None: see _deferrable
        if self.fingerprints is None:
            return None
        hashes = _quietly(hash_rows, rows)
        if hashes is None:
            self.fingerprints = None
            return (f"sample fingerprints skipped: the inputs could not be read as bytes (batch "
                    f"{self.pending_from}); the duplicates and cross-epoch checks need them")
        self.fingerprints.append(hashes)
        return None


class StreamRecorder:
    """Incremental recorder used by :func:`draw` and by ``guard()``/training callbacks.

    Call :meth:`add` once per batch as training consumes it, :meth:`new_epoch` between passes and
    :meth:`finish` for the :class:`~loadercheck.results.Stream`. ``add`` only reads the batch:
    it never mutates, replaces or reorders it (labels are copied into numpy arrays; inputs, when
    ``keep_inputs``, are kept by reference for the probe; inputs with small rows are copied, then
    hashed and summarised a few hundred batches at a time, which gives the same fingerprints and
    summaries as one batch at a time).

    Parameters
    ----------
    label : str, int, callable, LabelSpec or None
        Where the labels are (see :meth:`LabelSpec.parse`); None auto-detects.
    keep_inputs : bool
        Keep a reference to each first-epoch batch's inputs (``Stream.inputs``).
    fingerprints : bool
        Hash each sample's input bytes (``Epoch.fingerprints``) for the identity checks.
    features : bool
        Summarise each sample's numeric input (:func:`feature_summaries`, ``Epoch.features``) for
        ``input-drift``. Off by default (``draw`` turns it on).
    """

    def __init__(self, label: Any = None, *, keep_inputs: bool = False, fingerprints: bool = True,
                 features: bool = False) -> None:
        self._spec = LabelSpec.parse(label)
        self._keep_inputs = keep_inputs
        self._fingerprints = fingerprints
        self._features = features
        self._epochs: list[_EpochBuffer] = [self._new_buffer()]
        self._notes: list[str] = []
        self._mode: str | None = None
        """``"label"`` or ``"free"`` (no label: judged on inputs), decided by the first batch."""
        self._target_kind = targets.Kind.CLASS
        self._sketches: list[np.ndarray] | None = []
        self._lengths: list[np.ndarray] | None = []
        self._metadata: dict[str, list[np.ndarray] | None] = {}

    def _new_buffer(self) -> _EpochBuffer:
        return _EpochBuffer(fingerprints=[] if self._fingerprints else None, features=[] if self._features else None)

    @property
    def spec(self) -> LabelSpec:
        return self._spec

    @property
    def batches(self) -> int:
        """Batches recorded in the current epoch."""
        return len(self._epochs[-1].labels)

    @property
    def samples(self) -> int:
        """Samples recorded in the current epoch."""
        return self._epochs[-1].samples

    @property
    def epochs(self) -> int:
        """Epochs begun so far (an epoch with no batch yet counts)."""
        return len(self._epochs)

    def add(self, batch: object) -> None:
        """Record one batch: its labels (or, without one, its input sketches), metadata columns, and
        its fingerprints / inputs when asked for."""
        buffer = self._epochs[-1]
        index = len(buffer.labels)
        labels, inputs = self._read_labels(batch, index)
        self._check_counts(labels, inputs, index)
        first_epoch = len(self._epochs) == 1
        if first_epoch:
            self._record_signals(batch, inputs, labels.size, index)
        want_inputs = self._keep_inputs and first_epoch
        if want_inputs:
            buffer.inputs.append(inputs)
        if buffer.fingerprints is not None or buffer.features is not None:
            # an array or tensor is read (to numpy) once for both; anything else is handed on as it is
            array = _quietly(input_array, inputs) if inputs is not None else None
            source = inputs if array is None else array
            if _deferrable(array, labels.size, summaries=buffer.features is not None):
                buffer.defer(array, index)  # type: ignore[arg-type]  # hashed and summarised with its neighbours
            else:
                self._flush(buffer)  # what is pending comes first
                self._summarise(buffer, source, labels.size, index)
                self._fingerprint(buffer, source, labels.size, index)
        buffer.labels.append(labels)
        buffer.samples += labels.size

    def _summarise(self, buffer: _EpochBuffer, inputs: object, n: int, index: int) -> None:
        """Summarise one batch's inputs now (those :func:`_deferrable` refuses)."""
        if buffer.features is None:
            return
        summary = _quietly(feature_summaries, inputs, n) if n else np.empty((0, len(FEATURE_NAMES)))
        if summary is None:
            buffer.features = None
            self._note(f"input summaries skipped (batch {index}): the inputs are not numeric arrays "
                       "with one row per label; the input-drift check needs them")
        else:
            buffer.features.append(summary)

    def _fingerprint(self, buffer: _EpochBuffer, inputs: object, n: int, index: int) -> None:
        """Hash one batch's inputs now (those :func:`_deferrable` refuses: lists, large rows, odd shapes)."""
        if buffer.fingerprints is None:
            return
        hashes, reason = _quietly(fingerprint, inputs, n) or (None, "the inputs could not be read as bytes "
                                                                "(e.g. tensors on the meta device)")
        if hashes is None:
            buffer.fingerprints = None
            self._note(f"sample fingerprints skipped: {reason} (batch {index}); the duplicates "
                       "and cross-epoch checks need them")
        else:
            buffer.fingerprints.append(hashes)

    # ------------------------------------------------------------------ labels, or none
    def _read_labels(self, batch: object, index: int) -> tuple[np.ndarray, object]:
        """One label per sample (zeros for a label-free feed) and the batch's inputs."""
        if self._mode == "free":
            inputs = self._inputs(batch)
            return self._free_labels(index, inputs), inputs
        try:
            raw, where = self._spec.locate(batch, index)
        except LabelError as exc:
            if self._mode is None and self._spec.mode == "auto":
                return self._go_free(batch, index, exc, targets.Kind.NONE, "no label field was found")
            raise
        inputs = self._inputs(batch)
        reduced = targets.reduce_structured(raw, inputs)
        if reduced is not None and reduced.kind == targets.Kind.TOKENS:
            if self._mode is None:
                return self._go_free(batch, index, None, targets.Kind.TOKENS, targets.DESCRIPTIONS[targets.Kind.TOKENS])
            raise LabelError(f"the labels of batch {index} ({where}) are per-token sequences, while batch 0 gave "
                             "one label per sample; every batch must carry its labels in one form")
        if reduced is not None:
            labels, kind = reduced.values, reduced.kind
        else:
            try:
                labels = to_label_array(raw, index)
            except LabelError as exc:
                if self._mode is None and self._spec.mode == "auto" and _several_values(raw):
                    shape = tuple(raw.shape)  # type: ignore[attr-defined]
                    return self._go_free(batch, index, exc, targets.Kind.NONE,
                                         f"{where} holds arrays of shape {shape}, not one label per sample")
                raise
            kind = targets.Kind.CLASS
            if self._target_kind == targets.Kind.MULTI_LABEL and getattr(raw, "ndim", 0) == 2:
                kind = targets.Kind.MULTI_LABEL  # a batch whose rows happen to be one-hot: its lead labels
        if self._mode is None:
            self._mode, self._target_kind = "label", kind
            self._notes.append(f"labels read from {where}")
            if kind in targets.DESCRIPTIONS:
                self._notes.append(targets.DESCRIPTIONS[kind])
            elif getattr(raw, "ndim", None) == 2 and raw.shape[1] > 1:  # type: ignore[attr-defined]
                self._notes.append("label rows are one-hot or probabilities, read as their argmax")
        elif kind == targets.Kind.MULTI_LABEL and self._target_kind == targets.Kind.CLASS and getattr(raw, "ndim", 0) == 2:
            self._target_kind = kind  # one-hot rows so far were lead labels already (argmax = first label)
            self._note(targets.DESCRIPTIONS[kind])
        elif kind != self._target_kind and {kind, self._target_kind} != {targets.Kind.CLASS, targets.Kind.MULTI_LABEL}:
            raise LabelError(f"the labels of batch {index} ({where}) are {kind} targets, while batch 0 gave "
                             f"{self._target_kind} targets; every batch must carry its labels in one form")
        return labels, inputs

    def _check_counts(self, labels: np.ndarray, inputs: object, index: int) -> None:
        """Labels must be one per input: a mismatch is an error naming both counts.

        One label for several input rows is read as one sample (iterating a dataset sample by
        sample gives a scalar label and an unbatched input), said once in the notes.
        """
        rows = _count(inputs)
        if rows is None or rows == labels.size or self._mode == "free":
            return
        if labels.size == 1:
            self._note("each batch gave one label for an input of several rows: each batch is read as one sample "
                       "(an unbatched dataset iterated directly); if a batch holds several samples, its labels are "
                       "not one per sample: pass --label")
            return
        raise LabelError(
            f"batch {index} has {labels.size} labels for {rows} inputs: loadercheck needs one label per input "
            "sample. The label field may be a per-batch value or a different field; pass --label to name the "
            "per-sample labels (or a module:function returning one label per sample)."
        )

    def _inputs(self, batch: object) -> object:
        inputs = self._spec.extract_inputs(batch)
        if inputs is None and (isinstance(batch, np.ndarray) or is_tensor(batch)):
            return batch  # a bare tensor or array: the batch is its inputs
        return inputs

    def _go_free(self, batch: object, index: int, error: LabelError | None, kind: str,
                 why: str) -> tuple[np.ndarray, object]:
        """Switch to a label-free reading of the feed (its inputs and metadata carry the order)."""
        inputs = self._inputs(batch)
        if _count(inputs) is None:
            if error is not None:
                raise LabelError(f"{error} Nor does it hold inputs loadercheck can read (an array, a tensor or "
                                 "token ids) to judge a feed without labels on.") from error
            raise LabelError(f"batch {index} has per-token labels but no token inputs loadercheck can read; "
                             "pass --label module:function returning one label per sample")
        self._mode, self._target_kind = "free", kind
        self._notes.append(f"{why}: the feed is judged on its inputs (the input-order and length-order checks) "
                           "and on any metadata column")
        return self._free_labels(index, inputs), inputs

    def _free_labels(self, index: int, inputs: object) -> np.ndarray:
        n = _count(inputs)
        if n is None:
            raise LabelError(f"batch {index} holds no inputs loadercheck can read, while batch 0 did; every batch "
                             "must have the same structure")
        return np.zeros(n, dtype=np.int64)

    def _record_signals(self, batch: object, inputs: object, n: int, index: int) -> None:
        """First epoch: input sketches (label-free feeds) and metadata columns, one value per sample."""
        if self._mode == "free" and self._sketches is not None and n:
            mask = batch.get("attention_mask") if isinstance(batch, Mapping) else None
            found = _quietly(sketch.input_sketches, inputs, n, mask)
            if found is None:
                self._sketches = self._lengths = None
                self._note(f"input sketches skipped (batch {index}): the inputs are neither numeric arrays nor token "
                           "sequences with one row per sample; the input-order check needs them")
            else:
                self._sketches.append(found[0])
                if self._lengths is not None and found[1] is not None:
                    self._lengths.append(found[1])
                else:
                    self._lengths = None
        for key, values in _metadata_columns(batch, self._spec).items():
            parts = self._metadata.setdefault(key, [] if index == 0 else None)
            if parts is None:
                continue
            try:
                array = to_label_array(values, index)
            except LabelError:
                array = None
            if array is None or array.size != n or array.dtype.kind == "f":
                self._metadata[key] = None
                continue
            parts.append(array)

    def _signals(self, samples: int) -> tuple[Signal, ...]:
        """The order signals besides the label, fitted on the first epoch's samples as a multiset."""
        out: list[Signal] = []
        if self._mode == "free" and self._sketches:
            sketches = np.concatenate(self._sketches)
            if self._lengths:  # token histograms: scaled by the set's bucket shares
                sketches = sketch.standardize_shares(sketches)
            if sketches.shape[0] == samples:
                codes = sketch.cluster_codes(sketches)
                what = "token histograms" if self._lengths else "input values"
                out.append(Signal(INPUT_ORDER, "input cluster", codes, LabelKind.CATEGORICAL,
                                  classes=tuple(range(int(codes.max()) + 1 if codes.size else 0)),
                                  description=f"inputs sketched (random projections of their {what}) and split "
                                              f"into {np.unique(codes).size} cluster(s) fitted on the sampled set"))
        if self._mode == "free" and self._lengths:
            lengths = np.concatenate(self._lengths)
            if lengths.size == samples and np.unique(lengths).size > 1:
                out.append(Signal(LENGTH_ORDER, "sequence length", lengths.astype(np.float64), LabelKind.CONTINUOUS,
                                  description="sequence lengths (tokens the attention mask keeps)"))
        for key, parts in self._metadata.items():
            if not parts:
                continue
            values = np.concatenate(parts)
            if values.size != samples:
                continue
            table, codes = np.unique(values, return_inverse=True)
            if not 2 <= table.size <= min(METADATA_MAX_VALUES, max(2, samples // 2)):
                continue
            out.append(Signal(METADATA_ORDER, str(key), codes.astype(np.int64).ravel(), LabelKind.CATEGORICAL,
                              classes=tuple(table.tolist()),
                              description=f"metadata column {key!r} ({table.size} values) tested as an order signal"))
        return tuple(out)

    def new_epoch(self) -> None:
        """Start recording a new pass (no-op while the current one is still empty)."""
        if self._epochs[-1].labels:
            self._flush(self._epochs[-1])
            self._epochs.append(self._new_buffer())

    def _flush(self, buffer: _EpochBuffer) -> None:
        note = buffer.flush()
        if note is not None:
            self._note(note)

    def finish(
        self,
        loader: LoaderInfo,
        notes: Sequence[str] = (),
        seconds: float = 0.0,
        dataset_labels: np.ndarray | None = None,
    ) -> Stream:
        """Encode what was recorded as a :class:`~loadercheck.results.Stream`.

        Categorical labels become int64 codes into ``classes`` (``np.unique`` of every value seen,
        as Python values); floating labels with more than 20 distinct values, not all integral,
        become float64 continuous targets. ``dataset_labels`` (the dataset's label metadata, as
        from :func:`~loadercheck.labels.to_label_array`) are coded in the same space when they are
        compatible with the stream, and dropped with a note when not.

        Raises
        ------
        LoaderError
            Nothing (or no sample) was recorded.
        LabelError
            Label types change along the stream (e.g. ints in one batch, strings in another).
        """
        for buffer in self._epochs:
            self._flush(buffer)
        notes_out = list(self._notes)
        epochs = [e for e in self._epochs if e.labels]
        if not epochs or epochs[0].samples == 0:
            seen = f"{len(epochs[0].labels)} batches but no samples" if epochs else "no batches"
            raise LoaderError(
                f"the loader yielded {seen}, so there is nothing to check. Check that the dataset "
                "is not empty (and, with drop_last=True, that it holds at least one full batch)."
            )
        if len(epochs) > 1 and any(e.samples == 0 for e in epochs[1:]):
            notes_out.append("a later pass yielded no samples and was left out")
            epochs = [epochs[0], *[e for e in epochs[1:] if e.samples]]
        values, family = _concatenate([lab for e in epochs for lab in e.labels])
        kind = LabelKind.NONE if self._mode == "free" else label_kind(values)
        if kind is LabelKind.NONE:
            dataset_labels = None
        reference, note = _align_dataset_labels(dataset_labels, values, family, kind)
        if note:
            notes_out.append(note)
        if kind is LabelKind.CONTINUOUS:
            coded = values.astype(np.float64)
            classes: tuple[Any, ...] = ()
            reference_coded = None if reference is None else reference.astype(np.float64)
        elif kind is LabelKind.NONE:
            coded, classes, reference_coded = values.astype(np.int64), (), None
        else:
            table, coded, reference_coded = _code_values(values, reference)
            classes = tuple(table.tolist())
        out_epochs = []
        start = 0
        for e in epochs:
            sizes = np.array([lab.size for lab in e.labels], dtype=np.int64)
            prints = np.concatenate(e.fingerprints) if e.fingerprints else None
            feats = np.concatenate(e.features) if e.features else None
            labels = coded[start : start + e.samples]
            out_epochs.append(Epoch(labels=labels, batch_sizes=sizes, fingerprints=prints, features=feats))
            start += e.samples
        for extra in notes:
            if extra not in notes_out:
                notes_out.append(extra)
        return Stream(
            epochs=tuple(out_epochs),
            kind=kind,
            classes=classes,
            loader=loader,
            notes=tuple(notes_out),
            inputs=list(self._epochs[0].inputs) if self._keep_inputs else None,
            seconds=float(seconds),
            dataset_labels=reference_coded,
            target_kind=self._target_kind,
            signals=self._signals(epochs[0].samples),
        )

    def _note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)


def _quietly(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, or None when the inputs cannot be read (a meta-device tensor, an odd dtype):
    what is derived from inputs is optional and is then skipped with a note, never a crash."""
    try:
        return function(*args)
    except Exception:  # noqa: BLE001 - optional summaries of inputs we do not understand
        return None


def _deferrable(array: np.ndarray | None, n: int, *, summaries: bool = False) -> bool:
    """Inputs whose fingerprints (and, with ``summaries``, input summaries) can wait: an array with one
    small row per label (see ``_DEFER_ROW_BYTES``); for summaries, a non-empty row of numbers, which
    :func:`feature_summaries` always summarises."""
    if array is None or array.ndim < 1 or array.shape[0] != n or n == 0:
        return False
    if summaries and (array.dtype.kind not in "biuf" or array.size == 0):
        return False
    return array.nbytes <= _DEFER_ROW_BYTES * n


def _code_values(values: np.ndarray,
                 reference: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(table, codes, reference_codes)``: the sorted distinct values of ``values`` and ``reference``
    together, and each value's position in it (``np.unique`` then ``np.searchsorted``).

    Integer and bool labels spanning a small range are coded through a lookup table (two passes,
    no sort); they give the same table and codes.
    """
    parts = [values] if reference is None else [values, reference]
    small = (values.dtype.kind in "biu" and all(p.dtype == values.dtype for p in parts)
             and not (values.dtype.kind == "u" and values.dtype.itemsize == 8))
    if small and values.size:
        lo = min(int(p.min()) for p in parts if p.size)
        hi = max(int(p.max()) for p in parts if p.size)
        small = hi - lo <= 4 * sum(p.size for p in parts) + 1024
    if not small or not values.size:
        table = np.unique(values if reference is None else np.concatenate([values, reference]))
        coded = np.searchsorted(table, values).astype(np.int64)
        return table, coded, None if reference is None else np.searchsorted(table, reference).astype(np.int64)
    offsets = [p.astype(np.int64) - lo for p in parts]  # bool and narrow ints widen exactly
    present = np.zeros(hi - lo + 1, dtype=bool)
    for off in offsets:
        present[off] = True
    table = (np.flatnonzero(present) + lo).astype(values.dtype)
    lookup = np.cumsum(present, dtype=np.int64) - 1  # position of each present value in the table
    coded = lookup[offsets[0]]
    return table, coded, None if reference is None else lookup[offsets[1]]


def _several_values(raw: object) -> bool:
    """An array with several numeric values per sample (not a label column): inputs, views, embeddings."""
    array = sketch.to_numpy(raw)
    return array is not None and array.ndim >= 2 and int(np.prod(array.shape[1:])) > 1


def _count(inputs: object) -> int | None:
    """Samples in a batch's inputs (rows of an array, items of a list), or None when unreadable."""
    if isinstance(inputs, np.ndarray) or is_tensor(inputs):
        shape = tuple(inputs.shape)  # type: ignore[union-attr]
        return int(shape[0]) if shape else None
    if isinstance(inputs, (list, tuple)) and inputs:
        return len(inputs)
    return None


def _metadata_columns(batch: object, spec: LabelSpec) -> dict[str, object]:
    """Categorical metadata fields (:data:`~loadercheck.labels.METADATA_KEYS`) of a batch, by key."""
    label_key = spec.path[0] if spec.mode == "path" and len(spec.path) == 1 else None
    if isinstance(batch, Mapping):
        return {k: batch[k] for k in METADATA_KEYS if k in batch and k != label_key}
    if isinstance(batch, (list, tuple)) and batch and all(isinstance(x, Mapping) for x in batch):
        return {k: [x[k] for x in batch] for k in METADATA_KEYS
                if k != label_key and all(k in x for x in batch)}
    return {}


def _family(array: np.ndarray) -> str:
    return {"U": "string", "b": "bool"}.get(array.dtype.kind, "number")


def _concatenate(labels: list[np.ndarray]) -> tuple[np.ndarray, str]:
    first_of: dict[str, int] = {}
    for i, lab in enumerate(labels):
        if lab.size:
            first_of.setdefault(_family(lab), i)
    if len(first_of) > 1:
        seen = ", ".join(f"batch {i} has {fam} labels" for fam, i in first_of.items())
        raise LabelError(
            f"the labels change type along the stream ({seen}); every batch must give labels of "
            "one type. Fix the label transform, or pass --label module:function returning labels "
            "of one type."
        )
    family = next(iter(first_of), "number")
    nonempty = [lab for lab in labels if lab.size] or labels
    return np.concatenate(nonempty), family


def label_kind(values: np.ndarray) -> LabelKind:
    if values.dtype.kind != "f":
        return LabelKind.CATEGORICAL
    if np.all(values == np.round(values)):
        return LabelKind.CATEGORICAL
    distinct = np.unique(values).size
    return LabelKind.CONTINUOUS if distinct > CONTINUOUS_MIN_DISTINCT else LabelKind.CATEGORICAL


def _align_dataset_labels(
    reference: np.ndarray | None, values: np.ndarray, family: str, kind: LabelKind
) -> tuple[np.ndarray | None, str | None]:
    """Cast the dataset's label metadata to the stream's dtype, or drop it with a reason."""
    if reference is None:
        return None, None
    mismatch = "the dataset's label metadata does not match the labels the loader yields ({}); it is not used"
    if reference.size == 0:
        return None, None
    if _family(reference) != family:
        return None, mismatch.format(f"{_family(reference)} values, the loader gives {family} values")
    if family == "number" and reference.dtype != values.dtype:
        cast = reference.astype(values.dtype)
        if not np.array_equal(cast, reference):
            return None, mismatch.format(f"{reference.dtype} values, the loader gives {values.dtype}")
        reference = cast
    if kind is LabelKind.CONTINUOUS:
        inside = np.isin(values.astype(np.float32), reference.astype(np.float32))
    else:
        inside = np.isin(values, reference)
    if not inside.all():
        return None, mismatch.format(f"the loader gives {values[~inside][0]!r}, which it lacks")
    return reference, None


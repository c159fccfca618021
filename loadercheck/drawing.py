"""Drawing a bounded sample of batches from a user's loader: the only code that iterates one.

:func:`draw` pulls batches (optionally in a daemon thread, so that a hanging loader can be
abandoned at ``timeout``), records them with a :class:`~loadercheck.recording.StreamRecorder` and
returns a :class:`~loadercheck.results.Stream`. What a loader is and how its library shuffles is
read by :mod:`loadercheck.adapters`, never here. torch is never imported here: a torch object can
only reach us when the user's code imported torch already.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import adapters
from .errors import LabelError, LoaderError
from .recording import StreamRecorder
from .results import LabelKind, LoaderInfo, Stream
from .rng import preserved_rng

__all__ = ["DEFAULT_BATCHES", "EXAMPLE_BATCH", "ExampleBatches", "collate_examples", "draw", "looks_batched"]

DEFAULT_BATCHES = 500
"""Batches drawn per epoch when ``batches`` is not given (one epoch, capped)."""
EXAMPLE_BATCH = 32
"""Batch size the checks assume for a loader that yields single examples, when none is given."""


class ExampleBatches:
    """A view of an example-level iterable (a Hugging Face or torch dataset iterated directly) as
    batches: consecutive examples grouped, in order, into batches of ``size`` (the last may be
    short). Examples are passed through untouched: dicts become a dict of per-key lists, tuples a
    tuple of per-position lists, anything else a list. A dataset whose items already are batches
    (``ds.batch(32)``, a Dataset of batches) is passed through as it is: ``grouped`` says which,
    once the first item was seen."""

    def __init__(self, examples: object, size: int) -> None:
        self._examples = examples
        self._size = size
        self._groups: Any = None
        self.grouped: bool | None = None

    def __iter__(self) -> Any:
        cls = type(self._examples)
        if not hasattr(cls, "__iter__") and hasattr(cls, "__len__"):  # a map-style dataset: indices 0..len-1,
            inner = (self._examples[i] for i in range(len(self._examples)))  # as a sampler reads it  # type: ignore
        else:
            inner = iter(self._examples)  # type: ignore[call-overload]
        groups = self._batches(inner)
        if inner is self._examples:  # a one-shot iterator stays one-shot
            self._groups = groups
            return self
        return groups

    def __next__(self) -> Any:
        return next(self._groups)

    def _batches(self, items: Any) -> Any:
        for first in items:
            if self.grouped is None:
                self.grouped = not looks_batched(first)
            rest = itertools.chain([first], items)
            yield from (_grouped(rest, self._size) if self.grouped else rest)
            return


def looks_batched(item: object) -> bool:
    """Does one item of an example-level dataset already hold a batch? Yes when it has two or more
    fields, all of one leading length above 1, and some field holds rows (a 2-D array, strings, or
    lists): a batch of samples. An example's fields are scalars, or sequences of numbers (token
    ids, a multi-hot row, an image's channels) whose lengths need not agree."""
    if isinstance(item, Mapping):
        fields = list(item.values())
    elif isinstance(item, (tuple, list)):
        fields = list(item)
    else:
        return False
    if len(fields) < 2:
        return False
    lengths = {_leading_length(f) for f in fields}
    if None in lengths or len(lengths) != 1 or lengths.pop() < 2:  # type: ignore[operator]
        return False
    return any(_holds_rows(f) for f in fields)


def _leading_length(value: object) -> int | None:
    if isinstance(value, (str, bytes)):
        return None
    shape = getattr(value, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else None
    if isinstance(value, (list, tuple)):
        return len(value)
    return None


def _holds_rows(value: object) -> bool:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return len(shape) >= 2
    if isinstance(value, (list, tuple)) and value:
        first = value[0]
        return isinstance(first, (str, bytes, list, tuple)) or len(getattr(first, "shape", ()) or ()) >= 1
    return False


def _grouped(examples: Any, size: int) -> Any:
    group: list[Any] = []
    for example in examples:
        group.append(example)
        if len(group) == size:
            yield collate_examples(group)
            group = []
    if group:
        yield collate_examples(group)


def collate_examples(examples: list[Any]) -> Any:
    """Examples -> one batch, without copying or converting a value (see :class:`ExampleBatches`)."""
    first = examples[0]
    if isinstance(first, Mapping) and all(isinstance(e, Mapping) and e.keys() == first.keys() for e in examples):
        return {key: [e[key] for e in examples] for key in first}
    if isinstance(first, tuple) and all(isinstance(e, tuple) and len(e) == len(first) for e in examples):
        return tuple(list(column) for column in zip(*examples))
    return list(examples)


# ---------------------------------------------------------------------- drawing
class _TimedOut(Exception):
    pass


class _Stalled(_TimedOut):
    """No reply within the stall limit (before the overall deadline)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


_END = object()


_THREAD_NAME = "loadercheck-draw"
_CLOSE_WAIT = 30.0  # seconds a stopping draw thread gets to release the loader (its workers)


class _Puller:
    """Calls ``iter``/``next`` on the user's loader, here or (``threaded``) in a daemon thread.

    With a thread, each request waits at most until the deadline; a loader that hangs is then
    abandoned (the thread is a daemon and exits once the loader returns).
    """

    def __init__(self, loader: object, threaded: bool, stall: float | None = None) -> None:
        self._loader = loader
        self._stall = stall
        self._iterator: Any = None
        self._thread: threading.Thread | None = None
        self._abandoned = False  # a request outlived its wait: the thread is still in the loader
        if threaded:
            self._requests: queue.SimpleQueue[str] = queue.SimpleQueue()
            self._replies: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._serve, name=_THREAD_NAME, daemon=True)
            self._thread.start()

    def _do(self, command: str) -> Any:
        if command == "iter":
            self._iterator = iter(self._loader)  # type: ignore[call-overload]
            return self._iterator is self._loader
        if command == "next":
            try:
                return next(self._iterator)
            except StopIteration:
                return _END
        self._iterator = None  # "release": lets a DataLoader shut its workers down
        return None

    def _serve(self) -> None:
        while True:
            command = self._requests.get()
            if command == "stop":
                self._iterator = None
                return
            try:
                reply = (True, self._do(command))
            except BaseException as exc:  # handed to the caller, which decides
                reply = (False, exc)
            self._replies.put(reply)

    def call(self, command: str, deadline: float | None) -> Any:
        """Run ``command``; re-raise what the loader raised; ``_TimedOut`` past the deadline."""
        if self._thread is None:
            return self._do(command)
        self._requests.put(command)
        now = time.monotonic()
        wait = None if deadline is None else max(0.0, deadline - now)
        stalls = self._stall is not None and (wait is None or self._stall < wait)
        if stalls:
            wait = self._stall
        try:
            ok, value = self._replies.get(timeout=wait)
        except queue.Empty:
            self._abandoned = True
            if stalls:
                raise _Stalled("waiting for the first batch of a pass" if command == "iter"
                               else "waiting for the next batch") from None
            raise _TimedOut from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Drop the iterator; with a thread, stop it and wait (bounded) until it has ended.

        The wait matters: a daemon thread still inside torch's C++ code when the interpreter
        exits is torn down there, and the process aborts ("terminate called without an active
        exception") instead of exiting with its code.
        """
        if self._thread is None:
            self._iterator = None
        else:
            self._requests.put("stop")
            if not self._abandoned:
                self._thread.join(timeout=_CLOSE_WAIT)


def draw_threads_alive() -> bool:
    """Whether a loader abandoned by ``--stall``/``--timeout`` is still running in its thread."""
    return any(t.name == _THREAD_NAME and t.is_alive() for t in threading.enumerate())


def draw(
    loader: object,
    *,
    label: Any = None,
    batches: int | None = None,
    max_samples: int | None = None,
    timeout: float | None = None,
    stall: float | None = None,
    epochs: int = 2,
    keep_inputs: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    from_sampler: bool | None = None,
    labels: Any = None,
    features: bool = True,
    rank_views: bool = True,
    batch_size: int | None = None,
) -> Stream:
    """Draw a bounded sample of batches from ``loader`` and record the label stream.

    Drawing advances the loader like training would: a one-shot generator or iterator loses the
    batches drawn, and a sampler with its own state (a seeded ``torch.Generator``, a
    ``DistributedSampler`` epoch, a resumable stream) moves on. The global RNGs (``random``,
    numpy, and torch when it is imported) are restored afterwards, so a DataLoader checked before
    training gives the training run the same first epoch it would have had unchecked.

    Parameters
    ----------
    loader : iterable
        A DataLoader, an iterable dataset, a list of batches, a generator, ...
    label : str, int, callable or None
        Where the labels are (see :meth:`loadercheck.labels.LabelSpec.parse`); None auto-detects.
    batches : int, optional
        Batches per epoch. Default: one epoch capped at :data:`DEFAULT_BATCHES`.
    max_samples : int, optional
        Stop an epoch once this many samples are drawn (the batch that crosses it is kept whole).
    timeout : float, optional
        Seconds for the whole draw. The loader then runs in a daemon thread; when time is up,
        drawing stops and what was drawn is kept (with a note). Without it the loader runs in the
        calling thread.
    stall : float, optional
        Seconds the loader may take to yield one batch (or to start a pass). Past them drawing
        stops with a :class:`LoaderError` naming ``--stall``. Runs the loader in a daemon thread.
    epochs : int
        Passes to draw (default 2); passes after the first only when ``iter(loader) is not loader``.
    keep_inputs : bool
        Keep references to the first epoch's batch inputs (``Stream.inputs``) for the probe.
    progress : callable, optional
        ``progress(batches_drawn, total_or_None)`` after each batch.
    from_sampler : bool or None
        Whole-epoch index analysis (:mod:`loadercheck.epoch_index`) for a map-style DataLoader whose
        dataset exposes its labels (or with ``labels``): True reads the order of whole epochs from
        the batch sampler and loads no sample; None (default) does so only when the prefix drawn
        within the default budget (no ``batches``/``max_samples`` given) holds a single class
        (SPEC §2 prefix caveat) and the order can be read; False never.
    labels : array-like, optional
        One label per dataset index, for ``from_sampler`` when the dataset has no label metadata.
    features : bool
        Record per-sample input summaries for ``input-drift`` (default True).
    batch_size : int, optional
        For a loader that yields single examples (a Hugging Face or torch dataset passed directly):
        group them, in order, into batches of this size (default :data:`EXAMPLE_BATCH`).
    rank_views : bool
        For a distributed sampler (``num_replicas``/``rank``), build its rank views at several
        world sizes for ``rank-coverage`` (indices only; default True).

    Returns
    -------
    Stream

    Raises
    ------
    LoaderError
        ``loader`` is not iterable, raised while iterating, was empty, or produced no batch
        within ``timeout``.
    LabelError
        No labels in a batch, or unusable labels.
    """
    for name, value in (("batches", batches), ("max_samples", max_samples)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    for name, value in (("timeout", timeout), ("stall", stall)):
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not adapters.is_iterable(loader):
        raise LoaderError(
            f"the target is a {type(loader).__module__}.{type(loader).__qualname__}, which is not "
            "iterable. loadercheck expects the training loader itself: a torch DataLoader, an "
            "iterable dataset, a generator or any iterable of batches (or a zero-argument function "
            "returning one)."
        )
    if from_sampler not in (None, True, False):
        raise ValueError(f"from_sampler must be True, False or None (automatic), got {from_sampler!r}")
    if labels is not None and from_sampler is False:
        raise ValueError("labels= gives the labels of a whole-epoch index analysis; it needs from_sampler True or None")
    if labels is not None:
        from_sampler = True
    if from_sampler:
        from .epoch_index import order_unreadable

        reason = order_unreadable(loader)
        if reason is not None:
            raise LoaderError(f"whole-epoch index analysis (from_sampler / labels=) needs a map-style DataLoader: {reason}")
        return _finish_extras(loader, _sampler_stream(loader, labels, label, batches, epochs), rank_views)
    recorder = StreamRecorder(label, keep_inputs=keep_inputs, features=features)
    info = adapters.describe_loader(loader)
    epoch_before = adapters.set_epoch_state(loader)
    cap = batches if batches is not None else DEFAULT_BATCHES
    length = adapters.length(loader) if info.reiterable else None
    notes: list[str] = []
    source: object = loader
    examples: ExampleBatches | None = None
    if info.example_level:
        size = batch_size or EXAMPLE_BATCH
        source = examples = ExampleBatches(loader, size)
        length = None
    total = _planned_total(length, cap, batches is not None, max_samples, info, epochs)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    puller = _Puller(source, threaded=timeout is not None or stall is not None, stall=stall)
    drawn = 0
    reiterable = info.reiterable

    def advance() -> None:
        nonlocal drawn
        drawn += 1
        if progress is not None:
            progress(drawn, total)

    with preserved_rng():
        try:
            for epoch in range(epochs):
                if epoch:
                    if not reiterable:
                        notes.append(
                            "the loader is a one-shot iterator (iter(loader) is loader): one pass "
                            "was drawn, so the cross-epoch checks cannot run"
                        )
                        break
                    recorder.new_epoch()
                stop = _draw_epoch(puller, recorder, epoch, cap, max_samples, deadline, advance)
                if epoch == 0:
                    reiterable = stop.reiterable
                    if stop.reason is None:  # the whole pass was drawn: its size is the data's
                        info = dataclasses.replace(info, epoch_samples=recorder.samples)
                if stop.reason and epoch == 0:
                    notes.append(_budget_note(stop.reason, cap, batches, max_samples, length))
        except _Stalled as stalled:
            raise LoaderError(
                f"the loader yielded no batch for {stall:g} s ({stalled.what}; {drawn} batches drawn so far), so "
                "loadercheck gave up (--stall). It may be waiting on data, a lock or its worker processes: try "
                "next(iter(loader)) by hand and num_workers=0, raise --stall for a slow loader, or set --timeout "
                "to report on what was drawn in a fixed time."
            ) from None
        except _TimedOut:
            if drawn == 0:
                raise LoaderError(
                    f"the loader produced no batch within {timeout:g} s (--timeout). It may be "
                    "waiting on data, a lock or its worker processes. Try it by hand "
                    "(next(iter(loader))), try num_workers=0, or raise --timeout."
                ) from None
            partial = " (the last pass is partial)" if recorder.epochs > 1 and recorder.batches else ""
            notes.append(f"stopped after {timeout:.1f} s (--timeout) with {drawn} batches drawn{partial}")
        finally:
            puller.close()
    seconds = time.monotonic() - started
    info = dataclasses.replace(info, reiterable=reiterable)
    if examples is not None:
        info = _examples_read(info, examples, batch_size, notes)
    if epoch_before is not None and recorder.epochs > 1:
        info = dataclasses.replace(info, epoch_changed=adapters.set_epoch_state(loader) != epoch_before)
    reference = adapters.dataset_label_values(loader, recorder.spec)
    stream = recorder.finish(info, notes=notes, seconds=seconds, dataset_labels=reference)
    if from_sampler is None and batches is None and max_samples is None and _single_class(stream):
        from .epoch_index import order_unreadable, with_sampler_order

        if order_unreadable(loader) is None and reference is not None:
            with contextlib.suppress(LoaderError, LabelError):
                stream = with_sampler_order(stream, loader, label=recorder.spec)
                stream = dataclasses.replace(stream, notes=(*stream.notes, (
                    "the sampled prefix held a single class, so whole epochs were analysed from the sampler's "
                    "order instead (--from-sampler)")))
    return _finish_extras(loader, stream, rank_views)


def _examples_read(info: LoaderInfo, examples: ExampleBatches, batch_size: int | None, notes: list[str]) -> LoaderInfo:
    """Say how an example-level dataset was read: grouped into batches, or its items already batches."""
    if examples.grouped is None:
        return info
    if not examples.grouped:
        notes.append(f"the {info.type_name}'s items already hold batches: each item was read as one batch")
        return dataclasses.replace(info, example_level=False)
    size = batch_size or EXAMPLE_BATCH
    how = "--batch-size" if batch_size else "the default; pass --batch-size (batch_size=) to use your training batch size"
    notes.insert(0, f"the {info.type_name} yields single examples: they were grouped in order into batches of "
                    f"{size} ({how})")
    return dataclasses.replace(info, batch_size=size)


def _single_class(stream: Stream) -> bool:
    labels = stream.labels  # fewer than two distinct codes, without sorting (or hashing) them
    return stream.kind is LabelKind.CATEGORICAL and (labels.size == 0 or labels.min() == labels.max())


def _sampler_stream(loader: object, labels: Any, label: Any, batches: int | None, epochs: int,
                    info: LoaderInfo | None = None, notes: tuple[str, ...] = ()) -> Stream:
    from .epoch_index import sampler_stream

    info = info if info is not None else adapters.describe_loader(loader)
    before = adapters.set_epoch_state(loader)
    stream = sampler_stream(loader, labels=labels, label=label, epochs=epochs, max_batches=batches,
                            info=info, notes=notes)
    if before is not None and len(stream.epochs) > 1:
        stream = dataclasses.replace(stream, loader=dataclasses.replace(
            stream.loader, epoch_changed=adapters.set_epoch_state(loader) != before))
    return stream


def _finish_extras(loader: object, stream: Stream, rank_views: bool) -> Stream:
    """Add what the forensics checks read from the loader object besides the stream itself."""
    probs = adapters.sampler_probabilities(loader)
    if probs is not None:
        stream = dataclasses.replace(stream, sampler_probabilities=probs)
    if rank_views and stream.loader.num_replicas is not None:
        with contextlib.suppress(Exception):
            from .distributed import sampler_rank_views

            views = sampler_rank_views(loader, stream)
            if views is not None:
                stream = dataclasses.replace(stream, ranks=views)
    return stream


@dataclasses.dataclass
class _EpochStop:
    reiterable: bool
    reason: str | None  # "batches", "samples" or None (the pass ended)


def _draw_epoch(
    puller: _Puller,
    recorder: StreamRecorder,
    epoch: int,
    cap: int,
    max_samples: int | None,
    deadline: float | None,
    advance: Callable[[], None],
) -> _EpochStop:
    which = "" if epoch == 0 else f" in pass {epoch + 1}"
    try:
        is_self = puller.call("iter", deadline)
    except _TimedOut:
        raise
    except Exception as exc:
        raise LoaderError(
            f"the loader raised {type(exc).__name__} when iteration started{which}: {_short(exc)}"
        ) from exc
    reason = None
    while True:
        if recorder.batches >= cap:
            reason = "batches"
            break
        if max_samples is not None and recorder.samples >= max_samples:
            reason = "samples"
            break
        try:
            batch = puller.call("next", deadline)
        except _TimedOut:
            raise
        except Exception as exc:
            raise LoaderError(
                f"the loader raised {type(exc).__name__} after {recorder.batches} batches{which}: "
                f"{_short(exc)}"
            ) from exc
        if batch is _END:
            break
        recorder.add(batch)
        advance()
    puller.call("release", deadline)
    return _EpochStop(reiterable=not is_self, reason=reason)


def _short(exc: BaseException, limit: int = 1000) -> str:
    """The exception's message in one paragraph: a DataLoader worker's embedded traceback
    ("Caught X in DataLoader worker process N. Original Traceback ...") is cut to its last line."""
    text = str(exc).strip() or repr(exc)
    head, marker, tail = text.partition("Original Traceback (most recent call last):")
    if marker:
        last = [line.strip() for line in tail.splitlines() if line.strip()]
        text = head.strip().rstrip(".") + (f": {last[-1]}" if last else "")
    return text if len(text) <= limit else text[:limit] + " ..."


def _budget_note(
    reason: str, cap: int, batches: int | None, max_samples: int | None, length: int | None
) -> str:
    if reason == "samples":
        return (
            f"each pass stopped at {max_samples:,} samples (--max-samples); the rest of the epoch "
            "was not drawn"
        )
    of = f" of {length:,}" if length is not None else ""
    source = "--batches" if batches is not None else "the default cap; set --batches to draw more"
    return f"each pass stopped at {cap:,}{of} batches ({source})"


def _planned_total(
    length: int | None, cap: int, explicit: bool, max_samples: int | None, info: LoaderInfo, epochs: int
) -> int | None:
    if length is not None:
        per_epoch = min(cap, length)
    elif explicit:
        per_epoch = cap
    else:
        return None
    if max_samples is not None and info.batch_size:
        per_epoch = min(per_epoch, -(-max_samples // info.batch_size))
    return per_epoch * (epochs if info.reiterable else 1)


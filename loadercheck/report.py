"""Assemble a Report from a Stream and its CheckResults (no I/O, no formatting)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import __version__
from .checks import verdict
from .results import CheckResult, LabelKind, Report, Stream, StreamSummary

STRIP_CELLS = 96
"""The label strip shows at most this many cells (one per batch, or per window of batches)."""


def build_report(stream: Stream, checks: tuple[CheckResult, ...], config: Mapping[str, Any], target: str) -> Report:
    """Bundle everything a renderer needs; the verdict rule lives in :func:`loadercheck.checks.verdict`."""
    summary = StreamSummary(
        samples=stream.samples,
        batches=stream.batches,
        epochs=len(stream.epochs),
        classes=len(stream.classes) if stream.kind is LabelKind.CATEGORICAL else None,
        label_kind=stream.kind,
        batch_size=_modal(stream.batch_sizes),
        seconds=round(stream.seconds, 3),
        notes=(*stream.notes, *(sig.description for sig in stream.signals if sig.description)),
        target_kind=stream.target_kind,
        signals=tuple(f"{sig.check}: {sig.name}" for sig in stream.signals),
    )
    return Report(
        verdict=verdict([c.status for c in checks]),
        target=target,
        config=dict(config),
        stream=summary,
        loader=stream.loader,
        checks=checks,
        version=__version__,
        strip=label_strip(stream),
        class_names=tuple(str(c) for c in (stream.classes if stream.kind is not LabelKind.NONE else _strip_signal_classes(stream))),
    )


def label_strip(stream: Stream, cells: int = STRIP_CELLS) -> tuple[tuple[int, int], ...]:
    """Per cell (a batch, or a window of consecutive batches): (majority code, its share in percent).

    Continuous targets are shown by decile of the target. Empty for an empty stream.
    """
    labels = stream.labels
    if stream.kind is LabelKind.NONE:  # no label: show the first categorical signal (input clusters, a source)
        signal = next((s for s in stream.signals if s.kind is LabelKind.CATEGORICAL), None)
        if signal is None:
            return ()
        labels = signal.values
    if labels.size == 0:
        return ()
    if stream.kind is LabelKind.CONTINUOUS:
        from .stats import decile_codes

        labels = decile_codes(labels)
    bounds = np.concatenate(([0], np.cumsum(stream.batch_sizes)))
    per_cell = max(1, -(-stream.batches // cells))
    edges = bounds[::per_cell]
    if edges[-1] != bounds[-1]:
        edges = np.append(edges, bounds[-1])
    strip = []
    for start, stop in zip(edges[:-1], edges[1:]):
        if stop <= start:  # an empty batch: a mixed cell
            strip.append((0, 0))
            continue
        counts = np.bincount(labels[start:stop])
        top = int(np.argmax(counts))
        strip.append((top, int(round(100 * counts[top] / (stop - start)))))
    return tuple(strip)


def _strip_signal_classes(stream: Stream) -> tuple:
    signal = next((s for s in stream.signals if s.kind is LabelKind.CATEGORICAL), None)
    return signal.classes if signal is not None else ()


def _modal(sizes: np.ndarray) -> int | None:
    if sizes.size == 0:
        return None
    values, counts = np.unique(sizes, return_counts=True)
    return int(values[np.argmax(counts)])

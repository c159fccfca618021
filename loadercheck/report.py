"""The :class:`Report` of a run, assembled from a Stream and its CheckResults (no I/O).

The Report is the public result object: ``to_dict``/``to_json`` give the JSON document, ``print(report)``
and a notebook's ``_repr_html_`` call the renderers (which sit below this module and import only
:mod:`loadercheck.results`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._version import __version__
from .checks import verdict
from .results import CheckResult, LabelKind, LoaderInfo, Status, Stream, StreamSummary, jsonable

__all__ = ["Report", "build_report", "label_strip"]

STRIP_CELLS = 96
"""The label strip shows at most this many cells (one per batch, or per window of batches)."""



@dataclass(frozen=True)
class Report:
    """The result of :func:`loadercheck.check`: verdict, checks and what was sampled."""

    verdict: Status
    target: str
    config: Mapping[str, Any]
    stream: StreamSummary
    loader: LoaderInfo
    checks: tuple[CheckResult, ...]
    version: str
    strip: tuple[tuple[int, ...], ...] = ()
    """Label strip: per cell (batch or window) the dominant class code and its share bucket; see report.py."""
    class_names: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check failed (the CLI exits 0)."""
        return self.verdict is not Status.FAIL

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is Status.FAIL)

    @property
    def fixes(self) -> tuple[str, ...]:
        """The distinct fixes named by failing and warning checks, in check order.

        A hint reads ``"cause; fix: fix"``; a fix another check already gave (or gave with more
        detail) is listed once.
        """
        fixes: list[str] = []
        for c in self.checks:
            if not c.hint or c.status not in (Status.FAIL, Status.WARN):
                continue
            fix = c.hint.partition("; fix: ")[2]
            if fix and not any(fix in given for given in fixes):
                fixes.append(fix)
        return tuple(fixes)

    def __getitem__(self, check_id: str) -> CheckResult:
        for result in self.checks:
            if result.id == check_id:
                return result
        raise KeyError(f"no check {check_id!r} in this report; it has {[c.id for c in self.checks]}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of SPEC §5 (stable keys; new keys are only ever added)."""
        stream = asdict(self.stream)
        stream["label_kind"] = str(self.stream.label_kind)
        stream["notes"] = list(self.stream.notes)
        stream["signals"] = list(self.stream.signals)
        return {
            "loadercheck_version": self.version,
            "verdict": str(self.verdict),
            "target": self.target,
            "config": {k: jsonable(v) for k, v in self.config.items()},
            "stream": stream,
            "loader": {**asdict(self.loader), "description": self.loader.describe()},
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """``to_dict()`` as one JSON document."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __str__(self) -> str:
        """The plain-text report, as the CLI prints it (``print(report)``)."""
        from .render.text import render_text

        return render_text(self, color=False)

    def _repr_html_(self) -> str:
        """The report in a notebook: verdict, checks and fixes as an HTML fragment (no figures)."""
        from .render.html import report_fragment

        return report_fragment(self)


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

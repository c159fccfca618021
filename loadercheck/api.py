"""The Python API: ``check()`` and ``assert_well_shuffled()``; both are thin wiring over the layers."""

from __future__ import annotations

from typing import Any, Callable

from .checks import run_checks
from .options import Options
from .report import build_report
from .report import Report
from .results import Status


def check(
    loader: Any,
    *,
    target: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    **options: Any,
) -> Report:
    """Draw a bounded sample of batches from ``loader``, test its order, and return a Report.

    Parameters
    ----------
    loader : iterable
        A ``torch.utils.data.DataLoader`` (map-style or iterable), a Hugging Face or WebDataset
        pipeline, or any iterable or generator of batches. Drawing advances a stateful iterator or
        sampler exactly as a training loop would; RNG state (python, numpy, torch) is restored after.
    target : str, optional
        How to name the loader in the report (the CLI passes its TARGET).
    progress : callable, optional
        Called as ``progress(batches_drawn, total_or_None)`` while drawing.
    **options
        Any field of :class:`loadercheck.options.Options`: ``alpha`` (default 1e-3), ``seed``,
        ``ordered``, ``batches``, ``max_samples``, ``timeout``, ``label``, ``probe``, ``device``.

    Returns
    -------
    Report
        ``report.verdict`` is ``pass``, ``warn`` or ``fail``; ``report.ok`` is False only on ``fail``.
        Never prints.

    Raises
    ------
    LoaderCheckError
        When the loader cannot be read (empty, raising, hanging, no labels found, unusable labels).

    Examples
    --------
    >>> report = loadercheck.check(train_loader)          # doctest: +SKIP
    >>> report.verdict, report["batch-entropy"].message   # doctest: +SKIP
    """
    opts = Options(**options)
    return evaluate(sample(loader, opts, progress=progress), opts, target=target or type(loader).__name__)


def sample(loader: Any, options: Options, *, progress: Callable[[int, int | None], None] | None = None):
    """Draw the Stream that :func:`check` tests (the drawing layer, with the options' budgets)."""
    from .drawing import draw

    stream = draw(
        loader,
        label=options.label,
        batches=options.batches,
        max_samples=options.max_samples,
        timeout=options.timeout,
        stall=options.stall,
        keep_inputs=options.probe,
        progress=progress,
        from_sampler=options.from_sampler,
        labels=options.labels,
        batch_size=options.batch_size,
    )
    if options.distributed:
        from .distributed import gather_ranks

        stream = gather_ranks(stream)
    return stream


def evaluate(stream, options: Options, *, target: str) -> Report:
    """Run the checks (and the probe when asked) on an already recorded stream."""
    results = run_checks(stream, options)
    if options.probe:
        from .probe import run_probe

        results = (*results, run_probe(stream, options))
    return build_report(stream, results, options.to_dict(), target)


def assert_well_shuffled(loader: Any, **options: Any) -> Report:
    """Assert that ``loader``'s feed passes loadercheck; for use in a test suite.

    Raises ``AssertionError`` carrying the plain-text report (and the seed that reproduces it) when
    any check fails; returns the Report otherwise (warnings do not fail).
    """
    __tracebackhide__ = True
    report = check(loader, **options)
    if report.verdict is Status.FAIL:
        from .render.text import render_text

        raise AssertionError(
            "loader is not well shuffled:\n" + render_text(report, color=False)
            + f"\n(reproduce with seed={report.config.get('seed', 0)})"
        )
    return report

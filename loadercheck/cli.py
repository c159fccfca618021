"""The command line: parse options, resolve the target, check, render, exit (0 ok, 1 fail, 2 error).

Thin on purpose: every decision lives in the layers it calls. Heavy modules (numpy, scipy, torch)
are imported inside the command so that ``loadercheck --help`` stays fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from . import __version__

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class Format(str, Enum):
    text = "text"
    json = "json"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loadercheck {__version__}")
        raise typer.Exit(EXIT_OK)


@app.command(no_args_is_help=True)
def run(
    target: str = typer.Argument(..., metavar="TARGET", help="pkg.module:factory or path/to/file.py:factory (a zero-argument "
                                 "callable returning the loader, or the loader object itself)."),
    batches: Optional[int] = typer.Option(None, min=1, help="Batches to draw per epoch [default: one epoch, at most 500]."),
    max_samples: Optional[int] = typer.Option(None, min=1, help="Samples to draw per epoch at most."),
    timeout: Optional[float] = typer.Option(None, min=0.001, help="Stop drawing after this many seconds and report on what was drawn."),
    label: Optional[str] = typer.Option(None, help="Where the labels are: index (1), key (label), dotted path (meta.label) or module:function."),
    ordered: bool = typer.Option(False, "--ordered", help="The feed is ordered on purpose (time series, curriculum): order checks never fail."),
    probe: bool = typer.Option(False, "--probe/--no-probe", help="Also run a short probe training: feed order vs shuffled."),
    device: Device = typer.Option(Device.auto, help="Device of the probe."),
    probe_steps: Optional[int] = typer.Option(None, min=1, help="Optimiser steps of each probe run [default: one pass over the sampled batches, at most 1000]."),
    probe_seeds: int = typer.Option(3, min=1, max=100, help="Paired seeds of the probe (feed order and shuffled from the same initial weights)."),
    format: Format = typer.Option(Format.text, "--format", help="text (for people) or json (one document on stdout)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", help='Also write a self-contained HTML report with figures (needs pip install "loadercheck[plot]").'),
    from_sampler: Optional[bool] = typer.Option(None, "--from-sampler/--no-from-sampler", help="Read whole epochs' order from a map-style DataLoader's batch sampler, labels from the dataset's metadata (no sample loaded) [default: only when the sampled prefix is one class]."),
    alpha: float = typer.Option(1e-3, min=1e-12, max=0.5, help="Family-wise false-alarm rate on a shuffled feed."),
    seed: int = typer.Option(0, help="Seed of every random choice; the same seed gives the same report."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Check that a training loader's feed order is a good shuffle; exit 0 (ok), 1 (a check failed), 2 (error)."""
    from .errors import LoaderCheckError

    try:
        if html is not None:
            from .render.plots import require_matplotlib

            require_matplotlib()  # say what to install before drawing any batch
        report, stream = _check(target, label=_label(label), batches=batches, max_samples=max_samples,
                                timeout=timeout, ordered=ordered, probe=probe, device=device.value, alpha=alpha,
                                seed=seed, probe_steps=probe_steps, probe_seeds=probe_seeds,
                                from_sampler=from_sampler)
        if html is not None:
            from .render.html import render_html

            page = render_html(report, stream)
    except LoaderCheckError as exc:
        typer.echo(f"loadercheck: error: {exc}", err=True)
        if format is Format.json:  # scripts still get one JSON document where the report would go
            from .render.json import render_error

            _emit(render_error(target, str(exc)), output)
        raise typer.Exit(EXIT_ERROR)
    if html is not None:
        html.write_text(page, encoding="utf-8")
        typer.echo(f"loadercheck: HTML report written to {html}", err=True)

    if format is Format.json:
        from .render.json import render_json

        text = render_json(report)
    else:
        from .render.text import render_text

        color = output is None and sys.stdout.isatty()
        text = render_text(report, color=color, width=_width(color))
    _emit(text, output)
    if output is not None:
        typer.echo(f"loadercheck: {report.verdict.upper()} — report written to {output}", err=True)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAIL)


def _emit(text: str, output: Path | None) -> None:
    """Write the report (or the error document) to ``output``, or to stdout."""
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _label(label: str | None) -> str | int | None:
    return int(label) if label is not None and label.lstrip("-").isdigit() else label


def _width(color: bool) -> int:
    if not color:
        return 100
    import shutil

    return max(80, min(shutil.get_terminal_size().columns, 140))


def _check(target: str, **options):
    """Resolve the target and check it, with a progress bar on stderr when stderr is a terminal.

    Returns the report and the stream it was built from (the HTML report draws the stream).
    """
    from ._target import load_target

    loader = load_target(target)
    if not sys.stderr.isatty():
        return _check_stream(loader, target=target, **options)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("drawing batches"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("draw", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return _check_stream(loader, target=target, progress=progress, **options)


def _check_stream(loader, *, target: str, progress=None, **options):
    """``api.check()``, also returning the stream (the HTML report draws it)."""
    from .api import evaluate, sample
    from .options import Options

    opts = Options(**options)
    stream = sample(loader, opts, progress=progress)
    return evaluate(stream, opts, target=target), stream


def main() -> None:
    """Console-script entry point."""
    app()

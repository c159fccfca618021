"""The command line: parse options, resolve the target, check, render, exit (0 ok, 1 fail, 2 error).

Thin on purpose: every decision lives in the layers it calls. Heavy modules (numpy, scipy, torch)
are imported inside the command so that ``loadercheck --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ._version import __version__

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
    stall: float = typer.Option(300.0, min=0.0, help="Give up (exit 2) when the loader yields no batch for this many seconds; 0 waits forever."),
    label: Optional[str] = typer.Option(None, help="Where the labels are: index (1), key (label), dotted path (meta.label, json.label into a list of per-sample records) or module:function."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="When the target yields single examples (a Hugging Face or torch dataset passed directly): group them into batches of this size [default: 32]."),
    ordered: bool = typer.Option(False, "--ordered", help="The feed is ordered on purpose (time series, curriculum): order checks never fail."),
    probe: bool = typer.Option(False, "--probe/--no-probe", help="Also run a short probe training: feed order vs shuffled."),
    device: Device = typer.Option(Device.auto, help="Device of the probe."),
    probe_steps: Optional[int] = typer.Option(None, min=1, help="Optimiser steps of each probe run [default: one pass over the sampled batches, at most 1000]."),
    probe_seeds: int = typer.Option(3, min=1, max=100, help="Paired seeds of the probe (feed order and shuffled from the same initial weights)."),
    format: Format = typer.Option(Format.text, "--format", help="text (for people) or json (one document on stdout)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", help="Also write a self-contained HTML report with figures."),
    from_sampler: Optional[bool] = typer.Option(None, "--from-sampler/--no-from-sampler", help="Read whole epochs' order from a map-style DataLoader's batch sampler, labels from the dataset's metadata (no sample loaded) [default: only when the sampled prefix is one class]."),
    alpha: float = typer.Option(1e-3, min=1e-12, max=0.5, help="Family-wise false-alarm rate on a shuffled feed."),
    seed: int = typer.Option(0, min=0, help="Seed of the probe and the pictures; the same seed gives the same report (the checks' permutations are seeded by the data)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Check that a training loader's feed order is a good shuffle; exit 0 (ok), 1 (a check failed), 2 (error)."""
    try:
        _validate_paths(output, html)
        if html is not None:
            from .render.plots import require_matplotlib

            require_matplotlib()  # say what to install before drawing any batch
        report, stream = _check(target, label=_label(label), batches=batches, max_samples=max_samples,
                                timeout=timeout, stall=stall or None, ordered=ordered, probe=probe,
                                device=device.value, alpha=alpha, seed=seed, probe_steps=probe_steps,
                                probe_seeds=probe_seeds, from_sampler=from_sampler, batch_size=batch_size)
        if html is not None:
            from .render.html import render_html

            page = render_html(report, stream)
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
    except BaseException as exc:  # noqa: BLE001 - every ending but a verdict is exit 2 (SPEC §6)
        if isinstance(exc, KeyboardInterrupt):
            raise
        _fail(target, format, output, _error_message(exc))
    if output is not None:
        typer.echo(f"loadercheck: {report.verdict.upper()} — report written to {output}", err=True)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAIL)


def _error_message(exc: BaseException) -> str:
    """One paragraph for any way a run can end without a report."""
    from .errors import LoaderCheckError

    if isinstance(exc, LoaderCheckError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return (f"the target called sys.exit({exc.code!r}) while it was imported, built or iterated, so there was "
                "nothing to check. A module run as a script should keep its top-level code under "
                "`if __name__ == \"__main__\":`, and a factory should return the loader, not exit.")
    if isinstance(exc, OSError) and getattr(exc, "filename", None) is not None:
        return f"cannot write {exc.filename}: {exc.strerror or exc}. Choose a writable path for --output / --html."
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" (at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno})"
    return (f"an unexpected {type(exc).__name__} stopped the check{where}: {exc}. This is a loadercheck bug, or a "
            "loader it does not understand yet: please report it with the command you ran; `python -c \"import "
            "loadercheck; loadercheck.check(loader)\"` shows the full traceback.")


def _fail(target: str, format: "Format", output: Path | None, message: str) -> None:
    """Print the error on stderr (and, under --format json, the error document), then exit 2."""
    from .render.safe import printable

    typer.echo(f"loadercheck: error: {printable(message)}", err=True)
    if format is Format.json:  # scripts still get one JSON document where the report would go
        from .render.json import render_error

        try:
            _emit(render_error(target, message), output)
        except OSError:
            sys.stdout.write(render_error(target, message))
    raise typer.Exit(EXIT_ERROR)


def _validate_paths(*paths: Path | None) -> None:
    """Output files must be writable before any batch is drawn (a long draw, then no report, helps nobody)."""
    from .errors import LoaderCheckError

    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise LoaderCheckError(f"{path} is a folder; --output and --html take a file name (e.g. {path / 'report.txt'}).")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise LoaderCheckError(f"cannot write {path}: the folder {folder} does not exist. Create it first "
                                   f"(mkdir -p {folder}) or choose another path.")


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
    """Console-script entry point.

    A loader abandoned by ``--stall`` or ``--timeout`` may still be running in its daemon thread;
    letting the interpreter tear it down inside torch's C++ code aborts the process (exit 134,
    not 2), so then the process leaves at once with its own code.
    """
    try:
        app()
    except SystemExit as exit:
        drawing = sys.modules.get("loadercheck.drawing")  # not imported: no loader was drawn
        if drawing is not None and drawing.draw_threads_alive():
            code = exit.code if isinstance(exit.code, int) else (EXIT_OK if exit.code is None else EXIT_ERROR)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise

"""The command line: parse options, resolve the target, check, render, exit (0 ok, 1 fail, 2 error).

Thin on purpose: every decision lives in the layers it calls. The parser is the standard library's
``argparse`` (a parser that builds nothing per option costs about 2 ms; typer 0.29 spent 0.17 s
building a pydantic adapter per option), and heavy modules (numpy, scipy, torch) are imported inside
the command, so that ``loadercheck --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from ._version import __version__
from .render.safe import printable  # imports only `re`: --help stays fast

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C: the shell's code for a process ended by SIGINT
FORMATS = ("text", "json")
DEVICES = ("auto", "cpu", "cuda")


def _bounded(kind: type, low: float | None = None, high: float | None = None) -> Callable[[str], int | float]:
    """An argparse ``type=``: ``kind(text)``, refused with a message naming the range when outside it."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if (low is not None and value < low) or (high is not None and value > high) or value != value:
            span = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: it must be {span}")
        return value

    return parse


class _UsageError(Exception):
    """A command line the parser refused; the message names the option."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # reported by run(): stderr, and the error document under --format json
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="loadercheck", usage="loadercheck TARGET [OPTIONS]", allow_abbrev=False,
        description="Check that a training loader's feed order is a good shuffle; exit 0 (ok), 1 (a check failed), "
                    "2 (error).")
    add = parser.add_argument
    add("target", metavar="TARGET", help="pkg.module:factory or path/to/file.py:factory (a zero-argument callable "
        "returning the loader, or the loader object itself).")
    add("--batches", type=_bounded(int, 1), metavar="N", help="Batches to draw per epoch [default: one epoch, at most 500].")
    add("--max-samples", type=_bounded(int, 1), metavar="N", help="Samples to draw per epoch at most.")
    add("--timeout", type=_bounded(float, 0.001), metavar="S", help="Stop drawing after this many seconds and report on what was drawn.")
    add("--stall", type=_bounded(float, 0.0), default=300.0, metavar="S", help="Give up (exit 2) when the loader yields no batch for this many seconds; 0 waits forever [default: 300].")
    add("--label", metavar="SPEC", help="Where the labels are: index (1), key (label), dotted path (meta.label, json.label into a list of per-sample records) or module:function.")
    add("--batch-size", type=_bounded(int, 1), metavar="N", help="When the target yields single examples (a Hugging Face or torch dataset passed directly): group them into batches of this size [default: 32].")
    add("--ordered", action="store_true", help="The feed is ordered on purpose (time series, curriculum): order checks never fail.")
    add("--probe", action=argparse.BooleanOptionalAction, default=False, help="Also run a short probe training: feed order vs shuffled [default: no].")
    add("--device", choices=DEVICES, default="auto", help="Device of the probe [default: auto].")
    add("--probe-steps", type=_bounded(int, 1), metavar="N", help="Optimiser steps of each probe run [default: one pass over the sampled batches, at most 1000].")
    add("--probe-seeds", type=_bounded(int, 1, 100), default=3, metavar="N", help="Paired seeds of the probe (feed order and shuffled from the same initial weights) [default: 3].")
    add("--format", choices=FORMATS, default="text", help="text (for people) or json (one document on stdout) [default: text].")
    add("-o", "--output", type=Path, metavar="FILE", help="Write the report to this file instead of stdout.")
    add("--html", type=Path, metavar="FILE", help="Also write a self-contained HTML report with figures.")
    add("--from-sampler", action=argparse.BooleanOptionalAction, default=None, help="Read whole epochs' order from a map-style DataLoader's batch sampler, labels from the dataset's metadata (no sample loaded) [default: only when the sampled prefix is one class].")
    add("--alpha", type=_bounded(float, 1e-12, 0.5), default=1e-3, metavar="A", help="Family-wise false-alarm rate on a shuffled feed [default: 0.001].")
    add("--seed", type=_bounded(int, 0), default=0, metavar="S", help="Seed of the probe and the pictures; the same seed gives the same report (the checks' permutations are seeded by the data) [default: 0].")
    add("--version", action="version", version=f"loadercheck {__version__}", help="Show the version and exit.")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), check the target, print the report; return the exit code.

    In process, for tests and embedding: it never exits the interpreter (see :func:`main`).
    """
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare command shows what it takes
        sys.stderr.write(parser.format_help())
        return EXIT_ERROR
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # --help or --version printed; every refusal raises _UsageError instead
        return EXIT_OK
    except _UsageError as refused:
        return _usage_error(parser, argv, str(refused))
    try:
        _validate_paths(args.output, args.html)
        if args.html is not None:
            from .render.plots import require_matplotlib

            require_matplotlib()  # say what to install before drawing any batch
        report, stream = _check(args.target, label=_label(args.label), batches=args.batches,
                                max_samples=args.max_samples, timeout=args.timeout, stall=args.stall or None,
                                ordered=args.ordered, probe=args.probe, device=args.device, alpha=args.alpha,
                                seed=args.seed, probe_steps=args.probe_steps, probe_seeds=args.probe_seeds,
                                from_sampler=args.from_sampler, batch_size=args.batch_size)
        if args.html is not None:
            from .render.html import render_html

            args.html.write_text(render_html(report, stream), encoding="utf-8")
            print(f"loadercheck: HTML report written to {printable(args.html)}", file=sys.stderr)
        if args.format == "json":
            from .render.json import render_json

            text = render_json(report)
        else:
            from .render.text import render_text

            color = args.output is None and sys.stdout.isatty()
            text = render_text(report, color=color, width=_width(color))
        _emit(text, args.output)
    except BaseException as exc:  # noqa: BLE001 - every ending but a verdict is exit 2 (SPEC §6)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _fail(args.target, args.format, args.output, _error_message(exc))
    if args.output is not None:
        print(f"loadercheck: {report.verdict.upper()} — report written to {printable(args.output)}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAIL


def _usage_error(parser: argparse.ArgumentParser, argv: list[str], message: str) -> int:
    """One paragraph on stderr (what was typed is escaped); under ``--format json`` also the error
    document on stdout, so a script still reads one JSON document. Returns 2."""
    message = f"{message}. Run 'loadercheck --help' for the options."
    sys.stderr.write(f"usage: {parser.usage}\nloadercheck: error: {printable(message)}\n")
    if any(a == "--format=json" or (a == "--format" and b == "json") for a, b in zip(argv, argv[1:] + [""])):
        from .render.json import render_error

        sys.stdout.write(render_error(_typed_target(parser, argv), message))
    return EXIT_ERROR


def _typed_target(parser: argparse.ArgumentParser, argv: list[str]) -> str:
    """The first word of ``argv`` that is neither an option nor an option's value ("" if none)."""
    takes_value = {name for action in parser._actions if action.nargs is None for name in action.option_strings}
    words = iter(argv)
    for word in words:
        if word in takes_value:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


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


def _fail(target: str, format: str, output: Path | None, message: str) -> int:
    """Print the error on stderr (and, under --format json, the error document); return 2."""
    print(f"loadercheck: error: {printable(message)}", file=sys.stderr)
    if format == "json":  # scripts still get one JSON document where the report would go
        from .render.json import render_error

        try:
            _emit(render_error(target, message), output)
        except OSError:
            sys.stdout.write(render_error(target, message))
    return EXIT_ERROR


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
    """Console-script entry point: :func:`run`, then exit with its code (130 after Ctrl-C).

    A loader abandoned by ``--stall``, ``--timeout`` or Ctrl-C may still be running in its daemon
    thread; letting the interpreter tear it down inside torch's C++ code aborts the process (exit
    134), so then the process leaves at once with its own code.
    """
    try:
        code = run()
    except KeyboardInterrupt:
        print("loadercheck: interrupted (Ctrl-C): no report.", file=sys.stderr)
        code = EXIT_INTERRUPTED
    drawing = sys.modules.get("loadercheck.drawing")  # not imported: no loader was drawn
    if drawing is not None and drawing.draw_threads_alive():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)

"""The text renderer: header, label strip, checks table, verdict and fixes (rich, or plain)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..results import CheckResult, Status
from .safe import printable
from .sparkline import probe_summary
from .wording import evidence, verdict_sentence

if TYPE_CHECKING:  # pragma: no cover - the Report sits above the renderers
    from ..report import Report

STATUS_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}
CLASS_COLORS = (
    "red", "green", "blue", "yellow", "magenta", "cyan", "bright_red", "bright_green",
    "bright_blue", "bright_magenta", "orange3", "purple", "turquoise2", "gold1", "deep_pink3", "chartreuse3",
)
SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
MIXED = "·"
PURE_SHARE = 50
"""A strip cell shows its majority class when that class holds at least this share (percent)."""


def render_text(report: Report, *, color: bool = False, width: int = 100) -> str:
    """Render ``report`` as text; ``color=False`` gives plain text with no ANSI codes."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, force_terminal=color, no_color=not color,
        color_system="standard" if color else None, highlight=False, emoji=False,
    )
    console.print(report_renderable(report))
    return buffer.getvalue()


def report_renderable(report: Report) -> Group:
    """The whole report as one rich renderable (for consoles that print directly)."""
    parts = [_header(report)]
    if report.strip:
        parts.append(_strip(report))
    parts.append(_table(report.checks))
    parts.extend(Text(line, style="dim") for c in report.checks if (line := probe_summary(c)))
    parts.append(_verdict(report))
    return Group(*parts)


def _header(report: Report) -> Text:
    s = report.stream
    text = Text()
    text.append(f"loadercheck {report.version}", style="bold")
    text.append(f"  {printable(report.target)}\n")
    text.append(f"loader: {printable(report.loader.describe())}\n", style="dim")
    classes = f"{s.classes} classes" if s.classes is not None else "continuous target"
    what = "labels"
    if str(s.label_kind) == "none":
        what, classes = "samples", "no class label" + (" (language-model token labels)" if s.target_kind == "tokens" else "")
    elif s.target_kind not in ("class", "none"):
        classes += f" ({s.target_kind} targets)"
    epochs = "1 pass" if s.epochs == 1 else f"epoch 1; {s.epochs} passes drawn for the cross-epoch checks"
    batch = f" of {s.batch_size}" if s.batch_size else ""
    text.append(f"sampled {s.samples:,} {what} in {s.batches:,} batches{batch} ({epochs}), {classes}, {s.seconds:.1f} s")
    for note in s.notes:
        text.append(f"\nnote: {printable(note)}", style="yellow")
    return text


def _strip(report: Report) -> Text:
    cells = report.strip
    per = max(1, -(-report.stream.batches // len(cells)))
    unit = "batch" if per == 1 else f"{per} batches"
    label = "target decile" if report.stream.classes is None else "majority class"
    title = "label strip"
    if str(report.stream.label_kind) == "none":
        title, label = "input strip", "majority input cluster"
    text = Text(f"\n{title} (one cell per {unit}; symbol = {label}, {MIXED} = mixed)\n", style="dim")
    for code, share in cells:
        symbol = SYMBOLS[code % len(SYMBOLS)] if share >= PURE_SHARE else MIXED
        style = CLASS_COLORS[code % len(CLASS_COLORS)] if share >= PURE_SHARE else "dim"
        text.append(symbol, style=style)
    legend = _legend(report)
    if legend:
        text.append(f"\n{legend}", style="dim")
    return text


def _legend(report: Report) -> str:
    names = report.class_names
    if not names or len(names) > len(SYMBOLS):
        return ""
    shown = {code for code, share in report.strip if share >= PURE_SHARE}
    if all(SYMBOLS[i] == n for i, n in enumerate(names)):
        return ""
    return "  ".join(f"{SYMBOLS[i]}={printable(names[i])}" for i in sorted(shown)[:12])


def _table(checks: tuple[CheckResult, ...]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("finding", ratio=3)
    table.add_column("evidence", ratio=1)
    for c in checks:
        table.add_row(Text(str(c.status).upper(), style=STATUS_STYLE[c.status]), Text(printable(c.id)),
                      Text(printable(c.message)), Text(evidence(c)))
    return table


def _verdict(report: Report) -> Text:
    text = Text("\nverdict: ", style="bold")
    text.append(str(report.verdict).upper(), style=STATUS_STYLE[report.verdict])
    text.append(f" — {printable(verdict_sentence(report))}.")
    for c in report.checks:
        if not c.hint or c.status not in (Status.FAIL, Status.WARN):
            continue
        text.append(f"\n  {c.id}: ", style="bold")
        text.append(printable(c.hint.partition("; fix: ")[0]))
    for fix in report.fixes:
        text.append("\nfix: ", style="bold green")
        text.append(printable(fix))
    return text

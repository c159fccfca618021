"""The HTML renderer: one self-contained file (inline CSS, inline PNG figures, no network access).

Shows the verdict, the checks table with hints, a label-strip image of the stream, per-batch class
count and entropy against the band a shuffled feed gives, and the probe's learning curves when the
probe ran. The figures need matplotlib (a dependency, imported only for the HTML report); without it
:func:`render_html` raises :class:`~loadercheck.errors.LoaderCheckError` saying what to install.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from ..results import CheckResult, LabelKind, Status, Stream
from . import plots
from .wording import evidence, verdict_sentence

if TYPE_CHECKING:  # pragma: no cover - the Report sits above the renderers
    from ..report import Report

STATUS_COLOR = {Status.PASS: "#1a7f37", Status.WARN: "#9a6700", Status.FAIL: "#cf222e", Status.SKIP: "#6e7781"}

CSS = """
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;
 margin:0;background:#f6f8fa}
main{max-width:1120px;margin:0 auto;padding:24px 28px 40px;background:#fff;min-height:100vh}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a;font-size:13px}.meta code{font-size:12px}
.verdict{display:flex;align-items:center;gap:14px;margin:16px 0 8px;padding:12px 16px;border-radius:8px;
 border:1px solid #d0d7de}
.badge{font-weight:700;color:#fff;padding:4px 12px;border-radius:6px;font-size:16px;letter-spacing:.05em}
.pill{font-weight:700;color:#fff;padding:1px 7px;border-radius:4px;font-size:11px;letter-spacing:.04em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:6px 8px;
 border-bottom:1px solid #eaeef2}th{font-size:12px;color:#57606a;font-weight:600}
td.id{white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
td.ev{white-space:nowrap;font-size:12px;color:#57606a}.hint{color:#57606a;font-size:12px;margin-top:3px}
.note{color:#9a6700}figure{margin:8px 0 4px}figure img{width:100%;height:auto;display:block}
figcaption{color:#57606a;font-size:12px;margin-top:2px}footer{color:#8c959f;font-size:12px;margin-top:32px}
"""


def render_html(report: Report, stream: Stream | None = None) -> str:
    """Render ``report`` as one self-contained HTML document (a string; nothing is written).

    Parameters
    ----------
    report : Report
        The report to show.
    stream : Stream, optional
        The stream the report was built from. It gives the full label-strip image and the
        per-batch composition plot; without it the strip is drawn from ``report.strip`` and the
        composition plot is left out.

    Raises
    ------
    LoaderCheckError
        When matplotlib cannot be imported (``pip install matplotlib``).
    """
    plots.require_matplotlib()
    continuous = report.stream.label_kind is LabelKind.CONTINUOUS
    title = f"loadercheck: {str(report.verdict).upper()} \u2014 {report.target}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>",
        _header(report),
        _verdict(report),
        "<h2>Checks</h2>",
        _table(report.checks),
        "<h2>The stream</h2>",
        _stream_figures(report, stream, continuous),
    ]
    probe = _probe_result(report)
    if probe is not None:
        parts.append("<h2>Probe training</h2>")
        parts.append(_probe_section(probe))
    parts.append(_footer(report))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def report_fragment(report: Report) -> str:
    """Verdict, fixes and the checks table as an HTML fragment (a notebook's ``_repr_html_``): no
    figures, so no matplotlib; every value escaped."""
    return (f'<div class="loadercheck-report"><style>.loadercheck-report{{max-width:1120px}}'
            f"{_scoped_css('.loadercheck-report')}</style>{_header(report)}{_verdict(report)}"
            f"{_table(report.checks)}</div>")


def _scoped_css(scope: str) -> str:
    rules = []
    for rule in CSS.replace("\n", "").split("}"):
        if "{" not in rule:
            continue
        selectors, body = rule.split("{", 1)
        if selectors.strip() in ("body", "main"):
            continue
        scoped = ",".join(f"{scope} {sel.strip()}" for sel in selectors.split(","))
        rules.append(f"{scoped}{{{body}}}")
    return "".join(rules)


def _header(report: Report) -> str:
    s = report.stream
    classes = f"{s.classes} classes" if s.classes is not None else "continuous target"
    what = "labels"
    if str(s.label_kind) == "none":
        what, classes = "samples", "no class label"
    elif s.target_kind not in ("class", "none"):
        classes += f" ({s.target_kind} targets)"
    epochs = "1 pass" if s.epochs == 1 else f"epoch 1; {s.epochs} passes drawn for the cross-epoch checks"
    batch = f" of {s.batch_size}" if s.batch_size else ""
    notes = "".join(f'<div class="meta note">note: {escape(n)}</div>' for n in s.notes)
    return (
        f"<h1>loadercheck report \u2014 <code>{escape(report.target)}</code></h1>"
        f'<div class="meta">loader: <code>{escape(report.loader.describe())}</code></div>'
        f'<div class="meta">sampled {s.samples:,} {what} in {s.batches:,} batches{batch} ({epochs}), '
        f"{classes}, {s.seconds:.1f} s</div>{notes}"
    )


def _verdict(report: Report) -> str:
    color = STATUS_COLOR[report.verdict]
    text = verdict_sentence(report)
    fix_html = "".join(f"<div><b>fix:</b> {escape(f)}</div>" for f in report.fixes)
    return (
        f'<div class="verdict" style="border-color:{color}">'
        f'<span class="badge" style="background:{color}">{escape(str(report.verdict).upper())}</span>'
        f"<div><div>verdict: <b>{escape(str(report.verdict))}</b> \u2014 {escape(text)}.</div>{fix_html}</div></div>"
    )


def _table(checks: tuple[CheckResult, ...]) -> str:
    rows = []
    for c in checks:
        color = STATUS_COLOR[c.status]
        hint = ""
        if c.hint and c.status in (Status.FAIL, Status.WARN):
            hint = f'<div class="hint">{escape(c.hint)}</div>'
        rows.append(
            f'<tr><td><span class="pill" style="background:{color}">{escape(str(c.status).upper())}</span></td>'
            f'<td class="id">{escape(c.id)}</td><td>{escape(c.message)}{hint}</td>'
            f'<td class="ev">{escape(evidence(c))}</td></tr>'
        )
    head = "<tr><th>status</th><th>check</th><th>finding</th><th>evidence</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _img(uri: str, alt: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{escape(alt)}"><figcaption>{escape(caption)}</figcaption></figure>'


def _stream_figures(report: Report, stream: Stream | None, continuous: bool) -> str:
    if stream is None or stream.samples == 0:
        if not report.strip:
            return '<p class="meta">no labels to draw.</p>'
        uri = plots.strip_cells_figure(report.strip, continuous=continuous)
        return _img(uri, "label strip", "Label strip from the report's cells (the stream itself was not "
                    "passed to the renderer, so the per-batch composition plot is left out).")
    labels, sizes = stream.labels, np.asarray(stream.batch_sizes)
    names = [str(c) for c in stream.classes]
    out = [_img(
        plots.strip_figure(labels, sizes, continuous=continuous, class_names=names),
        "label strip",
        "Each column is one batch in feed order, each row a position inside the batch, the colour its "
        + ("target value." if continuous else "class. A shuffled feed looks like confetti; sorted or "
           "blocky feeds show bands."),
    )]
    codes = plots.decile_codes(labels) if continuous else labels
    if sizes.size >= 2:
        seed = int(report.config.get("seed", 0) or 0)
        band = plots.batch_band(codes, sizes, seed=seed)
        unit = "target deciles" if continuous else "classes"
        out.append(_img(
            plots.band_figure(band, unit=unit),
            "per-batch composition",
            f"Distinct {unit} and class entropy of each batch (red) against the range a shuffled feed "
            f"of the same labels gives (blue band: {100 * band.quantiles[0]:.1f}% to "
            f"{100 * band.quantiles[2]:.1f}% quantiles of {band.permutations} seeded permutations).",
        ))
    return "\n".join(out)


def _probe_result(report: Report) -> CheckResult | None:
    for c in report.checks:
        if c.id == "probe":
            return c
    return None


def _probe_section(probe: CheckResult) -> str:
    color = STATUS_COLOR[probe.status]
    head = (f'<p><span class="pill" style="background:{color}">{escape(str(probe.status).upper())}</span> '
            f"{escape(probe.message)}</p>")
    d: dict[str, Any] = dict(probe.details)
    if "curve_feed" not in d or "curve_shuffled" not in d:
        return head
    figure = _img(plots.probe_figure(d), "probe learning curves",
                  "Mean held-out loss (left) and " + ("accuracy" if d.get("metric") == "accuracy" else "R\u00b2")
                  + " (right) of the same small model trained from the same initial weights on the same "
                  "samples, in feed order (red) and shuffled (blue).")
    facts = []
    for key, label in (("features", "features"), ("train_samples", "trained on"), ("heldout_samples", "held out"),
                       ("steps", "steps"), ("seeds", "paired seeds"), ("device", "device"), ("seconds", "seconds")):
        if key in d:
            value = d[key]
            facts.append(f"{label}: {value:,}" if isinstance(value, int) else f"{label}: {value}")
    return head + figure + f'<p class="meta">{escape("; ".join(facts))}</p>'


def _footer(report: Report) -> str:
    config = ", ".join(f"{k}={v}" for k, v in report.config.items() if v is not None and v is not False)
    return (f"<footer>loadercheck {escape(report.version)} \u00b7 options: {escape(config)} \u00b7 "
            "this file is self-contained (no network access needed).</footer>")

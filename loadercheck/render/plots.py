"""Figures of the HTML report (matplotlib, a dependency imported only here) and the shuffled band.

:func:`batch_band` is pure numpy (no matplotlib): per-batch class counts and entropies of the stream
and the band a shuffled feed of the same labels would give. The drawing functions return PNG bytes
encoded as base64 ``data:`` URIs so the HTML stays one self-contained file. They use matplotlib's
object API (``Figure`` + Agg canvas), so pyplot's global state and the user's backend are untouched.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LoaderCheckError

PLOT_INSTALL = "pip install matplotlib"
FEED_COLOR = "#d62728"
SHUFFLED_COLOR = "#1f77b4"
BAND_COLOR = "#9ecae1"
STRIP_ROWS_MAX = 256
"""The label-strip image shows at most this many positions per batch (evenly spaced)."""
BAND_LABELS_MAX = 20_000_000
"""Permutations x labels budget of :func:`batch_band` (fewer permutations on long streams)."""


@dataclass(frozen=True)
class BatchBand:
    """Per-batch class counts and entropies of a stream, with a shuffled feed's band (quantiles)."""

    classes: np.ndarray
    """Distinct classes in each batch, in feed order."""
    entropy: np.ndarray
    """Shannon entropy (nats) of each batch's class mix."""
    classes_band: np.ndarray
    """(3, batches): low, median and high quantile of a batch's distinct classes under shuffling
    (pooled over the batches of the same size, which share one permutation law)."""
    entropy_band: np.ndarray
    """(3, batches): the same for the entropy."""
    quantiles: tuple[float, float, float]
    permutations: int


def batch_band(codes: np.ndarray, batch_sizes: np.ndarray, *, permutations: int = 300, seed: int = 0,
               quantiles: tuple[float, float, float] = (0.005, 0.5, 0.995)) -> BatchBand:
    """Per-batch distinct classes and entropy, and the band of the same under random permutations.

    Parameters
    ----------
    codes : array of int
        Class codes (or target deciles) in feed order.
    batch_sizes : array of int
        The batch partition of ``codes``.
    permutations : int
        Random permutations of ``codes`` drawn to build the band (fewer when the stream is long,
        so that permutations x labels stays under ``BAND_LABELS_MAX``).
    seed : int
        Seed of the permutations: the same inputs give the same band.
    quantiles : (low, mid, high)
        Quantiles of the permutation distribution reported per batch.

    Returns
    -------
    BatchBand
        A shuffled feed keeps each batch inside its band except for about
        ``low + (1 - high)`` of the batches.
    """
    codes = np.asarray(codes, dtype=np.int64)
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    n = int(sizes.sum())
    codes = codes[:n]
    batch_of = np.repeat(np.arange(sizes.size), sizes)
    permutations = int(max(20, min(permutations, BAND_LABELS_MAX // max(n, 1))))
    rng = np.random.default_rng([seed, 0xBA4D])
    classes, entropy = _per_batch(codes, batch_of, sizes)
    sim_c = np.empty((permutations, sizes.size))
    sim_h = np.empty((permutations, sizes.size))
    for p in range(permutations):
        sim_c[p], sim_h[p] = _per_batch(rng.permutation(codes), batch_of, sizes)
    q = np.asarray(quantiles)
    band_c = np.empty((3, sizes.size))
    band_h = np.empty((3, sizes.size))
    for size in np.unique(sizes):  # batches of one size share one null law: pool them for a steady band
        same = sizes == size
        band_c[:, same] = np.quantile(sim_c[:, same], q)[:, None]
        band_h[:, same] = np.quantile(sim_h[:, same], q)[:, None]
    return BatchBand(classes, entropy, band_c, band_h, tuple(float(v) for v in quantiles), permutations)


def _per_batch(codes: np.ndarray, batch_of: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct classes and entropy per batch, from the (batch, class) pair counts."""
    k = int(codes.max(initial=0)) + 1
    pairs, counts = np.unique(batch_of * k + codes, return_counts=True)
    batch = pairs // k
    classes = np.bincount(batch, minlength=sizes.size).astype(float)
    share = counts / sizes[batch]
    entropy = np.bincount(batch, weights=-share * np.log(share), minlength=sizes.size)
    return classes, entropy


def decile_codes(values: np.ndarray) -> np.ndarray:
    """Continuous targets -> decile codes 0..9 (ties share a decile)."""
    values = np.asarray(values, dtype=float)
    edges = np.quantile(values, np.linspace(0.1, 0.9, 9))
    return np.searchsorted(edges, values, side="right").astype(np.int64)


# --------------------------------------------------------------------------------------------------
# drawing


def require_matplotlib():
    """Import matplotlib's object API, or raise LoaderCheckError saying what to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise LoaderCheckError(
            "the HTML report draws its figures with matplotlib, which is not installed; "
            f'install the plot extra: {PLOT_INSTALL} (or pip install "matplotlib>=3.7"), '
            "or use --format text/json"
        ) from exc
    return Figure, FigureCanvasAgg


def _figure(width: float, height: float):
    Figure, FigureCanvasAgg = require_matplotlib()
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_data_uri(fig, dpi: int = 144) -> str:
    """Render ``fig`` as PNG and return a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _class_colors(k: int):
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    if k <= 10:
        base = colormaps["tab10"]
    elif k <= 20:
        base = colormaps["tab20"]
    else:
        return colormaps["turbo"].resampled(k)
    return ListedColormap([base(i) for i in range(k)])


def strip_figure(labels: np.ndarray, batch_sizes: np.ndarray, *, continuous: bool,
                 class_names: Sequence[str] = ()) -> str:
    """Labels in feed order as an image: one column per batch, one row per position in the batch."""
    sizes = np.asarray(batch_sizes, dtype=np.int64)
    rows = int(sizes.max(initial=1))
    shown = np.unique(np.linspace(0, rows - 1, min(rows, STRIP_ROWS_MAX)).round().astype(int))
    grid = np.full((shown.size, sizes.size), np.nan)
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    values = np.asarray(labels, dtype=float)
    for b in range(sizes.size):
        pos = shown[shown < sizes[b]]
        grid[: pos.size, b] = values[bounds[b] + pos]
    fig = _figure(11, 2.6)
    ax = fig.add_subplot()
    if continuous:
        image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis")
        fig.colorbar(image, ax=ax, label="target", pad=0.01)
    else:
        k = max(int(np.nanmax(grid)) + 1 if np.isfinite(grid).any() else 1, len(class_names), 1)
        cmap = _class_colors(k)
        image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5, vmax=k - 0.5)
        if k <= 20:
            bar = fig.colorbar(image, ax=ax, pad=0.01, ticks=range(k))
            names = list(class_names) if len(class_names) == k else [str(i) for i in range(k)]
            bar.ax.set_yticklabels([_short(n) for n in names], fontsize=7)
            bar.set_label("class")
        else:
            fig.colorbar(image, ax=ax, pad=0.01, label="class code")
    ax.set_xlabel("batch (feed order)")
    ax.set_ylabel("position in batch")
    ax.set_title("Labels in feed order (one column per batch)", loc="left", fontsize=11)
    return to_data_uri(fig)


def strip_cells_figure(strip: Sequence[tuple[int, int]], *, continuous: bool) -> str:
    """Fallback strip from the report's cells (majority code, share %) when the stream is not at hand."""
    codes = np.array([c for c, _ in strip], dtype=float)
    shares = np.array([s for _, s in strip], dtype=float) / 100.0
    fig = _figure(11, 1.4)
    ax = fig.add_subplot()
    k = int(codes.max(initial=0)) + 1
    cmap = _class_colors(max(k, 1)) if not continuous else None
    from matplotlib import colormaps

    colors = [(colormaps["viridis"](c / 9.0) if continuous else cmap(int(c))) for c in codes]
    ax.bar(np.arange(codes.size), np.ones(codes.size), width=1.0, color=colors, alpha=None)
    ax.bar(np.arange(codes.size), 1 - shares, bottom=shares, width=1.0, color="white", alpha=0.7)
    ax.set_xlim(-0.5, codes.size - 0.5)
    ax.set_yticks([])
    ax.set_xlabel("cell (feed order); colour = majority " + ("target decile" if continuous else "class")
                  + ", height = its share")
    return to_data_uri(fig)


def band_figure(band: BatchBand, *, unit: str = "classes") -> str:
    """Per-batch distinct classes and entropy over the stream, against the shuffled band."""
    fig = _figure(11, 4.4)
    x = np.arange(band.classes.size)
    lo, hi = band.quantiles[0], band.quantiles[2]
    label = f"shuffled feed ({100 * (hi - lo):.0f}% band, {band.permutations} permutations)"
    for i, (obs, rng_, title) in enumerate((
        (band.classes, band.classes_band, f"distinct {unit} per batch"),
        (band.entropy, band.entropy_band, "class entropy per batch (nats)"),
    )):
        ax = fig.add_subplot(2, 1, i + 1)
        ax.fill_between(x, rng_[0], rng_[2], color=BAND_COLOR, alpha=0.6, step="mid", label=label, linewidth=0)
        ax.plot(x, rng_[1], color=SHUFFLED_COLOR, linewidth=1, linestyle="--", label="shuffled median")
        ax.plot(x, obs, color=FEED_COLOR, linewidth=1.2, drawstyle="steps-mid", label="this feed")
        ax.set_ylabel(title, fontsize=9)
        ax.set_xlim(-0.5, max(x.size - 0.5, 0.5))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=8, frameon=False)
            ax.set_title("Batch composition vs. a shuffled feed", loc="left", fontsize=11)
        else:
            ax.set_xlabel("batch (feed order)")
    return to_data_uri(fig)


def probe_figure(details: Mapping[str, Any]) -> str:
    """The probe's mean held-out loss (and accuracy or R²) curves: feed order vs shuffled."""
    steps = np.asarray(details["curve_steps"], dtype=float)
    metric = details.get("metric", "accuracy")
    fig = _figure(11, 3.4)
    panels = [("held-out loss", details["curve_feed"], details["curve_shuffled"], 1.0)]
    if "metric_curve_feed" in details:
        scale = 100.0 if metric == "accuracy" else 1.0
        name = "held-out accuracy (%)" if metric == "accuracy" else "held-out R\u00b2"
        panels.append((name, details["metric_curve_feed"], details["metric_curve_shuffled"], scale))
    for i, (name, feed, shuffled, scale) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.plot(steps, np.asarray(shuffled) * scale, color=SHUFFLED_COLOR, marker="o", markersize=4,
                linewidth=2.2, alpha=0.8, label="shuffled")
        ax.plot(steps, np.asarray(feed) * scale, color=FEED_COLOR, marker="o", markersize=2.5,
                linewidth=1.2, linestyle="--", label="feed order")
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=8)
    seeds = details.get("seeds", "?")
    fig.suptitle(f"Probe: the same model trained on the same samples, mean of {seeds} paired seeds",
                 x=0.01, ha="left", fontsize=11)
    return to_data_uri(fig)


def _short(name: str, width: int = 14) -> str:
    """A class name as plain text on a figure: shortened, control characters escaped, and every ``$``
    escaped so that matplotlib never reads a label as mathtext."""
    from .safe import printable

    name = printable(name)
    name = name if len(name) <= width else name[: width - 1] + "\u2026"
    return name.replace("$", r"\$")

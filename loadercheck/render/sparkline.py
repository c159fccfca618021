"""Unicode sparklines, and the text report's one-line probe summary built from them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..results import CheckResult

BARS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"  # ▁▂▃▄▅▆▇█


def sparkline(values: Sequence[float], lo: float | None = None, hi: float | None = None) -> str:
    """One block character per value, scaled linearly from ``lo`` (lowest bar) to ``hi`` (full bar).

    ``lo``/``hi`` default to the values' own range, pass shared bounds to compare two lines.
    Non-finite values are shown as a space.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    lo = min(finite) if lo is None else lo
    hi = max(finite) if hi is None else hi
    span = hi - lo
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(" ")
            continue
        level = 0 if span <= 0 else round((min(max(v, lo), hi) - lo) / span * (len(BARS) - 1))
        out.append(BARS[level])
    return "".join(out)


def probe_summary(result: CheckResult) -> str | None:
    """``probe: held-out loss, 312 steps  feed ▄▇█▇▆▆▅▅▄▄  shuffled ▄▂▁▁▁▁▁▁▁▁`` (one shared scale).

    None when the result carries no curves (a skipped probe, or another check).
    """
    d = result.details
    feed, shuffled = d.get("curve_feed"), d.get("curve_shuffled")
    if result.id != "probe" or not feed or not shuffled:
        return None
    both = [v for v in (*feed, *shuffled) if math.isfinite(v)]
    lo, hi = (min(both), max(both)) if both else (0.0, 1.0)
    steps = d.get("steps")
    over = f", {steps:,} steps" if isinstance(steps, int) else ""
    return f"probe: held-out loss{over}  feed {sparkline(feed, lo, hi)}  shuffled {sparkline(shuffled, lo, hi)}"

"""Multiple-testing correction over the checks of a battery."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def holm(pvalues: Sequence[float], weights: Sequence[float] | None = None) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, weighted: monotone in the order of p / w, capped at 1.

    Reject check i at family-wise level alpha when ``holm(p, w)[i] <= alpha``. With weights w_i
    (positive; all 1 by default) the check with the smallest p_i / w_i is tested at
    alpha w_i / sum(w), the next at alpha w_j / (the weights not yet rejected), and so on: the
    family-wise error stays at most alpha whatever the weights (Holm 1979, weighted form).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    >>> holm([0.01, 0.04, 0.03], weights=[2.0, 1.0, 1.0]).tolist()
    [0.02, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be a 1-D sequence, got shape {p.shape}")
    if p.size == 0:
        return p.copy()
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"pvalues must lie in [0, 1], got {p.tolist()}")
    w = np.ones(p.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != p.shape or np.any(~(w > 0)) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be positive, one per p-value, got {np.asarray(weights).tolist()}")
    order = np.argsort(p / w, kind="stable")
    left = np.cumsum(w[order][::-1])[::-1]  # the weights not yet rejected at each step
    scaled = left * p[order] / w[order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty(p.size)
    out[order] = adjusted
    return out

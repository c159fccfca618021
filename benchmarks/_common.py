"""Helpers shared by the benchmark scripts: build a Stream from labels, run the battery, CIs."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from loadercheck.checks import ORDER_CHECK_IDS, run_checks
from loadercheck.options import Options
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Status, Stream


def make_stream(labels: np.ndarray, batch_size: int, continuous: bool = False) -> Stream:
    """A Stream of consecutive batches of ``batch_size`` (the last partial batch dropped)."""
    n = labels.size - labels.size % batch_size
    labels = labels[:n]
    sizes = np.full(n // batch_size, batch_size, dtype=np.int64)
    if continuous:
        return Stream((Epoch(labels.astype(float), sizes),), LabelKind.CONTINUOUS, (), LoaderInfo("synthetic"))
    classes, codes = np.unique(labels, return_inverse=True)
    return Stream((Epoch(codes.astype(np.int64), sizes),), LabelKind.CATEGORICAL, tuple(classes.tolist()),
                  LoaderInfo("synthetic"))


def battery_outcome(labels: np.ndarray, batch_size: int, *, alpha: float = 1e-3, seed: int = 0,
                    continuous: bool = False) -> tuple[bool, bool]:
    """Run the whole battery; return (flagged: any check warns or fails, failed: any check fails)."""
    results = run_checks(make_stream(labels, batch_size, continuous), Options(alpha=alpha, seed=seed))
    statuses = {r.status for r in results}
    return bool(statuses & {Status.WARN, Status.FAIL}), Status.FAIL in statuses


def battery_fails(labels: np.ndarray, batch_size: int, *, alpha: float = 1e-3, seed: int = 0,
                  continuous: bool = False) -> tuple[bool, tuple[str, ...], float, bool]:
    """Run the whole battery; return (any check failed, ids of failing checks, smallest fast p-value,
    any check warned).

    The fast p-value is an order check's tail approximation before the permutation net (the net
    trusts it below its band's floor, see ``loadercheck.stats.permutation``).
    """
    results = run_checks(make_stream(labels, batch_size, continuous), Options(alpha=alpha, seed=seed))
    failed = tuple(r.id for r in results if r.status is Status.FAIL)
    fast = [r.details["fast_pvalue"] for r in results if r.id in ORDER_CHECK_IDS and "fast_pvalue" in r.details]
    warned = any(r.status is Status.WARN for r in results)
    return bool(failed), failed, min(fast, default=1.0), warned


def net_floor(alpha: float = 1e-3, checks: int = 4) -> float:
    """The fast p-value below which the permutation net trusts the fast tail, for ``checks`` order checks."""
    from loadercheck.checks import MC_FACTOR
    from loadercheck.forensics import order_alpha
    from loadercheck.stats.permutation import NET_BAND

    return NET_BAND * MC_FACTOR * order_alpha(alpha) / checks


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for k successes in n trials."""
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else sps.beta.ppf(a, k, n - k + 1)
    hi = 1.0 if k == n else sps.beta.ppf(1 - a, k + 1, n - k)
    return float(lo), float(hi)

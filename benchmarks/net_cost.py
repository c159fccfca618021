"""What one permuted row of each label net costs, measured, against the model the stream's budget uses.

    python benchmarks/net_cost.py [--checks runs batch drift autocorr] [--perms 600]

The stream's budget (``loadercheck.stats.permutation.STREAM_BUDGET``) counts each permutation of a
label net at its labels plus ``PERM_OVERHEAD``, times what a row of the check's statistic costs per
label (``net_row_cost`` in ``stats/runs.py``, ``stats/batch.py``, ``stats/drift.py``,
``stats/autocorr.py``). The unit is 30 ns per label: drawing a row and a cheap statistic on the
reference machine.
For every shape (2,048 and 4,096 labels; 2, 10, 100, 1,000 classes; batches of 1-256) this times the
net's own path (``monte_carlo_outcome``: drawing, chunking, the statistic; best of two runs of
``--perms`` permutations) and prints the measured units, the model's and their ratio. A ratio near 1
keeps the budget near a second; below 1 the model under-charges (a stream may run longer), above 1
it over-charges (a net stops sooner than it needs to).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from loadercheck.stats import autocorr, batch, drift, runs
from loadercheck.stats.counts import dense_cells, hash_groups
from loadercheck.stats.permutation import PERM_OVERHEAD, monte_carlo_outcome

UNIT_SECONDS = 30e-9


def _net(check: str, x: np.ndarray, sizes: np.ndarray, k: int):
    n = x.size
    if check == "drift":
        return drift._factory(k), x, drift._net_cells(sizes, k, n), drift.net_row_cost(x, sizes)
    if check == "runs":
        cells = dense_cells(sizes.size, k, n) if sizes.size < n else 1.0
        return runs._runs_factory(k, None), x, cells, runs.net_row_cost(x, sizes)
    if check == "batch":
        return batch._factory(k), x, dense_cells(sizes.size, k, n), batch.net_row_cost(x, sizes)
    groups, n_groups = hash_groups(x, k)
    return (autocorr._factory(n_groups), groups, max(1.0, n_groups * sizes.size / n),
            autocorr.net_row_cost(x, sizes))


def measure(check: str, n: int, k: int, b: int, perms: int) -> tuple[float, float] | None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, k, n)
    sizes = np.full(n // b, b, dtype=np.int64)
    factory, data, cells, model = _net(check, x, sizes, k)
    best = float("inf")
    for rep in range(2):
        t0 = time.perf_counter()
        out = monte_carlo_outcome(factory, data, sizes, rng=np.random.default_rng(rep), max_perms=perms,
                                  max_labels=16384, min_batches=8, cells_per_label=cells, reject_at=0.0,
                                  accept_above=2.0, spread=True)
        if out is None:
            return None
        best = min(best, (time.perf_counter() - t0) / out[0].perms)
    return best / ((n + PERM_OVERHEAD) * UNIT_SECONDS), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", nargs="*", default=["runs", "batch", "drift", "autocorr"])
    parser.add_argument("--perms", type=int, default=600)
    args = parser.parse_args()
    print("| net | labels | classes | batch | measured units | model units | model / measured |")
    print("|---|---|---|---|---|---|---|")
    for check in args.checks:
        ratios = []
        for n in (2048, 4096):
            for k in (2, 10, 100, 1000):
                for b in (1, 2, 4, 32, 256):
                    if n // b < 16:
                        continue
                    got = measure(check, n, k, b, args.perms)
                    if got is None:
                        continue
                    units, model = got
                    ratios.append(model / units)
                    print(f"| {check} | {n:,} | {k} | {b} | {units:.1f} | {model:.1f} | {model / units:.2f} |", flush=True)
        print(f"{check}: model / measured from {min(ratios):.2f} to {max(ratios):.2f} (median "
              f"{float(np.median(ratios)):.2f})")


if __name__ == "__main__":
    main()

"""Detection rate of the whole battery vs samples observed, per defect family and severity.

A stream is *flagged* when any check is significant (warn or fail) and *failed* when the
verdict is fail (significant and an effect large enough to hurt, see docs/checks.md).

    python benchmarks/power.py [--reps 100] [--workers 2] [--sizes 256 1024 4096 16384 65536]

10 classes, batch size 32 unless the family says otherwise, alpha = 1e-3 family-wise. For each
cell, ``reps`` seeded streams of n labels; the rate is the share of streams whose report fails.
n90 = labels needed for 90% power (log-interpolated between sizes). n* is the information limit
of STATS.md §6 (fewest labels any test could need; quoted from that reference study) for the
families defined the same way there.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import battery_outcome  # noqa: E402

from loadercheck import synthetic as syn  # noqa: E402

K = 10
U = syn.uniform_shares(K)

# name: (batch size, maker(n, rng) -> labels, n* from STATS.md §6 or None, continuous)
FAMILIES = {
    "psort 0.05": (32, lambda n, r: syn.partial_sort(n, U, 0.05, r), 588, False),
    "psort 0.2": (32, lambda n, r: syn.partial_sort(n, U, 0.2, r), 46, False),
    "buffer 0.5": (32, lambda n, r: syn.shuffle_buffer(syn.sorted_epoch(n, U), n // 2, r), 35, False),
    "buffer 0.1": (32, lambda n, r: syn.shuffle_buffer(syn.sorted_epoch(n, U), n // 10, r), 5, False),
    "shards 64": (32, lambda n, r: syn.sorted_shards(n, U, 64, r), 3, False),
    "drift 0.05": (32, lambda n, r: syn.drifting_prior(n, K, 0.05, r), 688, False),
    "drift 0.09": (32, lambda n, r: syn.drifting_prior(n, K, 0.09, r), 196, False),
    "batch-periodic 0.1": (32, lambda n, r: syn.batch_periodic(n, K, 32, 0.1, r), None, False),
    "batch-periodic 0.3": (32, lambda n, r: syn.batch_periodic(n, K, 32, 0.3, r), None, False),
    "batchpure 0.1": (32, lambda n, r: syn.batch_purity(n, K, 32, 0.1, r), 865, False),
    "batchpure 0.3": (32, lambda n, r: syn.batch_purity(n, K, 32, 0.3, r), 31, False),
    "batchpure 0.3, b=4": (4, lambda n, r: syn.batch_purity(n, K, 4, 0.3, r), 138, False),
    "concatenated": (32, lambda n, r: syn.concatenated(n, K, r), None, False),
    "tdrift 0.3 (regression)": (32, lambda n, r: syn.target_drift(n, 0.3, r), None, True),
}


def tsort(n: int, fraction: float, r: np.random.Generator) -> np.ndarray:
    x = syn.regression_targets(n, r)
    chosen = np.flatnonzero(r.random(n) < fraction)
    x[chosen] = np.sort(x[chosen])
    return x


FAMILIES["tsort 0.2 (regression)"] = (32, lambda n, r: tsort(n, 0.2, r), None, True)


def run_cell(args: tuple[str, int, int]) -> tuple[str, int, float, float, float]:
    name, n, reps = args
    b, make, _, continuous = FAMILIES[name]
    t0 = time.perf_counter()
    flagged = failed = 0
    for i in range(reps):
        rng = np.random.default_rng([zlib.crc32(name.encode()), n, i])
        f, x = battery_outcome(make(n, rng), b, seed=i, continuous=continuous)
        flagged += f
        failed += x
    return name, n, flagged / reps, failed / reps, (time.perf_counter() - t0) / reps


def n90(sizes: list[int], rates: list[float]) -> str:
    if rates[0] >= 0.9:
        return f"<={sizes[0]}"
    for (n0, r0), (n1, r1) in zip(zip(sizes, rates), zip(sizes[1:], rates[1:])):
        if r0 < 0.9 <= r1:
            frac = (0.9 - r0) / (r1 - r0)
            return f"{int(round(np.exp(np.log(n0) + frac * (np.log(n1) - np.log(n0))))):d}"
    return f">{sizes[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 1024, 4096, 16384, 65536])
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    args = parser.parse_args()
    jobs = [(f, n, args.reps) for f in args.families for n in args.sizes]
    cells = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for f, n, rate, fail, sec in pool.map(run_cell, jobs):
            cells[(f, n)] = (rate, fail, sec)
            print(f"  {f} n={n}: flagged {rate:.2f}, failed {fail:.2f} ({sec:.2f} s/stream)", file=sys.stderr, flush=True)
    header = " | ".join(f"{n:,}" for n in args.sizes)
    print("Cells: flagged (any check warns or fails) / failed (the verdict is fail).\n")
    print(f"| defect | b | {header} | n90 flagged | n90 failed | n* (STATS §6) | n90 flagged / n* |")
    print("|---" * (len(args.sizes) + 6) + "|")
    for f in args.families:
        b, _, nstar, _ = FAMILIES[f]
        flagged = [cells[(f, n)][0] for n in args.sizes]
        failed = [cells[(f, n)][1] for n in args.sizes]
        need = n90(args.sizes, flagged)
        ratio = f"{float(need.lstrip('<=>')) / nstar:.1f}" if nstar and need[0].isdigit() else "-"
        row = " | ".join(f"{a:.2f} / {x:.2f}" for a, x in zip(flagged, failed))
        print(f"| {f} | {b} | {row} | {need} | {n90(args.sizes, failed)} | {nstar or '-'} | {ratio} |")
    slowest = max(cells.items(), key=lambda kv: kv[1][2])
    print(f"\nslowest cell: {slowest[0]} at {slowest[1][2]:.2f} s/stream")


if __name__ == "__main__":
    main()

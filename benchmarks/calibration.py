"""Family-wise false-fail rate of the whole battery on clean (shuffled) feeds, per shape.

    python benchmarks/calibration.py [--reps 10000] [--workers 2] [--shapes NAME ...]

Each shape draws ``reps`` independent clean streams (fixed seeds), runs the full battery at
alpha = 1e-3 exactly as ``loadercheck.check`` does, and counts streams with any ``fail``.
Prints the rate with its Clopper-Pearson 95% interval; the target is rate <= 1e-3 with the
upper bound <= 2e-3 for the worst shape. Also: streams whose verdict is ``warn`` (a significant but
small effect: exit code 0, yet a reader sees WARN), the smallest fast (pre-net) p-value of an
order check, and how many streams had one below the permutation net's floor.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import battery_fails, clopper_pearson, net_floor  # noqa: E402

from loadercheck import synthetic as syn  # noqa: E402

ALPHA = 1e-3

# name: (n, batch size, feed maker(rng) -> labels, continuous)
SHAPES = {
    "10 balanced, b=32, n=4096": (4096, 32, lambda r: syn.shuffled(4096, syn.uniform_shares(10), r), False),
    "10 balanced, b=2, n=1024": (1024, 2, lambda r: syn.shuffled(1024, syn.uniform_shares(10), r), False),
    "10 balanced, b=4, n=1024": (1024, 4, lambda r: syn.shuffled(1024, syn.uniform_shares(10), r), False),
    "10 balanced, b=256, n=16384": (16384, 256, lambda r: syn.shuffled(16384, syn.uniform_shares(10), r), False),
    "95/5 binary, b=32, n=1024": (1024, 32, lambda r: syn.shuffled(1024, np.array([0.95, 0.05]), r), False),
    "95/5 binary, b=4, n=256": (256, 4, lambda r: syn.shuffled(256, np.array([0.95, 0.05]), r), False),
    "1000 classes, b=32, n=4096": (4096, 32, lambda r: syn.shuffled(4096, syn.uniform_shares(1000), r), False),
    "1000 Zipf, b=4, n=1024": (1024, 4, lambda r: syn.shuffled(1024, syn.zipf_shares(1000), r), False),
    "95/5 binary, b=32, n=16384": (16384, 32, lambda r: syn.shuffled(16384, np.array([0.95, 0.05]), r), False),
    "1000 Zipf, b=4, n=16384": (16384, 4, lambda r: syn.shuffled(16384, syn.zipf_shares(1000), r), False),
    "with replacement 10, b=32, n=2048": (2048, 32, lambda r: syn.shuffled(2048, syn.uniform_shares(10), r, replace=True), False),
    "with replacement 95/5, b=2, n=512": (512, 2, lambda r: syn.shuffled(512, np.array([0.95, 0.05]), r, replace=True), False),
    "regression normal, b=32, n=2048": (2048, 32, lambda r: syn.regression_targets(2048, r), True),
    "regression Poisson(2) ties, b=16, n=1024": (1024, 16, lambda r: syn.regression_targets(1024, r, "poisson"), True),
}


def run_shape(args: tuple[str, int, int]) -> tuple[str, int, int, float, dict[str, int]]:
    name, reps, seed0 = args
    n, b, make, continuous = SHAPES[name]
    fails, warns, by_check, smallest, below = 0, 0, {}, 1.0, 0
    floor = net_floor(ALPHA, 5 if continuous else 4)
    t0 = time.perf_counter()
    for i in range(reps):
        rng = np.random.default_rng([seed0, i])
        failed, ids, fast, warned = battery_fails(make(rng), b, alpha=ALPHA, seed=i, continuous=continuous)
        fails += failed
        warns += warned and not failed
        smallest = min(smallest, fast)
        below += fast <= floor
        for check_id in ids:
            by_check[check_id] = by_check.get(check_id, 0) + 1
    return name, reps, fails, warns, time.perf_counter() - t0, by_check, smallest, below


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES))
    args = parser.parse_args()
    jobs = [(name, args.reps, 1000 + i) for i, name in enumerate(args.shapes)]
    print("| shape | streams | false fails | rate | 95% CI | ms/stream | failing checks | warns | smallest fast p "
          "| fast p below floor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = (0.0, "")
    with ProcessPoolExecutor(args.workers) as pool:
        for name, reps, fails, warns, seconds, by_check, smallest, below in pool.map(run_shape, jobs):
            lo, hi = clopper_pearson(fails, reps)
            worst = max(worst, (hi, name))
            checks = ", ".join(f"{k} {v}" for k, v in sorted(by_check.items())) or "-"
            print(f"| {name} | {reps} | {fails} | {fails / reps:.1e} | [{lo:.1e}, {hi:.1e}] | "
                  f"{1000 * seconds / reps:.1f} | {checks} | {warns} | {smallest:.1e} | {below} |", flush=True)
    print(f"\nworst upper CI bound: {worst[0]:.1e} ({worst[1]}); target <= {2 * ALPHA:.0e}")
    print(f"permutation net floor: {net_floor(ALPHA, 4):.1e} categorical, {net_floor(ALPHA, 5):.1e} regression "
          "(below it a fast p-value stands only where the permutations would be costly, "
          "loadercheck.stats.permutation.trusts_fast_tail)")


if __name__ == "__main__":
    main()

"""Throughput of the whole battery, peak memory, and CLI start-up cost.

    python benchmarks/throughput.py [--sizes 1000000 10000000]

Prints labels per second for the full categorical battery (no permutation net is triggered on
clean streams) at batch size 32 with 10 and 1000 classes, one core (numpy/BLAS threads pinned to
1 through the environment below), the peak traced memory, ``loadercheck --help`` wall time, and
whether ``--help`` or ``import loadercheck`` imports torch. Target: >= 5M labels/s, --help < 0.5 s.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import make_stream  # noqa: E402

from loadercheck import synthetic as syn  # noqa: E402
from loadercheck.checks import run_checks  # noqa: E402
from loadercheck.options import Options  # noqa: E402


def battery_seconds(n: int, k: int, repeats: int = 3) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    stream = make_stream(syn.shuffled(n, syn.uniform_shares(k), rng), 32)
    best = float("inf")
    for seed in range(repeats):
        t0 = time.perf_counter()
        run_checks(stream, Options(seed=seed))
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    run_checks(stream, Options(seed=0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / 2**20


def cli_help_seconds(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "loadercheck", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def imports_torch(code: str) -> bool:
    probe = f"import sys\n{code}\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return out.stdout.strip().endswith("True")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    print("| labels | classes | seconds (best of 3) | labels/s | peak traced memory (MiB) |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        for k in (10, 1000):
            seconds, peak = battery_seconds(n, k, repeats=3 if n <= 2_000_000 else 1)
            print(f"| {n:,} | {k} | {seconds:.3f} | {n / seconds / 1e6:.1f}M | {peak:.0f} |", flush=True)
    help_code = ("import runpy, sys\nsys.argv=['loadercheck','--help']\n"
                 "try:\n    runpy.run_module('loadercheck', run_name='__main__')\nexcept SystemExit:\n    pass")
    print(f"\nloadercheck --help (python -m, median of 5): {cli_help_seconds():.3f} s")
    print(f"torch imported by --help: {imports_torch(help_code)}")
    print(f"torch imported by `import loadercheck`: {imports_torch('import loadercheck')}")


if __name__ == "__main__":
    main()

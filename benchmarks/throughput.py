"""Throughput of the whole battery, of ``check()`` end to end, peak memory, and CLI start-up cost.

    python benchmarks/throughput.py [--sizes 1000000 10000000] [--only battery end-to-end help]

Prints labels per second for the full categorical battery (no permutation net is triggered on
clean streams) at batch size 32 with 10 and 1000 classes, one core (numpy/BLAS threads pinned to
1 through the environment below), the peak traced memory, ``loadercheck --help`` wall time, and
whether ``--help`` or ``import loadercheck`` imports torch. Target: >= 5M labels/s, --help < 0.5 s.

The end-to-end section runs ``check()`` on in-memory batches: a Python list of ``(inputs,
labels)`` tuples (1,000 batches of 1,000 labels, 10 classes, shuffled; inputs of shape (1000, 4)
float32), as numpy arrays and as torch tensors, and a smaller list with 3x32x32 float32 inputs
per sample. A list is re-iterable, so two passes are drawn: labels/s counts every label recorded
(both passes), and the time is split into the draw (:func:`loadercheck.api.sample`: iterating,
reading labels, fingerprints, input summaries) and the checks (:func:`loadercheck.api.evaluate`);
``check()`` is exactly the one followed by the other. Best of ``--repeats`` runs.
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
from loadercheck.api import evaluate, sample  # noqa: E402
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


def in_memory_batches(kind: str, batches: int, batch_size: int, shape: tuple[int, ...],
                      classes: int = 10, seed: int = 0) -> list[tuple[object, object]]:
    """A list of ``(inputs, labels)`` batches (numpy arrays, or torch tensors for ``kind="torch"``)."""
    rng = np.random.default_rng(seed)
    out: list[tuple[object, object]] = []
    for _ in range(batches):
        inputs = rng.standard_normal((batch_size, *shape), dtype=np.float32)
        labels = rng.integers(0, classes, batch_size)
        if kind == "torch":
            import torch

            out.append((torch.from_numpy(inputs), torch.from_numpy(labels)))
        else:
            out.append((inputs, labels))
    return out


def end_to_end_seconds(loader: list, repeats: int = 3) -> tuple[float, float, int, str]:
    """Best draw and checks seconds of ``check(loader, batches=len(loader))``, labels recorded, verdict."""
    options = Options(batches=len(loader))
    best_draw = best_checks = float("inf")
    labels, verdict = 0, ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        stream = sample(loader, options)
        t1 = time.perf_counter()
        report = evaluate(stream, options, target="list")
        t2 = time.perf_counter()
        best_draw, best_checks = min(best_draw, t1 - t0), min(best_checks, t2 - t1)
        labels, verdict = sum(int(e.labels.size) for e in stream.epochs), str(report.verdict)
    return best_draw, best_checks, labels, verdict


def end_to_end(batches: int, batch_size: int, image_batches: int, repeats: int) -> None:
    try:
        import torch  # noqa: F401
        kinds = ("numpy", "torch")
    except ImportError:
        kinds = ("numpy",)
    cases = [(kind, (4,), batches) for kind in kinds]
    if image_batches:
        cases += [(kind, (3, 32, 32), image_batches) for kind in kinds]
    print("\n| inputs | per sample | batches x labels | labels recorded | draw s | checks s "
          "| draw labels/s | checks labels/s | end to end labels/s | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, shape, count in cases:
        loader = in_memory_batches(kind, count, batch_size, shape)
        draw_s, checks_s, labels, verdict = end_to_end_seconds(loader, repeats)
        del loader
        per = "x".join(map(str, shape))
        print(f"| {kind} | {per} float32 | {count:,} x {batch_size:,} | {labels:,} | {draw_s:.3f} | {checks_s:.3f} "
              f"| {labels / draw_s / 1e6:.2f}M | {labels / checks_s / 1e6:.2f}M "
              f"| {labels / (draw_s + checks_s) / 1e6:.2f}M | {verdict} |", flush=True)


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
    parser.add_argument("--only", nargs="*", choices=("battery", "end-to-end", "help"),
                        default=["battery", "end-to-end", "help"], help="sections to run (default: all)")
    parser.add_argument("--batches", type=int, default=1000, help="end to end: batches in the list")
    parser.add_argument("--batch-size", type=int, default=1000, help="end to end: labels per batch")
    parser.add_argument("--image-batches", type=int, default=50,
                        help="end to end: batches with 3x32x32 inputs (12 KiB per sample; 0 skips them)")
    parser.add_argument("--repeats", type=int, default=3, help="end to end: best of this many runs")
    args = parser.parse_args()
    if "battery" in args.only:
        print("| labels | classes | seconds (best of 3) | labels/s | peak traced memory (MiB) |")
        print("|---|---|---|---|---|")
        for n in args.sizes:
            for k in (10, 1000):
                seconds, peak = battery_seconds(n, k, repeats=3 if n <= 2_000_000 else 1)
                print(f"| {n:,} | {k} | {seconds:.3f} | {n / seconds / 1e6:.1f}M | {peak:.0f} |", flush=True)
    if "end-to-end" in args.only:
        end_to_end(args.batches, args.batch_size, args.image_batches, args.repeats)
    if "help" not in args.only:
        return
    help_code = ("import runpy, sys\nsys.argv=['loadercheck','--help']\n"
                 "try:\n    runpy.run_module('loadercheck', run_name='__main__')\nexcept SystemExit:\n    pass")
    print(f"\nloadercheck --help (python -m, median of 5): {cli_help_seconds():.3f} s")
    print(f"torch imported by --help: {imports_torch(help_code)}")
    print(f"torch imported by `import loadercheck`: {imports_torch('import loadercheck')}")


if __name__ == "__main__":
    main()

"""Cost per stream on a defect grid: seconds of checking (the permutation net included), side by side.

    python benchmarks/cost.py [--reps 5] [--before PATH] [--cells NAME ...]
    python benchmarks/cost.py --stability 12 [--seeds 4] [--before PATH] [--cells NAME ...]

Each cell draws ``--reps`` seeded streams and times the checks only (``run_checks`` on a label
stream; for the label-free cells ``loadercheck.api.evaluate`` on a recorded stream, the sampling
excluded). With ``--before PATH`` (a checkout of an earlier commit, e.g. ``git worktree add
/tmp/lc_before <commit>``) every cell is also run against that tree, the two trees alternating
cell by cell in fresh subprocesses so that both see the same load; the table gives both and their
ratio. Cells: sorted, partial sort (5%), shuffle buffer (half the data), drifting prior (0.05),
clean 10 balanced classes, clean 1,000 classes drawn with replacement at batch 256, small batches
(1, 2, 4: every net certifies over 512 to 2,048 batches), a faint partial sort of 2,048 labels
(only window-drift sees it, and its net decides), 256-label streams (a 20% partial sort, near the
detection threshold, and a clean one: nets on few labels may draw 5x their nominal permutations), and
label-free images grouped by cluster (64 to 512 batches of 32).

Also times ``loadercheck --help`` and a cold ``import loadercheck`` + ``check()`` of a small
list of batches (fresh interpreters, median of ``--starts``; compiled bytecode read from a cache, as
an installed package reads it, after one untimed start).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CELLS = {
    # name: (labels, batch size)
    "sorted, 10 classes": (16384, 32),
    "sorted, 10 classes, 64k": (65536, 32),
    "partial sort 5%": (16384, 32),
    "partial sort 5%, 64k": (65536, 32),
    "partial sort 5%, 4k": (4096, 32),
    "partial sort 5%, 2k": (2048, 32),
    "partial sort 5%, 2k, b=4": (2048, 4),
    "partial sort 5%, 2k, b=1": (2048, 1),
    "buffer 0.5": (16384, 32),
    "buffer 0.5, 2k": (2048, 32),
    "partial sort 20%, 2k": (2048, 32),
    "partial sort 20%, 2k, b=1": (2048, 1),
    "partial sort 20%, 2k, b=2": (2048, 2),
    "partial sort 20%, 2k, b=4": (2048, 4),
    "partial sort 20%, 256": (256, 32),
    "clean 10 classes, 256": (256, 32),
    "drift 0.05, 4k, b=2": (4096, 2),
    "drift 0.05": (16384, 32),
    "drift 0.05, 4k": (4096, 32),
    "clean 10 classes": (16384, 32),
    "clean 10 classes, 64k": (65536, 32),
    "clean 1000 classes with replacement, b=256": (16384, 256),
    "clean 1000 classes with replacement, b=256, 64k": (65536, 256),
    "label-free clusters grouped, 2k": (2048, 32),
    "label-free clusters grouped, 16k": (16384, 32),
    "label-free clusters shuffled, 2k": (2048, 32),
}


def _labels(name: str, n: int, rng):
    import numpy as np

    from loadercheck import synthetic as syn

    u = syn.uniform_shares(10)
    if name.startswith("sorted"):
        return syn.sorted_epoch(n, u)
    if name.startswith("partial sort"):
        return syn.partial_sort(n, u, 0.2 if "20%" in name else 0.05, rng)
    if name.startswith("buffer"):
        return syn.shuffle_buffer(syn.sorted_epoch(n, u), n // 2, rng)
    if name.startswith("drift"):
        return syn.drifting_prior(n, 10, 0.05, rng)
    if name.startswith("clean 10"):
        return syn.shuffled(n, u, rng)
    if name.startswith("clean 1000"):
        return rng.integers(0, 1000, n).astype(np.int64)
    raise KeyError(name)


def worker(name: str, reps: int, seed0: int) -> dict:
    """Run one cell in this interpreter (the tree on sys.path) and return its timings."""
    import numpy as np

    n, b = CELLS[name]
    times, verdicts, perms = [], [], []
    for i in range(reps):
        rng = np.random.default_rng([seed0, i])
        if name.startswith("label-free"):
            sys.path.insert(0, str(HERE))
            from calibration import cluster_centres, cluster_images

            from loadercheck import synthetic as syn
            from loadercheck.api import evaluate, sample
            from loadercheck.options import Options

            shares = syn.uniform_shares(10)
            clusters = syn.sorted_epoch(n, shares) if "grouped" in name else syn.shuffled(n, shares, rng)
            batches = cluster_images(clusters, cluster_centres(10, rng), rng, b)
            opts = Options(seed=i)
            stream = sample(batches, opts)
            t0 = time.perf_counter()
            report = evaluate(stream, opts, target="list")
            times.append(time.perf_counter() - t0)
            verdicts.append(str(report.verdict.value))
            checks = report.checks
        else:
            sys.path.insert(0, str(HERE))
            from _common import make_stream

            from loadercheck.checks import run_checks
            from loadercheck.options import Options

            stream = make_stream(_labels(name, n, rng), b)
            t0 = time.perf_counter()
            checks = run_checks(stream, Options(seed=i))
            times.append(time.perf_counter() - t0)
            statuses = {c.status.value for c in checks}
            verdicts.append("fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass")
        perms.append(sum(float((c.details or {}).get("mc_perms", 0.0)) for c in checks))
    return {"times": times, "verdicts": verdicts, "perms": perms}


def stability(name: str, streams: int, seeds: int, seed0: int) -> dict:
    """Per stream of a cell, the verdict under ``seeds`` different ``--seed`` values: how many streams
    change verdict, and how many had a net stopped by its budget (unsettled)."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from _common import make_stream

    from loadercheck.checks import run_checks
    from loadercheck.options import Options

    n, b = CELLS[name]
    changed, flipped, unsettled, seen = 0, 0, 0, []
    for i in range(streams):
        stream = make_stream(_labels(name, n, np.random.default_rng([seed0, 7, i])), b)
        verdicts, loose, overall = set(), False, set()
        for seed in range(seeds):
            checks = run_checks(stream, Options(seed=seed))
            statuses = {c.status.value for c in checks}
            verdicts.add(tuple(sorted((c.id, c.status.value) for c in checks if c.pvalue is not None)))
            loose |= any((c.details or {}).get("mc_settled", 1.0) == 0.0 for c in checks)
            seen.append("fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass")
            overall.add(seen[-1])
        changed += len(verdicts) > 1
        flipped += len(overall) > 1
        unsettled += loose
    return {"changed": changed, "flipped": flipped, "unsettled": unsettled, "streams": streams,
            "verdicts": {v: seen.count(v) for v in set(seen)}}


def _run_stability(tree: Path, name: str, streams: int, seeds: int, seed0: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    code = (f"import sys, json; sys.path.insert(0, {str(tree)!r}); sys.path.insert(0, {str(HERE)!r}); "
            f"import cost; print(json.dumps(cost.stability({name!r}, {streams}, {seeds}, {seed0})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(tree))
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run_cell(tree: Path, name: str, reps: int, seed0: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    code = (f"import sys, json; sys.path.insert(0, {str(tree)!r}); sys.path.insert(0, {str(HERE)!r}); "
            f"import cost; print(json.dumps(cost.worker({name!r}, {reps}, {seed0})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(tree))
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _start_env(tree: Path) -> dict[str, str]:
    """A fresh interpreter's environment for the start-up figures: ``tree`` first on the path, and
    compiled bytecode read from a cache, as an installed package reads it (pip compiles it at install)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "lc_cost_pycache")}


def _timed(cmd: list[str], tree: Path, starts: int) -> float:
    env = _start_env(tree)
    subprocess.run(cmd, env=env, capture_output=True, cwd=str(tree), check=True)  # untimed: caches the bytecode
    walls = []
    for _ in range(starts):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, cwd=str(tree), check=True)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


COLD = ("import time; t = time.perf_counter(); import numpy as np; import loadercheck; "
        "r = loadercheck.check([(np.zeros((32, 3)), np.arange(32) % 4) for _ in range(16)]); "
        "print(time.perf_counter() - t)")


def _cold(tree: Path, starts: int) -> tuple[float, float]:
    """Median wall of a fresh interpreter's import + check() (and of the import alone), seconds."""
    env = _start_env(tree)
    subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, cwd=str(tree), check=True)  # untimed
    whole, imp = [], []
    for _ in range(starts):
        out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True, cwd=str(tree),
                             check=True)
        whole.append(float(out.stdout.strip().splitlines()[-1]))
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import loadercheck"], env=env,
                             capture_output=True, text=True, cwd=str(tree), check=True)
        last = [line for line in out.stderr.splitlines() if line.rstrip().endswith("| loadercheck")]
        imp.append(int(last[-1].split("|")[1]) / 1e6 if last else float("nan"))
    return statistics.median(whole), statistics.median(imp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--before", type=Path, default=None, help="an earlier checkout to compare with")
    parser.add_argument("--cells", nargs="*", default=None)
    parser.add_argument("--starts", type=int, default=5, help="fresh interpreters for the start-up timings")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--stability", type=int, default=0, metavar="STREAMS",
                        help="instead of timings: per cell, STREAMS streams each checked under --seeds seeds; "
                             "how many change their per-check statuses")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    trees = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    if args.stability:
        for name in args.cells or ["partial sort 5%, 4k", "drift 0.05, 4k"]:
            for label, tree in trees:
                r = _run_stability(tree, name, args.stability, args.seeds, args.seed)
                print(f"{name:<28} {label:<6}: of {r['streams']} streams, {r.get('flipped', '?')} change verdict and "
                      f"{r['changed']} change some check's status across {args.seeds} seeds; {r['unsettled']} had "
                      f"an unsettled net; verdicts {r['verdicts']}", flush=True)
        return
    names = args.cells or list(CELLS)
    rows = []
    for name in names:
        res = {}
        for label, tree in (trees if len(rows) % 2 == 0 else trees[::-1]):
            res[label] = _run_cell(tree, name, args.reps, args.seed)
        rows.append((name, res))
        line = [f"{name:<50}"]
        for label, _ in trees:
            t = res[label]["times"]
            v = res[label]["verdicts"]
            line.append(f"{label}: median {statistics.median(t):7.3f} s max {max(t):7.3f} s "
                        f"perms {statistics.median(res[label]['perms']):8.0f} verdicts {','.join(sorted(set(v)))}")
        if args.before:
            line.append(f"ratio of max {max(res['before']['times']) / max(max(res['after']['times']), 1e-9):6.1f}x")
        print("  ".join(line), flush=True)
    print()
    print("| cell | labels | b | " + " | ".join(f"{lbl} median s | {lbl} max s | {lbl} verdicts" for lbl, _ in trees)
          + (" | max before / after |" if args.before else " |"))
    print("|---|---|---|" + "---|---|---|" * len(trees) + ("---|" if args.before else ""))
    for name, res in rows:
        n, b = CELLS[name]
        cells = []
        for label, _ in trees:
            t, v = res[label]["times"], res[label]["verdicts"]
            counts = {s: v.count(s) for s in ("pass", "warn", "fail") if v.count(s)}
            cells += [f"{statistics.median(t):.3f}", f"{max(t):.3f}", " ".join(f"{s} {c}" for s, c in counts.items())]
        ratio = f" | {max(res['before']['times']) / max(max(res['after']['times']), 1e-9):.1f}x" if args.before else ""
        print(f"| {name} | {n:,} | {b} | " + " | ".join(cells) + ratio + " |")
    print()
    for label, tree in trees:
        helps = _timed([sys.executable, "-m", "loadercheck", "--help"], tree, args.starts)
        whole, imp = _cold(tree, args.starts)
        print(f"{label}: `python -m loadercheck --help` {helps:.3f} s; cold import + check() of 16 batches "
              f"{whole:.3f} s (import loadercheck alone {imp:.3f} s), median of {args.starts} fresh interpreters")


if __name__ == "__main__":
    main()

"""What a default CLI run adds to torch's import and the user's loader, and where it goes.

Each figure is the median of ``--starts`` fresh interpreters (wall clock, seconds; and the CPU time,
user + system, of the process and its children, steadier on a shared machine):

- ``python``: an interpreter that does nothing;
- ``torch + loader``: import torch, build a small DataLoader (2,048 samples of 10 classes, batch 32,
  shuffled) and iterate it twice, as the CLI does (the second pass feeds the cross-epoch checks);
- ``loadercheck CLI``: ``python -m loadercheck cold_start_loader:make_loader`` on that loader;
- the imports the CLI adds, each timed after torch in one interpreter: ``numpy.f2py`` (which
  scipy's array-API layer imports under numpy 2.4, through ``from numpy import *``), the rest of
  ``scipy.special`` (the tails), ``rich``, ``loadercheck.cli`` (the parser), ``loadercheck.api``
  (the rest of the core).

*Own* = CLI - (torch + loader): what loadercheck adds. Every interpreter reads compiled bytecode,
as an installed package does (pip compiles it at install): the runs write and read it under a
temporary ``PYTHONPYCACHEPREFIX``, ``PYTHONDONTWRITEBYTECODE`` unset, after one untimed start each.
(Compiling loadercheck's sources at every start cost about 0.1 s of the 2-core machine.) ``--before DIR`` also times the CLI of
another tree (a ``git worktree``; its package first on ``PYTHONPATH``), interleaved with the rest.
Run: ``python benchmarks/cold_start.py [--before /tmp/lc_before]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOADER = '''
import torch
from torch.utils.data import DataLoader, TensorDataset


def make_loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 8, generator=g)
    y = torch.randint(0, 10, (2048,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)
'''

IMPORTS = '''
import time
t = [time.perf_counter()]
import numpy, torch
t.append(time.perf_counter())
import numpy.f2py
t.append(time.perf_counter())
import scipy.special
t.append(time.perf_counter())
import rich.console
t.append(time.perf_counter())
import loadercheck.cli
t.append(time.perf_counter())
import loadercheck.api
t.append(time.perf_counter())
print(" ".join(f"{b - a:.4f}" for a, b in zip(t, t[1:])))
'''


def wall(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another tree whose CLI is timed alongside")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "cold_start_loader.py").write_text(LOADER)
        runs = {
            "python": [py, "-c", "pass"],
            "torch + loader": [py, "-c", "import cold_start_loader as m; l = m.make_loader(); [b for b in l]; [b for b in l]"],
            "loadercheck CLI": [py, "-m", "loadercheck", "cold_start_loader:make_loader"],
        }
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
        envs = {name: env for name in runs}
        if args.before is not None:
            runs["CLI, before"] = runs["loadercheck CLI"]
            envs["CLI, before"] = {**env, "PYTHONPATH": str(args.before.resolve())}
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        parts: list[list[float]] = []
        for name, command in runs.items():  # compiles and caches the bytecode
            wall(command, cwd, envs[name])
        subprocess.run([py, "-c", IMPORTS], cwd=cwd, env=env, check=True, capture_output=True)
        for _ in range(args.starts):  # interleaved, so a busy moment hits every figure alike
            for name, command in runs.items():
                seconds, cpu_seconds = wall(command, cwd, envs[name])
                times[name].append(seconds)
                cpu[name].append(cpu_seconds)
            out = subprocess.run([py, "-c", IMPORTS], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout
            parts.append([float(v) for v in out.split()])
    med = {name: statistics.median(v) for name, v in times.items()}
    for name, value in med.items():
        print(f"{name:<18} {value:.3f} s   (min {min(times[name]):.3f}, max {max(times[name]):.3f}; "
              f"CPU {statistics.median(cpu[name]):.3f} s)")
    def paired(a: str, b: str) -> str:  # medians over starts of a - b, each pair run back to back
        return (f"{statistics.median(x - y for x, y in zip(times[a], times[b])):.3f} s (CPU "
                f"{statistics.median(x - y for x, y in zip(cpu[a], cpu[b])):.3f} s)")

    print(f"{'own':<18} {paired('loadercheck CLI', 'torch + loader')}   (median of CLI - torch + loader, start by start)")
    if args.before is not None:
        print(f"{'own, before':<18} {paired('CLI, before', 'torch + loader')}")
        print(f"{'before - after':<18} {paired('CLI, before', 'loadercheck CLI')}")
    names = ["numpy + torch", "numpy.f2py", "scipy.special", "rich", "loadercheck.cli", "loadercheck.api"]
    for i, name in enumerate(names):
        print(f"  import {name:<16} {statistics.median(p[i] for p in parts):.3f} s")
    import numpy, scipy  # noqa: E401 - the versions the figures are for

    print(f"numpy {numpy.__version__}, scipy {scipy.__version__}")


if __name__ == "__main__":
    main()

"""What a default CLI run adds to torch's import and the user's loader, and where it goes.

Each figure is the median of ``--starts`` fresh interpreters, the runs interleaved (wall clock and
CPU time, user + system, in seconds):

- ``python``: an interpreter that does nothing;
- ``torch + loader``: import torch, build a small DataLoader (2,048 samples of 10 classes, batch 32,
  shuffled) and iterate it twice, as the CLI does (the second pass feeds the cross-epoch checks);
- ``CLI``: ``python -m loadercheck cold_start_loader:make_loader`` on that loader;
- ``--help``: ``python -m loadercheck --help``;
- ``share inside``: the CLI's run measured inside one process, from ``import loadercheck.cli`` to
  the end of the report, with torch and the user's module imported beforehand: what loadercheck
  adds, without the noise of torch's own import (which varies by tenths of a second between starts);
- ``own``: CLI minus (torch + loader), start by start, the same share seen from outside;
- the imports the CLI adds, each timed after torch in one interpreter: ``numpy.f2py`` (which
  scipy's array-API layer imports under numpy 2.4, through ``from numpy import *``), the rest of
  ``scipy.special`` (the tails), ``rich``, ``loadercheck.cli`` (the parser), ``loadercheck.api``
  (the rest of the core).

Every interpreter reads compiled bytecode, as an installed package does (pip compiles it at
install): the runs write and read it under a temporary ``PYTHONPYCACHEPREFIX``, with
``PYTHONDONTWRITEBYTECODE`` unset, after one untimed start each (compiling loadercheck's sources at
every start cost about 0.1 s on the 2-core machine). ``--before DIR`` also times the CLI, ``--help``
and the share inside of another tree (a ``git worktree``; its package first on ``PYTHONPATH``).

Run: ``python benchmarks/cold_start.py [--starts 15] [--before /tmp/lc_before]``.
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

INSIDE = '''
import contextlib, io, sys, time
import torch, cold_start_loader  # the user's side, imported before loadercheck
wall, cpu = time.perf_counter(), time.process_time()
import loadercheck.cli as cli
with contextlib.redirect_stdout(io.StringIO()):
    if hasattr(cli, "_parser"):
        cli.run(["cold_start_loader:make_loader"])
    else:  # a tree from before the argparse parser
        try:
            cli.app(["cold_start_loader:make_loader"])
        except SystemExit:
            pass
print(f"{time.perf_counter() - wall:.4f} {time.process_time() - cpu:.4f}")
'''
IMPORT_NAMES = ["numpy + torch", "numpy.f2py", "scipy.special", "rich", "loadercheck.cli", "loadercheck.api"]


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall-clock and CPU seconds of one run, and its stdout."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    out = subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another tree, timed alongside")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "cold_start_loader.py").write_text(LOADER)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
        trees = {"": env}
        if args.before is not None:
            trees[", before"] = {**env, "PYTHONPATH": str(args.before.resolve())}
        runs: dict[str, tuple[list[str], dict[str, str]]] = {
            "python": ([py, "-c", "pass"], env),
            "torch + loader": ([py, "-c", "import cold_start_loader as m; l = m.make_loader(); [b for b in l]; [b for b in l]"], env),
            "imports": ([py, "-c", IMPORTS], env),
        }
        for suffix, tree_env in trees.items():
            runs["CLI" + suffix] = ([py, "-m", "loadercheck", "cold_start_loader:make_loader"], tree_env)
            runs["--help" + suffix] = ([py, "-m", "loadercheck", "--help"], tree_env)
            runs["share inside" + suffix] = ([py, "-c", INSIDE], tree_env)
        for command, run_env in runs.values():  # compiles and caches the bytecode
            timed(command, cwd, run_env)
        wall: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        printed: dict[str, list[list[float]]] = {name: [] for name in runs}
        for _ in range(args.starts):  # interleaved, so a busy moment hits every figure alike
            for name, (command, run_env) in runs.items():
                seconds, cpu_seconds, out = timed(command, cwd, run_env)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
                printed[name].append([float(v) for v in out.split()] if name.startswith(("imports", "share")) else [])

    def median(values) -> float:
        return statistics.median(values)

    for name in runs:
        if name.startswith("share inside"):
            inside_wall, inside_cpu = median(p[0] for p in printed[name]), median(p[1] for p in printed[name])
            print(f"{name:<21} {inside_wall:.3f} s   (CPU {inside_cpu:.3f} s; measured in the process)")
        elif name != "imports":
            print(f"{name:<21} {median(wall[name]):.3f} s   (min {min(wall[name]):.3f}, max {max(wall[name]):.3f}; "
                  f"CPU {median(cpu[name]):.3f} s)")
    for suffix in trees:
        own = median(a - b for a, b in zip(wall["CLI" + suffix], wall["torch + loader"]))
        own_cpu = median(a - b for a, b in zip(cpu["CLI" + suffix], cpu["torch + loader"]))
        print(f"{'own' + suffix:<21} {own:.3f} s   (CPU {own_cpu:.3f} s; CLI - torch + loader, start by start)")
    for i, name in enumerate(IMPORT_NAMES):
        print(f"  import {name:<16} {median(p[i] for p in printed['imports']):.3f} s")
    import numpy, scipy  # noqa: E401 - the versions the figures are for

    print(f"numpy {numpy.__version__}, scipy {scipy.__version__}")


if __name__ == "__main__":
    main()

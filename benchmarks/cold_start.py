"""What a default CLI run adds to torch's import and the user's loader, and where it goes.

Each figure is the median of ``--starts`` fresh interpreters (wall clock, seconds):

- ``python``: an interpreter that does nothing;
- ``torch + loader``: import torch, build a small DataLoader (2,048 samples of 10 classes, batch 32,
  shuffled) and iterate it twice, as the CLI does (the second pass feeds the cross-epoch checks);
- ``loadercheck CLI``: ``python -m loadercheck cold_start_loader:make_loader`` on that loader;
- the imports the CLI adds, each timed after torch in one interpreter: ``numpy.f2py`` (which
  scipy's array-API layer imports under numpy 2.4, through ``from numpy import *``), the rest of
  ``scipy.special`` (the tails), ``typer`` + ``rich``, ``pydantic`` (typer 0.29 builds its parameter
  adapters with it when it parses a command line), ``loadercheck.cli``, ``loadercheck.api`` (the
  rest of the core).

*Own* = CLI - (torch + loader): what loadercheck adds. Run: ``python benchmarks/cold_start.py``.
"""

from __future__ import annotations

import argparse
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
import typer, rich
t.append(time.perf_counter())
import pydantic
t.append(time.perf_counter())
import loadercheck.cli
t.append(time.perf_counter())
import loadercheck.api
t.append(time.perf_counter())
print(" ".join(f"{b - a:.4f}" for a, b in zip(t, t[1:])))
'''


def wall(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=7)
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
        times: dict[str, list[float]] = {name: [] for name in runs}
        parts: list[list[float]] = []
        for _ in range(args.starts):  # interleaved, so a busy moment hits every figure alike
            for name, command in runs.items():
                times[name].append(wall(command, cwd))
            out = subprocess.run([py, "-c", IMPORTS], cwd=cwd, check=True, capture_output=True, text=True).stdout
            parts.append([float(v) for v in out.split()])
    med = {name: statistics.median(v) for name, v in times.items()}
    for name, value in med.items():
        print(f"{name:<18} {value:.3f} s   (min {min(times[name]):.3f}, max {max(times[name]):.3f})")
    print(f"{'own':<18} {med['loadercheck CLI'] - med['torch + loader']:.3f} s   (CLI - torch + loader, medians)")
    names = ["numpy + torch", "numpy.f2py", "scipy.special", "typer + rich", "pydantic", "loadercheck.cli",
             "loadercheck.api"]
    for i, name in enumerate(names):
        print(f"  import {name:<16} {statistics.median(p[i] for p in parts):.3f} s")
    import numpy, scipy, typer  # noqa: E401 - the versions the figures are for

    print(f"numpy {numpy.__version__}, scipy {scipy.__version__}, typer {typer.__version__}")


if __name__ == "__main__":
    main()

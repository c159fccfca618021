"""Whole-epoch index analysis at scale: the order of up to 100M samples read from the sampler.

    python benchmarks/whole_epoch.py [--samples 1281167] [--classes 1000] [--batch-size 256]
                                     [--case shuffled|sorted|both]

A map-style dataset of ``--samples`` samples (default 1,281,167: ImageNet-1k's training set) in
``--classes`` classes, stored sorted by class, whose ``__getitem__`` raises (so the run proves no
sample is loaded); it exposes ``targets`` like torchvision's ImageFolder, as a numpy array of the
smallest integer type that holds the classes (int16 for 1,000). ``loadercheck.check(loader,
from_sampler=True)`` reads two whole epochs of indices from the DataLoader's batch sampler and runs
every check on them. Timed for a shuffled loader (``shuffle=True`` with a seeded generator, the
healthy case) and a ``shuffle=False`` one (the defect), each in its own process so that its peak
memory is its own. One run per case; prints seconds per stage:

* ``order``  reading 2 epochs of indices (:func:`loadercheck.epoch_index.read_index_order`, with
  the checks' sample cap),
* ``labels`` the label lookup: the dataset's ``targets`` read and coded over the whole dataset,
  then gathered in feed order,
* ``checks`` :func:`loadercheck.checks.run_checks` (the order checks and the forensics),
* ``check()`` the whole public call end to end (all of the above once more, and the report),

and the process's peak memory: ``maxrss`` (``resource.getrusage``; torch's ``randperm`` tensors
included) above the dataset's own, and the peak of numpy allocations traced by ``tracemalloc``
during ``check()``. Target (issue 10): 100,000,000 samples within 60 s per ``check()`` and bounded
memory. One core (BLAS and torch threads pinned to 1).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import loadercheck  # noqa: E402
from loadercheck.checks import run_checks  # noqa: E402
from loadercheck.epoch_index import SAMPLE_CAP, code_labels, read_index_order, sampler_labels, sampler_stream  # noqa: E402
from loadercheck.options import Options  # noqa: E402
from loadercheck.results import LabelKind  # noqa: E402


class LabelsOnly:
    """A dataset sorted by class that exposes ``targets`` and refuses to load samples."""

    def __init__(self, samples: int, classes: int) -> None:
        dtype = np.int16 if classes <= 2**15 else np.int32
        self.targets = np.empty(samples, dtype=dtype)
        step = 1 << 24
        for start in range(0, samples, step):  # class c holds indices [c * n / k, (c + 1) * n / k)
            stop = min(samples, start + step)
            self.targets[start:stop] = np.arange(start, stop, dtype=np.int64) * classes // samples

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        raise RuntimeError("a sample was loaded: the whole-epoch analysis must read indices only")


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(args: argparse.Namespace, shuffle: bool) -> None:
    torch.set_num_threads(1)
    dataset = LabelsOnly(args.samples, args.classes)
    base = _maxrss_mib()
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=shuffle,
                        generator=torch.Generator().manual_seed(0) if shuffle else None)
    name = "shuffled" if shuffle else "shuffle=False"
    t0 = time.perf_counter()
    order = read_index_order(loader, epochs=2, cap=SAMPLE_CAP, size=len(dataset))
    t_order = time.perf_counter() - t0
    t0 = time.perf_counter()
    values, _ = sampler_labels(loader)
    coded, _ = code_labels(values, LabelKind.CATEGORICAL)
    for flat in order.indices:
        coded[flat].astype(np.int64)
    t_labels = time.perf_counter() - t0
    del order, values, coded
    stream = sampler_stream(loader, epochs=2)
    t0 = time.perf_counter()
    run_checks(stream, Options())
    t_checks = time.perf_counter() - t0
    del stream
    tracemalloc.start()
    t0 = time.perf_counter()
    report = loadercheck.check(loader, from_sampler=True)
    t_check = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak = _maxrss_mib()
    failing = [c.id for c in report.checks if str(c.status) == "fail"]
    print(f"{name:>14}: check() {t_check:6.2f} s | order {t_order:6.2f} s, labels {t_labels:5.2f} s, "
          f"checks {t_checks:5.2f} s | peak maxrss {peak:,.0f} MiB ({peak - base:,.0f} MiB above the dataset's "
          f"{base:,.0f}; {(peak - base) * 2**20 / args.samples:.1f} B/sample), tracemalloc peak {traced:,.0f} MiB | "
          f"verdict {report.verdict}{' (' + ', '.join(failing) + ')' if failing else ''}", flush=True)
    mine = [n for n in report.stream.notes if n.startswith(("order read", "each epoch of"))]
    for note in mine:
        print(f"{'':>16}note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_281_167)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--case", choices=("both", "shuffled", "sorted"), default="both")
    args = parser.parse_args()
    if args.case != "both":
        run_case(args, shuffle=args.case == "shuffled")
        return
    print(f"dataset: {args.samples:,} samples, {args.classes:,} classes, batch size {args.batch_size}; two whole "
          f"epochs per check; the checks analyse at most {SAMPLE_CAP:,} samples per epoch "
          f"(loadercheck.epoch_index.SAMPLE_CAP); each case in its own process; load {os.getloadavg()[0]:.2f}",
          flush=True)
    for case in ("shuffled", "sorted"):
        subprocess.run([sys.executable, __file__, "--samples", str(args.samples), "--classes", str(args.classes),
                        "--batch-size", str(args.batch_size), "--case", case], check=True)
    print("target: < 60 s per check() at 100,000,000 samples")


if __name__ == "__main__":
    main()

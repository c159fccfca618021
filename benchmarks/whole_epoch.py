"""Whole-epoch index analysis at ImageNet size: the order of 1.2M samples read from the sampler.

    python benchmarks/whole_epoch.py [--samples 1281167] [--classes 1000] [--batch-size 256] [--repeats 3]

A map-style dataset of 1,281,167 samples (ImageNet-1k's training set size) in 1,000 classes, stored
sorted by class, whose ``__getitem__`` raises (so the run proves no sample is loaded); it exposes
``targets`` like torchvision's ImageFolder. ``loadercheck.check(loader, from_sampler=True)`` reads
two whole epochs of indices from the DataLoader's batch sampler and runs every check on them.
Timed for a shuffled loader (``shuffle=True``, the healthy case) and a ``shuffle=False`` one (the
defect); prints the best wall time of each, split into reading the sampler and running the checks.
Target (issue 5): under 10 s on this machine. One core (BLAS threads pinned to 1).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import loadercheck  # noqa: E402
from loadercheck.epoch_index import read_index_order  # noqa: E402


class LabelsOnly:
    """A dataset sorted by class that exposes ``targets`` and refuses to load samples."""

    def __init__(self, samples: int, classes: int) -> None:
        self.targets = np.sort(np.arange(samples) % classes)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        raise RuntimeError("a sample was loaded: the whole-epoch analysis must read indices only")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_281_167)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = LabelsOnly(args.samples, args.classes)
    print(f"dataset: {args.samples:,} samples, {args.classes:,} classes, batch size {args.batch_size}; "
          f"two whole epochs per check")
    for name, shuffle in (("shuffled", True), ("shuffle=False", False)):
        loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=shuffle,
                            generator=torch.Generator().manual_seed(0) if shuffle else None)
        best, best_read = float("inf"), float("inf")
        report = None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            read_index_order(loader, epochs=2)
            best_read = min(best_read, time.perf_counter() - t0)
            t0 = time.perf_counter()
            report = loadercheck.check(loader, from_sampler=True)
            best = min(best, time.perf_counter() - t0)
        assert report is not None
        failing = [c.id for c in report.checks if str(c.status) == "fail"]
        print(f"{name:>14}: {best:6.2f} s per check ({best_read:.2f} s reading 2 epochs of indices, "
              f"{best - best_read:.2f} s checks); {report.stream.samples:,} samples/epoch, verdict {report.verdict}"
              f"{' (' + ', '.join(failing) + ')' if failing else ''}")
        print(f"{'':>14}  note: {report.stream.notes[-1]}")
    print("target: < 10 s per check")


if __name__ == "__main__":
    main()

"""False alarms and power of the forensics tests (cross-epoch-order, duplicates, input-drift).

    python benchmarks/forensics_calibration.py [--reps 20000] [--quick]

Calibration: clean streams (the null each test is built on), the share of p-values at or below
1e-2, 1e-3 and the level each test really runs at (``FORENSICS_SHARE * alpha / 4`` = 2.5e-5 at the
default alpha), with Clopper-Pearson 95% upper bounds:

- cross-epoch-order: two independent shuffles of one label multiset (10 balanced classes, 95/5,
  1000 Zipf classes) and of distinct sample ids, n = 256 and 4096;
- duplicates' copy-proximity test: ids drawn with replacement (many repeats in random places),
  and a dataset holding every input twice, shuffled; band 1 and 4 batches;
- input-drift: six summaries per sample, heavy-tailed (t3) and with a per-batch shift (dynamic
  padding), 16 to 500 batches.

Each p-value is the decision p-value (with the permutation net the check runs near its level).
Whole battery: ``run_checks`` (order checks + forensics) on clean two-epoch streams carrying ids
and heavy-tailed inputs with per-batch shifts; the share with any ``fail`` (target <= alpha).

Power: input-drift on two concatenated sources (a mean shift of d standard deviations in one
summary for the second half), fraction flagged at 2.5e-5, by batches.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats as sps  # noqa: E402

from loadercheck import synthetic as syn  # noqa: E402
from loadercheck.checks import run_checks  # noqa: E402
from loadercheck.forensics import MC_FACTOR, net_perms, test_alpha  # noqa: E402
from loadercheck.options import Options  # noqa: E402
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Stream  # noqa: E402
from loadercheck.stats import identity  # noqa: E402

LEVEL = test_alpha(Options())
NET = {"mc_below": MC_FACTOR * LEVEL, "mc_max_perms": net_perms(LEVEL)}

LEVELS = (1e-2, 1e-3, 2.5e-5)


def upper(k: int, n: int) -> float:
    return float(sps.beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0


def summarise(name: str, pvalues: np.ndarray) -> None:
    n = pvalues.size
    cells = []
    for level in LEVELS:
        k = int(np.count_nonzero(pvalues <= level))
        cells.append(f"{k / n:.1e} (<= {upper(k, n):.1e})")
    print(f"{name:<58} n={n:>6}  " + "  ".join(f"@{lvl:g}: {c}" for lvl, c in zip(LEVELS, cells)))


def cross_epoch(reps: int, rng: np.random.Generator) -> None:
    for label, shares in (("10 balanced", syn.uniform_shares(10)), ("95/5", np.array([0.95, 0.05])),
                          ("1000 Zipf", syn.zipf_shares(1000))):
        for n in (256, 4096):
            labels = syn.shuffled(n, shares, rng)
            p = np.array([identity.epoch_match_test(rng.permutation(labels), rng.permutation(labels), rng=rng,
                                                    mc_max_labels=2048, **NET).pvalue
                          for _ in range(reps)])
            summarise(f"cross-epoch labels {label}, n={n}", p)
    for n in (256, 4096):
        ids = np.arange(n)
        p = np.array([identity.epoch_match_test(rng.permutation(ids), rng.permutation(ids), rng=rng, mc_max_labels=2048,
                                                **NET).pvalue for _ in range(reps)])
        summarise(f"cross-epoch distinct ids, n={n}", p)


def proximity(reps: int, rng: np.random.Generator) -> None:
    for band in (1, 4):
        for name, make in (("with replacement (N = n)", lambda n: rng.integers(0, n, n)),
                           ("every input twice, shuffled", lambda n: rng.permutation(np.repeat(np.arange(n // 2), 2)))):
            n, b = 1024, 32
            p = np.array([identity.proximity_test(make(n), np.full(n // b, b), band=band, rng=rng,
                                                  mc_max_labels=1024, **NET).pvalue
                          for _ in range(reps)])
            summarise(f"duplicates proximity, {name}, band {band}", p)


def drift(reps: int, rng: np.random.Generator) -> None:
    for nb in (16, 64, 500):
        for b in (4, 32):
            p = np.empty(reps)
            for i in range(reps):
                shift = rng.normal(size=(nb, 1, 6)) * 2.0
                feats = (rng.standard_t(3, size=(nb, b, 6)) + shift).reshape(-1, 6)
                p[i] = identity.feature_drift_test(feats, np.full(nb, b), rng=rng, **NET).pvalue
            summarise(f"input-drift t3 + batch shifts, {nb} batches of {b}", p)


def drift_power(reps: int, rng: np.random.Generator) -> None:
    print("input-drift power (two sources concatenated; share flagged at 2.5e-5):")
    for d in (0.05, 0.1, 0.3):
        row = []
        for nb in (32, 64, 128, 500):
            hits = 0
            for _ in range(reps):
                feats = rng.normal(size=(nb * 32, 6))
                feats[nb * 16:, 0] += d
                hits += identity.feature_drift_test(feats, np.full(nb, 32), rng=rng, **NET).pvalue <= LEVEL
            row.append(f"{nb:>4} batches: {hits / reps:.2f}")
        print(f"  shift {d:.2f} sd: " + ", ".join(row))


def whole_battery(reps: int, rng: np.random.Generator) -> None:
    """Family-wise: run_checks (order + forensics) on clean two-epoch streams with ids and inputs."""
    fails = warns = 0
    cells = (("10 balanced", syn.uniform_shares(10)), ("95/5", np.array([0.95, 0.05])),
             ("1000 Zipf", syn.zipf_shares(1000)))
    for i in range(reps):
        name, shares = cells[i % len(cells)]
        n, b = int(rng.choice([256, 1024, 4096])), int(rng.choice([4, 32, 256]))
        n = max(n - n % b, 2 * b)
        replace = bool(rng.integers(0, 2))
        epochs = []
        for _ in range(2):
            if replace:
                ids = rng.integers(0, n, n)
                labels = (ids * 7919 % len(shares)).astype(np.int64) if len(shares) > 2 else (ids % 20 == 0).astype(np.int64)
            else:
                ids = rng.permutation(n)
                labels = syn.shuffled(n, shares, rng)
            feats = rng.standard_t(3, size=(n, 6)) + np.repeat(rng.normal(size=(n // b, 6)), b, axis=0)
            epochs.append(Epoch(labels, np.full(n // b, b), fingerprints=ids.astype(np.uint64), features=feats))
        k = int(max(e.labels.max() for e in epochs)) + 1
        info = LoaderInfo("DataLoader", batch_size=b, sampler="RandomSampler", shuffle=True, dataset_kind="map",
                          replacement=replace, dataset_length=n)
        stream = Stream(tuple(epochs), LabelKind.CATEGORICAL, tuple(range(k)), info)
        statuses = [str(c.status) for c in run_checks(stream, Options(seed=i))]
        fails += "fail" in statuses
        warns += "warn" in statuses
    print(f"whole battery (order + forensics) on {reps} clean two-epoch streams: any fail {fails / reps:.1e} "
          f"(<= {upper(fails, reps):.1e}), any warn {warns / reps:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 repetitions")
    args = parser.parse_args()
    reps = 2000 if args.quick else args.reps
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    cross_epoch(reps, rng)
    proximity(reps // 4, rng)
    drift(reps // 4, rng)
    drift_power(max(reps // 1000, 20), rng)
    whole_battery(max(reps // 20, 100), rng)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()

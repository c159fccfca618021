"""Detection rate of the whole battery vs samples observed, per defect family and severity.

A stream is *flagged* when any check is significant (warn or fail) and *failed* when the
verdict is fail (significant and an effect large enough to hurt, see docs/checks.md).

    python benchmarks/power.py [--reps 100] [--large-reps R] [--workers 2] [--sizes 256 1024 4096 16384 65536]

10 classes, batch size 32 unless the family says otherwise, alpha = 1e-3 family-wise. For each
cell, ``reps`` seeded streams of n labels; the rate is the share of streams whose report fails.
n90 = labels needed for 90% power (log-interpolated between sizes). n* is the information limit
of STATS.md §6 (fewest labels any test could need; quoted from that reference study) for the
families defined the same way there.

Feed families (``--group feeds``; the order checks on signals other than a class label): each
stream is a list of batches built as in ``benchmarks/calibration.py`` and judged by the public
``loadercheck.check()`` (sketching, clustering, the one Holm family): unlabeled inputs from 10
Gaussian clusters in a partially sorted order (input-order), language-model batches whose 4 domains
come in sorted blocks through a shuffle buffer (input-order), sequences partially sorted by length
(length-order), and a ``source`` column of three sources concatenated behind a shuffle buffer
(metadata-order). ``caught by`` lists the checks that failed, over all sizes of the row.

    python benchmarks/power.py --group feeds --reps 50 --sizes 256 1024 4096 16384
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # see calibration.py

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import battery_outcome  # noqa: E402
from calibration import cluster_centres, cluster_images, domain_vocabularies, source_batches  # noqa: E402
from calibration import token_batches, token_lengths  # noqa: E402

import loadercheck  # noqa: E402
from loadercheck import synthetic as syn  # noqa: E402
from loadercheck.results import Status  # noqa: E402

K = 10
U = syn.uniform_shares(K)

# name: (batch size, maker(n, rng) -> labels, n* from STATS.md §6 or None, continuous)
FAMILIES = {
    "psort 0.05": (32, lambda n, r: syn.partial_sort(n, U, 0.05, r), 588, False),
    "psort 0.2": (32, lambda n, r: syn.partial_sort(n, U, 0.2, r), 46, False),
    "buffer 0.5": (32, lambda n, r: syn.shuffle_buffer(syn.sorted_epoch(n, U), n // 2, r), 35, False),
    "buffer 0.1": (32, lambda n, r: syn.shuffle_buffer(syn.sorted_epoch(n, U), n // 10, r), 5, False),
    "shards 64": (32, lambda n, r: syn.sorted_shards(n, U, 64, r), 3, False),
    "drift 0.05": (32, lambda n, r: syn.drifting_prior(n, K, 0.05, r), 688, False),
    "drift 0.09": (32, lambda n, r: syn.drifting_prior(n, K, 0.09, r), 196, False),
    "batch-periodic 0.1": (32, lambda n, r: syn.batch_periodic(n, K, 32, 0.1, r), None, False),
    "batch-periodic 0.3": (32, lambda n, r: syn.batch_periodic(n, K, 32, 0.3, r), None, False),
    "batchpure 0.1": (32, lambda n, r: syn.batch_purity(n, K, 32, 0.1, r), 865, False),
    "batchpure 0.3": (32, lambda n, r: syn.batch_purity(n, K, 32, 0.3, r), 31, False),
    "batchpure 0.3, b=4": (4, lambda n, r: syn.batch_purity(n, K, 4, 0.3, r), 138, False),
    "concatenated": (32, lambda n, r: syn.concatenated(n, K, r), None, False),
    "tdrift 0.3 (regression)": (32, lambda n, r: syn.target_drift(n, 0.3, r), None, True),
}


def tsort(n: int, fraction: float, r: np.random.Generator) -> np.ndarray:
    x = syn.regression_targets(n, r)
    chosen = np.flatnonzero(r.random(n) < fraction)
    x[chosen] = np.sort(x[chosen])
    return x


FAMILIES["tsort 0.2 (regression)"] = (32, lambda n, r: tsort(n, 0.2, r), None, True)


# ---------------------------------------------------------------- feeds judged on other signals
FEED_B = 32


def _psorted(x: np.ndarray, fraction: float, r: np.random.Generator) -> np.ndarray:
    """Each position joins a set sorted in place with probability ``fraction`` (STATS.md's psort)."""
    x = x.copy()
    chosen = np.flatnonzero(r.random(x.size) < fraction)
    x[chosen] = np.sort(x[chosen])
    return x


def clusters_psort(n: int, fraction: float, r: np.random.Generator) -> list:
    """Unlabeled images of 10 equal Gaussian clusters, the cluster order partially sorted."""
    return cluster_images(syn.partial_sort(n, U, fraction, r), cluster_centres(K, r), r, FEED_B)


def lm_domain_blocks(n: int, buffer: float, r: np.random.Generator) -> list:
    """LM batches of 4 domains stored one after another, streamed through a shuffle buffer of
    ``buffer * n`` samples; lengths do not depend on the domain (only the tokens do)."""
    domains = syn.shuffle_buffer(syn.sorted_epoch(n, syn.uniform_shares(4)), int(buffer * n), r)
    lengths = token_lengths(np.zeros(n, dtype=np.int64), r)
    return token_batches(domains, lengths, domain_vocabularies(4, r), r, FEED_B)


def lm_length_psort(n: int, fraction: float, r: np.random.Generator) -> list:
    """LM batches of 4 shuffled domains whose sequence lengths are partially sorted (psort)."""
    domains = syn.shuffled(n, syn.uniform_shares(4), r)
    lengths = _psorted(token_lengths(domains, r), fraction, r)
    return token_batches(domains, lengths, domain_vocabularies(4, r), r, FEED_B)


def source_concat(n: int, buffer: float, r: np.random.Generator) -> list:
    """Three sources (80/15/5) concatenated, through a shuffle buffer of ``buffer * n``; the class
    label (10 balanced) is shuffled and independent of the source."""
    sources = syn.shuffle_buffer(syn.sorted_epoch(n, np.array([0.80, 0.15, 0.05])), int(buffer * n), r)
    return source_batches(sources, syn.shuffled(n, U, r), r, FEED_B)


# name: (maker(n, rng) -> list of batches)
FEED_FAMILIES = {
    "unlabeled clusters psort 0.05": lambda n, r: clusters_psort(n, 0.05, r),
    "unlabeled clusters psort 0.2": lambda n, r: clusters_psort(n, 0.2, r),
    "LM 4 domains in blocks, buffer 0.5": lambda n, r: lm_domain_blocks(n, 0.5, r),
    "LM 4 domains in blocks, buffer 0.9": lambda n, r: lm_domain_blocks(n, 0.9, r),
    "LM lengths psort 0.2": lambda n, r: lm_length_psort(n, 0.2, r),
    "source 80/15/5 concatenated, buffer 0.5": lambda n, r: source_concat(n, 0.5, r),
    "source 80/15/5 concatenated, buffer 0.9": lambda n, r: source_concat(n, 0.9, r),
}


def run_cell(args: tuple[str, int, int]) -> tuple[str, int, float, float, float, dict[str, int]]:
    name, n, reps = args
    feed = name in FEED_FAMILIES
    b, make, _, continuous = (FEED_B, FEED_FAMILIES[name], None, False) if feed else FAMILIES[name]
    t0 = time.perf_counter()
    flagged = failed = 0
    caught: dict[str, int] = {}
    for i in range(reps):
        rng = np.random.default_rng([zlib.crc32(name.encode()), n, i])
        if feed:
            batches = make(n, rng)
            report = loadercheck.check(batches, seed=i, batches=len(batches))
            f = report.verdict in (Status.WARN, Status.FAIL)
            x = report.verdict is Status.FAIL
            for c in report.failed:
                caught[c.id] = caught.get(c.id, 0) + 1
        else:
            f, x = battery_outcome(make(n, rng), b, seed=i, continuous=continuous)
        flagged += f
        failed += x
    return name, n, flagged / reps, failed / reps, (time.perf_counter() - t0) / reps, caught


def n90(sizes: list[int], rates: list[float]) -> str:
    if rates[0] >= 0.9:
        return f"<={sizes[0]}"
    for (n0, r0), (n1, r1) in zip(zip(sizes, rates), zip(sizes[1:], rates[1:])):
        if r0 < 0.9 <= r1:
            frac = (0.9 - r0) / (r1 - r0)
            return f"{int(round(np.exp(np.log(n0) + frac * (np.log(n1) - np.log(n0))))):d}"
    return f">{sizes[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 1024, 4096, 16384, 65536])
    parser.add_argument("--large-reps", type=int, default=None,
                        help="streams per cell at sizes >= 16384 (default: --reps); their cells can take seconds each")
    parser.add_argument("--group", choices=("all", "classic", "feeds"), default="all",
                        help="classic: label streams through run_checks; feeds: check() on in-memory batches")
    parser.add_argument("--families", nargs="*", default=None, help="family names (either table); default: the group")
    args = parser.parse_args()
    if args.families is None:
        args.families = [*(FAMILIES if args.group != "feeds" else ()),
                         *(FEED_FAMILIES if args.group != "classic" else ())]
    unknown = [f for f in args.families if f not in FAMILIES and f not in FEED_FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; known: {[*FAMILIES, *FEED_FAMILIES]}")
    jobs = [(f, n, args.large_reps if args.large_reps and n >= 16384 else args.reps)
            for f in args.families for n in args.sizes]
    jobs.sort(key=lambda job: -job[1])  # the largest (slowest) cells first: both workers stay busy to the end
    cells = {}
    caught: dict[str, dict[str, int]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for f, n, rate, fail, sec, by_check in pool.map(run_cell, jobs):
            cells[(f, n)] = (rate, fail, sec)
            for k, v in by_check.items():
                caught.setdefault(f, {})[k] = caught.get(f, {}).get(k, 0) + v
            print(f"  {f} n={n}: flagged {rate:.2f}, failed {fail:.2f} ({sec:.2f} s/stream)", file=sys.stderr, flush=True)
    header = " | ".join(f"{n:,}" for n in args.sizes)
    print("Cells: flagged (any check warns or fails) / failed (the verdict is fail).\n")
    classic = [f for f in args.families if f in FAMILIES]
    if classic:
        print(f"| defect | b | {header} | n90 flagged | n90 failed | n* (STATS §6) | n90 flagged / n* |")
        print("|---" * (len(args.sizes) + 6) + "|")
    for f in classic:
        b, _, nstar, _ = FAMILIES[f]
        flagged = [cells[(f, n)][0] for n in args.sizes]
        failed = [cells[(f, n)][1] for n in args.sizes]
        need = n90(args.sizes, flagged)
        ratio = f"{float(need.lstrip('<=>')) / nstar:.1f}" if nstar and need[0].isdigit() else "-"
        row = " | ".join(f"{a:.2f} / {x:.2f}" for a, x in zip(flagged, failed))
        print(f"| {f} | {b} | {row} | {need} | {n90(args.sizes, failed)} | {nstar or '-'} | {ratio} |")
    feeds = [f for f in args.families if f in FEED_FAMILIES]
    if feeds:
        print(f"\nFeeds judged on other signals (check() on lists of batches of {FEED_B}; flagged / failed):\n")
        print(f"| defect | {header} | n90 flagged | n90 failed | caught by (failing checks, all sizes) |")
        print("|---" * (len(args.sizes) + 4) + "|")
        for f in feeds:
            flagged = [cells[(f, n)][0] for n in args.sizes]
            failed = [cells[(f, n)][1] for n in args.sizes]
            row = " | ".join(f"{a:.2f} / {x:.2f}" for a, x in zip(flagged, failed))
            by = ", ".join(f"{k} {v}" for k, v in sorted(caught.get(f, {}).items(), key=lambda kv: -kv[1])) or "-"
            print(f"| {f} | {row} | {n90(args.sizes, flagged)} | {n90(args.sizes, failed)} | {by} |")
    reps = {n: (args.large_reps if args.large_reps and n >= 16384 else args.reps) for n in args.sizes}
    print("\nstreams per cell: " + ", ".join(f"{n:,}: {r}" for n, r in reps.items()))
    slowest = max(cells.items(), key=lambda kv: kv[1][2])
    print(f"\nslowest cell: {slowest[0]} at {slowest[1][2]:.2f} s/stream")


if __name__ == "__main__":
    main()

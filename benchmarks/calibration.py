"""Family-wise false-fail rate of the whole battery on clean (shuffled) feeds, per shape.

    python benchmarks/calibration.py [--reps 10000] [--workers 2] [--group all|classic|feeds] [--shapes NAME ...]

Each shape draws ``reps`` independent clean streams (fixed seeds), runs the full battery at
alpha = 1e-3 exactly as ``loadercheck.check`` does, and counts streams with any ``fail``.
Prints the rate with its Clopper-Pearson 95% interval; the target is rate <= 1e-3 with the
upper bound <= 2e-3 for the worst shape. Also: streams whose verdict is ``warn`` (a significant but
small effect: exit code 0, yet a reader sees WARN), the smallest fast (pre-net) p-value of an
order check, and how many streams had one below the permutation net's floor.

Feed shapes (``--group feeds``): feeds that are not one class label per sample, each drawn as a
list of 64 batches of 32 built from a fresh shuffle of a synthetic dataset and judged by the public
``loadercheck.check()`` (both passes of the list, sketching, clustering, structured targets,
metadata columns, the one Holm family, the forensics): unlabeled inputs from Gaussian clusters
(input-order), token batches with padding (input-order, length-order), multi-hot rows,
detection targets and segmentation masks (the label checks on one code per sample), and a
``source`` metadata column beside a class label (metadata-order). False fails and false warns are
counted separately, each with its Clopper-Pearson 95% interval; the last column is the smallest
raw (pre-Holm) p-value of any order check.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one BLAS thread per worker (cluster_codes' eigh: 5-10x slower on 2 here)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import battery_fails, clopper_pearson, net_floor  # noqa: E402

import loadercheck  # noqa: E402
from loadercheck import synthetic as syn  # noqa: E402
from loadercheck.checks import ORDER_CHECK_IDS  # noqa: E402
from loadercheck.results import Status  # noqa: E402

ALPHA = 1e-3

# name: (n, batch size, feed maker(rng) -> labels, continuous)
SHAPES = {
    "10 balanced, b=32, n=4096": (4096, 32, lambda r: syn.shuffled(4096, syn.uniform_shares(10), r), False),
    "10 balanced, b=2, n=1024": (1024, 2, lambda r: syn.shuffled(1024, syn.uniform_shares(10), r), False),
    "10 balanced, b=4, n=1024": (1024, 4, lambda r: syn.shuffled(1024, syn.uniform_shares(10), r), False),
    "10 balanced, b=256, n=16384": (16384, 256, lambda r: syn.shuffled(16384, syn.uniform_shares(10), r), False),
    "95/5 binary, b=32, n=1024": (1024, 32, lambda r: syn.shuffled(1024, np.array([0.95, 0.05]), r), False),
    "95/5 binary, b=4, n=256": (256, 4, lambda r: syn.shuffled(256, np.array([0.95, 0.05]), r), False),
    "1000 classes, b=32, n=4096": (4096, 32, lambda r: syn.shuffled(4096, syn.uniform_shares(1000), r), False),
    "1000 Zipf, b=4, n=1024": (1024, 4, lambda r: syn.shuffled(1024, syn.zipf_shares(1000), r), False),
    "95/5 binary, b=32, n=16384": (16384, 32, lambda r: syn.shuffled(16384, np.array([0.95, 0.05]), r), False),
    "1000 Zipf, b=4, n=16384": (16384, 4, lambda r: syn.shuffled(16384, syn.zipf_shares(1000), r), False),
    "with replacement 10, b=32, n=2048": (2048, 32, lambda r: syn.shuffled(2048, syn.uniform_shares(10), r, replace=True), False),
    "with replacement 95/5, b=2, n=512": (512, 2, lambda r: syn.shuffled(512, np.array([0.95, 0.05]), r, replace=True), False),
    # a class prior between balanced and 95/5, where the autocorrelation test's fast tail runs anti-conservative
    "80/20 binary, b=32, n=2048": (2048, 32, lambda r: syn.shuffled(2048, np.array([0.8, 0.2]), r), False),
    "80/15/5, b=32, n=2048": (2048, 32, lambda r: syn.shuffled(2048, np.array([0.80, 0.15, 0.05]), r), False),
    # short streams (4-15 batches: a guard's early looks, a small prefix), where window-drift runs
    # its trend and sorted order without windows
    "10 balanced, b=32, n=256": (256, 32, lambda r: syn.shuffled(256, syn.uniform_shares(10), r), False),
    "with replacement 90/10, b=64, n=512": (512, 64, lambda r: syn.shuffled(512, np.array([0.9, 0.1]), r, replace=True), False),
    "1000 Zipf, b=256, n=1024": (1024, 256, lambda r: syn.shuffled(1024, syn.zipf_shares(1000), r), False),
    "regression normal, b=32, n=2048": (2048, 32, lambda r: syn.regression_targets(2048, r), True),
    "regression Poisson(2) ties, b=16, n=1024": (1024, 16, lambda r: syn.regression_targets(1024, r, "poisson"), True),
}


# ---------------------------------------------------------------- feeds that are not one label per sample
# Builders shared with power.py: each takes per-sample values in feed order and returns a list of
# batches (the last partial batch dropped), as a collate function would build them.

FEED_BATCH = 32
FEED_BATCHES = 64
FEED_N = FEED_BATCH * FEED_BATCHES
IMAGE = (3, 8, 8)
VOCAB = 4096


def _cut(n: int, b: int) -> list[slice]:
    return [slice(s, s + b) for s in range(0, n - n % b, b)]


def cluster_centres(k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` Gaussian cluster centres in image space (unit noise around each)."""
    return rng.normal(size=(k, int(np.prod(IMAGE))))


def cluster_images(clusters: np.ndarray, centres: np.ndarray, rng: np.random.Generator, b: int = FEED_BATCH) -> list:
    """Bare float32 image batches (no label): sample i is ``centres[clusters[i]]`` plus unit noise."""
    x = (centres[clusters] + rng.normal(size=(clusters.size, centres.shape[1]))).astype(np.float32)
    x = x.reshape(clusters.size, *IMAGE)
    return [x[s] for s in _cut(clusters.size, b)]


def domain_vocabularies(domains: int, rng: np.random.Generator) -> np.ndarray:
    """One token order per domain: a domain draws token ``vocab[d][j]`` with Zipf(1.1) weight of rank j."""
    return np.stack([rng.permutation(VOCAB) + 1 for _ in range(domains)])  # 0 is the pad id


_ZIPF = 1.0 / np.arange(1, VOCAB + 1) ** 1.1
_ZIPF_CDF = np.cumsum(_ZIPF / _ZIPF.sum())


def token_batches(domains: np.ndarray, lengths: np.ndarray, vocab: np.ndarray, rng: np.random.Generator,
                  b: int = FEED_BATCH) -> list:
    """Language-model batches {input_ids, attention_mask, labels}: each padded to its longest sequence
    (pad id 0), labels = input_ids with -100 on padding (Hugging Face's collator)."""
    out = []
    for cut in _cut(domains.size, b):
        dom, length = domains[cut], lengths[cut]
        width = int(length.max())
        mask = (np.arange(width)[None, :] < length[:, None]).astype(np.int64)
        ranks = np.minimum(np.searchsorted(_ZIPF_CDF, rng.random((dom.size, width))), VOCAB - 1)
        ids = np.where(mask == 1, vocab[dom[:, None], ranks], 0).astype(np.int64)
        out.append({"input_ids": ids, "attention_mask": mask, "labels": np.where(mask == 1, ids, -100)})
    return out


def token_lengths(domains: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sequence lengths, 8..128 tokens, longer on average in higher domains (as real corpora differ)."""
    scale = 20.0 + 10.0 * domains
    return np.clip(np.round(rng.exponential(scale) + 8), 8, 128).astype(np.int64)


def source_batches(sources: np.ndarray, labels: np.ndarray, rng: np.random.Generator, b: int = FEED_BATCH) -> list:
    """Dict batches {image, label, source}: a class label beside a ``source`` column of strings."""
    names = np.array(["web", "books", "code", "papers", "forum"])
    x = rng.normal(size=(sources.size, 16)).astype(np.float32)
    return [{"image": x[s], "label": labels[s], "source": names[sources[s]].tolist()} for s in _cut(sources.size, b)]


def _unlabeled_clusters(shares: np.ndarray):
    def make(rng: np.random.Generator) -> list:
        return cluster_images(syn.shuffled(FEED_N, shares, rng), cluster_centres(len(shares), rng), rng)
    return make


def _tokens(rng: np.random.Generator) -> list:
    domains = syn.shuffled(FEED_N, syn.uniform_shares(4), rng)
    return token_batches(domains, token_lengths(domains, rng), domain_vocabularies(4, rng), rng)


TAG_SHARES = 0.35 * 0.85 ** np.arange(20)
"""Prevalence of each of the 20 tags (0.35 down to 0.015): lead labels are imbalanced, some rows empty."""


def _multi_label(rng: np.random.Generator) -> list:
    rows = (rng.random((FEED_N, TAG_SHARES.size)) < TAG_SHARES).astype(np.float32)
    x = rng.normal(size=(FEED_N, 16)).astype(np.float32)
    order = rng.permutation(FEED_N)  # one fixed dataset, a fresh shuffle
    x, rows = x[order], rows[order]
    return [(x[s], rows[s]) for s in _cut(FEED_N, FEED_BATCH)]


def _detection(rng: np.random.Generator) -> list:
    prior = syn.zipf_shares(10)
    records = []
    for count in rng.integers(0, 5, size=FEED_N):  # 0-4 objects per image (0: code -1)
        records.append({"boxes": rng.random((count, 4)).astype(np.float32),
                        "labels": rng.choice(10, size=count, p=prior).astype(np.int64)})
    x = rng.normal(size=(FEED_N, *IMAGE)).astype(np.float32)
    order = rng.permutation(FEED_N)
    return [(x[order[s]], tuple(records[i] for i in order[s])) for s in _cut(FEED_N, FEED_BATCH)]


def _segmentation(rng: np.random.Generator, side: int = 16) -> list:
    """uint8 masks: background 0, up to two squares of classes 1..5, a void (255) border row."""
    masks = np.zeros((FEED_N, side, side), dtype=np.uint8)
    grid = np.arange(side)
    for _ in range(2):
        cls = rng.integers(0, 6, size=FEED_N)  # 0: no square this time
        top, left = rng.integers(0, side, size=(2, FEED_N))
        size = rng.integers(2, side // 2 + 1, size=FEED_N)
        rows = (grid[None, :] >= top[:, None]) & (grid[None, :] < (top + size)[:, None])
        cols = (grid[None, :] >= left[:, None]) & (grid[None, :] < (left + size)[:, None])
        inside = rows[:, :, None] & cols[:, None, :] & (cls > 0)[:, None, None]
        masks = np.where(inside, cls[:, None, None].astype(np.uint8), masks)
    masks[:, 0, :] = 255
    x = rng.normal(size=(FEED_N, *IMAGE)).astype(np.float32)
    order = rng.permutation(FEED_N)
    return [(x[order[s]], masks[order[s]]) for s in _cut(FEED_N, FEED_BATCH)]


def _source(rng: np.random.Generator) -> list:
    sources = syn.shuffled(FEED_N, np.array([0.80, 0.15, 0.05]), rng)
    return source_batches(sources, syn.shuffled(FEED_N, syn.uniform_shares(10), rng), rng)


# name: (maker(rng) -> list of batches, expected target kind, order checks the report must hold)
FEED_SHAPES = {
    "unlabeled 10 clusters": (_unlabeled_clusters(syn.uniform_shares(10)), "none", {"input-order"}),
    "unlabeled 95/5 clusters": (_unlabeled_clusters(np.array([0.95, 0.05])), "none", {"input-order"}),
    "tokens 4 domains, lengths 8-128": (_tokens, "tokens", {"input-order", "length-order"}),
    "multi-label 20 tags": (_multi_label, "multi-label", {"label-runs", "window-drift"}),
    "detection 10 classes, 0-4 boxes": (_detection, "detection", {"label-runs", "window-drift"}),
    "segmentation 6 classes": (_segmentation, "segmentation", {"label-runs", "window-drift"}),
    "label + source 80/15/5": (_source, "class", {"label-runs", "metadata-order"}),
}


def run_feed_shape(args: tuple[str, int, int, int]) -> tuple[str, int, int, int, float, dict, dict, float]:
    """``reps`` clean streams of one feed shape (seeds ``[seed0, start + i]``) through ``loadercheck.check``."""
    name, start, reps, seed0 = args
    make, kind, expected = FEED_SHAPES[name]
    fails = warns = 0
    failing: dict[str, int] = {}
    warning: dict[str, int] = {}
    smallest = 1.0
    t0 = time.perf_counter()
    for i in range(start, start + reps):
        report = loadercheck.check(make(np.random.default_rng([seed0, i])), seed=i)
        if i == start:  # the feed is read as meant: the checks under test ran
            ran = {c.id for c in report.checks if c.status is not Status.SKIP}
            assert report.stream.target_kind == kind and expected <= ran, (name, report.stream.target_kind, ran)
        fails += report.verdict is Status.FAIL
        warns += report.verdict is Status.WARN
        for c in report.checks:
            if c.status is Status.FAIL:
                failing[c.id] = failing.get(c.id, 0) + 1
            elif c.status is Status.WARN:
                warning[c.id] = warning.get(c.id, 0) + 1
            if c.id in ORDER_CHECK_IDS and c.details and "raw_pvalue" in c.details:
                smallest = min(smallest, float(c.details["raw_pvalue"]))
    return name, reps, fails, warns, time.perf_counter() - t0, failing, warning, smallest


def _merge(into: dict[str, int], more: dict[str, int]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def feed_table(names: list[str], reps: int, pool: ProcessPoolExecutor, chunk: int = 250) -> None:
    """Run the feed shapes in chunks (both workers stay busy) and print one row per shape."""
    jobs = [(name, s, min(chunk, reps - s), 3000 + list(FEED_SHAPES).index(name))
            for name in names for s in range(0, reps, chunk)]
    totals: dict[str, list] = {name: [0, 0, 0, 0.0, {}, {}, 1.0] for name in names}
    for name, n, fails, warns, seconds, failing, warning, smallest in pool.map(run_feed_shape, jobs):
        t = totals[name]
        t[0] += n
        t[1] += fails
        t[2] += warns
        t[3] += seconds
        _merge(t[4], failing)
        _merge(t[5], warning)
        t[6] = min(t[6], smallest)
    print("| feed shape (check() on 64 batches of 32) | streams | false fails | rate | 95% CI | false warns | rate "
          "| 95% CI | ms/stream | failing checks | warning checks | smallest raw order p |")
    print("|---" * 12 + "|")
    worst = (0.0, "")
    for name in names:
        n, fails, warns, seconds, failing, warning, smallest = totals[name]
        flo, fhi = clopper_pearson(fails, n)
        wlo, whi = clopper_pearson(warns, n)
        worst = max(worst, (fhi, name))
        fmt = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "-"  # noqa: E731
        print(f"| {name} | {n} | {fails} | {fails / n:.1e} | [{flo:.1e}, {fhi:.1e}] | {warns} | {warns / n:.1e} | "
              f"[{wlo:.1e}, {whi:.1e}] | {1000 * seconds / n:.1f} | {fmt(failing)} | {fmt(warning)} | "
              f"{smallest:.1e} |", flush=True)
    print(f"\nfeeds: worst upper CI bound on false fails: {worst[0]:.1e} ({worst[1]}); target <= {2 * ALPHA:.0e}")


def run_shape(args: tuple[str, int, int]) -> tuple[str, int, int, float, dict[str, int]]:
    name, reps, seed0 = args
    n, b, make, continuous = SHAPES[name]
    fails, warns, by_check, smallest, below = 0, 0, {}, 1.0, 0
    floor = net_floor(ALPHA, 5 if continuous else 4)
    t0 = time.perf_counter()
    for i in range(reps):
        rng = np.random.default_rng([seed0, i])
        failed, ids, fast, warned = battery_fails(make(rng), b, alpha=ALPHA, seed=i, continuous=continuous)
        fails += failed
        warns += warned and not failed
        smallest = min(smallest, fast)
        below += fast <= floor
        for check_id in ids:
            by_check[check_id] = by_check.get(check_id, 0) + 1
    return name, reps, fails, warns, time.perf_counter() - t0, by_check, smallest, below


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--group", choices=("all", "classic", "feeds"), default="all",
                        help="classic: label streams through run_checks; feeds: check() on in-memory batches")
    parser.add_argument("--shapes", nargs="*", default=None, help="shape names (either table); default: the group")
    args = parser.parse_args()
    names = args.shapes or [*(SHAPES if args.group != "feeds" else ()),
                            *(FEED_SHAPES if args.group != "classic" else ())]
    unknown = [n for n in names if n not in SHAPES and n not in FEED_SHAPES]
    if unknown:
        parser.error(f"unknown shapes {unknown}; known: {[*SHAPES, *FEED_SHAPES]}")
    classic = [n for n in names if n in SHAPES]
    feeds = [n for n in names if n in FEED_SHAPES]
    if feeds:
        with ProcessPoolExecutor(args.workers) as pool:
            feed_table(feeds, args.reps, pool)
        if not classic:
            return
        print()
    jobs = [(name, args.reps, 1000 + list(SHAPES).index(name)) for name in classic]
    print("| shape | streams | false fails | rate | 95% CI | ms/stream | failing checks | warns | smallest fast p "
          "| fast p below floor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = (0.0, "")
    with ProcessPoolExecutor(args.workers) as pool:
        for name, reps, fails, warns, seconds, by_check, smallest, below in pool.map(run_shape, jobs):
            lo, hi = clopper_pearson(fails, reps)
            worst = max(worst, (hi, name))
            checks = ", ".join(f"{k} {v}" for k, v in sorted(by_check.items())) or "-"
            print(f"| {name} | {reps} | {fails} | {fails / reps:.1e} | [{lo:.1e}, {hi:.1e}] | "
                  f"{1000 * seconds / reps:.1f} | {checks} | {warns} | {smallest:.1e} | {below} |", flush=True)
    print(f"\nworst upper CI bound: {worst[0]:.1e} ({worst[1]}); target <= {2 * ALPHA:.0e}")
    print(f"permutation net floor: {net_floor(ALPHA, 4):.1e} categorical, {net_floor(ALPHA, 5):.1e} regression "
          "(below it a fast p-value stands only where the permutations would be costly, "
          "loadercheck.stats.permutation.trusts_fast_tail)")


if __name__ == "__main__":
    main()

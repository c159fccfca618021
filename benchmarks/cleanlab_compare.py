"""loadercheck vs cleanlab Datalab ``non_iid`` on the same label-free streams.

    /work/bench-venv/bin/python benchmarks/cleanlab_compare.py            # the full run (45-80 min on 2 cores)
    /work/bench-venv/bin/python benchmarks/cleanlab_compare.py --quick    # n = 1,024 and 4,096, 3 reps
    /work/bench-venv/bin/python benchmarks/cleanlab_compare.py --sizes 1024 4096 --reps-scale 0.5
    /work/bench-venv/bin/python benchmarks/cleanlab_compare.py --tools cleanlab

cleanlab is a benchmark-only dependency: it is never a dependency of loadercheck (nor of its
``dev`` extra). The benchmark runs in its own virtual environment, made once with

    python3 -m venv /work/bench-venv
    /work/bench-venv/bin/pip install torch==2.13.0
    /work/bench-venv/bin/pip install -e . torch==2.13.0
    /work/bench-venv/bin/pip install cleanlab scikit-learn pandas datasets torch==2.13.0

cleanlab's Datalab ``non_iid`` issue type is the one existing tool that tests a data set's order
from its features (a k-nearest-neighbour index-gap test, Cleanlab's "Detecting Dataset Drift and
Non-IID Sampling via k-Nearest Neighbors"). Both tools see the same streams, each an ordered
version and its shuffled twin (the same samples in a random permutation), batch size 32, no labels:

  visual-clusters  n images (3, 8, 8) float32 from 10 Gaussian clusters (means N(0, 1) per pixel,
                   sample noise sd 1); ordered = sorted by cluster id.
  lm-domains       token sequences (int64, length 64, vocabulary 1,000) from 4 equal domains, each
                   with its own Zipf-like token distribution (weight 1/rank^1.1) over its own random
                   permutation of the vocabulary; ordered = domain after domain.
  length-sorted    token sequences of lengths uniform in [8, 64] (tokens 1..999 from one Zipf-like
                   distribution), right-padded with 0 to 64, with an attention_mask; ordered =
                   sorted by length.

loadercheck sees the batches, exactly as a DataLoader would yield them: a float tensor (32, 3, 8, 8)
per batch for visual-clusters, a dict {"input_ids": LongTensor (32, 64), "attention_mask": ...}
for the token streams; it is called as ``loadercheck.check(batches, batches=n // 32 + 1)`` so that
it reads every sample (its default cap is 500 batches). A stream counts as detected when the
verdict is ``fail``; a ``fail`` on a shuffled twin is a false alarm; warns are counted apart.

cleanlab sees feature vectors (it takes no batches): the flattened images (n, 192) for
visual-clusters; for the token streams a bag-of-tokens histogram (padding excluded) reduced to 64
dimensions by one fixed Gaussian random projection, plus the sequence length as a 65th column for
length-sorted. It runs ``Datalab(data={"dummy": ...}).find_issues(features=X,
issue_types={"non_iid": {}})`` with its defaults (k = 10, 25 permutations, metric chosen by
cleanlab: cosine for these dimensions). Its own flagging rule is ``NonIIDIssueManager``'s
``significance_threshold`` (default 0.05): the data set has a non-IID issue (one example flagged,
``num_issues`` 1 in the issue summary) when the p-value is below it. The table reports that rule,
and p < 1e-3 for a like-for-like comparison with loadercheck's default alpha 1e-3.

Wall time (time.perf_counter, one process, the machine's default threads): loadercheck, the
``check()`` call on batches already in memory; cleanlab, the Datalab construction plus
``find_issues`` on features already computed (the feature extraction is not timed). Each tool
is called once, untimed, on a small stream of each kind before the timed runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BATCH = 32
KINDS = ("visual-clusters", "lm-domains", "length-sorted")
DEFAULT_SIZES = (1024, 4096, 16384, 65536)
VOCAB = 1000
SEQ = 64
PROJ_DIM = 64
ZIPF_EXPONENT = 1.1
CLEANLAB_OWN = 0.05
"""cleanlab NonIIDIssueManager's default significance_threshold (its own flagging rule)."""
LIKE_FOR_LIKE = 1e-3
"""loadercheck's default alpha."""


def default_reps(n: int) -> dict[str, int]:
    """Repetitions per stream kind and twin at size ``n``, before --reps-scale."""
    if n <= 4096:
        return {"loadercheck": 20, "cleanlab": 20}
    if n <= 16384:
        return {"loadercheck": 5, "cleanlab": 5}
    return {"loadercheck": 5, "cleanlab": 2}


# --------------------------------------------------------------------------- streams
@dataclass
class Pair:
    """One stream kind at one size and repetition: the samples and the two orders."""

    kind: str
    n: int
    data: dict[str, np.ndarray]
    ordered: np.ndarray
    twin: np.ndarray


def zipf_weights(size: int) -> np.ndarray:
    w = 1.0 / np.arange(1, size + 1) ** ZIPF_EXPONENT
    return w / w.sum()


def make_pair(kind: str, n: int, rep: int, seed: int) -> Pair:
    rng = np.random.default_rng([seed, KINDS.index(kind), n, rep])
    if kind == "visual-clusters":
        means = rng.standard_normal((10, 3, 8, 8)).astype(np.float32)
        cluster = rng.integers(0, 10, n)
        x = means[cluster] + rng.standard_normal((n, 3, 8, 8), dtype=np.float32)
        return Pair(kind, n, {"x": x}, np.argsort(cluster, kind="stable"), rng.permutation(n))
    if kind == "lm-domains":
        w = zipf_weights(VOCAB)
        per = -(-n // 4)
        parts = []
        for _ in range(4):
            p = np.empty(VOCAB)
            p[rng.permutation(VOCAB)] = w
            parts.append(rng.choice(VOCAB, size=(per, SEQ), p=p))
        ids = np.concatenate(parts)[:n].astype(np.int64)
        mask = np.ones((n, SEQ), dtype=np.int64)
        return Pair(kind, n, {"input_ids": ids, "attention_mask": mask}, np.arange(n), rng.permutation(n))
    if kind == "length-sorted":
        p = np.empty(VOCAB - 1)
        p[rng.permutation(VOCAB - 1)] = zipf_weights(VOCAB - 1)
        lengths = rng.integers(8, SEQ + 1, n)
        mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int64)
        ids = (1 + rng.choice(VOCAB - 1, size=(n, SEQ), p=p)).astype(np.int64) * mask
        return Pair(kind, n, {"input_ids": ids, "attention_mask": mask}, np.argsort(lengths, kind="stable"),
                    rng.permutation(n))
    raise ValueError(kind)


def batches_of(pair: Pair, order: np.ndarray) -> list:
    """The stream as a DataLoader would yield it, in ``order``."""
    import torch

    if pair.kind == "visual-clusters":
        x = torch.from_numpy(np.ascontiguousarray(pair.data["x"][order]))
        return [x[i:i + BATCH] for i in range(0, pair.n, BATCH)]
    ids = torch.from_numpy(np.ascontiguousarray(pair.data["input_ids"][order]))
    mask = torch.from_numpy(np.ascontiguousarray(pair.data["attention_mask"][order]))
    return [{"input_ids": ids[i:i + BATCH], "attention_mask": mask[i:i + BATCH]} for i in range(0, pair.n, BATCH)]


_PROJECTION = np.random.default_rng(20240611).standard_normal((VOCAB, PROJ_DIM)) / math.sqrt(PROJ_DIM)
"""The one fixed random projection of bag-of-tokens histograms (1,000 -> 64 dimensions)."""


def features_of(pair: Pair, order: np.ndarray) -> np.ndarray:
    """cleanlab's view of the stream in ``order``: one feature vector per sample."""
    if pair.kind == "visual-clusters":
        return pair.data["x"][order].reshape(pair.n, -1)
    from scipy.sparse import csr_matrix

    ids = pair.data["input_ids"][order]
    mask = pair.data["attention_mask"][order]
    rows = np.repeat(np.arange(pair.n), SEQ)
    hist = csr_matrix((mask.ravel().astype(np.float64), (rows, ids.ravel())), shape=(pair.n, VOCAB))
    feats = np.asarray(hist @ _PROJECTION)
    if pair.kind == "length-sorted":
        feats = np.column_stack([feats, mask.sum(axis=1).astype(np.float64)])
    return feats.astype(np.float32)


# --------------------------------------------------------------------------- the two tools
@dataclass
class Run:
    seconds: float
    cpu: float = float("nan")           # process CPU seconds (all threads) of the same call
    verdict: str | None = None          # loadercheck: pass / warn / fail
    failed: tuple[str, ...] = ()         # loadercheck: ids of failing checks
    warned: tuple[str, ...] = ()
    error: str | None = None
    pvalue: float | None = None          # cleanlab
    own_flag: bool | None = None         # cleanlab's own rule (issue summary num_issues > 0)


def run_loadercheck(batches: list, n: int) -> Run:
    import loadercheck
    from loadercheck.errors import LoaderCheckError

    t0, c0 = time.perf_counter(), time.process_time()
    try:
        report = loadercheck.check(batches, batches=n // BATCH + 1)
    except LoaderCheckError as exc:
        return Run(time.perf_counter() - t0, time.process_time() - c0, error=f"{type(exc).__name__}: {exc}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return Run(seconds, cpu, verdict=str(report.verdict),
               failed=tuple(c.id for c in report.checks if str(c.status) == "fail"),
               warned=tuple(c.id for c in report.checks if str(c.status) == "warn"))


def run_cleanlab(features: np.ndarray) -> Run:
    from cleanlab import Datalab

    n = features.shape[0]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        lab = Datalab(data={"dummy": np.zeros(n)}, verbosity=0)
        lab.find_issues(features=features, issue_types={"non_iid": {}})
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        summary = lab.get_issue_summary("non_iid")
        pvalue = float(lab.get_info("non_iid")["p-value"])
    return Run(seconds, cpu, pvalue=pvalue, own_flag=bool(int(summary["num_issues"].iloc[0]) > 0))


# --------------------------------------------------------------------------- bookkeeping
@dataclass
class Cell:
    """All runs of one tool on one stream kind at one size."""

    ordered: list[Run] = field(default_factory=list)
    twin: list[Run] = field(default_factory=list)

    def seconds(self) -> list[float]:
        return [r.seconds for r in self.ordered + self.twin]

    def cpu(self) -> list[float]:
        return [r.cpu for r in self.ordered + self.twin]


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def fmt_s(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_p(x: float) -> str:
    return "0" if x == 0 else f"{x:.2g}"


def top_ids(runs: list[Run]) -> str:
    counts = Counter(i for r in runs for i in r.failed)
    return ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "-"


def rows_for(kind: str, n: int, tool: str, cell: Cell) -> list[list[str]]:
    o, t = cell.ordered, cell.twin
    med = fmt_s(median(cell.seconds()))
    cpu = fmt_s(median(cell.cpu()))
    if tool == "loadercheck":
        errors = [r for r in o + t if r.error]
        if errors:
            return [[kind, f"{n:,}", "loadercheck", "-", "-", "-", "-", "-",
                     f"error: {errors[0].error}  ({len(errors)}/{len(o) + len(t)} runs)"]]
        det = sum(r.verdict == "fail" for r in o)
        ff = sum(r.verdict == "fail" for r in t)
        warns = f"{sum(r.verdict == 'warn' for r in o)}/{sum(r.verdict == 'warn' for r in t)}"
        note = f"fails on ordered: {top_ids(o)}"
        if ff:
            note += f"; on twins: {top_ids(t)}"
        return [[kind, f"{n:,}", "loadercheck (alpha 1e-3)", f"{det}/{len(o)}", f"{ff}/{len(t)}", warns, med, cpu, note]]
    po = [r.pvalue for r in o]
    pt = [r.pvalue for r in t]
    note = f"median p: ordered {fmt_p(median(po))}, twin {fmt_p(median(pt))}; min twin p {fmt_p(min(pt))}"
    own_o = sum(bool(r.own_flag) for r in o)
    own_t = sum(bool(r.own_flag) for r in t)
    strict_o = sum(r.pvalue < LIKE_FOR_LIKE for r in o)
    strict_t = sum(r.pvalue < LIKE_FOR_LIKE for r in t)
    return [
        [kind, f"{n:,}", "cleanlab own rule (p<0.05)", f"{own_o}/{len(o)}", f"{own_t}/{len(t)}", "-", med, cpu, note],
        [kind, f"{n:,}", "cleanlab p<1e-3", f"{strict_o}/{len(o)}", f"{strict_t}/{len(t)}", "-", med, cpu, ""],
    ]


def print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header) - 1)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1]  # noqa: E731
    print(line(header))
    print(line(["-" * w for w in widths] + ["-" * len(header[-1])]))
    for r in rows:
        print(line(r).rstrip())


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("loadercheck", "cleanlab", "torch", "numpy", "scikit-learn", "scipy"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def loadercheck_source() -> str:
    """Where ``loadercheck`` is imported from, its git commit, and whether that tree has local changes."""
    try:
        import loadercheck
    except ImportError:
        return "loadercheck not importable"
    root = Path(loadercheck.__file__).resolve().parent.parent
    where = f"loadercheck imported from {root}"
    try:
        head = subprocess.run(["git", "log", "--oneline", "-1"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "loadercheck"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return where
    if not head:
        return where
    return f"{where} at {head[:110]}" + (" (+ uncommitted changes under loadercheck/)" if dirty else "")


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="stream lengths n (default 1024 4096 16384 65536)")
    ap.add_argument("--reps-scale", type=float, default=None,
                    help="multiply the default repetitions (20/20/5/5 loadercheck, 20/20/5/2 cleanlab) by this")
    ap.add_argument("--quick", action="store_true", help="n = 1,024 and 4,096, 3 repetitions (a smoke run)")
    ap.add_argument("--tools", nargs="+", choices=("loadercheck", "cleanlab"), default=["loadercheck", "cleanlab"])
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--seed", type=int, default=0, help="base seed of the streams")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([1024, 4096] if args.quick else list(DEFAULT_SIZES))
    scale = args.reps_scale if args.reps_scale is not None else (0.15 if args.quick else 1.0)
    for n in sizes:
        if n < 2 * BATCH:
            ap.error(f"--sizes: n must be at least {2 * BATCH}, got {n}")

    def reps(n: int, tool: str) -> int:
        return max(1, round(default_reps(n)[tool] * scale))

    print("loadercheck vs cleanlab Datalab non_iid on label-free streams (ordered vs shuffled twin)")
    print(f"{versions()}; python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(loadercheck_source())
    print(f"batch size {BATCH}; loadercheck.check(batches, batches=n//32+1) on in-memory batches; verdict fail = flagged")
    print("cleanlab features: visual-clusters = flattened pixels (192); lm-domains = bag-of-tokens histogram")
    print(f"  -> {PROJ_DIM} dims by a fixed Gaussian random projection; length-sorted = the same {PROJ_DIM} dims + the"
          " length column (65)")
    print(f"cleanlab rules: own = NonIIDIssueManager significance_threshold {CLEANLAB_OWN} (issue flagged iff p-value"
          f" < it); strict = p < {LIKE_FOR_LIKE:g}")
    print("reps per kind and twin: " + "; ".join(
        f"n={n:,}: " + ", ".join(f"{t} {reps(n, t)}" for t in args.tools) for n in sizes))
    print(flush=True)

    # One untimed call of each tool on each kind first: lazy imports and first-call set-up are not
    # charged to the first timed stream.
    for kind in args.kinds:
        warm = make_pair(kind, 8 * BATCH, 0, args.seed + 1)
        if "loadercheck" in args.tools:
            run_loadercheck(batches_of(warm, warm.twin), warm.n)
        if "cleanlab" in args.tools:
            run_cleanlab(features_of(warm, warm.twin))

    cells: dict[tuple[str, int, str], Cell] = defaultdict(Cell)
    t_start = time.perf_counter()
    for n in sizes:
        for kind in args.kinds:
            todo = {t: reps(n, t) for t in args.tools}
            for rep in range(max(todo.values())):
                pair = make_pair(kind, n, rep, args.seed)
                for tool in args.tools:
                    if rep >= todo[tool]:
                        continue
                    for which, order in (("ordered", pair.ordered), ("twin", pair.twin)):
                        if tool == "loadercheck":
                            run = run_loadercheck(batches_of(pair, order), n)
                        else:
                            run = run_cleanlab(features_of(pair, order))
                        getattr(cells[kind, n, tool], which).append(run)
                        shown = run.error or run.verdict or f"p={fmt_p(run.pvalue)}"
                        print(f"[{time.perf_counter() - t_start:7.1f}s] {kind} n={n} rep={rep} {tool} {which}: "
                              f"{shown[:90]} ({run.seconds:.3f} s)", file=sys.stderr, flush=True)

    print("detected = flagged on the ordered stream; false fail = flagged on its shuffled twin;")
    print("warns = loadercheck verdicts 'warn' (ordered/twin); median s = median wall time per stream (both orders);")
    print("cpu s = median process CPU seconds of the same calls (all threads; less sensitive to other load)\n")
    header = ["kind", "n", "tool", "detected", "false fail", "warns", "median s", "cpu s", "notes"]
    rows = []
    for kind in args.kinds:
        for n in sizes:
            for tool in args.tools:
                if (kind, n, tool) in cells:
                    rows += rows_for(kind, n, tool, cells[kind, n, tool])
    print_table(rows, header)

    if {"loadercheck", "cleanlab"} <= set(args.tools):
        print("\nspeed ratio cleanlab / loadercheck (median wall time per stream, both orders, all kinds;"
              " cpu ratio: the same with process CPU seconds)")
        ratio_rows = []
        for n in sizes:
            per_kind, lc_all, cl_all, lc_cpu, cl_cpu, erred = [], [], [], [], [], False
            for kind in args.kinds:
                lc, cl = cells[kind, n, "loadercheck"], cells[kind, n, "cleanlab"]
                erred |= any(r.error for r in lc.ordered + lc.twin)
                lc_all += lc.seconds()
                cl_all += cl.seconds()
                lc_cpu += lc.cpu()
                cl_cpu += cl.cpu()
                per_kind.append(f"{kind} {median(cl.seconds()) / median(lc.seconds()):.1f}x")
            if erred:
                ratio_rows.append([f"{n:,}", "-", "-", "-", "-", "n/a (loadercheck raised an error)"])
                continue
            ratio_rows.append([f"{n:,}", fmt_s(median(cl_all)), fmt_s(median(lc_all)),
                               f"{median(cl_all) / median(lc_all):.1f}x", f"{median(cl_cpu) / median(lc_cpu):.1f}x",
                               "; ".join(per_kind)])
        print_table(ratio_rows, ["n", "cleanlab s", "loadercheck s", "ratio", "cpu ratio", "per kind (wall)"])
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

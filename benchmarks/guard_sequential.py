"""The guard's sequential decision against one look at the window: batches to decision, false stops, overhead.

``guard()`` looks at prefixes of 2, 4, 8, ... batches of epoch 1 below its window (alpha spending,
:mod:`loadercheck.sequential`), then at the window, then at the start of every later epoch (the
replay look). The comparison guard is built exactly as ``guard()`` builds it, but with
``Watch(..., sequential=False)``: one look at the window (``schedule(alpha, 0)``: the window at
0.9 alpha, replays at 0.1 alpha, as in the sequential guard).

Three parts (``--part``):

``decision``
    Defective feeds (simulated label streams: numpy labels batched into ``(x, y)`` with a tiny
    ``x``), 20 seeds each, both guards with ``on_fail="raise"``: at which batch each one stops
    training (``guard._watch.decided_at`` for epoch 1; the batch of epoch 2 for a replay), the
    fraction stopped (fail) and warned, and the checks that decided.
``false-stops``
    Clean runs (4 epochs of 500 batches of 32, freshly shuffled every epoch) through the sequential
    guard with ``on_fail="raise"``: runs stopped (a fail at any early look, the window or a replay
    look) and runs warned, with Clopper-Pearson 95% bounds; must stay <= alpha = 1e-3. Worker
    processes with fixed seeds (run ``i`` uses seed ``i``), stopped at a deadline.
``overhead``
    The loop of ``benchmarks/guard_overhead.py`` (MLP 3072-512-10, SGD, CPU): bare, sequential and
    one-look guarded epochs interleaved, and the guard's own cost measured directly on held batches.

Run: ``python benchmarks/guard_sequential.py --part all`` (or ``decision``, ``false-stops``,
``overhead``); ``--runs 10000 --minutes 35 --workers 2`` size the false-stop part.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import multiprocessing as mp
import os
import statistics
import sys
import time
import warnings
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loadercheck  # noqa: E402
from loadercheck import synthetic as syn  # noqa: E402
from loadercheck.options import Options  # noqa: E402
from loadercheck.watch import Guard, LoaderCheckFailed, LoaderCheckWarning, Watch  # noqa: E402

BATCH = 32
X = np.zeros((BATCH, 1), dtype=np.float32)  # the tiny input of every simulated batch


# --------------------------------------------------------------------------- building guards
def make_guard(loader: Any, *, sequential: bool = True, on_fail: str = "raise", **options: Any) -> Guard:
    """What ``loadercheck.guard(loader, on_fail=..., **options)`` builds, with the Watch's ``sequential`` switch."""
    from loadercheck.adapters import dataset_label_values, describe_loader

    opts = Options(**options)

    def describe():
        return describe_loader(loader)

    def dataset_labels(spec):
        return dataset_label_values(loader, spec)

    watch = Watch(describe, opts, on_fail=on_fail, target=f"guard({type(loader).__name__})",
                  fingerprints=False, dataset_labels=dataset_labels, sequential=sequential)
    return Guard(loader, watch)


def batches_of(labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """A plain list of ``(x, y)`` batches (no dataset, no label metadata; a list replays its order)."""
    n = labels.size - labels.size % BATCH
    return [(X, labels[i:i + BATCH]) for i in range(0, n, BATCH)]


class Reshuffled:
    """A loader without metadata that yields a fresh epoch (the next label array) at each ``iter()``."""

    def __init__(self, epochs: list[np.ndarray]) -> None:
        self._epochs = epochs
        self._next = 0

    def __iter__(self):
        labels = self._epochs[self._next]
        self._next += 1
        n = labels.size - labels.size % BATCH
        for i in range(0, n, BATCH):
            yield (X, labels[i:i + BATCH])

    def __len__(self) -> int:
        return self._epochs[0].size // BATCH


def tensor_loader(labels: np.ndarray):
    """A DataLoader(shuffle=False) over a TensorDataset: the dataset's labels are metadata the guard reads."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    y = torch.as_tensor(labels, dtype=torch.int64)
    return DataLoader(TensorDataset(torch.zeros((labels.size, 1)), y), batch_size=BATCH, shuffle=False)


def drive(g: Guard, epochs: int) -> dict[str, Any]:
    """Train-loop ``g`` for ``epochs`` epochs (empty body) with ``on_fail="raise"``.

    Returns what happened: ``fail`` (epoch, batch within the epoch, decided_at, failing check ids),
    ``warns`` (epoch, batch, check ids per warning), ``crash`` (repr of any other exception).
    """
    out: dict[str, Any] = {"fail": None, "warns": [], "crash": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LoaderCheckWarning)
        seen = 0
        for epoch in range(1, epochs + 1):
            n = 0
            try:
                for _ in g:
                    n += 1
                    if len(caught) > seen:
                        out["warns"].extend((epoch, n, _warned_ids(g, w)) for w in caught[seen:])
                        seen = len(caught)
            except LoaderCheckFailed as exc:
                ids = tuple(c.id for c in exc.report.checks if str(c.status) == "fail")
                out["fail"] = (epoch, n + 1, g._watch.decided_at, ids,
                               {c.id: c.pvalue for c in exc.report.checks if str(c.status) == "fail"})
                break
            except Exception as exc:  # a crash of the guard: report it, never hide it
                out["crash"] = (epoch, n + 1, repr(exc))
                break
            if len(caught) > seen:
                out["warns"].extend((epoch, n, _warned_ids(g, w)) for w in caught[seen:])
                seen = len(caught)
    return out


def _warned_ids(g: Guard, w: warnings.WarningMessage) -> tuple[str, ...]:
    if not issubclass(w.category, LoaderCheckWarning):
        return (f"other warning: {w.category.__name__}: {w.message}",)
    report = g.report
    if report is None:
        return (str(w.message).splitlines()[0],)
    return tuple(c.id for c in report.checks if str(c.status) in ("warn", "fail"))


# --------------------------------------------------------------------------- part 1: decision
def family_feeds(samples: int, seed: int) -> dict[str, tuple[Any, int]]:
    """name -> (loader, epochs to run) for one seed; every feed has 10 classes, batch 32."""
    rng = np.random.default_rng(seed)
    shares = syn.uniform_shares(10)
    order = rng.permutation(10)  # the seed decides which class comes first in a sorted feed
    sorted_labels = order[syn.sorted_epoch(samples, shares)]
    shards = syn.shuffle_buffer(syn.sorted_shards(samples, shares, 1000, rng), 1000, rng)
    return {
        "label-sorted, DataLoader(shuffle=False) over TensorDataset": (tensor_loader(sorted_labels), 1),
        "label-sorted, plain list of batches": (batches_of(sorted_labels), 1),
        "one class per batch (list)": (batches_of(syn.batch_purity(samples, 10, BATCH, 1.0, rng)), 1),
        "1000-sample class shards, 1000-sample shuffle buffer": (batches_of(shards), 1),
        "two datasets concatenated, classes 0-4 then 5-9": (batches_of(syn.concatenated(samples, 10, rng)), 1),
        "replayed epochs: one shuffled list of batches": (batches_of(syn.shuffled(samples, shares, rng)), 3),
    }


def decision_task(task: tuple[int, int, bool]) -> tuple[int, bool, dict[str, dict[str, Any]]]:
    """One seed of every family at one epoch size, through one kind of guard (a worker's job)."""
    samples, seed, sequential = task
    out = {}
    for name, (loader, epochs) in family_feeds(samples, seed).items():
        g = make_guard(loader, sequential=sequential, batches=WINDOW)
        start = time.process_time()
        result = drive(g, epochs)
        result["cpu"] = time.process_time() - start  # the guard's cost (and the loader's): the loop body is empty
        out[name] = result
    return samples, sequential, out


WINDOW = 500


def part_decision(args: argparse.Namespace) -> None:
    print(f"== batches to decision: sequential looks vs one look at the window (window {WINDOW} batches, "
          f"alpha 1e-3, batch {BATCH}, 10 classes, {args.seeds} seeds; on_fail='raise'; {args.workers} workers)")
    start = time.perf_counter()
    tasks = [(samples, seed, sequential) for samples in args.samples for seed in range(args.seeds)
             for sequential in (True, False)]
    rows: dict[int, dict[str, dict[bool, list[dict[str, Any]]]]] = collections.defaultdict(
        lambda: collections.defaultdict(lambda: {True: [], False: []}))
    with mp.get_context("fork").Pool(args.workers, initializer=_init_worker) as pool:
        for samples, sequential, out in pool.imap_unordered(decision_task, tasks):
            for name, result in out.items():
                rows[samples][name][sequential].append(result)
    print(f"({time.perf_counter() - start:.0f} s; 'stopped' = the guard raised LoaderCheckFailed; median/max = "
          "batches recorded when it decided (epoch 1: guard._watch.decided_at; a replay: the batch of that epoch); "
          "cpu = CPU seconds of the whole guarded run, median/max)")
    for samples in args.samples:
        batches = samples // BATCH
        print(f"\n-- epoch of {samples:,} samples = {batches} batches of {BATCH} "
              f"({'the window covers the epoch' if batches <= WINDOW else 'the window is the first ' + str(WINDOW) + ' batches'})")
        print(f"{'feed':55s} {'guard':9s} {'stopped':>7s} {'warned':>6s} {'median':>6s} {'max':>4s} {'cpu s':>11s}  "
              "where: deciding checks (count over seeds)")
        for name, by in rows[samples].items():
            for sequential in (True, False):
                print(_decision_row(name, "seq" if sequential else "one look", by[sequential]))


def _decision_row(name: str, label: str, runs: list[dict[str, Any]]) -> str:
    fails = [r["fail"] for r in runs if r["fail"] is not None]
    warned = sum(1 for r in runs if r["warns"])
    crashes = [r["crash"] for r in runs if r["crash"] is not None]
    if fails:
        # epoch 1: batches recorded when the verdict was reached; later epochs: the batch of that epoch
        points = [f[2] if f[0] == 1 else f[1] for f in fails]
        epochs = collections.Counter(f[0] for f in fails)
        where = ", ".join(f"epoch {e}" for e in sorted(epochs))
        ids = collections.Counter(i for f in fails for i in f[3])
        med, top = f"{statistics.median(points):g}", f"{max(points)}"
        detail = f"{where}: " + ", ".join(f"{i} x{c}" for i, c in ids.most_common(4))
    else:
        med = top = "-"
        detail = ""
    if warned:
        wids = collections.Counter(i for r in runs for w in r["warns"] for i in w[2])
        detail += ("; " if detail else "") + "warned: " + ", ".join(f"{i} x{c}" for i, c in wids.most_common(3))
    if crashes:
        detail += f"; CRASH x{len(crashes)}: {crashes[0]}"
    n = len(runs)
    cpu = [r["cpu"] for r in runs]
    cpu_text = f"{statistics.median(cpu):.2f}/{max(cpu):.2f}"
    return (f"{name:55s} {label:9s} {len(fails) / n:7.0%} {warned / n:6.0%} {med:>6s} {top:>4s} {cpu_text:>11s}  "
            f"{detail}")


# --------------------------------------------------------------------------- part 2: false stops
FEEDS = {
    "balanced10": syn.uniform_shares(10),
    "imbalanced95": np.array([0.95, 0.05]),
    "classes100": syn.uniform_shares(100),
}


def clean_run(task: tuple[str, int]) -> tuple[str, int, dict[str, Any], float]:
    """One clean run: 4 epochs of 500 batches of 32, freshly shuffled each epoch, sequential guard."""
    feed, seed = task
    start = time.process_time()
    rng = np.random.default_rng([seed, 7])
    base = syn.sorted_epoch(500 * BATCH, FEEDS[feed])
    loader = Reshuffled([rng.permutation(base) for _ in range(4)])
    out = drive(make_guard(loader, sequential=True, batches=500, seed=seed), 4)
    return feed, seed, out, time.process_time() - start


def _init_worker() -> None:
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    # warm-up (lazy imports, first DataLoader iteration), so no run pays it
    labels = np.repeat(np.arange(10), 3200)
    drive(make_guard(tensor_loader(labels), batches=WINDOW), 1)
    drive(make_guard(batches_of(np.random.default_rng(0).permutation(labels)), batches=WINDOW), 2)


def part_false_stops(args: argparse.Namespace) -> None:
    from _common import clopper_pearson

    plan = [(feed, n) for feed, n in zip(("balanced10", "imbalanced95", "classes100"),
                                         (args.runs, args.extra_runs, args.extra_runs)) if n > 0]
    print(f"\n== false stops on clean runs: sequential guard, window 500, alpha 1e-3, 4 epochs x 500 batches of "
          f"{BATCH}, fresh shuffle each epoch, fingerprints off; {args.workers} worker processes, "
          f"deadline {args.minutes:g} min in all")
    # the cost of one run, measured here first (one process)
    t, c = time.perf_counter(), time.process_time()
    for seed in range(4):
        clean_run(("balanced10", 10_000_000 + seed))
    per_run = (time.perf_counter() - t) / 4
    total = sum(n for _, n in plan)
    print(f"measured cost: {per_run:.2f} s wall, {(time.process_time() - c) / 4:.2f} s CPU per run (one process, "
          f"shared CPU) -> {total:,} runs on {args.workers} workers ~ {total * per_run / args.workers / 60:.0f} min wall; "
          "at least 3,688 runs without a stop are needed for a 95% upper bound <= 1e-3")
    deadline = time.monotonic() + args.minutes * 60
    results: dict[str, list[tuple[int, dict[str, Any]]]] = collections.defaultdict(list)
    cpu: list[float] = []
    slowest: list[tuple[float, str, int]] = []
    start = time.perf_counter()
    ctx = mp.get_context("fork")
    # the balanced runs first, then the extra feeds interleaved (a deadline leaves them alike in size)
    seeds = {feed: range(args.first_seed, args.first_seed + n) for feed, n in plan}
    tasks = [("balanced10", s) for s in seeds.get("balanced10", ())]
    extra = [[(feed, s) for s in seeds[feed]] for feed, _ in plan if feed != "balanced10"]
    tasks += [task for group in itertools.zip_longest(*extra) for task in group if task is not None]
    with ctx.Pool(args.workers, initializer=_init_worker) as pool:
        for i, (name, seed, out, seconds) in enumerate(pool.imap_unordered(clean_run, tasks, chunksize=8), 1):
            results[name].append((seed, out))
            cpu.append(seconds)
            slowest = sorted([*slowest, (seconds, name, seed)], reverse=True)[:5]
            if i % 1000 == 0:
                print(f"  {i:,}/{len(tasks):,} runs, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
            if time.monotonic() > deadline:
                pool.terminate()
                print(f"  deadline reached: {i:,} of {len(tasks):,} runs done "
                      f"({', '.join(f'{f} {len(r):,}' for f, r in results.items())})")
                break
    elapsed = time.perf_counter() - start
    print(f"ran {sum(len(v) for v in results.values()):,} runs in {elapsed / 60:.1f} min "
          f"(CPU per run: median {statistics.median(cpu):.2f} s, 99th percentile {np.quantile(cpu, 0.99):.2f} s, "
          f"max {max(cpu):.2f} s)")
    print("slowest runs (CPU s, feed, seed): " + ", ".join(f"{c:.1f} s {f} seed {s}" for c, f, s in slowest)
          + "  (rerun one: clean_run((feed, seed)))")
    print(f"{'feed':14s} {'runs':>7s} {'stopped':>8s} {'95% CP upper':>13s} {'warned':>7s} {'95% CP upper':>13s} {'crashed':>8s}")
    for feed, outs in results.items():
        n = len(outs)
        done = {s for s, _ in outs}
        upto = args.first_seed
        while upto in done:
            upto += 1
        print(f"  {feed}: seeds {args.first_seed}..{upto - 1} all done"
              + (f", plus {n - (upto - args.first_seed)} later ones" if n > upto - args.first_seed else ""))
        stops = [(s, o) for s, o in outs if o["fail"] is not None]
        warns = [(s, o) for s, o in outs if o["warns"]]
        crashes = [(s, o) for s, o in outs if o["crash"] is not None]
        print(f"{feed:14s} {n:7,d} {len(stops):8d} {clopper_pearson(len(stops), n)[1]:13.2e} {len(warns):7d} "
              f"{clopper_pearson(len(warns), n)[1]:13.2e} {len(crashes):8d}   "
              f"(rate {len(stops) / n:.1e} stopped, {len(warns) / n:.1e} warned)")
        for seed, o in sorted(stops)[:10]:
            epoch, batch, decided, ids, pv = o["fail"]
            look = f"early look at {decided}" if epoch == 1 and decided is not None and decided < 500 else (
                "the window" if epoch == 1 else f"replay look, epoch {epoch}")
            print(f"    stop: seed {seed}, epoch {epoch} batch {batch} ({look}): {ids} p={pv}")
        for seed, o in sorted(warns)[:10]:
            print(f"    warn: seed {seed}: {o['warns']}")
        for seed, o in sorted(crashes)[:10]:
            print(f"    CRASH: seed {seed}: {o['crash']}")
        where = collections.Counter()
        for _, o in stops:
            epoch, _, decided, _, _ = o["fail"]
            where["early look" if epoch == 1 and decided is not None and decided < 500 else
                  "window" if epoch == 1 else "replay"] += 1
        if where:
            print(f"    stops by look: {dict(where)}")


# --------------------------------------------------------------------------- part 3: overhead
def part_overhead(args: argparse.Namespace) -> None:
    import torch

    from guard_overhead import epoch_seconds, make_loader, make_step

    torch.set_num_threads(1)
    torch.manual_seed(0)
    warnings.simplefilter("ignore", LoaderCheckWarning)
    loader = make_loader(10_000, 64)
    step = make_step()
    batches = len(loader)
    epoch_seconds(loader, step)
    epoch_seconds(make_guard(loader, on_fail="warn"), step)
    epoch_seconds(make_guard(loader, on_fail="warn", sequential=False), step)
    times: dict[str, list[float]] = {"bare": [], "seq": [], "one": []}
    kinds = ("bare", "seq", "one")
    for r in range(args.repeats):
        for k in kinds[r % 3:] + kinds[:r % 3]:  # rotate the order: no position bias
            feed = loader if k == "bare" else make_guard(loader, on_fail="warn", sequential=(k == "seq"))
            times[k].append(epoch_seconds(feed, step)[1])  # CPU time (steadier on a shared machine)
    b, s, o = (statistics.median(times[k]) for k in kinds)
    print(f"\n== overhead: the loop of guard_overhead.py (MLP 3072-512-10, SGD, CPU, 1 thread), 10,000 samples, "
          f"batch 64 -> {batches} batches/epoch, guard window = the whole epoch")
    print(f"epoch CPU time, median of {args.repeats} interleaved (rotated order): bare {b * 1e3:.1f} ms, "
          f"sequential guard {s * 1e3:.1f} ms ({100 * (s - b) / b:+.2f}%), one-look guard {o * 1e3:.1f} ms "
          f"({100 * (o - b) / b:+.2f}%)")
    print(f"  spread: bare {min(times['bare']) * 1e3:.0f}-{max(times['bare']) * 1e3:.0f} ms, "
          f"seq {min(times['seq']) * 1e3:.0f}-{max(times['seq']) * 1e3:.0f} ms, "
          f"one {min(times['one']) * 1e3:.0f}-{max(times['one']) * 1e3:.0f} ms")

    # the guard's own cost, measured directly: epoch 1 (record + looks) and epoch 2 (record + replay look)
    print("direct: the guard's own CPU time on held batches (no training), median of "
          f"{args.repeats}; ratio = sequential / one look")
    for samples in (10_000, 32_000):
        src = make_loader(samples, 64)
        epoch1 = list(src)
        epoch2 = list(src)
        window = min(len(epoch1), 500)
        cost: dict[tuple[bool, int], list[float]] = collections.defaultdict(list)
        for _ in range(args.repeats):
            for sequential in (True, False):
                w = make_guard(src, on_fail="warn", sequential=sequential)._watch
                for e, held in ((1, epoch1), (2, epoch2)):
                    t = time.process_time()
                    if w.start_epoch():
                        for batch in held:
                            if not w.add(batch):
                                break
                        w.end_epoch()
                    cost[(sequential, e)].append(time.process_time() - t)
        for e in (1, 2):
            seq, one = statistics.median(cost[(True, e)]), statistics.median(cost[(False, e)])
            note = f"({'record ' + str(window) + ' + looks' if e == 1 else 'record ' + str(window) + ' + replay look'})"
            scale = f", {100 * seq / b:.2f}% / {100 * one / b:.2f}% of the 157-batch bare epoch" if samples == 10_000 else ""
            print(f"  {len(epoch1):4d}-batch epoch, epoch {e} {note:32s}: sequential {seq * 1e3:7.1f} ms, "
                  f"one look {one * 1e3:7.1f} ms, ratio {seq / one:5.2f}{scale}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("decision", "false-stops", "overhead", "all"), default="all")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--samples", type=lambda s: [int(v) for v in s.split(",")], default=[16_000, 50_000],
                        help="epoch sizes of the decision part (comma-separated)")
    parser.add_argument("--runs", type=int, default=10_000, help="clean balanced runs")
    parser.add_argument("--extra-runs", type=int, default=0, help="clean runs each of 95/5 and 100 classes")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first clean run (to continue a run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=35.0, help="deadline of the false-stop part")
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.part in ("decision", "all"):
        part_decision(args)
    if args.part in ("overhead", "all"):
        part_overhead(args)
    if args.part in ("false-stops", "all"):
        part_false_stops(args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

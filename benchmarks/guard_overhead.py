"""What ``guard()`` costs a realistic training loop, measured in one run (SPEC §6: at most 1%).

The loop: a shuffled torch DataLoader over an in-memory dataset (CIFAR-like shapes flattened to
3072 features, 10 classes), an MLP 3072 -> 512 -> 10 trained with SGD, one step per batch, on CPU.
Bare and guarded epochs are interleaved (bare, guarded, bare, guarded, ...) so drift in the machine
affects both alike; each guarded epoch uses a fresh guard, so every guarded epoch pays the whole
window (recording + the one check). The median epoch time of each is compared.

Then the per-batch cost after the window: the same loop over the guard once the window has been
checked in the current epoch (a plain ``yield from`` generator) and once the guard has stepped
aside completely (``iter()`` returns the loader's own iterator), against the bare loader, timed with
an empty loop body so the iteration cost itself is visible.

Beside the overhead, batches to decision: where the guard decided on this clean loop (the window),
and after how many batches it stops the same loop fed label-sorted (``shuffle=False`` over the
data sorted by label), with the CPU the guard spent deciding; and the guard's own cost per epoch
measured directly on held batches: epoch 1 (recording, early looks, the window's look) and a later
epoch (recording its first window, the replay look).

Run: ``python benchmarks/guard_overhead.py [--samples 10000] [--batch-size 64] [--repeats 9] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from torch.utils.data import DataLoader, TensorDataset

import loadercheck


def make_loader(samples: int, batch_size: int) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 3072, generator=g)
    y = torch.randint(0, 10, (samples,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)


def make_sorted_loader(samples: int, batch_size: int) -> DataLoader:
    """The loop's data sorted by label, read in stored order: the defect the guard must stop."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 3072, generator=g)
    y = torch.randint(0, 10, (samples,), generator=g).sort().values
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def stop_point(loader, step) -> int:
    """Batches trained before the guard stopped the loop."""
    g = loadercheck.guard(loader)
    trained = 0
    try:
        for x, y in g:
            step(x, y)
            trained += 1
    except loadercheck.LoaderCheckFailed:
        pass
    return trained


def guard_cost(loader, epochs: int = 3) -> list[float]:
    """CPU seconds of the guard's own work per epoch, on held batches (no training, no loading)."""
    held = [list(loader) for _ in range(epochs)]
    watch = loadercheck.guard(loader, on_fail="warn")._watch
    out = []
    for batches in held:
        start = time.process_time()
        if watch.start_epoch():
            for batch in batches:
                if not watch.add(batch):
                    break
            watch.end_epoch()
        out.append(time.process_time() - start)
    return out


def make_step():
    model = torch.nn.Sequential(torch.nn.Linear(3072, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def epoch_seconds(feed, step) -> tuple[float, float]:
    """(wall, CPU) seconds of one epoch; CPU time is steadier on a shared machine (use --threads 1)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for x, y in feed:
        step(x, y)
    return time.perf_counter() - wall, time.process_time() - cpu


def tail_seconds(feed) -> float:
    """Iterate ``feed`` with an empty body, timing every batch after the first."""
    iterator = iter(feed)
    next(iterator)  # with a window of 1 batch, the guard records and checks here
    start = time.perf_counter()
    for _ in iterator:
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadiest timings)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warnings.simplefilter("ignore", loadercheck.LoaderCheckWarning)

    loader = make_loader(args.samples, args.batch_size)
    step = make_step()
    batches = len(loader)
    epoch_seconds(loader, step)  # warm-up: allocator, kernels, imports
    epoch_seconds(loadercheck.guard(loader, on_fail="warn"), step)

    bare, guarded, bare_cpu, guarded_cpu = [], [], [], []
    for _ in range(args.repeats):
        wall, cpu = epoch_seconds(loader, step)
        bare.append(wall)
        bare_cpu.append(cpu)
        g = loadercheck.guard(loader, on_fail="warn")
        wall, cpu = epoch_seconds(g, step)
        guarded.append(wall)
        guarded_cpu.append(cpu)
    window = g.report.stream.batches
    b, w = statistics.median(bare), statistics.median(guarded)
    bc, wc = statistics.median(bare_cpu), statistics.median(guarded_cpu)

    # the window's cost measured directly (immune to epoch-time noise): recording + the one check
    from loadercheck.api import evaluate
    from loadercheck.options import Options
    from loadercheck.adapters import describe_loader
    from loadercheck.recording import StreamRecorder

    held = [batch for _, batch in zip(range(window), loader)]
    record_s, check_s = [], []
    for _ in range(args.repeats):
        recorder = StreamRecorder(fingerprints=False)
        start = time.perf_counter()
        for batch in held:
            recorder.add(batch)
        record_s.append(time.perf_counter() - start)
        stream = recorder.finish(describe_loader(loader))
        start = time.perf_counter()
        evaluate(stream, Options(), target="benchmark")
        check_s.append(time.perf_counter() - start)
    record, check = statistics.median(record_s), statistics.median(check_s)

    # per-batch cost after the window: iteration only (empty loop body), batches 2..end of an epoch
    passes = max(5, args.repeats)
    stepped_aside = loadercheck.guard(loader, on_fail="warn", batches=1)
    tail_seconds(stepped_aside)
    tail_seconds(stepped_aside)  # both windows done: iter() now returns the loader's own iterator
    it_bare, it_window, it_aside = [], [], []
    for _ in range(passes):
        it_bare.append(tail_seconds(loader))
        it_window.append(tail_seconds(loadercheck.guard(loader, on_fail="warn", batches=1)))  # yield from
        it_aside.append(tail_seconds(stepped_aside))
    per_bare = statistics.median(it_bare) / (batches - 1)
    per_window = statistics.median(it_window) / (batches - 1)
    per_aside = statistics.median(it_aside) / (batches - 1)

    print(f"loop: MLP 3072-512-10, SGD, CPU ({torch.get_num_threads()} threads), {args.samples:,} samples, "
          f"batch {args.batch_size} -> {batches} batches/epoch; guard window {window} batches (whole epoch "
          f"when shorter than 500)")
    print(f"epoch time, median of {args.repeats} interleaved: bare {b * 1e3:8.1f} ms   guarded {w * 1e3:8.1f} ms   "
          f"overhead {100 * (w - b) / b:+.2f}%")
    print(f"CPU time, median of {args.repeats} interleaved:  bare {bc * 1e3:8.1f} ms   guarded {wc * 1e3:8.1f} ms   "
          f"overhead {100 * (wc - bc) / bc:+.2f}%")
    decided = g._watch.decided_at
    sorted_loader = make_sorted_loader(args.samples, args.batch_size)
    stop_point(sorted_loader, step)  # warm-up
    stops = []
    for _ in range(3):
        start = time.process_time()
        trained = stop_point(sorted_loader, step)
        # the guard's share: the run's CPU less the training steps it took (at the bare loop's rate)
        stops.append((trained, time.process_time() - start - trained * bc / batches))
    trained, decide_cpu = stops[0][0], statistics.median(s for _, s in stops)
    costs = [guard_cost(loader) for _ in range(args.repeats)]
    e1 = statistics.median(c[0] for c in costs)
    later = statistics.median(c[e] for c in costs for e in (1, 2))
    print(f"batches to decision: this clean loop decided at {decided} batches (the window: {g.report.verdict}); "
          f"the same data label-sorted (shuffle=False) stopped after {trained} batches trained, the guard's "
          f"decision {decide_cpu * 1e3:.0f} ms CPU")
    print(f"direct, the guard's own CPU per epoch (held batches, median of {args.repeats}): epoch 1 (record "
          f"{window} + early looks + window) {e1 * 1e3:.1f} ms = {100 * e1 / bc:.2f}%, epochs 2-3 (record "
          f"{window} + replay look) {later * 1e3:.1f} ms = {100 * later / bc:.2f}% of the bare epoch's CPU")
    print(f"direct: recording {record / window * 1e6:.1f} us/batch x {window} batches = {record * 1e3:.1f} ms, "
          f"the one check {check * 1e3:.1f} ms -> {100 * (record + check) / b:.2f}% of the bare epoch")
    print(f"  per-epoch spread: bare {min(bare) * 1e3:.1f}-{max(bare) * 1e3:.1f} ms, "
          f"guarded {min(guarded) * 1e3:.1f}-{max(guarded) * 1e3:.1f} ms")
    print(f"iteration only (no training step), per batch, median of {passes} passes:")
    print(f"  bare loader               {per_bare * 1e6:8.2f} us")
    print(f"  guard after its window    {per_window * 1e6:8.2f} us   ({(per_window - per_bare) * 1e9:+.0f} ns/batch)")
    print(f"  guard stepped aside       {per_aside * 1e6:8.2f} us   ({(per_aside - per_bare) * 1e9:+.0f} ns/batch)")
    print(f"  training step per batch   {b / batches * 1e3:8.3f} ms (for scale)")

    # the pass-through itself, isolated: a list of 200,000 held batches (no loader cost), best of 9
    items = held * (200_000 // len(held) + 1)
    aside = loadercheck.guard(items, on_fail="warn", batches=1)
    tail_seconds(aside)
    tail_seconds(aside)
    raw, through, gone = [], [], []
    for _ in range(9):
        raw.append(tail_seconds(items))
        through.append(tail_seconds(loadercheck.guard(items, on_fail="warn", batches=1)))
        gone.append(tail_seconds(aside))
    n = len(items) - 1
    print(f"pass-through per batch on a plain list of {n + 1:,} batches (best of 9): bare {min(raw) / n * 1e9:.0f} ns, "
          f"after the window {min(through) / n * 1e9:.0f} ns (yield from), stepped aside {min(gone) / n * 1e9:.0f} ns "
          f"-> {(min(through) - min(raw)) / n / (b / batches) * 100:.4f}% of a training step")


if __name__ == "__main__":
    main()

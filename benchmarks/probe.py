"""Probe wall time and measured harm per defect family (CPU, and CUDA when available).

    python benchmarks/probe.py [--batches 200] [--batch-size 64] [--noise 6] [--seeds 3] [--devices cpu cuda]

The issue's budget case: 200 batches of 64 samples of 3x32x32 "images" (10 classes: a random
prototype per class plus Gaussian pixel noise), in the feed order of each defect family of the
power benchmark (labels from :mod:`loadercheck.synthetic`). For each family and device it prints
the probe's status, the held-out loss ratio (feed order / shuffled), the held-out accuracy of both
runs and their gap, and the probe's wall time (features + 2 x seeds training runs + evaluations).
Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from loadercheck import synthetic as syn
from loadercheck.options import Options
from loadercheck.probe import run_probe
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Stream

K = 10
U = syn.uniform_shares(K)


def families(b: int) -> dict:
    """name -> labels maker (n, rng) -> (labels, continuous)."""
    return {
        "sorted by label": lambda n, r: (syn.sorted_epoch(n, U), False),
        "sorted shards (256) + 1% buffer": lambda n, r: (
            syn.shuffle_buffer(syn.sorted_shards(n, U, 256, r), max(1, n // 100), r), False),
        "one class per batch": lambda n, r: (syn.batch_purity(n, K, b, 1.0, r), False),
        "two concatenated datasets": lambda n, r: (syn.concatenated(n, K, r), False),
        "drifting prior (0.09)": lambda n, r: (syn.drifting_prior(n, K, 0.09, r), False),
        "partial sort (20%)": lambda n, r: (syn.partial_sort(n, U, 0.2, r), False),
        "shuffled (control)": lambda n, r: (syn.shuffled(n, U, r), False),
        "sorted by target (regression)": lambda n, r: (np.sort(r.standard_normal(n)), True),
        "shuffled target (control)": lambda n, r: (r.standard_normal(n), True),
    }


def make_stream(labels: np.ndarray, continuous: bool, b: int, noise: float, seed: int) -> Stream:
    """Per-batch torch inputs of shape (b, 3, 32, 32) that carry the label (or the target)."""
    g = np.random.default_rng([seed, 7])
    n = labels.size - labels.size % b
    labels = labels[:n]
    d = 3 * 32 * 32
    if continuous:
        w = g.standard_normal(d).astype(np.float32)
        x = g.standard_normal((n, d)).astype(np.float32) * noise + np.outer(labels, w).astype(np.float32)
    else:
        protos = g.standard_normal((K, d)).astype(np.float32)
        x = protos[labels] + noise * g.standard_normal((n, d)).astype(np.float32)
    xt = torch.from_numpy(x.reshape(n, 3, 32, 32))
    sizes = np.full(n // b, b, dtype=np.int64)
    inputs = [xt[i:i + b] for i in range(0, n, b)]
    if continuous:
        return Stream((Epoch(labels.astype(float), sizes),), LabelKind.CONTINUOUS, (), LoaderInfo("bench"),
                      inputs=inputs)
    return Stream((Epoch(labels.astype(np.int64), sizes),), LabelKind.CATEGORICAL, tuple(range(K)),
                  LoaderInfo("bench"), inputs=inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--noise", type=float, default=6.0, help="pixel noise (signal per pixel is N(0,1))")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--devices", nargs="*", default=None, help="default: cpu, and cuda when available")
    parser.add_argument("--families", nargs="*", default=None)
    args = parser.parse_args()
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    fams = families(args.batch_size)
    chosen = args.families or list(fams)
    n = args.batches * args.batch_size

    print(f"probe benchmark: {args.batches} batches of {args.batch_size}, 3x32x32 inputs, noise {args.noise:g}, "
          f"{args.seeds} seeds; torch {torch.__version__}, {os.cpu_count()} CPUs ({platform.processor() or 'cpu'})"
          + (f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"))
    header = (f"{'family':34} {'device':6} {'status':6} {'loss ratio':>10} {'feed':>7} {'shuffled':>8} "
              f"{'gap':>8} {'steps':>5} {'wall s':>7}")
    print(header)
    print("-" * len(header))
    for name in chosen:
        labels, continuous = fams[name](n, np.random.default_rng(11))
        stream = make_stream(labels, continuous, args.batch_size, args.noise, seed=0)
        for device in devices:
            started = time.perf_counter()
            r = run_probe(stream, Options(probe=True, device=device, probe_seeds=args.seeds,
                                          probe_steps=args.steps))
            wall = time.perf_counter() - started
            if r.status == "skip":
                print(f"{name:34} {device:6} skip   {r.message}")
                continue
            d = r.details
            m = d["metric"]
            scale, unit = (100, " pt") if m == "accuracy" else (1, " R2")
            feed, shuf = d[f"{m}_feed"] * scale, d[f"{m}_shuffled"] * scale
            fmt = "{:7.1f}" if m == "accuracy" else "{:7.2f}"
            print(f"{name:34} {device:6} {str(r.status):6} {r.effect:10.2f} {fmt.format(feed)} "
                  f"{fmt.format(shuf):>8} {fmt.format(shuf - feed)}{unit} {d['steps']:5d} {wall:7.1f}")


if __name__ == "__main__":
    main()

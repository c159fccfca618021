"""The information limit of a partial sort for a test that reads batches, not positions.

STATS.md section 6 bounds the labels any test needs for 90% power at alpha = 1e-3 by
n* = d(0.9 || 1e-3) / KL rate = 5.89 nats / d, for an oracle that knows which class each position
of a partial sort ("psort rho": each position sorted among the chosen ones with probability rho)
should hold. loadercheck's statistics read each batch's class counts and never the order inside a
batch (SGD does not see it), so the limit that binds them is the same bound on the sequence of
batch count vectors: with the oracle's sorted class c(t) known, batches are independent and

    D(n) = sum over batches of KL( law of the batch's counts under psort || Multinomial(b, pi) ),

where a batch's counts are B_d chosen samples of each sorted class d it spans (B_d ~ Binomial(m_d,
rho), m_d its positions of class d) plus a Multinomial(b - sum B, pi) of the rest. The KL is
estimated by Monte Carlo with the exact likelihood ratio (a sum over the B_d). n*_batch solves
D(n) = 5.89 (log-interpolated on a grid of n). Once a class's stretch (n / k) is many batches long
the two limits meet (inside one stretch the ratio depends on the count of that class only); for
a 20% partial sort they differ, because it becomes detectable when a stretch is about a batch.

Run: ``python benchmarks/limit.py`` (about four minutes).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from scipy.special import gammaln
from scipy.stats import binom

TARGET = 0.9 * np.log(0.9 / 1e-3) + 0.1 * np.log(0.1 / (1 - 1e-3))  # d(0.9 || 1e-3) = 5.89 nats


def sample_rate(rho: float, k: int) -> float:
    """KL per label of rho * delta_c + (1 - rho) * uniform against uniform (STATS.md section 6)."""
    q = rho + (1 - rho) / k
    return q * np.log(q * k) + (1 - q) * np.log((1 - q) * k / (k - 1))


def batch_kl(spans: tuple[int, ...], rho: float, k: int, b: int, reps: int, rng: np.random.Generator) -> float:
    """KL of one batch's class counts when its positions hold ``spans[i]`` of sorted class i."""
    combos = np.array(list(itertools.product(*[np.arange(m + 1) for m in spans])))
    log_weight = sum(binom.logpmf(combos[:, i], m, rho) + combos[:, i] * np.log(k) for i, m in enumerate(spans))
    chosen = combos.sum(axis=1)

    def falling(x, r):  # log of the falling factorial (x)_r
        return gammaln(x + 1) - gammaln(x - r + 1)

    total = 0.0
    for _ in range(reps):
        picks = [rng.binomial(m, rho) for m in spans]
        counts = rng.multinomial(b - sum(picks), np.full(k, 1.0 / k))
        own = np.array([counts[i] + picks[i] for i in range(len(spans))])  # classes 0..len-1 stand for the spanned ones
        ok = np.all(combos <= own, axis=1)
        terms = log_weight[ok] + sum(falling(own[i], combos[ok, i]) for i in range(len(spans))) - falling(b, chosen[ok])
        top = terms.max()
        total += top + np.log(np.exp(terms - top).sum())
    return total / reps


def batch_divergence(n: int, rho: float, k: int, b: int, reps: int, rng: np.random.Generator, cache: dict) -> float:
    """D(n): the KL of all n / b batches' counts (the oracle's sorted class: stretch c = [c n/k, (c+1) n/k))."""
    total = 0.0
    for j in range(n // b):
        sorted_class = (np.arange(j * b, (j + 1) * b) * k) // n
        spans = tuple(int(v) for v in np.bincount(sorted_class)[np.unique(sorted_class)])
        if spans not in cache:
            cache[spans] = batch_kl(spans, rho, k, b, reps, rng)
        total += cache[spans]
    return total


def crossing(ns: list[int], ds: list[float]) -> float:
    """The n where D(n) reaches TARGET, log-interpolated."""
    for (n0, d0), (n1, d1) in zip(zip(ns, ds), zip(ns[1:], ds[1:])):
        if d0 < TARGET <= d1:
            t = (TARGET - d0) / (d1 - d0)
            return float(np.exp(np.log(n0) + t * (np.log(n1) - np.log(n0))))
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rho", type=float, nargs="+", default=[0.2, 0.05])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=2000, help="Monte Carlo draws per batch shape")
    args = parser.parse_args()
    k, b = args.classes, args.batch
    print("| psort | n* (positions, STATS.md section 6) | n* (batch counts) | D(n) on the grid, nats |")
    print("|---|---|---|---|")
    for rho in args.rho:
        n_sample = TARGET / sample_rate(rho, k)
        grid = [int(b * round(v / b)) for v in np.geomspace(max(b, n_sample / 2), 12 * n_sample, 12)]
        grid = sorted(set(g for g in grid if g >= b))
        cache: dict = {}
        rng = np.random.default_rng(0)
        ds = [batch_divergence(n, rho, k, b, args.reps, rng, cache) for n in grid]
        cells = ", ".join(f"{n}: {d:.1f}" for n, d in zip(grid, ds))
        print(f"| {rho:g} | {n_sample:.0f} | {crossing(grid, ds):.0f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

"""``batch-entropy``: batches purer (fewer classes) than a shuffled feed gives.

Test statistic: the batch x class Pearson X^2 as a weighted match count,
W = sum_g (1/b_g) sum_c N_gc (N_gc - 1) / n_c (within-batch cliques of weight 2/b_g, class
weight 1/n_c), reported as X^2 = n W + B k - n (equal to Pearson's X^2 when all batches have the
same size; with unequal sizes the linear part of X^2 is replaced by its expectation). Exact
permutation moments, shifted-Satterthwaite tail with W0 the integer Jensen bound (X^2 = 0 table).

Reported alongside, in the user's terms, for batches of the modal size b: the mean per-batch
Shannon entropy of class shares and its exact permutation expectation (hypergeometric, STATS.md
section 1), the mean number of distinct classes per batch and its exact expectation
sum_c [1 - C(n - n_c, b) / C(n, b)], and the share of single-class batches.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..results import TestResult
from ._validate import NotEnoughData, as_batch_sizes, as_codes
from .counts import counts_densely, dense_cells, dense_tables, segment_table
from .moments import block_graph, clique_lower_bound, kappa, label_sums, pair_moments, zscore
from .permutation import safety_net
from .runs import pairs_apply, within_by_pairs
from .tails import cantelli, satterthwaite_sf


def _lnchoose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return special.gammaln(a + 1.0) - special.gammaln(b + 1.0) - special.gammaln(a - b + 1.0)


def expected_batch_entropy(class_counts: np.ndarray, b: int) -> float:
    """Exact E[H] of the class-share entropy (nats) of a batch of ``b`` drawn without replacement
    from the label multiset: N_c ~ Hypergeom(n, n_c, b); tabulated over distinct n_c."""
    counts = np.asarray(class_counts, dtype=np.int64)
    counts = counts[counts > 0]
    n = int(counts.sum())
    if b <= 1:
        return 0.0
    distinct, mult = np.unique(counts, return_counts=True)
    j = np.arange(1, b + 1, dtype=np.float64)[None, :]
    nc = distinct.astype(np.float64)[:, None]
    valid = (j <= nc) & (b - j <= n - nc)
    with np.errstate(invalid="ignore"):
        logpmf = _lnchoose(nc, np.minimum(j, nc)) + _lnchoose(n - nc, np.clip(b - j, 0, n - nc)) - _lnchoose(n, b)
    pmf = np.where(valid, np.exp(np.where(valid, logpmf, 0.0)), 0.0)
    f = j * np.log(j)
    per_class = (pmf * f).sum(axis=1)
    return float(np.log(b) - np.sum(mult * per_class) / b)


def expected_batch_classes(class_counts: np.ndarray, b: int) -> float:
    """Exact expected number of distinct classes in a batch of ``b`` drawn without replacement."""
    counts = np.asarray(class_counts, dtype=np.int64)
    counts = counts[counts > 0]
    n = int(counts.sum())
    rest = n - counts
    p_absent = np.where(rest >= b, np.exp(_lnchoose(rest, np.minimum(b, rest)) - _lnchoose(n, b)), 0.0)
    return float(np.sum(1.0 - p_absent))


def batch_rows(rows: np.ndarray, sizes: np.ndarray, k: int, inv_counts: np.ndarray) -> np.ndarray:
    """W = sum_g (1/b_g) sum_c N_gc (N_gc - 1) / n_c for every row of an (R, n) code matrix."""
    reps = rows.shape[0]
    if pairs_apply(sizes):  # batches of 2-4: pair by pair, as label-runs counts them (3.3x faster at 4)
        return within_by_pairs(rows, sizes, inv_counts)
    if counts_densely(sizes.size, k, rows.shape[1]):
        t = dense_tables(rows, sizes, k).astype(np.float64)
        return ((t * (t - 1.0)) @ inv_counts) @ (1.0 / sizes)
    table = segment_table(rows.ravel(), np.tile(sizes, reps), k)
    return table.pair_sum(inv_counts).reshape(reps, sizes.size) @ (1.0 / sizes)


def net_row_cost(codes: np.ndarray, batch_sizes: np.ndarray) -> float:
    """What one permuted row of this check's net costs, drawing included, in label-permutations per label
    (the unit of the stream's budget): batches of 2-4 are counted pair by pair, larger ones through batch
    x class tables that grow with the classes per label, batches of one through sorted segments (a fit
    on 2,048-4,096 labels, 2-1,000 classes, batches of 1-256: ``benchmarks/net_cost.py``; 0.5-1.8)."""
    n, nb = max(int(codes.size), 1), int(batch_sizes.size)
    k = int(codes.max()) + 1 if codes.size else 1
    if nb >= n:
        return 1.8 if k > 2 else 0.9
    if pairs_apply(batch_sizes):
        return 0.6
    return 0.5 + min(0.3, 0.1 * nb * k / n)


def _factory(k: int):
    def factory(x: np.ndarray, sizes: np.ndarray):
        counts = np.bincount(x, minlength=k).astype(np.float64)
        inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0), 0.0)
        return lambda rows: batch_rows(rows, sizes, k, inv)

    return factory


def batch_homogeneity_test(
    codes: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    mc_below: float = 0.0,
    mc_max_perms: int = 15999,
    mc_max_labels: int = 16384,
    reject_at: float | None = None,
    accept_above: float | None = None,
    mc_budget: int | None = None,
) -> TestResult:
    """Batch x class homogeneity (Pearson X^2 with exact permutation moments), one-sided toward
    batches that are purer than a shuffle gives.

    Returns
    -------
    TestResult
        ``statistic``: X^2. ``effect``: Cohen's kappa of within-batch pairs (0 shuffled, 1 every
        batch single-class). ``details``: expected (E X^2), z, match_rate, expected_rate,
        mean_entropy, expected_entropy, mean_classes, expected_classes, single_class_share,
        batch_size (the modal size the entropy and class figures use).

    Raises
    ------
    NotEnoughData
        Fewer than 2 batches, every batch of size 1, or a single class.

    Examples
    --------
    If every batch holds one class, batches hold 1.0 classes on average where a shuffled feed of
    10 balanced classes gives about 9.6 at b = 32, and the p-value says a shuffle essentially never
    produces batches this pure.
    """
    x = as_codes(codes)
    sizes = as_batch_sizes(batch_sizes, x.size)
    n = x.size
    if sizes.size < 2:
        raise NotEnoughData(f"the batch test needs at least 2 batches, got {sizes.size}")
    if np.all(sizes == 1):
        raise NotEnoughData("every batch holds a single sample, so batch composition cannot be tested")
    counts = np.bincount(x)
    k = counts.size
    observed = counts[counts > 0]
    if observed.size < 2:
        raise NotEnoughData(f"all {n:,} labels are class {int(np.argmax(counts))}, so their order cannot be tested")
    b = sizes.astype(np.float64)
    alpha = 2.0 / b
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    table = segment_table(x, sizes, k)
    stat_w = float(table.pair_sum(inv) @ (1.0 / b))
    graph = block_graph(sizes, alpha)
    labels = label_sums(observed, 1.0 / observed)
    mean, var = pair_moments(graph, labels)
    w0 = clique_lower_bound(sizes, alpha, observed, 1.0 / observed)
    p = float(satterthwaite_sf(stat_w, mean, var, w0)[()])
    method = "shifted Satterthwaite tail on exact permutation moments"
    net = safety_net(
        p, method, cantelli(stat_w, mean, var), _factory(k), x, sizes,
        rng=rng, mc_below=mc_below, mc_max_perms=mc_max_perms, mc_max_labels=mc_max_labels,
        reject_at=reject_at, accept_above=accept_above, mc_budget=mc_budget, min_batches=2,
        cells_per_label=dense_cells(sizes.size, k, n),
    )
    kobs = observed.size
    x2 = n * stat_w + sizes.size * kobs - n
    expected_x2 = n * mean + sizes.size * kobs - n
    # effect: unweighted within-batch pair match rate vs chance
    pairs_total = float(np.sum(b * (b - 1.0)))
    rate = float(table.pair_sum().sum()) / pairs_total
    a2 = label_sums(observed).a2
    # user-facing figures on batches of the modal size
    vals, mult = np.unique(sizes, return_counts=True)
    modal = int(vals[np.argmax(mult)])
    if modal < 2:
        modal = int(vals[vals >= 2][np.argmax(mult[vals >= 2])])
    is_modal = sizes == modal
    n_modal = int(is_modal.sum())
    ent = table.entropy()[is_modal]
    ncls = table.distinct()[is_modal]
    details = {
        "expected": expected_x2,
        "z": zscore(stat_w, mean, var),
        "sd": float(n * np.sqrt(var)),
        "match_rate": rate,
        "expected_rate": a2,
        "mean_entropy": float(ent.mean()) if n_modal else float("nan"),
        "expected_entropy": expected_batch_entropy(observed, modal),
        "mean_classes": float(ncls.mean()) if n_modal else float("nan"),
        "expected_classes": expected_batch_classes(observed, modal),
        "single_class_share": float(np.mean(ncls == 1)) if n_modal else float("nan"),
        "batch_size": float(modal),
        "fast_pvalue": p,
        **net.details,
    }
    return TestResult(float(x2), net.pvalue, kappa(rate, a2), net.method, details)

"""Calibration of the order checks on signals other than one class label per sample.

Four signals: input-order (unlabeled inputs from Gaussian clusters, sketched and clustered on the
sampled set), length-order (sequence lengths of a token feed), metadata-order (a ``source``
column), and the label checks on multi-hot rows read as their lead label. Fixed seeds throughout.

False alarms, two-sided, on clean shuffled streams, from each check's raw p-value (its own p-value
before the Holm step, ``details["raw_pvalue"]``; at the default alpha, or at alpha = 0.05 passed to
``check()`` where the reports' family-wise rate of warn/fail is tested too, under the same limit):

- not too many: p <= 0.05 at most 3x nominal, and p <= 0.05 and p <= 0.01 no more often than the
  1 - 1e-4 binomial quantile of nominal (house style, tests/test_calibration.py);
- not degenerate: p <= 0.5 at least as often as the 1e-4 binomial quantile of a floor. A signal's
  p-value is m x the smallest of its m tests' p-values (Bonferroni), so P(p <= t) >= P(p_1 <= t/m)
  = t/m for any one exact test among them: the floor is 0.5/m. A label check's p-value is itself
  near-uniform (label-runs, batch-entropy): the floor is 0.5, with the same quantile. A check that
  always answers p = 1, or that lost its signal, fails here.

Streams go through the public ``loadercheck.check()`` on in-memory lists of batches (reading the
feed, sketching and clustering, the battery, Holm), except length-order's false-alarm test, which
runs the checks (``run_checks``) on a stream carrying token lengths as its signal: a token feed's
sketches cost an eigen-decomposition of 256 x 256 per stream, too slow for enough streams here;
``benchmarks/calibration.py`` covers that whole path, and the power test below runs it here.

Power: each signal's defect, gross enough that power is ~1 at the size used, fails that signal's
own check on every seeded stream.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import loadercheck
from loadercheck.checks import run_checks
from loadercheck.options import Options
from loadercheck.results import Epoch, LabelKind, LoaderInfo, Signal, Status, Stream

B = 16
"""Batch size of every feed here."""
N = 32 * B
"""Samples per stream (32 batches)."""
LEVEL = 0.05
"""The test level for false alarms (raw p-values)."""
LABEL_CHECKS = ("label-runs", "batch-entropy", "label-autocorrelation", "window-drift")


# ---------------------------------------------------------------- feeds (each seed: a fresh shuffle)


def _cut(n: int) -> list[slice]:
    return [slice(s, s + B) for s in range(0, n - n % B, B)]


def _shuffled(rng: np.random.Generator, n: int, shares) -> np.ndarray:
    """One epoch of an exact-proportion dataset of ``len(shares)`` groups, shuffled."""
    shares = np.asarray(shares, dtype=float) / np.sum(shares)
    counts = np.floor(shares * n).astype(int)
    counts[: n - counts.sum()] += 1
    return rng.permutation(np.repeat(np.arange(len(shares)), counts))


def unlabeled_clusters(rng: np.random.Generator, defect: bool = False, n: int = N) -> list:
    """Bare 3x8x8 image batches (no label) around 10 Gaussian cluster centres; the defect stores
    them by cluster."""
    clusters = _shuffled(rng, n, np.full(10, 0.1))
    if defect:
        clusters = np.sort(clusters)
    centres = rng.normal(size=(10, 3 * 8 * 8))
    x = (centres[clusters] + rng.normal(size=(n, centres.shape[1]))).astype(np.float32)
    x = x.reshape(n, 3, 8, 8)
    return [x[s] for s in _cut(n)]


def token_lengths(rng: np.random.Generator, domains: np.ndarray) -> np.ndarray:
    """Lengths 8-96, longer on average in higher domains (ties: many short sequences)."""
    return np.clip(np.round(rng.exponential(20.0 + 8.0 * domains) + 8), 8, 96).astype(np.int64)


VOCAB = 2048


def token_feed(rng: np.random.Generator, defect: bool = False, n: int = N) -> list:
    """Language-model batches {input_ids, attention_mask, labels}: 4 domains (each its own token
    distribution), padded per batch (pad id 0), labels = input_ids with -100 on padding. The defect
    feeds the sequences sorted by length (length-grouped batching without the shuffle)."""
    domains = _shuffled(rng, n, np.full(4, 0.25))
    lengths = token_lengths(rng, domains)
    if defect:
        order = np.argsort(lengths, kind="stable")
        domains, lengths = domains[order], lengths[order]
    zipf = 1.0 / np.arange(1, VOCAB + 1)
    cdf = np.cumsum(zipf / zipf.sum())
    vocab = np.stack([rng.permutation(VOCAB) + 1 for _ in range(4)])
    out = []
    for cut in _cut(n):
        width = int(lengths[cut].max())
        mask = (np.arange(width)[None, :] < lengths[cut][:, None]).astype(np.int64)
        ranks = np.minimum(np.searchsorted(cdf, rng.random((B, width))), VOCAB - 1)
        ids = np.where(mask == 1, vocab[domains[cut][:, None], ranks], 0).astype(np.int64)
        out.append({"input_ids": ids, "attention_mask": mask, "labels": np.where(mask == 1, ids, -100)})
    return out


def source_feed(rng: np.random.Generator, defect: bool = False, n: int = N) -> list:
    """Dict batches {x, label, source}: 10 balanced classes beside 3 sources (80/15/5); the defect
    concatenates the sources (the class label stays shuffled)."""
    sources = _shuffled(rng, n, [0.80, 0.15, 0.05])
    if defect:
        sources = np.sort(sources)
    labels = _shuffled(rng, n, np.full(10, 0.1))
    names = np.array(["web", "books", "code"])
    x = rng.normal(size=(n, 8)).astype(np.float32)
    return [{"x": x[s], "label": labels[s], "source": names[sources[s]].tolist()} for s in _cut(n)]


TAGS = 0.35 * 0.85 ** np.arange(20)
"""Prevalence of 20 tags, 0.35 down to 0.015: imbalanced lead labels, some rows without a tag."""


def multi_label_feed(rng: np.random.Generator, defect: bool = False, n: int = N) -> list:
    """(x, multi-hot rows) batches; the defect stores the rows by their first tag."""
    rows = (rng.random((n, TAGS.size)) < TAGS).astype(np.float32)
    if defect:
        present = rows != 0
        lead = np.where(present.any(axis=1), np.argmax(present, axis=1), TAGS.size)
        rows = rows[np.argsort(lead, kind="stable")]
    x = rng.normal(size=(n, 8)).astype(np.float32)
    return [(x[s], rows[s]) for s in _cut(n)]


def length_stream(rng: np.random.Generator, n: int = N) -> Stream:
    """A label-free stream carrying shuffled token lengths as its length-order signal (what the
    sampling layer records for a token feed: the attention mask's kept tokens per sample)."""
    lengths = token_lengths(rng, _shuffled(rng, n, np.full(4, 0.25))).astype(np.float64)
    epoch = Epoch(np.zeros(n, dtype=np.int64), np.full(n // B, B, dtype=np.int64))
    signal = Signal("length-order", "sequence length", lengths, LabelKind.CONTINUOUS)
    return Stream((epoch,), LabelKind.NONE, (), LoaderInfo("synthetic"), target_kind="tokens", signals=(signal,))


# ---------------------------------------------------------------- false alarms


def _upper(streams: int, level: float) -> int:
    """Most p-values allowed at or below ``level`` on clean streams."""
    limit = int(sps.binom.ppf(1 - 1e-4, streams, level))
    return min(limit, int(3 * level * streams)) if level == LEVEL else limit


def _lower(streams: int, floor: float) -> int:
    """Fewest p-values allowed at or below 0.5 where their probability is at least ``floor``."""
    return int(sps.binom.ppf(1e-4, streams, floor))


def _raw_pvalues(make, checks: tuple[str, ...], kind: str, streams: int, seed: int,
                 alpha: float = 1e-3) -> tuple[dict[str, np.ndarray], int]:
    """Raw p-values of ``checks`` on ``streams`` clean feeds, and how many reports were flagged
    (verdict warn or fail) at ``alpha``."""
    raw: dict[str, list[float]] = {c: [] for c in checks}
    flagged = 0
    for i in range(streams):
        report = loadercheck.check(make(np.random.default_rng([seed, i])), seed=i, alpha=alpha)
        assert report.stream.target_kind == kind, report.stream.target_kind
        flagged += report.verdict in (Status.WARN, Status.FAIL)
        for c in checks:
            assert report[c].status is not Status.SKIP, report[c].message
            raw[c].append(report[c].details["raw_pvalue"])
    return {c: np.asarray(v) for c, v in raw.items()}, flagged


def _assert_two_sided(label: str, ps: np.ndarray, floor: float | None) -> None:
    for level in (LEVEL, 0.01):
        hits = int(np.sum(ps <= level))
        assert hits <= _upper(ps.size, level), f"{label}: {hits}/{ps.size} raw p-values <= {level}"
    if floor is not None:
        half = int(np.sum(ps <= 0.5))
        assert half >= _lower(ps.size, floor), (
            f"{label}: only {half}/{ps.size} raw p-values <= 0.5 (degenerate; floor {floor:.3f}); "
            f"smallest {ps.min():.3g}")


def test_input_order_false_alarms_two_sided():
    ps = _raw_pvalues(unlabeled_clusters, ("input-order",), "none", 120, 101)[0]["input-order"]
    _assert_two_sided("input-order", ps, floor=0.5 / 4)


def test_length_order_false_alarms_two_sided():
    ps = []
    for i in range(400):
        results = {r.id: r for r in run_checks(length_stream(np.random.default_rng([102, i])), Options(seed=i))}
        assert results["length-order"].status is not Status.SKIP, results["length-order"].message
        ps.append(results["length-order"].details["raw_pvalue"])
    _assert_two_sided("length-order", np.asarray(ps), floor=0.5 / 5)


def test_metadata_order_false_alarms_two_sided():
    """At alpha = 0.05 passed to check(): the raw p-values (permutation-backed near the family's
    level), and the family-wise rate of flagged reports (the label checks, metadata-order and the
    forensics: Holm at 0.9 alpha, forensics at 0.1 alpha)."""
    raw, flagged = _raw_pvalues(source_feed, ("metadata-order", *LABEL_CHECKS), "class", 200, 103, alpha=LEVEL)
    assert flagged <= _upper(200, LEVEL), f"{flagged}/200 clean reports flagged at alpha {LEVEL}"
    _assert_two_sided("metadata-order", raw["metadata-order"], floor=0.5 / 4)
    for check in LABEL_CHECKS:  # the label checks beside it, in the same Holm family
        _assert_two_sided(f"{check} beside a source column", raw[check], None)


def test_multi_label_lead_labels_false_alarms_two_sided():
    raw, flagged = _raw_pvalues(multi_label_feed, LABEL_CHECKS, "multi-label", 200, 104, alpha=LEVEL)
    assert flagged <= _upper(200, LEVEL), f"{flagged}/200 clean reports flagged at alpha {LEVEL}"
    for check in LABEL_CHECKS:
        exact = check in ("label-runs", "batch-entropy")  # near-uniform p; the other two are conservative
        _assert_two_sided(f"{check} on lead labels", raw[check], 0.5 if exact else None)


def test_clean_token_feeds_pass_whole_path():
    """The token path (sketches of padded batches, clusters, lengths from the mask) on clean feeds."""
    for i in range(4):
        report = loadercheck.check(token_feed(np.random.default_rng([105, i])), seed=i)
        assert report.stream.target_kind == "tokens"
        assert {r.id for r in report.checks if r.status is not Status.SKIP} >= {"input-order", "length-order"}
        assert report.verdict is Status.PASS, [(r.id, r.status, r.pvalue) for r in report.checks]


# ---------------------------------------------------------------- power


@pytest.mark.parametrize(
    "make, check, kind",
    [
        (unlabeled_clusters, "input-order", "none"),
        (token_feed, "length-order", "tokens"),
        (source_feed, "metadata-order", "class"),
        (multi_label_feed, "label-runs", "multi-label"),
    ],
    ids=["input-order", "length-order", "metadata-order", "multi-label"],
)
def test_power_against_defects(make, check, kind):
    for i in range(2):
        report = loadercheck.check(make(np.random.default_rng([106, i]), defect=True), seed=i)
        assert report.stream.target_kind == kind
        result = report[check]
        assert result.status is Status.FAIL, (check, result.status, result.pvalue, result.message)
        assert report.verdict is Status.FAIL

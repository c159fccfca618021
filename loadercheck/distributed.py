"""Ranks: do the ranks of a distributed job read disjoint parts that cover the data, with fair label mixes?

Two sources of rank information, one check (``rank-coverage``):

* **Rank views of a sampler, without a cluster** (:func:`sampler_rank_views`). A
  ``DistributedSampler`` (or any sampler with ``num_replicas``/``rank`` attributes) is copied for
  several world sizes (2, 4, 8 and its own) and every rank's indices are read, indices only, RNG
  state untouched. Per world size: samples read by more than one rank beyond the padding the
  sampler adds to even out ranks, dataset indices no rank reads beyond what ``drop_last`` drops,
  and the rank x class table of the labels (when the dataset exposes them).
* **Gathered summaries under ``torch.distributed``** (:func:`gather_ranks`, used by
  ``check(..., distributed=True)``). Every rank draws its own stream as usual; each sends a
  compact summary: sample and distinct counts, label counts, and a bottom-k sketch (the 4,096
  smallest mixed hashes) of its sample identities (input fingerprints, or dataset indices).
  The cost per rank is O(k) to send (about 32 KB) and O(n log k) to build, whatever the dataset
  size; every rank receives ``world_size`` summaries. Overlap is exact while each rank's distinct
  samples fit in the sketch and a K-minimum-values estimate beyond.

The label-mix test is the batch x class Pearson X² of :mod:`loadercheck.stats.batch` with the
ranks as the "batches": exact permutation moments (labels allotted to ranks at random, given the
margins), which is what a shuffled split does.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .results import CheckResult, Status, Stream

SKETCH_SIZE = 4096
"""Identities each rank sends (the bottom-k sketch size)."""
WORLD_SIZES = (2, 4, 8)
"""World sizes whose rank views are built from a sampler (plus the sampler's own)."""
MAX_VIEW_SAMPLES = 5_000_000
"""Rank views are built only for datasets up to this size (each world size reads every index once)."""

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True, eq=False)
class WorldView:
    """The ranks of one world size: what each reads, overlap, coverage and label mix."""

    world_size: int
    samples: tuple[int, ...]
    """Samples per rank."""
    overlap: float
    """Samples read by more than one rank (counted once per extra reader)."""
    expected_overlap: float
    """Overlap the sampler explains (DistributedSampler padding, sampling with replacement)."""
    missing: float | None
    """Dataset samples no rank reads (None when unknown: prefixes, unknown dataset size)."""
    expected_missing: float
    """Missing samples the sampler explains (``drop_last``)."""
    label_table: np.ndarray | None = None
    """Rank x class counts (coded classes), or None without labels."""
    exact: bool = True
    """False when overlap is estimated from sketches."""


@dataclass(frozen=True, eq=False)
class RankReport:
    """Rank information for ``rank-coverage``: one or more world views and where they came from."""

    source: str
    """``"sampler views"`` or ``"torch.distributed"``."""
    views: tuple[WorldView, ...]
    dataset_size: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- sampler views
def _attr(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def rank_sampler(sampler: Any, world_size: int, rank: int) -> Any:
    """A copy of a distributed sampler set to ``rank`` of ``world_size`` (torch's size formulas)."""
    view = copy.copy(sampler)
    view.num_replicas = world_size
    view.rank = rank
    dataset = _attr(sampler, "dataset")
    size = len(dataset) if dataset is not None else None
    if size is not None and hasattr(view, "num_samples") and hasattr(view, "total_size"):
        if _attr(sampler, "drop_last") and size % world_size != 0:
            num = math.ceil((size - world_size) / world_size)
        else:
            num = math.ceil(size / world_size)
        view.num_samples = num
        view.total_size = num * world_size
    return view


def _read(sampler: Any) -> np.ndarray:
    return np.fromiter((int(i) for i in iter(sampler)), dtype=np.int64)


def sampler_rank_views(loader: object, stream: Stream | None = None,
                       world_sizes: tuple[int, ...] = WORLD_SIZES) -> RankReport | None:
    """Rank views of the loader's distributed sampler at several world sizes, or None.

    Reads indices only (no sample loaded); global RNG state is restored. Labels come from
    ``stream.dataset_labels`` (or the dataset's metadata) when available.
    """
    from .adapters import dataset_label_values, sampler_object
    from .rng import preserved_rng

    sampler = sampler_object(loader)
    if sampler is None or _attr(sampler, "num_replicas") is None or _attr(sampler, "rank") is None:
        return None
    dataset = _attr(sampler, "dataset") or _attr(loader, "dataset")
    try:
        size = len(dataset)  # type: ignore[arg-type]
    except Exception:
        return None
    if size < 2 or size > MAX_VIEW_SAMPLES:
        return None
    labels = stream.dataset_labels if stream is not None and stream.dataset_labels is not None else None
    if labels is None:
        raw = dataset_label_values(loader)
        if raw is not None:
            _, labels = np.unique(raw, return_inverse=True)
            labels = labels.ravel()
    if labels is not None and labels.size != size:
        labels = None
    own = int(_attr(sampler, "num_replicas") or 1)
    sizes = sorted({w for w in (*world_sizes, own) if 2 <= w <= size})
    views = []
    with preserved_rng():
        for w in sizes:
            per_rank = [_read(rank_sampler(sampler, w, r)) for r in range(w)]
            views.append(_view_from_indices(per_rank, size, labels, w, sampler))
    drop = bool(_attr(sampler, "drop_last"))
    shuffle = _attr(sampler, "shuffle")
    note = (f"rank views of {type(sampler).__name__}(shuffle={shuffle}, drop_last={drop}) at world sizes "
            f"{', '.join(map(str, sizes))} (indices only, epoch {_attr(sampler, 'epoch')})")
    return RankReport("sampler views", tuple(views), dataset_size=size, notes=(note,))


def _view_from_indices(per_rank: list[np.ndarray], size: int, labels: np.ndarray | None, w: int,
                       sampler: Any) -> WorldView:
    allidx = np.concatenate(per_rank) if per_rank else np.zeros(0, np.int64)
    inside = allidx[(allidx >= 0) & (allidx < size)]
    distinct = np.unique(inside).size
    total = int(allidx.size)
    overlap = float(total - distinct)
    drop = bool(_attr(sampler, "drop_last"))
    # torch's DistributedSampler pads to ceil(N / W) * W indices (repeats), or drops to floor(N / W) * W
    expected_overlap = float(math.ceil(size / w) * w - size) if not drop else 0.0
    missing = float(size - distinct)
    expected_missing = float(size - (size // w) * w) if drop else 0.0
    table = None
    if labels is not None:
        k = int(labels.max()) + 1 if labels.size else 1
        table = np.stack([np.bincount(labels[idx[(idx >= 0) & (idx < size)]], minlength=k) for idx in per_rank])
    return WorldView(w, tuple(int(i.size) for i in per_rank), overlap, expected_overlap, missing,
                     expected_missing, table)


# --------------------------------------------------------------------------- gathered summaries
def _mixed(ids: np.ndarray) -> np.ndarray:
    x = np.asarray(ids).astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _MIX1
        x ^= x >> np.uint64(27)
        x *= _MIX2
        x ^= x >> np.uint64(31)
    return x


def bottom_k(ids: np.ndarray, k: int = SKETCH_SIZE) -> tuple[np.ndarray, int]:
    """``(sketch, distinct)``: the k smallest distinct mixed hashes of ``ids`` and the distinct count."""
    h = np.unique(_mixed(ids))
    return h[:k], int(h.size)


def union_estimate(sketches: list[np.ndarray], distincts: list[int], k: int = SKETCH_SIZE) -> tuple[float, bool]:
    """``(|union of the id sets|, exact)`` from bottom-k sketches: exact when every set fit in its
    sketch, else the K-minimum-values estimate ``(k - 1) / h_(k)`` (h scaled to (0, 1])."""
    allh = np.unique(np.concatenate(sketches)) if sketches else np.zeros(0, np.uint64)
    if all(d <= k for d in distincts):
        return float(allh.size), True
    kk = min(k, allh.size)
    if kk < 2:
        return float(allh.size), False
    hk = (float(allh[kk - 1]) + 1.0) / 2.0**64
    return float((kk - 1) / hk), False


def rank_summary(stream: Stream, rank: int) -> dict[str, Any]:
    """The compact summary one rank sends: counts, label counts (by value), identity sketch."""
    e = stream.epochs[0]
    ids = e.indices if e.indices is not None else e.fingerprints
    values = [stream.classes[int(c)] if stream.classes else float(c) for c in np.unique(e.labels)]
    counts = np.bincount(e.labels).tolist() if stream.classes else []
    label_counts = {repr(v): int(counts[int(c)]) for v, c in zip(values, np.unique(e.labels))} if stream.classes else {}
    out: dict[str, Any] = {"rank": int(rank), "samples": int(e.labels.size), "label_counts": label_counts,
                           "identity": None, "sketch": None, "distinct": None,
                           "whole_epoch": not any("stopped at" in n or "stopped after" in n for n in stream.notes),
                           "dataset_size": stream.loader.dataset_length, "replacement": stream.loader.replacement}
    if ids is not None:
        sketch, distinct = bottom_k(ids)
        out.update(identity="indices" if e.indices is not None else "fingerprints", sketch=sketch, distinct=distinct)
    return out


def gathered_report(summaries: list[dict[str, Any]]) -> RankReport:
    """Combine the ranks' summaries (as :func:`rank_summary` makes them) into a RankReport."""
    summaries = sorted(summaries, key=lambda s: s["rank"])
    w = len(summaries)
    samples = tuple(int(s["samples"]) for s in summaries)
    notes = []
    overlap = expected = 0.0
    exact = True
    missing = None
    size = next((s["dataset_size"] for s in summaries if s["dataset_size"]), None)
    if all(s["sketch"] is not None for s in summaries):
        distincts = [int(s["distinct"]) for s in summaries]
        union, exact = union_estimate([s["sketch"] for s in summaries], distincts)
        overlap = float(max(sum(distincts) - union, 0.0))
        if any(s["replacement"] for s in summaries) and size:
            expected = sum(distincts[i] * distincts[j] / size for i in range(w) for j in range(i + 1, w))
        if size and all(s["whole_epoch"] for s in summaries):
            missing = float(max(size - union, 0.0))
        if any(s["identity"] == "fingerprints" for s in summaries):
            notes.append("identities are input fingerprints: random augmentations make copies look different")
    else:
        notes.append("no sample identities were recorded on some rank (inputs are not arrays): overlap not measured")
    keys = sorted({key for s in summaries for key in s["label_counts"]})
    table = None
    if keys:
        table = np.array([[s["label_counts"].get(key, 0) for key in keys] for s in summaries], dtype=np.int64)
    view = WorldView(w, samples, overlap, expected, missing, 0.0, table, exact)
    return RankReport("torch.distributed", (view,), dataset_size=size, notes=tuple(notes))


def gather_ranks(stream: Stream, group: Any = None) -> Stream:
    """Gather every rank's compact summary over ``torch.distributed`` and attach the RankReport.

    Needs an initialised process group (any backend that supports ``all_gather_object``, e.g.
    gloo); every rank gets the same report.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        from .errors import LoaderCheckError

        raise LoaderCheckError("distributed=True needs an initialised torch.distributed process group "
                               "(torch.distributed.init_process_group, or run under torchrun)")
    rank = dist.get_rank(group)
    mine = rank_summary(stream, rank)
    everyone: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(everyone, mine, group=group)
    report = gathered_report(everyone)
    note = f"rank {rank} of {len(everyone)}: summaries gathered from every rank over torch.distributed"
    return replace(stream, ranks=report, notes=(*stream.notes, note))


# --------------------------------------------------------------------------- the check
def rank_coverage_result(report: RankReport, options: Any, *, alpha: float, min_effect: float) -> CheckResult:
    """``rank-coverage``: fail on overlap or missing data beyond what the sampler explains, and on a
    label mix that differs across ranks (statistical, at ``alpha``, Bonferroni over world sizes)."""
    from . import stats
    from .stats.permutation import data_rng, net_perms, trusts_fast_tail

    rid = "rank-coverage"
    problems, warnings_, facts = [], [], []
    worst_p, worst_kappa = 1.0, 0.0
    tested = [v for v in report.views if v.label_table is not None and v.label_table.shape[1] > 1]
    m = max(len(tested), 1)
    details: dict[str, Any] = {"source": report.source, "world_sizes": [v.world_size for v in report.views]}
    for v in report.views:
        total = sum(v.samples)
        extra = v.overlap - v.expected_overlap
        tag = f"world size {v.world_size}"
        approx = "" if v.exact else "about "
        if extra > max(0.5, 0.01 * total if not v.exact else 0.5):
            share = extra / max(total, 1)
            problems.append(f"{tag}: {approx}{extra:,.0f} samples ({share:.0%}) are read by more than one rank")
            details[f"overlap_{v.world_size}"] = extra
        if v.missing is not None and v.missing - v.expected_missing > 0.5:
            gap = v.missing - v.expected_missing
            problems.append(f"{tag}: {gap:,.0f} samples are read by no rank")
            details[f"missing_{v.world_size}"] = gap
        if min(v.samples) != max(v.samples):
            facts.append(f"{tag}: ranks read {min(v.samples):,} to {max(v.samples):,} samples")
        if v in tested:
            table = v.label_table
            codes = np.concatenate([np.repeat(np.arange(table.shape[1]), row) for row in table])
            sizes = table.sum(axis=1)
            keep = sizes > 0
            if keep.sum() >= 2:
                try:
                    r = stats.batch_homogeneity_test(codes, sizes[keep], rng=None, mc_below=0.0)
                    net, perms = 2.0 * alpha / m, net_perms(alpha / m)
                    if r.pvalue <= net and not trusts_fast_tail(r.pvalue, net, codes.size, perms):  # the net decides
                        r = stats.batch_homogeneity_test(codes, sizes[keep], rng=data_rng(codes, sizes[keep], salt=rid),
                                                         mc_below=net, mc_max_perms=perms)
                except stats.NotEnoughData:
                    continue
                p = min(1.0, m * r.pvalue)
                if p < worst_p:
                    worst_p, worst_kappa = p, float(r.effect or 0.0)
                details[f"label_mix_pvalue_{v.world_size}"] = p
                if p <= alpha:
                    text = f"{tag}: ranks get different label mixes (kappa {float(r.effect or 0):.2f})"
                    (problems if (r.effect or 0) >= min_effect else warnings_).append(text)
    details["label_mix_pvalue"] = worst_p
    details["alpha"] = alpha
    notes = "; ".join(report.notes)
    if problems:
        status = Status.FAIL
        message = "; ".join(problems)
    elif warnings_:
        status = Status.WARN
        message = "; ".join(warnings_)
    else:
        status = Status.PASS
        sizes_text = ", ".join(str(v.world_size) for v in report.views)
        message = f"ranks are disjoint and cover the data at world size {sizes_text}"
        if any(v.missing is None for v in report.views):
            message = f"ranks are disjoint (world size {sizes_text}); coverage not judged on prefixes"
        if tested:
            message += "; label mixes agree across ranks"
    if facts:
        message += " (" + "; ".join(facts) + ")"
    hint = None
    if status is not Status.PASS:
        hint = ("ranks read overlapping or incomplete parts, or parts with different label mixes: a DataLoader "
                "without DistributedSampler in a DDP job (every rank reads everything), a sampler that ignores "
                "rank, or shuffle=False over data whose order interleaves classes; fix: "
                "DataLoader(..., sampler=DistributedSampler(dataset, shuffle=True)) and "
                "sampler.set_epoch(epoch) each epoch (for iterable streams, split shards by rank and worker)")
    return CheckResult(rid, status, message, pvalue=worst_p if tested else None, effect=worst_kappa if tested else None,
                       hint=hint, method=f"{report.source}: {notes}" if notes else report.source, details=details)


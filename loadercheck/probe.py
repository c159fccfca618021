"""The probe: measure the harm of the feed order directly, by training on it.

The same small model is trained twice from the same initial weights on the same sampled samples:
once in feed order (the batches exactly as the loader yielded them, minus the held-out samples),
once in a random permutation cut into the same batch sizes. The held-out loss of the two runs is
the direct measure of what the order costs. Repeated over a few paired seeds; see ``docs/probe.md``
for the design, the defaults and their sensitivity.

torch is imported inside functions only: ``import loadercheck.probe`` stays light. The probe builds
its own model (it never touches the user's), restores every RNG it could touch (python, numpy,
torch CPU and CUDA) and does not change torch's thread count or grad mode.
"""

from __future__ import annotations

import dataclasses

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .options import Options
from .results import CheckResult, LabelKind, Status, Stream

PROBE_ID = "probe"
"""The stable check id (equal to :data:`loadercheck.checks.PROBE`)."""

HOLDOUT_SHARE = 0.2
"""Share of the sampled samples held out for evaluation, drawn uniformly over the whole sample."""
HOLDOUT_MAX = 4096
"""At most this many held-out samples (evaluation cost); the rest of the sample is trained on."""
MAX_BATCH = 256
"""Batches larger than this are subsampled (uniformly, seeded) to this many samples: same composition, bounded cost."""
DEFAULT_MAX_STEPS = 1000
"""Default steps: one pass over the sampled batches, at most this many."""
RAW_DIM_MAX = 8192
"""Numeric inputs with more values per sample are first averaged over contiguous blocks down to this size."""
PROJECT_DIM = 256
"""Numeric features above this many dimensions are reduced by a fixed seeded Gaussian random projection."""
TOKEN_BUCKETS = 256
"""Hashed bag-of-tokens width for integer token sequences."""
HIDDEN = 128
"""Width of the MLP's two hidden layers."""
LR = 1e-3
"""AdamW learning rate (the common default); weight decay 0.01."""
WEIGHT_DECAY = 0.01
CURVE_POINTS = 20
"""Held-out evaluations along training (plus one before the first step)."""
FAIL_RATIO = 1.25
"""``fail`` when feed order ends worse in every seed, its mean held-out loss is >= 1.25x the shuffled one ..."""
FAIL_GAP = 0.05
"""... and the loss gap is at least 5% of the untrained model's held-out loss (guards tiny losses)."""
WARN_RATIO = 1.10
"""``warn`` when feed order ends worse in every seed by at least 1.10x ..."""
WARN_GAP = 0.02
"""... and by at least 2% of the untrained model's held-out loss."""
MIN_TRAIN = 64
MIN_HELDOUT = 16
MIN_STEPS = 4
INPUT_KEYS = ("input_ids", "inputs", "input", "x", "pixel_values", "image", "images", "img", "features", "data")
"""Keys tried, in order, when a batch's inputs are a mapping."""


class ProbeSkip(Exception):
    """The probe cannot run on this stream; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Features:
    """Per-sample features built from the stream's inputs."""

    x: np.ndarray
    """float32 (n, d) standardised features, in the stream's sample order."""
    labels: np.ndarray
    """Labels of those samples (int64 codes or float64 targets)."""
    batch_sizes: np.ndarray
    """The (possibly subsampled) batch partition of ``x``."""
    train: np.ndarray
    """Boolean mask of training samples (the rest is held out)."""
    description: str
    """How the features were made, e.g. ``"numeric 3x32x32 -> 256 (random projection)"``."""


def run_probe(stream: Stream, options: Options) -> CheckResult:
    """Train a small model in feed order and shuffled; compare held-out loss (the ``probe`` check).

    Parameters
    ----------
    stream : Stream
        The recorded stream; ``stream.inputs`` must hold the per-batch inputs of the first epoch
        (``check(..., probe=True)`` keeps them).
    options : Options
        ``seed``, ``device`` (auto, cpu, cuda), ``probe_steps`` (None: one pass over the sampled
        batches, at most 1,000), ``probe_seeds`` (paired seeds, default 3), ``ordered``.

    Returns
    -------
    CheckResult
        ``fail`` when feed order ends with a higher held-out loss in every seed and the mean loss
        ratio (feed / shuffled) is at least ``FAIL_RATIO``; ``warn`` when it is worse in every seed
        by at least ``WARN_RATIO``; ``pass`` otherwise; ``skip`` with the reason when the probe
        cannot run (no torch, non-numeric inputs, too few samples, CUDA asked for but absent).
        ``effect`` is the loss ratio; ``details`` carry the accuracy (or R²) gap, per-seed losses,
        steps, seeds, device, wall time and the two mean held-out learning curves.
    """
    started = time.perf_counter()
    try:
        return _run(stream, options, started)
    except ProbeSkip as reason:
        return CheckResult(PROBE_ID, Status.SKIP, str(reason), method="probe training")


def _run(stream: Stream, options: Options, started: float) -> CheckResult:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dev dependency
        raise ProbeSkip("the probe needs torch: pip install torch==2.13.0 (the CPU build; any torch >= 2.0 works)") from exc
    device = _device(options.device, torch)
    steps_wanted = options.probe_steps
    seeds = options.probe_seeds

    with _preserved_rng(torch, device), _one_thread(torch, device):
        feats = build_features(stream, options.seed, steps_wanted)
        outcome = _train_pairs(feats, stream.kind, len(stream.classes), seeds, steps_wanted, options.seed,
                               device, torch)
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    outcome["features"] = feats.description
    result = _decide(outcome, stream.kind, options.ordered)
    if result.hint is None:
        return result
    from .checks import shuffle_fix

    return dataclasses.replace(result, hint=f"{result.hint}; fix: {shuffle_fix(stream)}")


# --------------------------------------------------------------------------------------------------
# features


def build_features(stream: Stream, seed: int = 0, steps: int | None = None) -> Features:
    """Turn the stream's per-batch inputs into standardised per-sample features and a split.

    Numeric tensors or arrays are flattened (block-averaged above ``RAW_DIM_MAX`` values per
    sample), standardised with statistics of the training split, and reduced by a fixed seeded
    Gaussian random projection above ``PROJECT_DIM`` dimensions. 2-D integer arrays of token ids
    (int16 or wider, e.g. ``input_ids``) become hashed bag-of-token counts. Anything else raises
    :class:`ProbeSkip` with the reason.
    """
    if stream.inputs is None:
        raise ProbeSkip("the stream holds no inputs (the sampling layer kept labels only); "
                        "run with probe=True / --probe so inputs are kept")
    if stream.kind is LabelKind.NONE:
        raise ProbeSkip("the feed has no class label or target to train on (the probe trains a small "
                        "classifier or regressor); its order is judged by the input-order checks")
    if stream.kind is LabelKind.CATEGORICAL and np.unique(stream.labels).size < 2:
        raise ProbeSkip(f"all {stream.samples:,} sampled labels are one class: training order cannot "
                        "matter on this sample (draw more batches)")
    inputs = list(stream.inputs)
    sizes = np.asarray(stream.batch_sizes, dtype=np.int64)
    nb = min(len(inputs), sizes.size)
    if steps is not None and steps < nb:
        nb = steps  # a prefix of the stream: the probe trains one pass over its first `steps` batches
    if nb < MIN_STEPS:
        raise ProbeSkip(f"only {nb} batch(es) with inputs; the probe needs at least {MIN_STEPS}")
    sizes = sizes[:nb]
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    labels_all = stream.labels[: bounds[-1]]

    rng = np.random.default_rng([seed, 0x9E0BE])
    keep = []  # per batch: row indices kept inside the batch (subsampling of big batches)
    for b in range(nb):
        size = int(sizes[b])
        keep.append(np.arange(size) if size <= MAX_BATCH else np.sort(rng.choice(size, MAX_BATCH, replace=False)))
    kept_sizes = np.array([k.size for k in keep], dtype=np.int64)
    kept_index = np.concatenate([bounds[b] + keep[b] for b in range(nb)])
    labels = labels_all[kept_index]
    n = labels.size
    n_held = min(int(round(HOLDOUT_SHARE * n)), HOLDOUT_MAX)
    if n - n_held < MIN_TRAIN or n_held < MIN_HELDOUT:
        need = max(MIN_TRAIN + MIN_HELDOUT, math.ceil(MIN_HELDOUT / HOLDOUT_SHARE))
        raise ProbeSkip(f"only {n:,} sampled samples; the probe needs at least {need} (draw more batches)")
    train = np.ones(n, dtype=bool)
    train[rng.choice(n, n_held, replace=False)] = False

    arrays = _Reader(inputs, sizes, keep)
    mode, shape = arrays.mode, arrays.shape
    if mode == "tokens":
        x = np.concatenate([_hash_tokens(arrays.get(b)) for b in range(nb)])
        x = _standardise(x, train)
        description = f"token ids -> hashed bag of {TOKEN_BUCKETS} token buckets"
    else:
        d = int(np.prod(shape)) if shape else 1
        block = max(1, -(-d // RAW_DIM_MAX))
        raw_d = -(-d // block)
        mean, sd = _moments(arrays, train, kept_sizes, block)
        if raw_d > PROJECT_DIM:
            proj = np.random.default_rng([seed, 0x9A0]).standard_normal((raw_d, PROJECT_DIM)).astype(np.float32)
            proj /= np.float32(math.sqrt(PROJECT_DIM))
        else:
            proj = None
        chunks = []
        for b in range(nb):
            z = (_flat(arrays.get(b), block) - mean) / sd
            chunks.append(z @ proj if proj is not None else z)
        x = np.concatenate(chunks).astype(np.float32, copy=False)
        if proj is not None:
            x = _standardise(x, train)
        shape_text = "x".join(str(s) for s in shape) or "scalar"
        description = f"numeric {shape_text}"
        if block > 1:
            description += f" -> {raw_d} (block mean of {block})"
        if proj is not None:
            description += f" -> {PROJECT_DIM} (random projection)"
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return Features(x=x, labels=labels, batch_sizes=kept_sizes, train=train, description=description)


class _Reader:
    """Reads batch ``b``'s inputs as a numpy array of its kept rows; checks they are usable."""

    def __init__(self, inputs: Sequence[Any], sizes: np.ndarray, keep: list[np.ndarray]):
        self.inputs, self.sizes, self.keep = inputs, sizes, keep
        first = self._array(0)
        kind = first.dtype.kind
        if kind in "iu" and first.ndim == 2 and first.dtype.itemsize >= 2:
            self.mode = "tokens"
        elif kind in "biuf":
            self.mode = "numeric"
        else:
            raise ProbeSkip(f"inputs are not numeric (dtype {first.dtype}); the probe needs numeric "
                            "tensors/arrays or integer token ids")
        self.shape = tuple(first.shape[1:])

    def get(self, b: int) -> np.ndarray:
        a = self._array(b)
        if self.mode == "numeric" and tuple(a.shape[1:]) != self.shape:
            raise ProbeSkip(f"inputs change shape across batches ({self.shape} then {tuple(a.shape[1:])}); "
                            "the probe needs fixed-size numeric inputs")
        if self.mode == "numeric" and a.dtype.kind not in "biuf":
            raise ProbeSkip(f"inputs of batch {b} are not numeric (dtype {a.dtype})")
        return a[self.keep[b]] if self.keep[b].size != a.shape[0] else a

    def _array(self, b: int) -> np.ndarray:
        size = int(self.sizes[b])
        a = _to_numpy(self.inputs[b], size)
        if a.ndim == 0 or a.shape[0] != size:
            raise ProbeSkip(f"inputs of batch {b} hold {a.shape[0] if a.ndim else 1} rows but the batch has "
                            f"{size} labels; the probe needs one input row per label")
        return a


def _to_numpy(obj: Any, size: int) -> np.ndarray:
    """A read-only view or copy of one batch's inputs as a numpy array (never modified)."""
    if obj is None:
        raise ProbeSkip("no inputs were found in the batches (the sampling layer could not tell which part "
                        "of a batch is the input); the probe needs numeric tensors/arrays or token ids")
    module = type(obj).__module__
    if module.startswith("torch") and hasattr(obj, "detach"):
        t = obj.detach()
        if t.is_complex():
            raise ProbeSkip("inputs are complex tensors; the probe needs real numbers")
        if t.dtype.is_floating_point and t.dtype not in _numpy_float_dtypes():
            t = t.float()  # bfloat16 / float8 have no numpy dtype
        return t.cpu().numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "c":
            raise ProbeSkip("inputs are complex arrays; the probe needs real numbers")
        return obj
    if isinstance(obj, Mapping):
        for key in INPUT_KEYS:
            if key in obj:
                return _to_numpy(obj[key], size)
        candidates = [k for k, v in obj.items() if _rows(v) == size and _numeric(v)]
        if len(candidates) == 1:
            return _to_numpy(obj[candidates[0]], size)
        raise ProbeSkip(f"cannot tell which key of the batch holds the inputs (keys {sorted(map(str, obj))}); "
                        f"the probe looks for one of {', '.join(INPUT_KEYS[:5])}, ...")
    if isinstance(obj, (list, tuple)):
        if len(obj) == size and not (size > 0 and _rows(obj[0]) == size and len(obj) > 1 and
                                     all(_rows(o) == size for o in obj)):
            try:
                items = [_to_numpy(o, -1) if _is_arraylike(o) else o for o in obj]
                arr = np.asarray(items)
            except ValueError as exc:
                raise ProbeSkip(f"inputs are a list of {size} items of unequal shapes; the probe needs "
                                "fixed-size numeric inputs") from exc
            if arr.dtype.kind not in "biuf":
                what = type(obj[0]).__name__ if size else "nothing"
                raise ProbeSkip(f"inputs are not numeric ({type(obj).__name__} of {what}); "
                                "the probe needs numeric tensors/arrays or integer token ids")
            return arr
        for o in obj:  # a tuple of several inputs: use the first with one row per label
            if _is_arraylike(o) and _rows(o) == size:
                return _to_numpy(o, size)
        raise ProbeSkip(f"inputs are a {type(obj).__name__} of {len(obj)} items, none with one row per label")
    if isinstance(obj, (str, bytes)):
        raise ProbeSkip(f"inputs are {type(obj).__name__}s; the probe needs numeric tensors/arrays or token ids")
    raise ProbeSkip(f"inputs of type {type(obj).__module__}.{type(obj).__qualname__} are not supported; "
                    "the probe needs numeric tensors/arrays or integer token ids")


def _numpy_float_dtypes():
    import torch

    return (torch.float16, torch.float32, torch.float64)


def _is_arraylike(o: Any) -> bool:
    return isinstance(o, np.ndarray) or (type(o).__module__.startswith("torch") and hasattr(o, "detach"))


def _rows(o: Any) -> int | None:
    shape = getattr(o, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    if isinstance(o, (list, tuple)):
        return len(o)
    return None


def _numeric(o: Any) -> bool:
    dtype = getattr(o, "dtype", None)
    if dtype is None:
        return False
    if isinstance(dtype, np.dtype):
        return dtype.kind in "biuf"
    return not getattr(dtype, "is_complex", False)


def _flat(a: np.ndarray, block: int) -> np.ndarray:
    """(rows, ...) -> float32 (rows, d/block): flattened, then averaged over contiguous blocks."""
    flat = a.reshape(a.shape[0], -1).astype(np.float32)  # astype copies: the user's array is never written
    if block > 1:
        d = flat.shape[1]
        pad = (-d) % block
        if pad:
            flat = np.concatenate([flat, np.repeat(flat[:, -1:], pad, axis=1)], axis=1)
        flat = flat.reshape(flat.shape[0], -1, block).mean(axis=2)
    return flat


def _moments(arrays: _Reader, train: np.ndarray, kept_sizes: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each raw feature over the training rows (float64 accumulation)."""
    offsets = np.concatenate(([0], np.cumsum(kept_sizes)))
    total = None
    total_sq = None
    count = 0
    for b in range(kept_sizes.size):
        rows = train[offsets[b]:offsets[b + 1]]
        if not rows.any():
            continue
        f = _flat(arrays.get(b), block)[rows].astype(np.float64)
        f = np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)
        total = f.sum(axis=0) if total is None else total + f.sum(axis=0)
        total_sq = (f * f).sum(axis=0) if total_sq is None else total_sq + (f * f).sum(axis=0)
        count += f.shape[0]
    mean = total / count
    var = np.maximum(total_sq / count - mean * mean, 0.0)
    sd = np.sqrt(var)
    sd[sd < 1e-6 * max(1.0, float(np.abs(mean).max(initial=0.0)))] = 1.0
    return mean.astype(np.float32), sd.astype(np.float32)


def _standardise(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Features standardised with the training rows' mean and standard deviation (a new array)."""
    mean = x[train].mean(axis=0)
    sd = x[train].std(axis=0)
    sd[sd < 1e-6] = 1.0
    return ((x - mean) / sd).astype(np.float32)


def _hash_tokens(ids: np.ndarray) -> np.ndarray:
    """(rows, length) integer token ids -> (rows, TOKEN_BUCKETS) signed log-counts of hashed tokens."""
    rows = ids.shape[0]
    h = ids.astype(np.int64).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    bucket = ((h >> np.uint64(40)) % np.uint64(TOKEN_BUCKETS)).astype(np.int64)
    sign = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
    flat = (np.arange(rows)[:, None] * TOKEN_BUCKETS + bucket).ravel()
    counts = np.bincount(flat, weights=sign.ravel(), minlength=rows * TOKEN_BUCKETS).reshape(rows, TOKEN_BUCKETS)
    return (np.sign(counts) * np.log1p(np.abs(counts))).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# training


def _device(requested: str, torch) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ProbeSkip("device cuda was asked for but torch.cuda.is_available() is False; "
                        "use --device auto or cpu")
    return requested


class _preserved_rng:
    """Save python, numpy and torch (CPU and, when used or initialised, CUDA) RNG states; restore on exit."""

    def __init__(self, torch, device: str):
        self.torch, self.device = torch, device

    def __enter__(self):
        torch = self.torch
        self.py = random.getstate()
        self.np = np.random.get_state()
        self.cpu = torch.random.get_rng_state()
        self.cuda_touched = self.device.startswith("cuda") or (torch.cuda.is_available() and torch.cuda.is_initialized())
        self.cuda = torch.cuda.get_rng_state_all() if self.cuda_touched else None
        return self

    def __exit__(self, *exc):
        torch = self.torch
        random.setstate(self.py)
        np.random.set_state(self.np)
        torch.random.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        return False


def _train_pairs(feats: Features, kind: LabelKind, k: int, seeds: int, steps_wanted: int | None, seed: int,
                 device: str, torch) -> dict[str, Any]:
    """Train feed-order and shuffled runs for each seed; return losses, metrics and mean curves."""
    continuous = kind is LabelKind.CONTINUOUS
    x, train = feats.x, feats.train
    offsets = np.concatenate(([0], np.cumsum(feats.batch_sizes)))
    feed_batches = [np.flatnonzero(train[offsets[b]:offsets[b + 1]]) + offsets[b] for b in range(feats.batch_sizes.size)]
    feed_batches = [b for b in feed_batches if b.size]
    sizes = np.array([b.size for b in feed_batches], dtype=np.int64)
    train_idx = np.concatenate(feed_batches)
    held_idx = np.flatnonzero(~train)
    steps = int(steps_wanted) if steps_wanted is not None else min(len(feed_batches), DEFAULT_MAX_STEPS)
    steps = max(steps, 1)
    if len(feed_batches) < MIN_STEPS:
        raise ProbeSkip(f"only {len(feed_batches)} training batches; the probe needs at least {MIN_STEPS}")

    y = feats.labels
    if continuous:
        mu, sd = float(y[train].mean()), float(y[train].std()) or 1.0
        y_t = torch.as_tensor(((y - mu) / sd).astype(np.float32), device=device)
    else:
        y_t = torch.as_tensor(y.astype(np.int64), device=device)
    x_t = torch.as_tensor(x, device=device)
    held_t = torch.as_tensor(held_idx, device=device)
    xh, yh = x_t[held_t], y_t[held_t]
    eval_at = sorted(set(np.linspace(0, steps, CURVE_POINTS + 1).round().astype(int).tolist()))
    out_dim = 1 if continuous else k
    rng = np.random.default_rng([seed, 0x5EED])

    feed_plan = torch.as_tensor(np.concatenate(feed_batches), device=device)
    runs: dict[str, list[tuple[list[float], list[float]]]] = {"feed": [], "shuffled": []}
    for s in range(seeds):
        # seed the CPU generator only (restored afterwards): torch.manual_seed would also queue a
        # seed for CUDA generators not yet initialised, which no state restore can undo
        torch.default_generator.manual_seed(int(np.random.default_rng([seed, s]).integers(2**62)))
        model = _mlp(x.shape[1], out_dim, torch).to(device)  # initialised on the CPU, then moved
        initial = {k_: v.detach().clone() for k_, v in model.state_dict().items()}
        passes = -(-steps // len(feed_batches))
        perm = np.concatenate([rng.permutation(train_idx) for _ in range(passes)])
        shuffled_plan = torch.as_tensor(perm, device=device)
        for arm, plan, arm_sizes in (
            ("feed", feed_plan, sizes),
            ("shuffled", shuffled_plan, np.tile(sizes, passes)),
        ):
            model.load_state_dict(initial)
            runs[arm].append(_train_one(model, x_t, y_t, xh, yh, plan, arm_sizes, steps, eval_at, continuous, torch))

    def final(arm: str, which: int) -> np.ndarray:
        return np.array([r[which][-1] for r in runs[arm]])

    def curve(arm: str, which: int) -> list[float]:
        return [float(v) for v in np.mean([r[which] for r in runs[arm]], axis=0)]

    return {
        "loss_feed": final("feed", 0),
        "loss_shuffled": final("shuffled", 0),
        "metric_feed": final("feed", 1),
        "metric_shuffled": final("shuffled", 1),
        "curve_steps": eval_at,
        "curve_feed": curve("feed", 0),
        "curve_shuffled": curve("shuffled", 0),
        "metric_curve_feed": curve("feed", 1),
        "metric_curve_shuffled": curve("shuffled", 1),
        "steps": steps,
        "seeds": seeds,
        "device": device,
        "train_samples": int(train_idx.size),
        "heldout_samples": int(held_idx.size),
        "mean_batch": float(sizes.mean()),
        "passes": -(-steps // len(feed_batches)),
    }


def _mlp(d: int, out: int, torch):
    nn = torch.nn
    kw = {"dtype": torch.float32}
    return nn.Sequential(
        nn.Linear(d, HIDDEN, **kw), nn.LayerNorm(HIDDEN, **kw), nn.GELU(),
        nn.Linear(HIDDEN, HIDDEN, **kw), nn.LayerNorm(HIDDEN, **kw), nn.GELU(),
        nn.Linear(HIDDEN, out, **kw),
    )


def _train_one(model, x_t, y_t, xh, yh, plan, sizes: np.ndarray, steps: int, eval_at: list[int],
               continuous: bool, torch) -> tuple[list[float], list[float]]:
    """Train ``steps`` steps over ``plan`` cut into ``sizes`` (wrapping around); held-out curves."""
    f = torch.nn.functional
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    bounds = np.concatenate(([0], np.cumsum(sizes))).tolist()
    nb = len(sizes)
    losses: list[float] = []
    metrics: list[float] = []
    var_h = float(yh.var(unbiased=False)) if continuous else 1.0

    def evaluate() -> None:
        model.eval()
        with torch.no_grad():
            out = model(xh)
            if continuous:
                loss = float(f.mse_loss(out.squeeze(1), yh))
                metrics.append(1.0 - loss / var_h if var_h > 0 else 0.0)
            else:
                loss = float(f.cross_entropy(out, yh))
                metrics.append(float((out.argmax(1) == yh).float().mean()))
        losses.append(loss)
        model.train()

    with torch.enable_grad():
        model.train()
        if eval_at[0] == 0:
            evaluate()
        for step in range(1, steps + 1):
            i = (step - 1) % nb
            idx = plan[bounds[i]:bounds[i + 1]]
            out = model(x_t[idx])
            loss = f.mse_loss(out.squeeze(1), y_t[idx]) if continuous else f.cross_entropy(out, y_t[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step in eval_at:
                evaluate()
    return losses, metrics


class _one_thread:
    """On CPU, train with one torch thread (restored after).

    The probe's matrix products are tiny (about 50 x 256 x 128): a second intra-op thread gains
    little on an idle machine and loses 10-40x when the cores are busy (measured: 2.4 s with one
    thread, 100 s with two, on 2 cores under load), because the threads spin-wait for each other.
    """

    def __init__(self, torch, device: str):
        self.torch, self.device, self.saved = torch, device, None

    def __enter__(self):
        if self.device == "cpu" and self.torch.get_num_threads() != 1:
            self.saved = self.torch.get_num_threads()
            self.torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            self.torch.set_num_threads(self.saved)
        return False


# --------------------------------------------------------------------------------------------------
# decision


def decide(loss_feed: np.ndarray, loss_shuffled: np.ndarray, loss_initial: float,
           ordered: bool = False) -> tuple[Status, float, float]:
    """The probe's decision rule: (status, loss ratio, gap share).

    ``ratio`` is mean feed-order loss / mean shuffled loss (final held-out losses over the seeds);
    ``gap share`` is their difference as a share of ``loss_initial``, the untrained model's held-out
    loss (ln k for k balanced classes, about 1 for a standardised target). ``fail`` when feed order
    ends worse in every seed, ``ratio >= FAIL_RATIO`` and ``gap share >= FAIL_GAP``; ``warn`` when
    worse in every seed with ``ratio >= WARN_RATIO`` and ``gap share >= WARN_GAP``; else ``pass``.
    The gap share keeps a ratio of two tiny losses (an easy task) from failing on noise. A feed
    declared ordered never fails or warns.
    """
    feed, shuffled = float(np.mean(loss_feed)), float(np.mean(loss_shuffled))
    ratio = feed / max(shuffled, 1e-12)
    gap = (feed - shuffled) / max(float(loss_initial), 1e-12)
    consistent = bool(np.all(np.asarray(loss_feed) > np.asarray(loss_shuffled)))
    if ordered or not consistent:
        return Status.PASS, ratio, gap
    if ratio >= FAIL_RATIO and gap >= FAIL_GAP:
        return Status.FAIL, ratio, gap
    if ratio >= WARN_RATIO and gap >= WARN_GAP:
        return Status.WARN, ratio, gap
    return Status.PASS, ratio, gap


def _decide(o: dict[str, Any], kind: LabelKind, ordered: bool) -> CheckResult:
    status, ratio, gap = decide(o["loss_feed"], o["loss_shuffled"], o["curve_feed"][0], ordered)
    continuous = kind is LabelKind.CONTINUOUS
    feed_m, shuf_m = float(np.mean(o["metric_feed"])), float(np.mean(o["metric_shuffled"]))
    steps, seeds = o["steps"], o["seeds"]
    worse = int(np.sum(o["loss_feed"] > o["loss_shuffled"]))
    if ratio >= 10:
        loss_text = f"{ratio:.0f}x the loss"
    elif ratio >= 1.5:
        loss_text = f"{ratio:.1f}x the loss"
    else:
        loss_text = f"{100 * (ratio - 1):+.0f}% loss"
    if continuous:
        gap_text = f"{shuf_m - feed_m:.2f} of held-out R\u00b2"
        level = f"R\u00b2 {feed_m:.2f} vs {shuf_m:.2f} shuffled"
    else:
        gap_text = f"{100 * (shuf_m - feed_m):.0f} points of held-out accuracy"
        level = f"accuracy {100 * feed_m:.0f}% vs {100 * shuf_m:.0f}% shuffled"
    after = f"after {steps:,} steps ({seeds} seed{'s' if seeds != 1 else ''})"
    if status in (Status.FAIL, Status.WARN):
        message = f"feed order costs {gap_text} ({loss_text}) {after}"
    elif worse == seeds and ratio > 1.0:
        message = f"feed order ends slightly worse ({loss_text}, {level}) {after}: within noise"
    else:
        message = f"feed order trains as well as shuffled (loss ratio {ratio:.2f}, {level}) {after}"
    if ordered and worse == seeds and ratio >= WARN_RATIO and gap >= WARN_GAP:
        message = f"(feed declared ordered, not judged) feed order costs {gap_text} ({loss_text}) {after}"
    hint = None
    if status in (Status.FAIL, Status.WARN):
        hint = "a model trained on this order ends worse than the same model trained on the same samples shuffled"
    metric = "r2" if continuous else "accuracy"
    details = {
        "loss_feed": float(np.mean(o["loss_feed"])),
        "loss_shuffled": float(np.mean(o["loss_shuffled"])),
        "loss_ratio": ratio,
        "loss_initial": float(o["curve_feed"][0]),
        "gap_share": gap,
        f"{metric}_feed": feed_m,
        f"{metric}_shuffled": shuf_m,
        f"{metric}_gap": shuf_m - feed_m,
        "metric": metric,
        "seed_loss_feed": [float(v) for v in o["loss_feed"]],
        "seed_loss_shuffled": [float(v) for v in o["loss_shuffled"]],
        "seeds_feed_worse": worse,
        "steps": steps,
        "seeds": seeds,
        "device": o["device"],
        "seconds": o["seconds"],
        "features": o["features"],
        "train_samples": o["train_samples"],
        "heldout_samples": o["heldout_samples"],
        "mean_batch": o["mean_batch"],
        "passes": o["passes"],
        "lr": LR,
        "fail_ratio": FAIL_RATIO,
        "fail_gap": FAIL_GAP,
        "warn_ratio": WARN_RATIO,
        "warn_gap": WARN_GAP,
        "curve_steps": o["curve_steps"],
        "curve_feed": o["curve_feed"],
        "curve_shuffled": o["curve_shuffled"],
        "metric_curve_feed": o["metric_curve_feed"],
        "metric_curve_shuffled": o["metric_curve_shuffled"],
    }
    return CheckResult(
        id=PROBE_ID,
        status=status,
        message=message,
        statistic=float(np.mean(o["loss_feed"]) - np.mean(o["loss_shuffled"])),
        pvalue=None,
        effect=ratio,
        hint=hint,
        method=f"paired probe training: MLP({HIDDEN}x2, LayerNorm), AdamW lr={LR:g}, {seeds} seeds, {o['device']}",
        details=details,
    )

"""Label-free order signals: a small sketch of each sample's input, and codes fitted on the whole set.

A feed with no label (self-supervised, contrastive, language-model pretraining) is tested on its
inputs. :func:`input_sketches` maps each sample to a short vector that looks at that sample only
(fixed random projections of an array's values; a hashed bag of tokens for token sequences);
:func:`cluster_codes` turns the sketches of the whole sampled set into a few categorical codes with a
map fitted on the set *as a multiset* (rows put in a canonical order first), so the codes of a
shuffled feed are a shuffle of the same codes and the permutation null of every order check stays
exact.

Pure numpy: no I/O, no torch import (tensors are read only when the user's code imported torch).
"""

from __future__ import annotations

import functools

import numpy as np

from .labels import is_tensor

SKETCH_DIM = 32
"""Values per sample in a sketch of array inputs (fixed random projections)."""
TOKEN_BUCKETS = 256
"""Token ids are hashed into this many buckets; a token sketch is the sample's bucket histogram
(its share of tokens per bucket): a data-fitted projection (:func:`cluster_codes`)
then finds the directions in which samples differ, which a few fixed projections of the histogram
would drown in per-sample noise."""
CODE_BITS = 3
"""Principal directions split at their median: up to 2**CODE_BITS codes."""
NOISE_RATIO = 3.0
"""A principal direction after the first is used when its variance is at least this many times the
mean variance of the directions below it (structure, not per-sample noise)."""
_MAX_WIDTH = 1 << 10
"""Array inputs wider than this are read on a fixed strided subset of this many values."""
_RESAMPLE = 256
"""Inputs of differing shapes (a list of images of several sizes) are read on this many evenly spaced values."""
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def to_numpy(obj: object) -> np.ndarray | None:
    """A numpy view (or CPU copy) of an array or tensor, else None; never modifies ``obj``."""
    if isinstance(obj, np.ndarray):
        return obj if obj.dtype.kind in "biuf" else None
    if is_tensor(obj):
        try:  # a tensor on the meta device, or of a dtype numpy lacks, has no values to read
            t = obj.detach()
            if t.device.type != "cpu":
                t = t.cpu()
            if t.is_floating_point() and t.element_size() < 4:
                t = t.float()
            array = t.numpy()
        except Exception:  # noqa: BLE001
            return None
        return array if array.dtype.kind in "biuf" else None
    return None


def input_sketches(inputs: object, n: int, mask: object = None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Per-sample sketches of a batch's inputs: ``(sketches (n, SKETCH_DIM), lengths or None)``, or None.

    Integer matrices ``(n, L)`` (and lists of integer sequences) are token sequences: each sample is
    the mean of fixed pseudo-random +-1 vectors of its tokens (a random projection of its token
    histogram), over the positions ``mask`` (an attention mask) keeps; ``lengths`` counts those
    positions. Raw text (a list of strings) is read as overlapping byte pairs, counted the same
    way. Other numeric arrays: fixed random projections of the sample's values (strided down
    to 1,024 values; samples of different shapes resampled to 256 evenly spaced values).
    """
    array = to_numpy(inputs)
    if array is not None:
        if array.ndim == 0 or array.shape[0] != n or n == 0:
            return None
        if array.ndim == 2 and array.dtype.kind in "iu":
            weights = to_numpy(mask)
            if weights is None or weights.shape != array.shape:
                weights = np.ones(array.shape, dtype=np.float64)
            return token_sketches(array, weights.astype(np.float64))
        return value_sketches(array.reshape(n, -1)), None
    if isinstance(inputs, (list, tuple)) and len(inputs) == n and n and all(
            isinstance(x, (str, bytes)) for x in inputs):
        return token_sketches(*_text_tokens(inputs))
    if isinstance(inputs, (list, tuple)) and len(inputs) == n and n:
        parts = [to_numpy(x) if not isinstance(x, (list, tuple)) else _int_sequence(x) for x in inputs]
        if any(p is None for p in parts):
            return None
        if all(p.ndim == 1 and p.dtype.kind in "iu" for p in parts):  # variable-length token sequences
            width = max(max(p.size for p in parts), 1)
            tokens = np.zeros((n, width), dtype=np.int64)
            weights = np.zeros((n, width), dtype=np.float64)
            for i, p in enumerate(parts):
                tokens[i, : p.size] = p
                weights[i, : p.size] = 1.0
            return token_sketches(tokens, weights)
        if len({p.shape for p in parts}) == 1:
            return value_sketches(np.stack(parts).reshape(n, -1)), None
        rows = np.stack([_resample(p.reshape(-1)) for p in parts])
        return value_sketches(rows), None
    return None


def _text_tokens(texts: list | tuple) -> tuple[np.ndarray, np.ndarray]:
    """Raw text as tokens: overlapping byte pairs of its UTF-8 encoding (a tokenizer-free reading)."""
    encoded = [np.frombuffer(t.encode("utf-8") if isinstance(t, str) else bytes(t), dtype=np.uint8).astype(np.int64)
               for t in texts]
    width = max(max(e.size - 1 for e in encoded), 1)
    tokens = np.zeros((len(texts), width), dtype=np.int64)
    weights = np.zeros((len(texts), width), dtype=np.float64)
    for i, e in enumerate(encoded):
        if e.size >= 2:
            tokens[i, : e.size - 1] = e[:-1] * 256 + e[1:]
            weights[i, : e.size - 1] = 1.0
    return tokens, weights


def _int_sequence(x: list | tuple) -> np.ndarray | None:
    try:
        array = np.asarray(x)
    except (ValueError, TypeError):
        return None
    return array if array.ndim == 1 and array.dtype.kind in "iu" else None


def _resample(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.zeros(_RESAMPLE)
    idx = np.linspace(0, values.size - 1, _RESAMPLE).round().astype(np.int64)
    return values[idx].astype(np.float64)


def value_sketches(rows: np.ndarray) -> np.ndarray:
    """Fixed random projections of each row (seeded by the row width), ``(n, SKETCH_DIM)`` float32."""
    if rows.shape[1] > _MAX_WIDTH:
        rows = rows[:, :: -(-rows.shape[1] // _MAX_WIDTH)]
    values = np.nan_to_num(rows.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return values @ _directions(values.shape[1])


@functools.lru_cache(maxsize=8)
def _directions(width: int) -> np.ndarray:
    rng = np.random.default_rng(0x5EED + width)
    signs = rng.integers(0, 2, size=(width, SKETCH_DIM), dtype=np.int8).astype(np.float32)
    return (2.0 * signs - 1.0) / np.float32(np.sqrt(width))


def token_sketches(tokens: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bucket-histogram sketches ``(n, TOKEN_BUCKETS)`` and lengths of ``(n, L)`` token ids.

    Each id is hashed (splitmix64) into one of :data:`TOKEN_BUCKETS` buckets; a sample's sketch is
    its share of kept tokens (``weights`` 1) per bucket, whose expectation does not depend on the
    sequence's length (a length-sorted feed is ``length-order``'s to find, not ``input-order``'s);
    ``lengths`` counts the kept tokens. :func:`standardize_shares` scales them on the whole set.
    """
    n = tokens.shape[0]
    h = tokens.astype(np.int64).view(np.uint64) * _M1
    h ^= h >> np.uint64(31)
    h *= _M2
    h ^= h >> np.uint64(29)
    buckets = (h % np.uint64(TOKEN_BUCKETS)).astype(np.int64)
    keep = weights > 0
    rows = np.broadcast_to(np.arange(n)[:, None], tokens.shape)[keep]
    counts = np.bincount(rows * TOKEN_BUCKETS + buckets[keep], minlength=n * TOKEN_BUCKETS)
    counts = counts.reshape(n, TOKEN_BUCKETS).astype(np.float32)
    lengths = keep.sum(axis=1).astype(np.float64)
    shares = counts / np.maximum(lengths, 1.0)[:, None].astype(np.float32)
    return shares, lengths


def standardize_shares(shares: np.ndarray) -> np.ndarray:
    """Bucket shares divided by the square root of each bucket's mean share over the set (a
    chi-square scaling: frequent tokens do not drown the rest). A function of the set as a multiset."""
    mean = shares.mean(axis=0, dtype=np.float64)
    return (shares / np.sqrt(np.maximum(mean, 1e-12))).astype(np.float32)


def cluster_codes(sketches: np.ndarray, bits: int = CODE_BITS) -> np.ndarray:
    """Categorical codes of the sketches, fitted on the set as a multiset (permutation-invariant).

    The rows are put in a canonical order (by a hash of their bytes), the top ``bits`` principal
    directions of the centred sketches are found (eigenvectors of their scatter matrix; the second
    and third only when their variance stands out of the directions below, :data:`NOISE_RATIO`), and each
    sample's code is the pattern of its projections lying above the median. Every step runs on the
    canonical rows, so the codes depend on the multiset of rows only, never on their order.
    """
    n = sketches.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(_row_hashes(sketches), kind="stable")  # equal hashes: equal rows
    canonical = sketches[order].astype(np.float64)
    centred = canonical - canonical.mean(axis=0)
    scale = np.abs(centred).max()
    if not np.isfinite(scale) or scale == 0:
        return np.zeros(n, dtype=np.int64)
    centred /= scale
    values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending; columns are directions
    ranked = np.sort(values)[::-1]
    ranked = ranked[ranked > 1e-12 * max(ranked[0], 1e-300)]
    top = np.argsort(values)[::-1]
    # the first direction always; the next ones only where they stand out of the directions below
    # them (a median split of a noise direction would only dilute the clusters' codes)
    keep = [int(top[0])] if ranked.size else []
    for i in range(1, min(bits, ranked.size - 1)):
        if ranked[i] < NOISE_RATIO * ranked[i + 1:].mean():
            break
        keep.append(int(top[i]))
    vt = vectors.T
    projections = centred @ vt[keep].T  # computed on the canonical rows only: order cannot leak in
    above = projections > np.median(projections, axis=0)
    canonical_codes = (above.astype(np.int64) << np.arange(len(keep), dtype=np.int64)).sum(axis=1)
    codes = np.empty(n, dtype=np.int64)
    codes[order] = canonical_codes
    return codes


def _row_hashes(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's bytes (equal rows hash equally; others collide with p ~ 2**-64)."""
    words = np.ascontiguousarray(rows, dtype=np.float64).view(np.uint64)
    keys = np.random.default_rng(0xC0DE).integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
    h = (words * keys).sum(axis=1, dtype=np.uint64)
    h ^= h >> np.uint64(31)
    h *= _M2
    h ^= h >> np.uint64(29)
    return h

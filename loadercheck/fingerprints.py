"""Per-sample fingerprints and input summaries of a batch: pure reads, the user's memory never written.

- :func:`hash_rows` / :func:`fingerprint`: a uint64 per sample from its input bytes (the
  ``duplicates`` and ``cross-epoch-order`` checks compare samples by them).
- :func:`batch_digest`: one hash per batch (the guard's resume-replay look).
- :func:`feature_summaries`: mean, sd and 4 random projections per sample (``input-drift``).

torch is never imported here: a tensor only reaches us when the user's code imported torch.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sys
from collections.abc import Mapping

import numpy as np

from .labels import is_tensor

__all__ = ["FEATURE_NAMES", "batch_digest", "feature_summaries", "fingerprint", "hash_rows", "input_array"]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_CHUNK_WORDS = 1 << 15
"""Words (8 bytes) mixed per step of :func:`hash_rows`: two work arrays of this size stay in cache
while the mix makes its passes over them."""


_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(x: np.ndarray, tmp: np.ndarray | None = None) -> None:
    """splitmix64 finaliser, in place on a uint64 array (wraps modulo 2**64); ``tmp``: scratch of x's shape."""
    if tmp is None:
        tmp = np.empty_like(x)
    np.right_shift(x, _S30, out=tmp)
    x ^= tmp
    x *= _MIX1
    np.right_shift(x, _S27, out=tmp)
    x ^= tmp
    x *= _MIX2
    np.right_shift(x, _S31, out=tmp)
    x ^= tmp


@functools.lru_cache(maxsize=64)
def _row_seed(descr: str) -> np.uint64:
    """The per-layout seed of :func:`hash_rows`: a blake2b of the dtype and the row shape."""
    return np.frombuffer(hashlib.blake2b(descr.encode(), digest_size=8).digest(), dtype=np.uint64)[0]


@functools.lru_cache(maxsize=64)
def _positions(words: int) -> np.ndarray:
    positions = np.arange(words, dtype=np.uint64) * _GOLDEN
    positions.flags.writeable = False
    return positions


def hash_rows(array: np.ndarray) -> np.ndarray:
    """uint64 hash of each row's bytes (rows = first axis), vectorised; reads ``array`` only.

    Each 8-byte word is mixed with its position and the mixes are summed, so equal rows of equal
    dtype and shape hash equally and different rows collide with probability about 2**-64. A row's
    hash depends on that row alone: hashing rows in one call or batch by batch gives the same values.
    """
    n = array.shape[0]
    seed = _row_seed(f"{array.dtype.str}{array.shape[1:]}")
    array = np.ascontiguousarray(array)
    rows = array.reshape(n, -1).view(np.uint8) if array.size else np.zeros((n, 0), np.uint8)
    width = rows.shape[1]
    pad = (-width) % 8
    words = (width + pad) // 8
    positions = _positions(words)
    out = np.empty(n, dtype=np.uint64)
    step = max(1, min(n, _CHUNK_WORDS // max(words, 1)))
    work = np.empty((step, words), dtype=np.uint64)
    tmp = np.empty_like(work)
    padded = np.zeros((step, words * 8), dtype=np.uint8) if pad else None
    for start in range(0, n, step):
        chunk = rows[start : start + step]
        m = chunk.shape[0]
        if padded is not None:
            padded[:m, :width] = chunk  # the pad bytes stay zero
            chunk = padded[:m]
        w, t = work[:m], tmp[:m]
        np.add(chunk.view(np.uint64), positions, out=w)  # into our own buffer: the user's memory is only read
        _mix(w, t)
        total = out[start : start + m]
        if words > 8 or words == 0:
            np.add.reduce(w, axis=1, dtype=np.uint64, out=total)
        else:  # a few words per row: add the columns (a reduction along a short axis is slow)
            np.copyto(total, w[:, 0])
            for j in range(1, words):
                total += w[:, j]
    out ^= seed
    _mix(out)
    return out


def input_array(obj: object) -> np.ndarray | None:
    """A read-only numpy view (or CPU copy) of a tensor/array input, or None."""
    if isinstance(obj, np.ndarray):
        return obj if obj.dtype.kind != "O" else None
    if is_tensor(obj):
        torch = sys.modules["torch"]
        t = obj.detach()
        if t.layout != torch.strided:
            return None
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous()
        try:
            return t.numpy()
        except (TypeError, RuntimeError):  # bfloat16 and other dtypes numpy lacks: hash the bytes
            return t.reshape(t.shape[0] if t.ndim else 1, -1).view(torch.uint8).numpy()
    return None


def _hash_one(obj: object) -> int | None:
    if isinstance(obj, str):
        obj = obj.encode("utf-8")
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return int.from_bytes(hashlib.blake2b(obj, digest_size=8).digest(), "little")
    array = input_array(obj)
    if array is None:
        return None
    return int(hash_rows(array[None])[0])


def fingerprint(inputs: object, n: int) -> tuple[np.ndarray | None, str | None]:
    """Per-sample uint64 fingerprints of a batch's inputs, or ``(None, reason)``."""
    if inputs is None:
        return None, "no input field was found in the batches"
    array = input_array(inputs)
    if array is not None:
        if array.ndim >= 1 and array.shape[0] == n:
            return hash_rows(array), None
        if n == 1:
            return hash_rows(array[None]), None
        shape = tuple(array.shape)
        return None, f"the inputs (shape {shape}) do not have one row per label ({n} labels)"
    if isinstance(inputs, (list, tuple)) and len(inputs) == n:
        hashes = [_hash_one(x) for x in inputs]
        if all(h is not None for h in hashes):
            return np.array(hashes, dtype=np.uint64), None
        with contextlib.suppress(Exception):  # python lists of numbers
            array = np.asarray(inputs)
            if array.dtype.kind in "biuf" and array.ndim >= 1:
                return hash_rows(array), None
    elif n == 1:
        single = _hash_one(inputs)
        if single is not None:
            return np.array([single], dtype=np.uint64), None
    return None, f"the inputs are {type(inputs).__name__}, not arrays or tensors"


def batch_digest(batch: object) -> int | None:
    """A 64-bit hash of every array, tensor, number and string in a batch (nested tuples, lists and
    mappings walked in order); None when the batch holds nothing hashable. Reads the batch only."""
    parts: list[int] = []

    def walk(obj: object, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(obj, Mapping):
            for key in sorted(obj, key=str):
                walk(key, depth + 1)
                walk(obj[key], depth + 1)
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                walk(item, depth + 1)
        elif isinstance(obj, (str, bytes, bytearray, int, float, bool)):
            parts.append(_hash_one(str(obj)) or 0)
        else:
            array = input_array(obj) if not isinstance(obj, np.ndarray) or obj.dtype.kind != "O" else None
            if array is not None and array.size:
                parts.append(int(hash_rows(np.ascontiguousarray(array).reshape(1, -1))[0]))

    try:
        walk(batch, 0)
    except Exception:  # noqa: BLE001 - a digest is optional
        return None
    if not parts:
        return None
    return int(hash_rows(np.array(parts, dtype=np.uint64)[None, :])[0])


# ---------------------------------------------------------------------- feature summaries
FEATURE_NAMES = ("input mean", "input sd", "projection 1", "projection 2", "projection 3", "projection 4")
"""The per-sample input summaries recorded for ``input-drift`` (columns of ``Epoch.features``)."""
_PROJECTIONS = len(FEATURE_NAMES) - 2
_MAX_FEATURE_WIDTH = 1 << 10
"""Wider inputs are summarised on a fixed strided subset of this many values per sample: the
summaries track the input distribution, and a CLI run stays dominated by the loader's own time."""


@functools.lru_cache(maxsize=8)
def _projection(width: int) -> np.ndarray:
    """Fixed random +-1 directions (seeded by the width only), scaled to unit length, float32."""
    rng = np.random.default_rng(width)
    signs = rng.integers(0, 2, size=(width, _PROJECTIONS), dtype=np.int8).astype(np.float32)
    return (2.0 * signs - 1.0) / np.float32(np.sqrt(width))


@functools.lru_cache(maxsize=8)
def _directions(width: int) -> np.ndarray:
    """The mean (a column of 1/width) beside the projections: one matrix product gives both."""
    return np.concatenate([np.full((width, 1), 1.0 / width, dtype=np.float32), _projection(width)], axis=1)


def feature_summaries(inputs: object, n: int) -> np.ndarray | None:
    """Per-sample summaries of a batch's numeric inputs: ``(n, 6)`` float64, or None.

    Columns (:data:`FEATURE_NAMES`): mean and standard deviation of the sample's values, and its
    projections on 4 fixed random directions (seeded by the input width, so every batch of the
    same shape uses the same directions; inputs wider than 1,024 values are strided down first).
    Reads the inputs only. None for inputs that are not numeric arrays with one row per sample.
    """
    array = input_array(inputs)
    if array is None and isinstance(inputs, (list, tuple)) and len(inputs) == n:
        parts = [input_array(x) for x in inputs]
        if all(p is not None for p in parts) and len({p.shape for p in parts}) == 1:  # type: ignore[union-attr]
            array = np.stack(parts)  # type: ignore[arg-type]
    if array is None or array.dtype.kind not in "biuf" or array.ndim < 1 or array.shape[0] != n or n == 0:
        return None
    rows = array.reshape(n, -1)
    if rows.shape[1] == 0:
        return None
    if rows.shape[1] > _MAX_FEATURE_WIDTH:
        rows = rows[:, :: -(-rows.shape[1] // _MAX_FEATURE_WIDTH)]
    # aligned float32 inputs in C order are used as they are (only read); anything else is copied as before
    as_is = rows.dtype == np.float32 and rows.flags.c_contiguous and rows.flags.aligned
    values = rows if as_is else rows.astype(np.float32)
    width = values.shape[1]
    directions = _directions(width)
    product = values @ directions  # the mean and the projections in one product
    if not np.isfinite(product[:, 0]).all():  # a NaN or inf somewhere: summarise the finite values as zeros
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        product = values @ directions
    centred = np.subtract(values, product[:, :1], out=values if values is not rows else None)  # in place in our copy
    sd = np.einsum("ij,ij->i", centred, centred, dtype=np.float64)
    sd /= width
    np.sqrt(sd, out=sd)
    # columns: mean, sd, projections (float32 values widen exactly)
    return np.concatenate((product[:, :1], sd[:, None], product[:, 1:]), axis=1, dtype=np.float64)

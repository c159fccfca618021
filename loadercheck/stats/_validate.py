"""Input checks shared by the tests, and the one exception a test raises when it cannot run."""

from __future__ import annotations

import numpy as np


class NotEnoughData(ValueError):
    """The stream is too short or too uniform for this test; the check should be skipped.

    ``reason`` is a plain-language sentence for the report, e.g. "needs at least 2 batches, got 1".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def as_codes(codes: np.ndarray) -> np.ndarray:
    """Validate class codes: a 1-D array of non-negative integers, returned as int64."""
    arr = np.asarray(codes)
    if arr.ndim != 1:
        raise ValueError(f"codes must be a 1-D array of class codes, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.bool_):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(
                f"codes must hold integer class codes 0..k-1, got dtype {arr.dtype}; "
                "map labels to codes first (np.unique(labels, return_inverse=True)[1])"
            )
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"codes must be non-negative class codes 0..k-1, got minimum {int(arr.min())}")
    return arr


def as_values(values: np.ndarray) -> np.ndarray:
    """Validate continuous targets: a 1-D finite float array."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"values must be a 1-D array of targets, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("values must be finite; drop or impute NaN/inf targets before testing")
    return arr


def as_batch_sizes(batch_sizes: np.ndarray, n: int) -> np.ndarray:
    """Validate batch sizes (non-negative ints summing to ``n``); zero-size batches are dropped."""
    sizes = np.asarray(batch_sizes)
    if sizes.ndim != 1:
        raise ValueError(f"batch_sizes must be a 1-D array, got shape {sizes.shape}")
    if sizes.size and not np.issubdtype(sizes.dtype, np.integer):
        if not np.all(sizes == np.round(sizes)):
            raise ValueError("batch_sizes must be whole numbers")
    sizes = sizes.astype(np.int64)
    if sizes.size and sizes.min() < 0:
        raise ValueError(f"batch_sizes must be non-negative, got {int(sizes.min())}")
    total = int(sizes.sum())
    if total != n:
        raise ValueError(f"batch_sizes sum to {total} but there are {n} labels; they must partition the labels")
    return sizes[sizes > 0]

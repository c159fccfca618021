"""Saving and restoring the global random number generators around anything that draws from a loader."""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Iterator

import numpy as np

__all__ = ["preserved_rng"]


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Save and restore the global RNGs: ``random``, numpy's legacy global, and torch (CPU, and
    CUDA when initialised) when torch is already imported."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = cuda_state = None
    if torch is not None:
        torch_state = torch.get_rng_state()
        if torch.cuda.is_initialized():
            cuda_state = torch.cuda.get_rng_state_all()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if torch is not None:
            torch.set_rng_state(torch_state)
            if cuda_state is not None:
                torch.cuda.set_rng_state_all(cuda_state)


"""The classic case: a 10-class dataset fed sorted by label, and the same data shuffled.

    loadercheck examples/classic.py:sorted_loader      # fails: one class per batch, blocks of 1,000
    loadercheck examples/classic.py:shuffled_loader    # passes

The data is synthetic (no download): 10,000 samples of 3x8x8 "images", 1,000 per class, whose class
shifts the mean of a few pixels, so a classifier can learn it when the feed is shuffled.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

CLASSES = 10
PER_CLASS = 1_000
BATCH_SIZE = 32


def make_dataset(seed: int = 0) -> TensorDataset:
    """10,000 labelled samples, sorted by label (as datasets often are on disk)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(CLASSES).repeat_interleave(PER_CLASS)
    prototypes = torch.randn(CLASSES, 3, 8, 8, generator=g)
    inputs = prototypes[labels] + 2.0 * torch.randn(labels.numel(), 3, 8, 8, generator=g)
    dataset = TensorDataset(inputs, labels)
    dataset.targets = labels  # label metadata, as torchvision datasets expose it
    return dataset


def sorted_loader() -> DataLoader:
    """The bug: shuffle=False on data stored sorted by label."""
    return DataLoader(make_dataset(), batch_size=BATCH_SIZE, shuffle=False)


def shuffled_loader() -> DataLoader:
    """The fix: the same data with shuffle=True (seeded, so the report is reproducible)."""
    return DataLoader(make_dataset(), batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(0))

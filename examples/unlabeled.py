"""A self-supervised image feed (inputs only, no label) grouped by visual cluster, and shuffled.

    loadercheck examples/unlabeled.py:grouped_loader    # fails: images arrive cluster by cluster
    loadercheck examples/unlabeled.py:shuffled_loader   # passes

With no label to read, loadercheck sketches each image (random projections of its pixels), splits
the sampled set into a few clusters fitted on the set as a whole, and tests the order of the
cluster codes (``input-order``). The data is synthetic: 4,000 3x16x16 images around 8 prototypes,
stored prototype by prototype (as images scraped per query or per camera often are).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

CLUSTERS = 8
PER_CLUSTER = 500
BATCH_SIZE = 32


class Images(Dataset):
    """Images only: ``dataset[i]`` is a tensor, the default collate stacks them into one tensor."""

    def __init__(self, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        prototypes = torch.randn(CLUSTERS, 3, 16, 16, generator=g)
        cluster = torch.arange(CLUSTERS).repeat_interleave(PER_CLUSTER)
        self.images = prototypes[cluster] + torch.randn(len(cluster), 3, 16, 16, generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def grouped_loader() -> DataLoader:
    """The bug: shuffle=False over images stored cluster by cluster."""
    return DataLoader(Images(), batch_size=BATCH_SIZE, shuffle=False)


def shuffled_loader() -> DataLoader:
    """The fix: shuffle=True (seeded, so the report is reproducible)."""
    return DataLoader(Images(), batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(0))

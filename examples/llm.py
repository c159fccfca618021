"""An LLM fine-tuning mix fed domain after domain, and the same mix shuffled.

    loadercheck examples/llm.py:concatenated_loader   # fails: web, then code, then math, then chat
    loadercheck examples/llm.py:shuffled_loader       # passes

Each batch is what a causal-LM collate gives (``input_ids``, ``attention_mask``, ``labels`` =
``input_ids`` with -100 on padding) plus the ``source`` column a mix keeps. The labels are tokens,
not classes: loadercheck reads the feed through its inputs (``input-order``: token histograms,
``length-order``: sequence lengths) and through the ``source`` column (``metadata-order``).
The data is synthetic (no tokenizer, no download): 4 domains of 600 token sequences, each domain
drawing from its own slice of a 2,000-token vocabulary.
"""

from __future__ import annotations

import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

DOMAINS = ("web", "code", "math", "chat")
PER_DOMAIN = 600
VOCAB = 2_000
MAX_LENGTH = 48
BATCH_SIZE = 16


class DomainTexts(Dataset):
    """Token sequences of one domain: lengths 8-48, tokens mostly from the domain's own vocabulary."""

    def __init__(self, domain: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed * 100 + domain)
        self.source = DOMAINS[domain]
        self.lengths = torch.randint(8, MAX_LENGTH + 1, (PER_DOMAIN,), generator=g)
        own = torch.randint(domain * 400, domain * 400 + 400, (PER_DOMAIN, MAX_LENGTH), generator=g)
        shared = torch.randint(1_600, VOCAB, (PER_DOMAIN, MAX_LENGTH), generator=g)
        self.tokens = torch.where(torch.rand(PER_DOMAIN, MAX_LENGTH, generator=g) < 0.7, own, shared) + 1

    def __len__(self) -> int:
        return PER_DOMAIN

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.tokens[i, : self.lengths[i]], "source": self.source}


def collate(examples: list[dict]) -> dict:
    """Right-pad to the longest sequence; labels are the inputs with -100 on padding (causal LM)."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.zeros(len(examples), width, dtype=torch.int64)
    mask = torch.zeros_like(ids)
    for row, e in enumerate(examples):
        ids[row, : len(e["input_ids"])] = e["input_ids"]
        mask[row, : len(e["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100),
            "source": [e["source"] for e in examples]}


def make_mix() -> ConcatDataset:
    """The four domains concatenated, as `ConcatDataset` / `concatenate_datasets` build a mix."""
    return ConcatDataset([DomainTexts(d) for d in range(len(DOMAINS))])


def concatenated_loader() -> DataLoader:
    """The bug: the concatenated mix read in stored order, one domain after another."""
    return DataLoader(make_mix(), batch_size=BATCH_SIZE, shuffle=False, collate_fn=collate)


def shuffled_loader() -> DataLoader:
    """The fix: shuffle=True over the whole mix (seeded, so the report is reproducible)."""
    return DataLoader(make_mix(), batch_size=BATCH_SIZE, shuffle=True, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0))

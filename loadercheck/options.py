"""The options of one run (CLI flags and ``check()`` keywords), validated once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from .errors import LoaderCheckError

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Options:
    """Options of one check run; see ``docs/cli.md`` for each flag."""

    alpha: float = 1e-3
    """Family-wise false-alarm rate: on a truly shuffled feed, P(any check fails) <= alpha."""
    seed: int = 0
    """Seed of the probe's training runs and the report's pictures; the same seed gives the same report.
    The permutation nets are seeded by the data they test, so no seed moves a check's p-value."""
    ordered: bool = False
    """The feed is ordered on purpose (time series, curriculum): order checks never fail."""
    batches: int | None = None
    """Batches to draw per epoch (default: one epoch capped at 500 batches)."""
    max_samples: int | None = None
    """Samples to draw per epoch at most."""
    timeout: float | None = None
    """Seconds to spend drawing batches at most."""
    stall: float | None = None
    """Give up (a LoaderError) when the loader yields no batch for this many seconds; None waits forever
    (the CLI's ``--stall`` defaults to 300)."""
    label: str | int | Callable[..., Any] | None = None
    """Where the labels are in a batch (index, key, dotted path, or ``module:function``); None = auto-detect."""
    probe: bool = False
    """Run the probe training (feed order vs shuffled)."""
    device: str = "auto"
    """Device of the probe: auto (CUDA when available), cpu or cuda."""
    probe_steps: int | None = None
    """Optimiser steps of each probe run (default: one pass over the sampled batches, at most 1,000)."""
    probe_seeds: int = 3
    """Paired seeds of the probe (each trains feed order and shuffled from the same initial weights)."""
    from_sampler: bool | None = None
    """Whole-epoch index analysis of a map-style DataLoader (order read from its batch sampler, labels from
    the dataset's metadata or ``labels``): True always, None when the sampled prefix is one class, False never."""
    labels: Any = None
    """One label per dataset index for the whole-epoch index analysis (implies ``from_sampler``)."""
    distributed: bool = False
    """Under torch.distributed: gather every rank's summary and report overlap/coverage/balance (rank-coverage)."""
    batch_size: int | None = None
    """Samples per batch when the loader yields single examples (a Hugging Face or torch dataset passed
    directly): they are grouped, in order, into batches of this size; None uses 32, said in the notes."""

    def __post_init__(self) -> None:
        if not _number(self.alpha) or not 0.0 < self.alpha < 0.5:
            raise LoaderCheckError(
                f"alpha must be between 0 and 0.5 (the family-wise false-alarm rate), got {self.alpha!r}; "
                "the default 1e-3 suits CI."
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise LoaderCheckError(f"seed must be a non-negative integer, got {self.seed!r}; the default is 0.")
        for name in ("batches", "max_samples", "batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise LoaderCheckError(f"{name} must be a positive integer or None, got {value!r}.")
        for name in ("timeout", "stall"):
            value = getattr(self, name)
            if value is not None and (not _number(value) or not value > 0):
                raise LoaderCheckError(f"{name} must be a positive number of seconds or None, got {value!r}.")
        for name in ("ordered", "probe", "distributed"):
            if not isinstance(getattr(self, name), bool):
                raise LoaderCheckError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if self.from_sampler not in (None, True, False):
            raise LoaderCheckError(f"from_sampler must be True, False or None (automatic), got {self.from_sampler!r}.")
        if self.device not in DEVICES:
            raise LoaderCheckError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}.")
        if self.probe_steps is not None and (isinstance(self.probe_steps, bool) or not isinstance(self.probe_steps, int)
                                             or self.probe_steps < 1):
            raise LoaderCheckError(f"probe_steps must be a positive integer (optimiser steps), got {self.probe_steps!r}.")
        if isinstance(self.probe_seeds, bool) or not isinstance(self.probe_seeds, int) or not 1 <= self.probe_seeds <= 100:
            raise LoaderCheckError(f"probe_seeds must be an integer from 1 to 100, got {self.probe_seeds!r}; "
                                   "the default 3 suits CI.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready options (a callable label is shown by its qualified name)."""
        out = asdict(self)
        if callable(self.label):
            out["label"] = getattr(self.label, "__qualname__", repr(self.label))
        if self.labels is not None:
            out["labels"] = f"<{type(self.labels).__name__} of {_size(self.labels)} labels>"
        return out


def _number(value: Any) -> bool:
    """A real number (int or float, not a bool), finite or not."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _size(values: Any) -> str:
    try:
        return f"{len(values):,}"
    except TypeError:
        return "?"

"""Lightning: a ``Callback`` that checks the batches ``Trainer.fit`` really trains on.

>>> trainer = lightning.pytorch.Trainer(callbacks=[LoaderCheck()])   # doctest: +SKIP

The callback records the first batches of epoch 1 as they reach ``on_train_batch_start`` (after
Lightning re-wrapped the sampler, e.g. with a ``DistributedSampler``, and moved the batch to the
device), so no extra data is loaded. It checks them once (when the window is full, or at the end of
a shorter epoch), then records the first window of epoch 2 to notice a replayed order, then does
nothing. Under DDP every rank checks the shard it trains on.
"""

from __future__ import annotations

from typing import Any

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - the standalone package
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError as exc:
        raise ImportError(
            "loadercheck.integrations.lightning needs Lightning: pip install lightning (or, in a clone of loadercheck, pip install -e '.[lightning]')"
        ) from exc

from ..watch import Watch
from ._callback import WatchingCallback

__all__ = ["LoaderCheck"]


class LoaderCheck(WatchingCallback, Callback):
    """Check the train loader Lightning uses, from the batches training consumes.

    Parameters
    ----------
    on_fail : {"raise", "warn", "log"}
        On a ``fail`` verdict: raise :class:`loadercheck.LoaderCheckFailed` out of ``trainer.fit``
        (default), emit a :class:`loadercheck.LoaderCheckWarning`, or log it. A ``warn`` verdict
        warns (or logs).
    fingerprints : bool
        Also hash sample inputs while recording (identity checks; off by default for speed, see
        :func:`loadercheck.guard`).
    **options
        :class:`loadercheck.options.Options` fields: ``batches`` (the window, default 500 or the
        whole epoch), ``alpha``, ``seed``, ``ordered``, ``label``.

    Attributes
    ----------
    report : Report or None
        The report once checked (with ``cross-epoch-order`` after epoch 2's first window).
    cross_epoch : CheckResult or None
    """

    # hooks: gather inputs only; Watch decides ----------------------------------
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        from ..sampling import dataset_label_values, describe_loader

        def loader() -> Any:
            return trainer.train_dataloader

        self.watch = Watch(
            lambda: describe_loader(loader()), self.options, on_fail=self.on_fail,
            target=f"{type(pl_module).__name__} train_dataloader (Lightning)",
            fingerprints=self.fingerprints,
            dataset_labels=lambda spec: dataset_label_values(loader(), spec),
        )

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self.watch is not None:
            self.watch.start_epoch()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.watch is not None and self.watch.recording:
            self.watch.add(batch)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.watch is not None:
            self.watch.end_epoch()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.watch is not None:
            self.watch.end_epoch()

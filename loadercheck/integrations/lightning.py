"""Lightning: a ``Callback`` that checks the batches ``Trainer.fit`` really trains on.

>>> trainer = lightning.pytorch.Trainer(callbacks=[LoaderCheck()])   # doctest: +SKIP

The callback records the first batches of epoch 1 as they reach ``on_train_batch_start`` (after
Lightning re-wrapped the sampler, e.g. with a ``DistributedSampler``, and moved the batch to the
device), so no extra data is loaded. It checks them once (when the window is full, or at the end of
a shorter epoch; early looks at 2, 4, 8, ... batches stop a bad feed sooner), then looks at every
later epoch start for a replayed order. Under DDP every rank checks the shard it trains on and the
ranks take one decision. The digests of each epoch's first batches are saved in the checkpoint
(``state_dict``): a run resumed from it that starts the epoch over (a loader that is not resumable)
fails ``resume-replay`` at its first batches.
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

    def __init__(self, *, on_fail: str = "raise", fingerprints: bool = False, **options: Any) -> None:
        super().__init__(on_fail=on_fail, fingerprints=fingerprints, **options)
        self._ledger: dict[str, Any] = {}
        """This epoch's number, batches consumed and the digests of its first batches (checkpointed)."""
        self._restored: dict[str, Any] | None = None
        self._after_resume: list[int | None] = []

    # hooks: gather inputs only; Watch decides ----------------------------------
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        from ..adapters import dataset_label_values, describe_loader

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
        self._note_batch(trainer, pl_module, batch, batch_idx)
        if self.watch is not None and self.watch.recording:
            self.watch.add(batch)

    # resume: the digests of each epoch's first batches travel in the checkpoint -----------
    def state_dict(self) -> dict[str, Any]:
        return dict(self._ledger)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = dict(state_dict) if state_dict.get("digests") else None

    def _note_batch(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        from ..fingerprints import batch_digest
        from ..watch import RESUME_LEDGER, act, resume_decision, resume_replay_report

        epoch = int(trainer.current_epoch)
        if self._ledger.get("epoch") != epoch:
            self._ledger = {"epoch": epoch, "batches": 0, "digests": []}
        self._ledger["batches"] += 1
        restored = self._restored
        if len(self._ledger["digests"]) >= RESUME_LEDGER and restored is None:
            return
        digest = batch_digest(batch)
        if len(self._ledger["digests"]) < RESUME_LEDGER:
            self._ledger["digests"].append(digest)
        if restored is None:
            return
        if restored.get("epoch") != epoch or not restored.get("batches"):
            self._restored = None
            return
        self._after_resume.append(digest)
        replayed = resume_decision(list(restored["digests"]), self._after_resume)
        if replayed is None:
            return
        self._restored = None
        if replayed:
            report = resume_replay_report(f"{type(pl_module).__name__} train_dataloader (Lightning)", epoch,
                                          int(restored["batches"]), self.options)
            act(report, self.on_fail, what=report.target, stacklevel=3)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.watch is not None:
            self.watch.end_epoch()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.watch is not None:
            self.watch.end_epoch()

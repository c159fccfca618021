"""Hugging Face: a ``TrainerCallback`` that checks the batches ``Trainer.train`` really trains on.

>>> trainer = Trainer(model, args, train_dataset=ds, callbacks=[LoaderCheckCallback()])  # doctest: +SKIP

How it sees the batches: a ``TrainerCallback`` is never handed the batch, and calling ``check()``
on the ``train_dataloader`` that ``on_train_begin`` receives would load extra batches (and iterate
accelerate's prepared loader outside the loop, which moves its RNG synchronisation and
gradient-accumulation state). Instead, ``on_train_begin`` registers a read-only forward *pre*-hook
on the model: each training forward call shows the hook the batch as the model receives it (after
collation, the length-grouped or distributed sampler and the device move), the hook records the
first window of batches of epoch 1 (and of epoch 2, for a replayed order), and is removed as soon
as nothing is left to record (at the latest when training ends). Nothing extra is loaded and
nothing is changed. Forward calls in eval mode are ignored.

``train_sampling_strategy="group_by_length"`` (``group_by_length=True`` before transformers 5)
orders batches by length on purpose: the feed is then declared ordered (order checks are noted,
never failed) and the report's notes say so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover
    raise ImportError("loadercheck.integrations.hf needs transformers: pip install transformers accelerate (or, in a clone of loadercheck, pip install -e '.[hf]')") from exc

from ..watch import Watch
from ._callback import WatchingCallback

__all__ = ["LoaderCheckCallback"]

GROUPED_NOTE = (
    "the Trainer groups batches by length (group_by_length): that order is intended, so the feed is "
    "declared ordered and order checks are reported, not judged"
)


def length_grouped(args: Any) -> bool:
    """True when the TrainingArguments ask for length-grouped batches (any transformers version)."""
    return getattr(args, "train_sampling_strategy", None) == "group_by_length" or bool(
        getattr(args, "group_by_length", False)
    )


class LoaderCheckCallback(WatchingCallback, TrainerCallback):
    """Check the train dataloader the Trainer built, from the batches training consumes.

    Parameters
    ----------
    on_fail : {"raise", "warn", "log"}
        On a ``fail`` verdict: raise :class:`loadercheck.LoaderCheckFailed` out of
        ``trainer.train()`` (default), emit a :class:`loadercheck.LoaderCheckWarning`, or log it.
    fingerprints : bool
        Also hash sample inputs while recording (identity checks; off by default for speed, see
        :func:`loadercheck.guard`).
    **options
        :class:`loadercheck.options.Options` fields: ``batches`` (the window, in per-device
        batches, default 500 or the whole epoch), ``alpha``, ``seed``, ``ordered``, ``label``
        (default: auto-detected among the model's keyword inputs, e.g. ``labels``).

    Attributes
    ----------
    report : Report or None
    cross_epoch : CheckResult or None
    """

    _handle: Any = None
    """The forward pre-hook while recording."""

    # hooks: gather inputs only; Watch decides ----------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       train_dataloader: Any = None, **kwargs: Any) -> None:
        from ..adapters import dataset_label_values, describe_loader

        options, notes = self.options, ()
        if length_grouped(args) and not options.ordered:
            options, notes = replace(options, ordered=True), (GROUPED_NOTE,)
        loader = train_dataloader
        self.watch = Watch(
            lambda: describe_loader(loader), options, on_fail=self.on_fail,
            target=f"{type(model).__name__} train_dataloader (Trainer)", notes=notes,
            fingerprints=self.fingerprints,
            dataset_labels=lambda spec: dataset_label_values(loader, spec),
        )
        self._remove_hook()
        self._handle = model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module: Any, args: tuple, kwargs: dict) -> None:
        watch = self.watch
        if watch is None or not watch.recording or not module.training:
            return None
        try:
            watch.add(kwargs if kwargs or self.options.label is None else args)
        except BaseException:  # a failed check leaves the training: leave no hook on the model
            self._remove_hook()
            raise
        return None  # never changes the inputs

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.watch is not None:
            self.watch.start_epoch()
            if self.watch.done or self.watch.epoch > 2:
                self._remove_hook()

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.watch is not None:
            self.watch.end_epoch()
            if self.watch.done:
                self._remove_hook()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        try:
            if self.watch is not None:
                self.watch.end_epoch()
        finally:
            self._remove_hook()

    def _remove_hook(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

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

Resume: the callback is an ``ExportableState``: the digests of the first batches of the current
epoch and how many batches of it were trained travel in every checkpoint's ``trainer_state.json``
(``stateful_callbacks``). ``trainer.train(resume_from_checkpoint=...)`` reads them back in
``on_train_begin``; when the first batches after the resume are the ones trained first in that
epoch before the checkpoint (the Trainer restarted the epoch instead of skipping the trained
batches: ``ignore_data_skip=True``, or a loader it cannot fast-forward), ``resume-replay`` fails.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

try:
    from transformers import TrainerCallback
    from transformers.trainer_callback import ExportableState
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


class LoaderCheckCallback(WatchingCallback, TrainerCallback, ExportableState):
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

    def __init__(self, *, on_fail: str = "raise", fingerprints: bool = False, **options: Any) -> None:
        super().__init__(on_fail=on_fail, fingerprints=fingerprints, **options)
        self._ledger: dict[str, Any] = {}
        """This epoch: its number, the global step it began at, batches trained, digests of its first batches."""
        self._restored: dict[str, Any] | None = None
        """The checkpoint's ledger while the first batches after a resume are compared with it."""
        self._after_resume: list[int | None] = []
        self._continuing = False
        self._target = "train_dataloader (Trainer)"

    # hooks: gather inputs only; Watch decides ----------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       train_dataloader: Any = None, **kwargs: Any) -> None:
        from ..adapters import dataset_label_values, describe_loader

        options, notes = self.options, ()
        if length_grouped(args) and not options.ordered:
            options, notes = replace(options, ordered=True), (GROUPED_NOTE,)
        loader = train_dataloader
        self._target = f"{type(model).__name__} train_dataloader (Trainer)"
        self.watch = Watch(
            lambda: describe_loader(loader), options, on_fail=self.on_fail, target=self._target, notes=notes,
            fingerprints=self.fingerprints,
            dataset_labels=lambda spec: dataset_label_values(loader, spec),
        )
        self._model = model
        self._accumulation = max(1, int(getattr(args, "gradient_accumulation_steps", 1) or 1))
        self._restored, self._after_resume, self._continuing = None, [], False
        if getattr(state, "global_step", 0):  # resuming: the checkpoint's ledger came back with the state
            ledger = _saved_ledger(getattr(state, "stateful_callbacks", None), type(self).__name__)
            epoch_batches = _length(train_dataloader)
            if ledger and ledger.get("digests") and 0 < ledger.get("batches", 0) < (epoch_batches or float("inf")):
                self._restored, self._continuing = ledger, True
        self._install()

    def _install(self) -> None:
        if self._handle is None and getattr(self, "_model", None) is not None:
            self._handle = self._model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _needed(self) -> bool:
        """The hook has work: the watch records, the epoch's ledger is not full, or a resume is compared."""
        from ..watch import RESUME_LEDGER

        return ((self.watch is not None and self.watch.recording) or self._restored is not None
                or len(self._ledger.get("digests", ())) < RESUME_LEDGER)

    def _record(self, module: Any, args: tuple, kwargs: dict) -> None:
        if not module.training:
            return None
        batch = kwargs if kwargs or self.options.label is None else args
        try:
            self._note_batch(batch)
            watch = self.watch
            if watch is not None and watch.recording:
                watch.add(batch)
        except BaseException:  # a failed check leaves the training: leave no hook on the model
            self._remove_hook()
            raise
        if not self._needed():
            self._remove_hook()
        return None  # never changes the inputs

    def _note_batch(self, batch: Any) -> None:
        """The epoch's ledger (digests of its first batches) and, after a resume, the replay comparison."""
        from ..fingerprints import batch_digest
        from ..watch import RESUME_LEDGER, resume_decision, resume_replay_report

        digests = self._ledger.setdefault("digests", [])
        restored = self._restored
        if len(digests) >= RESUME_LEDGER and restored is None:
            return
        digest = batch_digest(batch)
        if len(digests) < RESUME_LEDGER:  # after a resume that skipped, the epoch's next batches
            digests.append(digest)
        if restored is None:
            return
        self._after_resume.append(digest)
        replayed = resume_decision(list(restored["digests"]), self._after_resume)
        if replayed is None:
            return
        self._restored = None
        if replayed:
            report = resume_replay_report(self._target, int(restored.get("epoch", 0)), int(restored["batches"]),
                                          self.options)
            self._act(report)

    def _act(self, report: Any) -> None:
        from ..watch import _world, act

        world, rank = _world()
        if rank == 0 or (self.on_fail == "raise" and str(report.verdict) == "fail"):
            act(report, self.on_fail, what=report.target, stacklevel=4)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        epoch = int(getattr(state, "epoch", 0) or 0)
        if self._continuing and self._restored is not None and int(self._restored.get("epoch", -1)) == epoch:
            # resumed inside this epoch: its ledger goes on from the checkpoint's (its first batches)
            self._ledger = {**self._restored, "digests": list(self._restored["digests"])}
        else:
            self._ledger = {"epoch": epoch, "start": int(getattr(state, "global_step", 0)), "batches": 0,
                            "digests": []}
        self._continuing = False
        if self.watch is not None:
            self.watch.start_epoch()
        if self._needed():
            self._install()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._ledger:
            steps = int(getattr(state, "global_step", 0)) - int(self._ledger.get("start", 0))
            self._ledger["batches"] = steps * self._accumulation

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps (``ExportableState``): the options that rebuild the callback, and the ledger."""
        from dataclasses import fields

        # options set to plain values (a label function or a labels array is not JSON: a callback
        # rebuilt by restore_callback_states_from_checkpoint=True auto-detects them instead)
        keep = {f.name: getattr(self.options, f.name) for f in fields(self.options)
                if f.name != "labels" and getattr(self.options, f.name) != f.default
                and isinstance(getattr(self.options, f.name), (bool, int, float, str))}
        return {"args": {"on_fail": self.on_fail, "fingerprints": self.fingerprints, **keep},
                "attributes": {"_checkpoint_ledger": dict(self._ledger)}}

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.watch is not None:
            self.watch.end_epoch()

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


def _saved_ledger(stateful: Any, name: str) -> dict[str, Any] | None:
    """The ledger this callback saved in a checkpoint's ``stateful_callbacks`` (one entry or a list)."""
    if not isinstance(stateful, dict):
        return None
    entry = stateful.get(name)
    if isinstance(entry, list):
        entry = entry[0] if entry else None
    if not isinstance(entry, dict):
        return None
    ledger = entry.get("attributes", {}).get("_checkpoint_ledger")
    return dict(ledger) if isinstance(ledger, dict) else None


def _length(loader: Any) -> int | None:
    try:
        return len(loader)
    except Exception:  # noqa: BLE001 - an unsized loader
        return None

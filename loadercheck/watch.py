"""``guard()`` and the training callbacks' engine: check the batches training consumes, then step aside.

(The module is ``watch``, not ``guard``: a submodule named like the function ``loadercheck.guard``
would replace it on the package as soon as it is imported.)

The pieces, from the inside out:

- :func:`compare_epochs` is a pure function: two recorded label windows -> a ``cross-epoch-order``
  :class:`~loadercheck.results.CheckResult`.
- :class:`Watch` is the state machine every adapter shares (``guard()``, the Lightning and Hugging
  Face callbacks): it is told ``start_epoch()`` / ``add(batch)`` / ``end_epoch()``, records the first
  ``window`` batches of epoch 1 with a :class:`~loadercheck.recording.StreamRecorder`, runs the checks
  once (:func:`loadercheck.api.evaluate`), then records the first window of epoch 2 and compares
  the two label sequences, and finally does nothing at all.
- :func:`act` turns a result into the user's choice: raise, warn or log.
- :class:`Guard` is the iterable wrapper for custom loops.

Importing this module is cheap (no numpy, no torch): the pytest plugin imports the warning class.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .options import Options
    from .report import Report
    from .results import CheckResult, LoaderInfo, Stream

__all__ = ["guard", "Guard", "Watch", "LoaderCheckFailed", "LoaderCheckWarning", "compare_epochs", "act"]

ON_FAIL = ("raise", "warn", "log")


def check_on_fail(on_fail: str) -> None:
    """Raise a LoaderCheckError naming the accepted values unless ``on_fail`` is one of ON_FAIL."""
    if on_fail not in ON_FAIL:
        from .errors import LoaderCheckError

        raise LoaderCheckError(f"on_fail must be one of {', '.join(map(repr, ON_FAIL))}, got {on_fail!r}.")
REPLAY_EFFECT = 0.5
"""``cross-epoch-order`` fails when the excess match rate (0 shuffled, 1 identical) reaches this."""

logger = logging.getLogger("loadercheck")


class LoaderCheckFailed(AssertionError):
    """A guarded loader (or a callback's train loader) failed its check; ``.report`` has the evidence."""

    def __init__(self, message: str, report: Report) -> None:
        super().__init__(message)
        self.report = report


class LoaderCheckWarning(UserWarning):
    """A loader check warned (or failed with ``on_fail="warn"``); the message is the plain report."""


# --------------------------------------------------------------------------- the pure decision
def compare_epochs(
    first: np.ndarray, second: np.ndarray, *, alpha: float = 1e-3, ordered: bool = False
) -> CheckResult:
    """Does epoch 2 replay epoch 1's order? Compare the label sequences of their first windows.

    Parameters
    ----------
    first, second : array_like
        Labels in feed order (any hashable values, or floats for continuous targets) of the first
        window of epoch 1 and of epoch 2. Only the common prefix (the shorter length) is compared.
    alpha : float
        Significance level of the replay test.
    ordered : bool
        The feed is ordered on purpose (time series, curriculum, length grouping): its label
        sequence repeats by design, so a replay is reported, not judged (status pass). This
        compares labels, not sample identities, so it is an order check for SPEC §4's purposes.

    Returns
    -------
    CheckResult
        id ``cross-epoch-order``. The statistic is the one the CLI's check uses
        (:func:`loadercheck.stats.identity.epoch_match_test`): the number of positions whose
        labels match, against its exact permutation null; ``effect`` is the excess match rate (0
        for independent shuffles, 1 for an identical order). ``fail`` needs ``p <= alpha`` and
        ``effect >= REPLAY_EFFECT``; a significant smaller effect (a nearly identical order) is
        ``warn``. Unlike the CLI, the guard sees the real training loop, so a replay it observes
        is confirmed, not merely suspected.

    Examples
    --------
    Two epochs in the same order over 10 balanced classes match at every one of 640 positions,
    where independent shuffles would match about 1 time in 10: the chance of that under a fresh
    shuffle is about 1e-640, so the check fails.

    >>> import numpy as np
    >>> labels = np.arange(640) % 10
    >>> compare_epochs(labels, labels).status                # doctest: +SKIP
    <Status.FAIL: 'fail'>
    """
    import numpy as np

    from .checks import CROSS_EPOCH_ORDER
    from .results import CheckResult, Status
    from .stats import NotEnoughData
    from .stats.identity import epoch_match_test

    a, b = np.asarray(first), np.asarray(second)
    n = int(min(a.size, b.size))
    codes = _small_codes(a[:n], b[:n])
    if codes is None:  # any other values: one code per distinct value (a sort)
        _, codes = np.unique(np.concatenate([a[:n], b[:n]]), return_inverse=True)
    if n >= 2 and codes.max() == codes.min():
        return CheckResult(CROSS_EPOCH_ORDER, Status.SKIP,
                           f"all {n:,} compared labels are one class: a replayed order cannot be told from labels")
    try:
        # enough permutations to certify alpha, up to REPLAY_MAX_PERMS (later epochs' levels keep
        # halving: there the net no longer certifies, and a replay fails on net-free evidence only)
        perms = min(max(15_999, int(np.ceil(4.0 / alpha)) - 1), REPLAY_MAX_PERMS)
        r = epoch_match_test(codes[:n], codes[n:], rng=np.random.default_rng(0), mc_below=2 * alpha,
                             mc_max_perms=perms, mc_max_labels=max(512, 16_384 * 15_999 // perms))
    except NotEnoughData as exc:
        return CheckResult(CROSS_EPOCH_ORDER, Status.SKIP, f"cannot compare the epochs: {exc.reason}")
    rate, q = r.details["match_rate"], r.details["expected_rate"]
    message = (
        f"the first {n:,} samples of epoch 2 repeat epoch 1's label at {rate:.0%} of positions; "
        f"independent shuffles: {q:.0%}"
    )
    if r.pvalue > alpha:
        status = Status.PASS
    elif ordered:
        status = Status.PASS
        message = f"(feed declared ordered, not judged) {message}"
    else:
        status = Status.FAIL if (r.effect or 0.0) >= REPLAY_EFFECT else Status.WARN
    hint = None
    if status is not Status.PASS:
        hint = (
            "every epoch is fed in (nearly) the same order: a sampler or dataset with a fixed seed, "
            "a DistributedSampler or Hugging Face IterableDataset without set_epoch(epoch), or "
            "Dataset.shuffle(seed) with shuffle=False; fix: reshuffle every epoch (call "
            "sampler.set_epoch(epoch) / dataset.set_epoch(epoch) each epoch, or use shuffle=True)"
        )
    return CheckResult(
        CROSS_EPOCH_ORDER, status, message, statistic=r.statistic, pvalue=r.pvalue, effect=r.effect,
        hint=hint, method=r.method, details=dict(r.details),
    )


REPLAY_MAX_PERMS = 159_999
"""The replay look's permutation net uses at most this many permutations (of at most 1,638 labels:
the check's own worst case of 16,384 labels x 15,999 permutations): enough to certify the levels of
epochs 2 and 3 (5e-5, 2.5e-5 at alpha 1e-3); without the cap the permutations would double every epoch."""


def _small_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """``a`` then ``b`` as one array of codes when both already are small non-negative integers
    (label codes): no sort, no string; else None."""
    import numpy as np

    if a.dtype.kind not in "iub" or b.dtype.kind not in "iub" or not a.size or not b.size:
        return None
    joined = np.concatenate([a, b]).astype(np.int64, copy=False)
    if joined.min() < 0 or joined.max() >= 1 << 20:
        return None
    return joined


RESUME_LEDGER = 16
"""Digests of this many first batches per epoch are kept (and checkpointed) to notice a resumed run
that replays batches it already trained on."""


def resume_replays(trained: list[int | None], resumed: list[int | None]) -> bool:
    """Does a resumed epoch start with the batches the interrupted run trained first? A pure rule.

    ``trained``: digests of the first batches of the epoch before the checkpoint; ``resumed``: the
    first batches after the resume (one or two). A replay when each resumed digest equals the
    trained one at the same position, the digests are known, and the trained ones are distinct
    (a feed of identical batches cannot tell a replay from a continuation).
    """
    known = [d for d in trained if d is not None]
    if not resumed or not known or len(set(known)) != len(known) or len(resumed) > len(trained):
        return False
    return all(r is not None and r == t for r, t in zip(resumed, trained))


def resume_decision(trained: list[int | None], resumed: list[int | None]) -> bool | None:
    """None while a resumed run has trained too few batches to compare (two, or all the ledger holds);
    then whether it replays the ledger's (:func:`resume_replays`). The callbacks' shared step."""
    if len(resumed) < min(2, len(trained)):
        return None
    return resume_replays(trained, resumed)


def resume_replay_report(target: str, epoch: int, trained: int, options: Options) -> Report:
    """The ``resume-replay`` failure: a resumed run re-trains the start of its epoch."""
    from ._version import __version__
    from .ids import RESUME_REPLAY
    from .report import Report
    from .results import CheckResult, LabelKind, LoaderInfo, Status, StreamSummary

    message = (f"after resuming in epoch {epoch + 1} at batch {trained + 1:,}, the loader started the epoch again: "
               f"the first batches after the resume are the ones trained before the checkpoint")
    hint = ("the loader is not resumable, so the resume replays the batches the interrupted run already trained on "
            "(and the model sees them twice in this epoch); fix: resume the loader's position too: a stateful loader "
            "(torchdata.stateful_dataloader.StatefulDataLoader, which Lightning checkpoints), or skip the consumed "
            "batches on resume (Hugging Face Trainer does with ignore_data_skip=False)")
    result = CheckResult(RESUME_REPLAY, Status.FAIL, message, statistic=float(trained), effect=1.0, hint=hint,
                         method="batch digests, the first batches after the resume vs before the checkpoint")
    stream = StreamSummary(samples=0, batches=0, epochs=1, classes=None, label_kind=LabelKind.NONE, batch_size=None,
                           seconds=0.0, notes=("a resumed run: only its first batches were compared",))
    return Report(Status.FAIL, target, options.to_dict(), stream, LoaderInfo("resumed loader"), (result,), __version__)


def fails_at(report: Report, level: float) -> tuple[str, ...]:
    """Ids of the checks of ``report`` that fail at the smaller family-wise level ``level``.

    ``report`` was decided at a larger alpha; each check is held again to the threshold it gets at
    ``level``: an order check's Holm-adjusted p-value to the order checks' share
    (:func:`loadercheck.forensics.order_alpha`; the single-class prefix test, run outside Holm, to
    half of it, the least it is ever given), a forensics test's p-value to its share
    (``FORENSICS_SHARE * level / STATISTICAL_CHECKS``). A failing check without a p-value is a fact
    (a sampler repeating indices), not a test: it fails at any level. The effect condition was
    already met (the check failed at the larger alpha, and it does not depend on alpha).
    """
    from .checks import ORDER_CHECK_IDS
    from .forensics import FORENSICS_SHARE, STATISTICAL_CHECKS, order_alpha

    out = []
    for c in report.checks:
        if str(c.status) != "fail":
            continue
        if c.pvalue is None:
            out.append(c.id)
            continue
        if c.id in ORDER_CHECK_IDS:
            threshold = order_alpha(level) if "raw_pvalue" in c.details else order_alpha(level) / 2
        else:
            threshold = level * FORENSICS_SHARE / STATISTICAL_CHECKS
        if c.pvalue <= threshold:
            out.append(c.id)
    return tuple(out)


def at_level(report: Report, level: float) -> Report:
    """``report`` decided again at the smaller family-wise level ``level`` (an early look's).

    Checks failing at ``level`` (:func:`fails_at`) keep ``fail``; any other ``fail`` becomes
    ``warn`` (significant only at the alpha the checks ran at); the verdict and ``config["alpha"]``
    follow. A report already at ``level`` only has its single-class prefix test held to half.
    """
    from .results import Status

    keep = set(fails_at(report, level))
    checks = tuple(c if str(c.status) != "fail" or c.id in keep else replace(c, status=Status.WARN)
                   for c in report.checks)
    ran = report.config.get("alpha")
    note = (f"an early look: the checks ran at alpha {ran:.2g}; "
            f"only a check significant at the look's level {level:.2g} stops it")
    notes = report.stream.notes if ran == level else (*report.stream.notes, note)
    from .checks import verdict

    return replace(report, checks=checks, verdict=verdict([c.status for c in checks]),
                   config={**report.config, "alpha": level}, stream=replace(report.stream, notes=notes))


def failure_message(report: Report, what: str = "loader") -> str:
    """The plain-text report (no ANSI) with the seed that reproduces it."""
    from .render.text import render_text

    head = {"fail": "is not well shuffled", "warn": "may not be well shuffled"}.get(str(report.verdict), "was checked")
    return (
        f"{what} {head}:\n" + render_text(report, color=False)
        + f"(reproduce with seed={report.config.get('seed', 0)})"
    )


def act(report: Report, on_fail: str, *, what: str = "loader", log: logging.Logger | None = None,
        stacklevel: int = 2) -> None:
    """Do what the user asked with a report: raise on fail (``"raise"``), warn, or log.

    A ``warn`` verdict never raises: with ``on_fail="raise"`` it emits a :class:`LoaderCheckWarning`.
    A ``pass`` is logged at INFO level on the ``loadercheck`` logger.
    """
    log = log or logger
    verdict = str(report.verdict)
    if verdict == "pass":
        log.info("loadercheck: %s passed (%d batches checked)", what, report.stream.batches)
        return
    text = failure_message(report, what)
    if verdict == "fail" and on_fail == "raise":
        raise LoaderCheckFailed(text, report)
    if on_fail == "log":
        log.log(logging.ERROR if verdict == "fail" else logging.WARNING, "%s", text)
        return
    warnings.warn(LoaderCheckWarning(text), stacklevel=stacklevel + 1)


# --------------------------------------------------------------------------- the shared state machine
class Watch:
    """Records the first ``window`` batches of epoch 1 (and 2) as they are consumed, and checks once.

    Adapters call :meth:`start_epoch`, :meth:`add` for each batch training consumes, and
    :meth:`end_epoch`. The checks run inside :meth:`add` when the window is full (or inside
    :meth:`end_epoch` when the epoch was shorter), and :func:`act` applies ``on_fail``. Results:
    :attr:`report` (the checks of epoch 1's window, plus ``cross-epoch-order`` once epoch 2's window
    was seen) and :attr:`cross_epoch`.

    Parameters
    ----------
    describe : callable
        Returns the :class:`~loadercheck.results.LoaderInfo` of the loader (called once, at check time).
    options : Options
        The check options; ``options.batches`` is the window (default: the check's budget,
        :data:`loadercheck.drawing.DEFAULT_BATCHES`, or the whole epoch when shorter).
    on_fail : {"raise", "warn", "log"}
    target : str
        Name of the loader in the report.
    """

    def __init__(self, describe: Callable[[], LoaderInfo], options: Options, *, on_fail: str = "raise",
                 target: str = "loader", notes: tuple[str, ...] = (), fingerprints: bool = False,
                 dataset_labels: Callable[[Any], Any] | None = None, sequential: bool = True) -> None:
        check_on_fail(on_fail)
        self.options = options
        self.on_fail = on_fail
        self.target = target
        self.window = options.batches or _default_window()
        self.report: Report | None = None
        """The report: checks of epoch 1's window (+ ``cross-epoch-order`` after epoch 2); None before."""
        self.cross_epoch: CheckResult | None = None
        """The ``cross-epoch-order`` result once epoch 2's first window was consumed, else None."""
        self.error: Exception | None = None
        """Why checking stopped early (labels not found, ...) when ``on_fail`` is not ``"raise"``."""
        self.epoch = 0
        self._describe = describe
        self._notes = notes
        self._fingerprints = fingerprints
        self._dataset_labels = dataset_labels
        self._recorder: Any = None
        self._first: Stream | None = None
        self._compare_batches = 0
        self._first_verdict = ""
        self._previous: Stream | None = None
        self._news = False
        from .sequential import schedule

        self.world, self.rank = _world()
        """torch.distributed world size and rank (1, 0 without a process group): the ranks agree on one decision."""
        # each rank tests its own stream at alpha / world, so "any rank fails" keeps the run's rate <= alpha
        self.schedule = schedule(options.alpha / self.world, self.window if sequential else 0)
        """When epoch 1 is looked at (:mod:`loadercheck.sequential`): early looks can only stop a bad feed."""
        self.decided_at: int | None = None
        """Batches recorded when the verdict was reached (an early look, or the window)."""

    @property
    def done(self) -> bool:
        """Nothing left to record: checking gave up (later epochs still get their cheap replay look)."""
        return self.error is not None

    @property
    def recording(self) -> bool:
        """True while batches of the current epoch are being recorded."""
        return self._recorder is not None

    def start_epoch(self) -> bool:
        """A new epoch begins; returns True when its batches should be passed to :meth:`add`."""
        self._close_epoch()
        self.epoch += 1
        if self.done or (self.epoch >= 2 and self._first is None):
            return False
        from .recording import StreamRecorder

        self._recorder = StreamRecorder(
            self.options.label, keep_inputs=self.options.probe and self.epoch == 1,
            fingerprints=self._fingerprints,
        )
        return True

    def add(self, batch: Any) -> bool:
        """Record one consumed batch; returns True while the current epoch still records."""
        recorder = self._recorder
        if recorder is None:
            return False
        try:
            recorder.add(batch)
        except Exception as exc:  # a LabelError names the fix; never let it break training silently
            self._give_up(exc)
            return False
        limit = self.window if self.epoch == 1 else self._compare_batches
        if recorder.batches >= limit:
            self._close_epoch()
            return False
        if self.epoch == 1 and recorder.batches in self.schedule.looks and self._early_look(recorder):
            return False
        return True

    def end_epoch(self) -> None:
        """The epoch ended: check what was recorded if the window was not filled."""
        self._close_epoch()

    # ------------------------------------------------------------------ internals
    def _close_epoch(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None or recorder.batches == 0:
            return
        from .rng import preserved_rng

        try:
            with preserved_rng():
                if self.epoch == 1:
                    self._check_first(recorder)
                else:
                    self._compare(recorder)
        except Exception as exc:
            if isinstance(exc, LoaderCheckFailed):
                raise
            self._give_up(exc)
            return
        if self.epoch == 1:
            self._act(self.report)
            return
        news = self._cross_epoch_is_news()
        if self.world > 1:  # every rank joins the replay look's agreement, news or not
            from .results import Status

            quiet = replace(self.report, checks=(), verdict=Status.PASS)
            agreed = self._agree(self._cross_epoch_report() if news else quiet)
            if str(agreed.verdict) in ("warn", "fail"):
                self._act(agreed)
        elif news:
            self._act(self._cross_epoch_report())

    def _early_look(self, recorder: Any) -> bool:
        """Check the prefix at an early look's level; on a fail, decide now (stop recording, act)."""
        from dataclasses import replace as with_options

        from .api import evaluate
        from .rng import preserved_rng

        k, level = recorder.batches, self.schedule.level
        try:
            with preserved_rng():
                stream = self._finish_first(recorder, f"looked at after {k:,} batches (an early look of the guard)")
                # at the look's own level (the permutation nets are budgeted); only a check significant
                # at that level stops (at_level also holds the single-class prefix test to half of it)
                report = at_level(evaluate(stream, with_options(self.options, alpha=level, probe=False),
                                           target=self.target), level)
        except Exception as exc:
            if isinstance(exc, LoaderCheckFailed):
                raise
            self._give_up(exc)
            return True
        report = self._agree(report, early=True)
        if str(report.verdict) != "fail":
            return False
        self._recorder = None
        self._first, self._compare_batches = stream, stream.batches
        self.report, self._first_verdict, self.decided_at = report, "fail", k
        self._act(report)
        return True

    def _agree(self, report: Report, *, early: bool = False) -> Report:
        """Under torch.distributed, every rank gets the same verdict: the worst rank's report (a fail
        anywhere fails everywhere, so all ranks raise or none). Every rank must reach the same look."""
        if self.world <= 1:
            return report
        import torch.distributed as dist

        everyone: list[Any] = [None] * self.world
        dist.all_gather_object(everyone, (self.rank, str(report.verdict), report))
        order = {"fail": 0, "warn": 1, "pass": 2, "skip": 3}
        rank, verdict, worst = min(everyone, key=lambda item: (order.get(item[1], 4), item[0]))
        if early and verdict != "fail":
            return report  # an early look only ever stops; nothing to agree on otherwise
        if rank != self.rank:
            note = f"rank {rank} of {self.world} found this; every rank takes its decision"
            worst = replace(worst, stream=replace(worst.stream, notes=(*worst.stream.notes, note)))
        return worst

    def _act(self, report: Report) -> None:
        """Apply on_fail; under torch.distributed a fail raises on every rank, warnings and logs come from rank 0."""
        if self.rank != 0 and not (str(report.verdict) == "fail" and self.on_fail == "raise"):
            return
        act(report, self.on_fail, what=self.target, stacklevel=5)

    def _finish_first(self, recorder: Any, note: str) -> Stream:
        dataset_labels = self._dataset_labels(recorder.spec) if self._dataset_labels is not None else None
        return recorder.finish(self._describe(), notes=(*self._notes, note, f"sequential: {self.schedule.describe()}"),
                               dataset_labels=dataset_labels)

    def _cross_epoch_is_news(self) -> bool:
        """A replay is acted on once, unless epoch 1 already failed (a sorted feed also replays: one
        alarm is enough)."""
        news, self._news = self._news, False
        return news and self._first_verdict != "fail"

    def _check_first(self, recorder: Any) -> None:
        from .api import evaluate

        from dataclasses import replace as with_options

        note = f"recorded from the first {recorder.batches:,} batches training consumed (epoch 1)"
        stream = self._finish_first(recorder, note)
        self._first = stream
        self._compare_batches = stream.batches
        if self.world > 1:  # what every rank consumed: rank-coverage in the loop
            from .distributed import gather_ranks

            stream = gather_ranks(stream)
        self.report = self._agree(evaluate(stream, with_options(self.options, alpha=self.schedule.final),
                                           target=self.target))
        self._first_verdict = str(self.report.verdict)
        self.decided_at = recorder.batches

    def _compare(self, recorder: Any) -> None:
        """The replay look at this epoch's start: its first window against the previous epoch's."""
        second = recorder.finish(self._first.loader)
        previous = self._previous if self._previous is not None else self._first
        first, then = _common_codes(previous, second)
        result = compare_epochs(first, then, alpha=self.schedule.replay_level(self.epoch), ordered=self.options.ordered)
        self._previous = second
        if self.cross_epoch is not None and str(self.cross_epoch.status) in ("warn", "fail"):
            return  # one replay finding is enough: it stays the one reported
        label = f"(epochs {self.epoch - 1} and {self.epoch}) " if self.epoch > 2 else ""
        self.cross_epoch = replace(result, message=f"{label}{result.message}", details={**result.details, "epoch": self.epoch})
        self.report = _with_result(self.report, self.cross_epoch)
        self._news = str(result.status) in ("warn", "fail")

    def _cross_epoch_report(self) -> Report:
        """The report restricted to the cross-epoch finding (what is new after epoch 2)."""
        from .checks import verdict

        assert self.report is not None and self.cross_epoch is not None
        return replace(self.report, checks=(self.cross_epoch,), verdict=verdict([self.cross_epoch.status]))

    def _give_up(self, exc: Exception) -> None:
        self._recorder = None
        self.error = exc
        if self.on_fail == "raise":
            raise exc
        text = f"loadercheck could not check {self.target}: {exc}"
        if self.on_fail == "log":
            logger.warning("%s", text)
        else:
            warnings.warn(LoaderCheckWarning(text), stacklevel=4)


def _world() -> tuple[int, int]:
    """(world size, rank) of an initialised torch.distributed process group, else (1, 0); never imports torch."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return 1, 0
    try:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return int(dist.get_world_size()), int(dist.get_rank())
    except Exception:  # noqa: BLE001 - no usable process group: a single process
        pass
    return 1, 0


def _default_window() -> int:
    from .drawing import DEFAULT_BATCHES

    return DEFAULT_BATCHES


def _common_codes(first: Stream, second: Stream) -> tuple[np.ndarray, np.ndarray]:
    """Both recordings' labels as integer codes over one alphabet, vectorised.

    Each recording codes its classes in the order it met them, so the same code can mean different
    classes in two recordings: the classes (a few, not the samples) are matched by value, and each
    recording's codes are translated with one lookup table. Continuous targets and label-free
    streams keep their values.
    """
    import numpy as np

    if str(first.kind) != "categorical" or str(second.kind) != "categorical" or not first.classes or not second.classes:
        return first.labels, second.labels
    alphabet: dict[str, int] = {}
    tables = [np.array([alphabet.setdefault(str(c), len(alphabet)) for c in s.classes], dtype=np.int64)
              for s in (first, second)]
    return tables[0][first.labels], tables[1][second.labels]


def _with_result(report: Report, result: CheckResult) -> Report:
    """``report`` with ``result`` added (replacing a result of the same id) and the verdict updated."""
    from .checks import CHECK_IDS, verdict

    checks = [c for c in report.checks if c.id != result.id] + [result]
    checks.sort(key=lambda c: CHECK_IDS.index(c.id) if c.id in CHECK_IDS else len(CHECK_IDS))
    return replace(report, checks=tuple(checks), verdict=verdict([c.status for c in checks]))


# --------------------------------------------------------------------------- guard()
class Guard:
    """An iterable that yields exactly what ``loader`` yields and checks it on the way.

    Build it with :func:`guard`. Each ``iter()`` is an epoch. ``len()`` and every attribute
    (``.dataset``, ``.sampler``, ``.batch_size``, ``set_epoch`` ...) are the loader's.
    """

    def __init__(self, loader: Any, watch: Watch) -> None:
        self._loader = loader
        self._watch = watch

    # results ---------------------------------------------------------------
    @property
    def loader(self) -> Any:
        """The wrapped loader itself."""
        return self._loader

    @property
    def report(self) -> Report | None:
        """The Report once the first window was checked (``cross-epoch-order`` added after epoch 2)."""
        return self._watch.report

    @property
    def cross_epoch(self) -> CheckResult | None:
        """The ``cross-epoch-order`` result once epoch 2's first window was consumed."""
        return self._watch.cross_epoch

    @property
    def error(self) -> Exception | None:
        """Why checking stopped (with ``on_fail`` warn/log), e.g. no labels found; else None."""
        return self._watch.error

    @property
    def checked(self) -> bool:
        """True once the checks have run."""
        return self._watch.report is not None

    def finish(self) -> Report | None:
        """Check now what was recorded (e.g. after breaking out of the loop early); returns the report."""
        self._watch.end_epoch()
        return self._watch.report

    # the loader's face -----------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self._loader)
        if not self._watch.start_epoch():
            return iterator  # stepped aside: the loader's own iterator, no per-batch cost at all
        return self._recording(iterator)

    def _recording(self, iterator: Iterator[Any]) -> Iterator[Any]:
        add = self._watch.add
        for batch in iterator:
            if add(batch):
                yield batch
            else:  # window full (checked) or recording stopped: hand the rest straight through
                yield batch
                yield from iterator
                return
        self._watch.end_epoch()

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str) -> Any:
        if name in ("_loader", "_watch"):  # not yet set (copy/pickle): do not recurse
            raise AttributeError(name)
        return getattr(self._loader, name)

    def __repr__(self) -> str:
        state = "checked" if self.checked else "recording"
        return f"<loadercheck.guard of {self._loader!r} ({state})>"


def guard(loader: Any, *, on_fail: str = "raise", target: str | None = None,
          fingerprints: bool = False, **options: Any) -> Guard:
    """Wrap ``loader`` for a training loop: it checks the batches training consumes, then steps aside.

    Parameters
    ----------
    loader : iterable
        Any loader ``check()`` accepts. Nothing is drawn ahead: the guard sees each batch when the
        loop takes it, and yields the very same object (``is``-identical), in order.
    on_fail : {"raise", "warn", "log"}
        On a ``fail`` verdict: raise :class:`LoaderCheckFailed` (an ``AssertionError``) from the
        loop, emit a :class:`LoaderCheckWarning`, or log on the ``loadercheck`` logger. A ``warn``
        verdict warns (or logs with ``"log"``).
    target : str, optional
        Name of the loader in the report (default ``guard(<type>)``).
    fingerprints : bool
        Also hash each sample's input bytes while recording (for the identity checks that need
        sample hashes, e.g. ``duplicates``). Off by default: hashing costs about 0.35 ms per
        0.8 MB batch on one CPU core, several percent of a small training step, while the
        guard's own ``cross-epoch-order`` comparison needs only labels.
    **options
        :class:`loadercheck.options.Options` fields: ``batches`` (the window: batches recorded in
        epoch 1, default 500 or the whole epoch if shorter), ``alpha``, ``seed``, ``ordered``,
        ``label``, ``probe``.

    Returns
    -------
    Guard
        Iterate it instead of ``loader``. ``.report`` holds the Report once the window was checked;
        after the first window of epoch 2 it also holds ``cross-epoch-order`` (``.cross_epoch``),
        which fails when epoch 2 replays epoch 1's order.

    Examples
    --------
    Wrap once, outside the epoch loop, so the guard sees epoch 1 and epoch 2:

    >>> loader = loadercheck.guard(train_loader)   # doctest: +SKIP
    >>> for epoch in range(epochs):                # doctest: +SKIP
    ...     for x, y in loader:
    ...         train_step(x, y)
    >>> loader.report.verdict                      # doctest: +SKIP
    """
    from .options import Options

    opts = Options(**options)
    if isinstance(loader, Guard):
        loader = loader.loader

    def describe() -> LoaderInfo:
        from .adapters import describe_loader

        return describe_loader(loader)

    def dataset_labels(spec: Any) -> Any:
        from .adapters import dataset_label_values

        return dataset_label_values(loader, spec)

    watch = Watch(describe, opts, on_fail=on_fail, target=target or f"guard({type(loader).__name__})",
                  fingerprints=fingerprints, dataset_labels=dataset_labels)
    return Guard(loader, watch)

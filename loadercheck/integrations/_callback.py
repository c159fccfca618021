"""What every training callback holds: the options, the ``on_fail`` policy and the Watch that decides."""

from __future__ import annotations

from typing import Any

from ..options import Options
from ..watch import Watch, check_on_fail


class WatchingCallback:
    """Base of the framework callbacks (mixed in before the framework's own callback class)."""

    def __init__(self, *, on_fail: str = "raise", fingerprints: bool = False, **options: Any) -> None:
        super().__init__()
        check_on_fail(on_fail)
        self.options = Options(**options)
        self.on_fail = on_fail
        self.fingerprints = fingerprints
        self.watch: Watch | None = None

    @property
    def report(self):
        return None if self.watch is None else self.watch.report

    @property
    def cross_epoch(self):
        return None if self.watch is None else self.watch.cross_epoch

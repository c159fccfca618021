"""loadercheck: catch badly ordered training feeds before the GPU hours are spent.

Public API: :func:`check`, :func:`assert_well_shuffled`, :func:`guard`, :class:`Report`,
:class:`Status`. Importing this package imports neither torch nor the statistics: they load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = [
    "check", "assert_well_shuffled", "guard", "Report", "Status", "CheckResult", "LoaderCheckError",
    "LoaderCheckFailed", "LoaderCheckWarning", "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from .api import assert_well_shuffled, check
    from .errors import LoaderCheckError
    from .watch import LoaderCheckFailed, LoaderCheckWarning, guard
    from .report import Report
    from .results import CheckResult, Status

_LAZY = {
    "check": "api",
    "assert_well_shuffled": "api",
    "Report": "report",
    "Status": "results",
    "CheckResult": "results",
    "LoaderCheckError": "errors",
    "guard": "watch",
    "LoaderCheckFailed": "watch",
    "LoaderCheckWarning": "watch",
}


_SUBPACKAGES = ("integrations",)
"""Imported on first attribute access, so ``loadercheck.integrations.lightning.LoaderCheck()`` works as written."""


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        from importlib import import_module

        value = import_module(f".{name}", __name__)
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loadercheck' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBPACKAGES})

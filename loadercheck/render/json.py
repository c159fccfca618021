"""The JSON renderer: exactly one JSON document with the stable keys of SPEC §5."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .._version import __version__

if TYPE_CHECKING:  # pragma: no cover - the Report sits above the renderers
    from ..report import Report


def render_json(report: Report) -> str:
    """``report.to_json()`` with a trailing newline, never through rich (no wrapping, no markup)."""
    return report.to_json(indent=2) + "\n"


def render_error(target: str, message: str) -> str:
    """The document ``--format json`` writes when the loader could not be checked (exit code 2):
    ``verdict`` is null and ``error`` carries the message printed on stderr."""
    doc = {"loadercheck_version": __version__, "verdict": None, "target": target, "error": message}
    return json.dumps(doc, indent=2) + "\n"

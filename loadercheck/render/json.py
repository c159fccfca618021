"""The JSON renderer: exactly one JSON document with the stable keys of SPEC §5."""

from __future__ import annotations

from ..results import Report


def render_json(report: Report) -> str:
    """``report.to_json()`` with a trailing newline, never through rich (no wrapping, no markup)."""
    return report.to_json(indent=2) + "\n"

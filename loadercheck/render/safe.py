"""Text from data made safe for a terminal: labels are data, never terminal input.

Labels, class names, dataset paths and loader messages can hold anything: escape sequences that
clear a screen or set a window title, carriage returns that overwrite a line, rich markup such as
``[/]``. :func:`printable` writes every control character as a visible escape, and the renderers
pass only :class:`rich.text.Text` (never markup strings) to rich.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``str(text)`` with control characters (C0 but newline and tab, DEL, C1, bidi overrides)
    written as ``\\x1b``-style escapes."""
    return _CONTROL.sub(_escape, str(text))

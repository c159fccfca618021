"""Run the command line in process, as a shell would, and keep what it printed and its exit code."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from loadercheck.cli import run


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoke(*args) -> CliResult:
    """``loadercheck *args``: stdout and stderr are captured (not terminals: no colour, no progress bar)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(arg) for arg in args])
    return CliResult(code, out.getvalue(), err.getvalue())

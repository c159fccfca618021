"""The pytest plugin (``pytest11`` entry point ``loadercheck``): options, report header, fixture.

Loading it costs nothing: this module imports only pytest and the standard library, so a test
session that never checks a loader never imports numpy, scipy or torch on our account. The
options live in ``config.stash`` (no module state).

- ``--loadercheck-alpha``, ``--loadercheck-batches``, ``--loadercheck-seed`` (and the ini keys
  ``loadercheck_alpha``, ``loadercheck_batches``, ``loadercheck_seed``) are the defaults of the
  ``loadercheck`` fixture; the command line wins over the ini file.
- The seed is printed in the report header, so a failure can be rerun.
- The ``loadercheck`` fixture is a callable ``loadercheck(loader, **options) -> Report``: it fails
  the test on a ``fail`` verdict (the message is the plain-text report) and emits a
  :class:`loadercheck.LoaderCheckWarning` on ``warn``.

``loadercheck.assert_well_shuffled(loader, **options)`` works in any test, with or without the
plugin (it does not read these options: pass them as keywords).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import pytest

_OPTIONS = (
    # name, type, help
    ("alpha", float, "family-wise false-alarm rate of the checks (default 1e-3)"),
    ("batches", int, "batches to draw per epoch (default: one epoch capped at 500)"),
    ("seed", int, "seed of loadercheck's random choices, for reproducible reports (default 0)"),
)


@dataclass(frozen=True)
class Settings:
    """The fixture's defaults, as read from the command line and the ini file."""

    alpha: float | None = None
    batches: int | None = None
    seed: int = 0

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``check()`` (unset values left to its defaults)."""
        out: dict[str, Any] = {"seed": self.seed}
        if self.alpha is not None:
            out["alpha"] = self.alpha
        if self.batches is not None:
            out["batches"] = self.batches
        return out


SETTINGS = pytest.StashKey[Settings]()
REPORTS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("loadercheck", "loadercheck: training-feed order checks")
    for name, _, help_text in _OPTIONS:
        group.addoption(f"--loadercheck-{name}", dest=f"loadercheck_{name}", default=None, metavar=name.upper(),
                        help=f"{help_text}; ini: loadercheck_{name}")
        parser.addini(f"loadercheck_{name}", help=f"loadercheck: {help_text}", default=None)


def pytest_configure(config: pytest.Config) -> None:
    values: dict[str, Any] = {}
    for name, kind, _ in _OPTIONS:
        raw = config.getoption(f"loadercheck_{name}")
        source = f"--loadercheck-{name}"
        if raw is None:
            raw = config.getini(f"loadercheck_{name}")
            source = f"ini option loadercheck_{name}"
        if raw is None or raw == "":
            continue
        try:
            values[name] = kind(raw)
        except ValueError:
            raise pytest.UsageError(
                f"{source} must be {'a number' if kind is float else 'an integer'}, got {raw!r}"
            ) from None
    if "alpha" in values and not 0.0 < values["alpha"] < 0.5:
        raise pytest.UsageError(
            f"--loadercheck-alpha must be between 0 and 0.5 (the family-wise false-alarm rate), got {values['alpha']!r}"
        )
    if "batches" in values and values["batches"] < 1:
        raise pytest.UsageError(f"--loadercheck-batches must be a positive integer, got {values['batches']!r}")
    config.stash[SETTINGS] = Settings(**values)


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[SETTINGS]
    alpha = "1e-3 (default)" if s.alpha is None else f"{s.alpha:g}"
    batches = "default" if s.batches is None else str(s.batches)
    return f"loadercheck: seed={s.seed}, alpha={alpha}, batches={batches}"


@pytest.fixture
def loadercheck(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Check a loader: ``report = loadercheck(train_loader, **options)``.

    Options default to ``--loadercheck-*`` / ini values; keywords override them. A ``fail``
    verdict fails the test with the plain-text report; ``warn`` emits a ``LoaderCheckWarning``;
    the Report is returned either way.
    """
    settings = request.config.stash[SETTINGS]
    reports = request.node.stash.setdefault(REPORTS, [])

    def run(loader: Any, **options: Any) -> Any:
        __tracebackhide__ = True
        from loadercheck.api import check
        from loadercheck.watch import LoaderCheckWarning, failure_message

        report = check(loader, **{**settings.options(), **options})
        reports.append(report)
        verdict = str(report.verdict)
        if verdict == "fail":
            pytest.fail(failure_message(report), pytrace=True)
        if verdict == "warn":
            warnings.warn(LoaderCheckWarning(failure_message(report)), stacklevel=2)
        return report

    return run


@pytest.hookimpl(hookwrapper=True)  # old-style wrapper: works on every pytest with StashKey (>= 7.0)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the plain-text reports of the fixture's checks as a report section (shown with -rA)."""
    outcome = yield
    report = outcome.get_result()
    reports = [r for r in item.stash.get(REPORTS, ()) if str(r.verdict) != "fail"]  # a fail is the message
    if reports and call.when == "call":
        from loadercheck.render.text import render_text

        for i, checked in enumerate(reports, 1):
            title = "loadercheck report" + (f" {i}" if len(reports) > 1 else "")
            report.sections.append((title, render_text(checked, color=False)))

"""The pytest plugin, on real pytest runs (pytester): cheap to load, readable failures, options applied."""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points

import pytest

# pytester's in-process runs restore sys.modules afterwards; modules first imported inside a run would
# be imported again in the next one, which C extensions refuse. Load what the checks use up front.
import loadercheck.api  # noqa: E402,F401
import loadercheck.render.text  # noqa: E402,F401
import loadercheck.drawing  # noqa: E402,F401
import numpy  # noqa: E402,F401
import scipy.stats  # noqa: E402,F401

LOADERS = textwrap.dedent(
    """
    import numpy as np

    def batches(labels, size=32):
        return [(np.zeros((len(labels[i:i + size]), 2)), labels[i:i + size]) for i in range(0, len(labels), size)]

    SORTED = batches(np.sort(np.arange(2000) % 10))
    SHUFFLED = batches(np.random.default_rng(0).permutation(np.arange(2000) % 10))
    ONE_CLASS = batches(np.zeros(320, dtype=int))
    """
)


@pytest.fixture
def project(pytester):
    pytester.makepyfile(plugin_test_feeds=LOADERS)
    pytester.syspathinsert()
    return pytester


def test_registered_through_the_pytest11_entry_point():
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "loadercheck"]
    assert [ep.value for ep in found] == ["loadercheck.pytest_plugin"], (
        "install the package (pip install -e .) so pytest finds the plugin"
    )


def test_loading_the_plugin_imports_nothing_heavy(pytester):
    pytester.makepyfile(
        """
        import sys

        def test_light(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("loadercheck")
            heavy = [m for m in ("torch", "numpy", "scipy", "rich", "loadercheck.api") if m in sys.modules]
            assert heavy == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["loadercheck: seed=0, alpha=1e-3 (default), batches=default"])


def test_sorted_loader_fails_readably_and_shuffled_passes(project):
    project.makepyfile(
        test_feed="""
        import loadercheck
        from plugin_test_feeds import SHUFFLED, SORTED

        def test_sorted_assert():
            loadercheck.assert_well_shuffled(SORTED)

        def test_shuffled_assert():
            loadercheck.assert_well_shuffled(SHUFFLED)

        def test_sorted_fixture(loadercheck):
            loadercheck(SORTED)

        def test_shuffled_fixture(loadercheck):
            report = loadercheck(SHUFFLED)
            assert report.verdict == "pass"
        """
    )
    result = project.runpytest()
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ test_sorted_assert _*",
            ">*loadercheck.assert_well_shuffled(SORTED)",  # the failure points at the user's line
            "E*loader is not well shuffled:",
            "E*FAIL*batch-entropy*",
            "E*(reproduce with seed=0)",
            "*_ test_sorted_fixture _*",
            ">*loadercheck(SORTED)",
            "E*Failed: loader is not well shuffled:",
            "E*verdict: FAIL*",
        ]
    )
    assert "\x1b[" not in out  # plain text, no ANSI codes
    assert "api.py" not in out and "pytest_plugin.py" not in out  # helper frames hidden (__tracebackhide__)


def test_warn_verdict_emits_a_loadercheck_warning(project):
    project.makepyfile(
        test_warn="""
        import pytest
        import loadercheck
        from plugin_test_feeds import ONE_CLASS

        def test_one_class(loadercheck):
            report = loadercheck(ONE_CLASS)
            assert report.verdict == "warn"

        def test_as_error(loadercheck):
            import loadercheck as lc
            with pytest.raises(lc.LoaderCheckWarning, match="order cannot be tested"):
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("error", lc.LoaderCheckWarning)
                    loadercheck(ONE_CLASS)
        """
    )
    result = project.runpytest("-rA")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(["*LoaderCheckWarning: loader may not be well shuffled:*", "*loadercheck report*"])


def test_command_line_options_and_header(project):
    project.makepyfile(
        test_opts="""
        from plugin_test_feeds import SHUFFLED

        def test_options(loadercheck):
            report = loadercheck(SHUFFLED)
            assert report.stream.batches == 3
            assert report.config["seed"] == 7 and report.config["alpha"] == 0.02
            # keywords win over the command line
            assert loadercheck(SHUFFLED, batches=5).stream.batches == 5
        """
    )
    result = project.runpytest("--loadercheck-batches=3", "--loadercheck-seed=7", "--loadercheck-alpha=0.02")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["loadercheck: seed=7, alpha=0.02, batches=3"])


def test_ini_options_apply_and_the_command_line_wins(project):
    project.makeini(
        """
        [pytest]
        loadercheck_alpha = 0.01
        loadercheck_batches = 4
        loadercheck_seed = 3
        """
    )
    project.makepyfile(
        test_ini="""
        from plugin_test_feeds import SHUFFLED

        def test_ini(loadercheck):
            report = loadercheck(SHUFFLED)
            assert report.stream.batches == 4 and report.config["alpha"] == 0.01
            assert report.config["seed"] == 11
        """
    )
    result = project.runpytest("--loadercheck-seed=11")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["loadercheck: seed=11, alpha=0.01, batches=4"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loadercheck-alpha=2"], "--loadercheck-alpha must be between 0 and 0.5*got 2.0"),
        (["--loadercheck-alpha=lots"], "--loadercheck-alpha must be a number, got 'lots'"),
        (["--loadercheck-batches=0"], "--loadercheck-batches must be a positive integer, got 0"),
        (["--loadercheck-seed=x"], "--loadercheck-seed must be an integer, got 'x'"),
    ],
)
def test_bad_option_values_are_usage_errors(pytester, args, message):
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_bad_ini_value_names_the_ini_key(pytester):
    pytester.makeini("[pytest]\nloadercheck_batches = many\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option loadercheck_batches must be an integer, got 'many'*"])


def test_options_are_listed_in_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*loadercheck: training-feed order checks*", "*--loadercheck-alpha=ALPHA*",
                                 "*--loadercheck-batches=BATCHES*", "*--loadercheck-seed=SEED*"])

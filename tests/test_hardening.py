"""Bad and hostile input: exit 1 means a failed check and nothing else; every other ending is 0 or 2
with one paragraph (and the JSON error document); labels never reach a terminal unescaped."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from cli_runner import invoke

import loadercheck
from loadercheck.errors import LabelError, LoaderCheckError
from loadercheck.render.safe import printable
from loadercheck.render.text import render_text


FEEDS = """
    import sys
    import numpy as np
    import torch

    def sorted_feed():
        return [(np.zeros((4, 2)), np.full(4, i // 5)) for i in range(20)]

    def one_empty():
        b = [(np.random.default_rng(i).random((4, 2)), np.arange(4) % 2) for i in range(10)]
        b[3] = (np.zeros((0, 2)), np.zeros(0, dtype=int))
        return b

    def meta_inputs():
        return [(torch.zeros(4, 2, device="meta"), torch.arange(4) % 2) for _ in range(10)]

    def markup_labels():
        return [(np.zeros((4, 2)), np.array(["[/]", "[bold]x", "a", "b"])) for _ in range(10)]

    def escape_labels():
        return [(np.zeros((4, 2)), np.array(["\\x1b[2J", "\\x1b]0;pwned\\x07", "a", "a"])) for _ in range(10)]

    def sorted_escape_labels():
        return [(np.zeros((4, 2)), np.array(["\\x1b[2J"] * 4 if i < 10 else ["\\x1b]0;t\\x07"] * 4)) for i in range(20)]

    def exits():
        sys.exit(3)

    def few_labels():
        return [(np.random.rand(32, 2), np.arange(5)) for _ in range(10)]

    def scalar_label():
        return [(np.random.default_rng(i).random((32, 2)), (3 * i) % 4) for i in range(10)]

    def crashes_inside():
        class Odd:  # a loader whose batches break a renderer-free assumption: len() raises mid-iteration
            def __iter__(self):
                yield (np.zeros((4, 2)), np.arange(4))
                raise SystemExit(5)
        return Odd()

    def hangs():
        import time
        def gen():
            yield np.zeros((4, 2)), np.arange(4)
            time.sleep(30)
            yield np.zeros((4, 2)), np.arange(4)
        return gen()

    def slow_to_close():
        import time
        def gen():
            try:
                for i in range(20):
                    yield np.zeros((4, 2)), np.arange(4) % 2
            finally:
                time.sleep(0.5)  # releasing the loader takes time (workers shutting down)
        return gen()

    def busy_in_torch():
        class Busy:  # yields twice, then computes forever inside torch's C++ code
            def __iter__(self):
                for i in range(2):
                    yield torch.zeros(4, 2), torch.arange(4) % 2
                a = torch.randn(300, 300)
                while True:
                    a = torch.tanh(a @ a)
        return Busy()
"""


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    path = tmp_path_factory.mktemp("hardening") / "feeds.py"
    path.write_text(textwrap.dedent(FEEDS))
    return str(path)


@pytest.mark.parametrize("factory", ["one_empty", "meta_inputs", "markup_labels", "escape_labels", "scalar_label"])
def test_odd_but_readable_feeds_get_a_verdict(feeds, factory):
    result = invoke(f"{feeds}:{factory}")
    assert result.exit_code == 0, result.output
    assert "verdict: PASS" in result.stdout


@pytest.mark.parametrize(("factory", "match"), [
    ("exits", "sys.exit(3)"),
    ("crashes_inside", "sys.exit(5)"),
    ("few_labels", "batch 0 has 5 labels for 32 inputs"),
])
def test_errors_exit_2_with_one_paragraph_and_a_json_document(feeds, factory, match):
    result = invoke(f"{feeds}:{factory}")
    assert result.exit_code == 2, result.output
    assert match in result.stderr and "Traceback" not in result.stderr and result.stdout == ""
    doc = json.loads(invoke(f"{feeds}:{factory}", "--format", "json").stdout)
    assert doc["verdict"] is None and match in doc["error"]


def test_an_unexpected_exception_is_exit_2_not_1(feeds, monkeypatch):
    import loadercheck.api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(loadercheck.api, "run_checks", broken)
    result = invoke(f"{feeds}:sorted_feed", "--format", "json")
    assert result.exit_code == 2
    assert "unexpected ZeroDivisionError" in result.stderr and "boom" in result.stderr
    assert json.loads(result.stdout)["verdict"] is None


def test_a_scalar_label_per_batch_is_read_as_one_sample_and_said_so(feeds):
    result = invoke(f"{feeds}:scalar_label")
    assert "sampled 10 labels in 10 batches of 1" in result.stdout
    assert "each batch is read as one sample" in result.stdout


def test_a_stalled_loader_exits_2_naming_the_option(feeds):
    result = invoke(f"{feeds}:hangs", "--stall", "0.5")
    assert result.exit_code == 2
    assert "no batch for 0.5 s" in result.stderr and "--stall" in result.stderr and "--timeout" in result.stderr


@pytest.mark.parametrize("option, code", [("--stall", 2), ("--timeout", 0)])
def test_a_loader_left_running_in_torch_code_does_not_abort_the_process(feeds, option, code):
    """The abandoned draw thread must not be torn down inside C++ at exit (it aborted: exit 134)."""
    done = subprocess.run([sys.executable, "-m", "loadercheck", f"{feeds}:busy_in_torch", option, "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    assert "terminate called" not in done.stderr


def test_ctrl_c_while_the_loader_runs_in_torch_code_exits_130_without_a_traceback(feeds):
    """Ctrl-C: one line and the shell's code for SIGINT, not a traceback and an abort (exit 134)."""
    import signal
    import time

    process = subprocess.Popen([sys.executable, "-m", "loadercheck", f"{feeds}:busy_in_torch", "--stall", "120"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # torch imported, two batches drawn, the loader computing inside torch
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip() == "loadercheck: interrupted (Ctrl-C): no report." and out == ""


def test_a_failed_draw_ends_its_thread_before_returning(feeds):
    """The error path: the draw thread has released the loader when the error reaches the caller."""
    import threading

    def draw_threads():  # an earlier test's abandoned (hanging) loader may still be running: not ours
        return {t for t in threading.enumerate() if t.name == "loadercheck-draw" and t.is_alive()}

    before = draw_threads()
    result = invoke(f"{feeds}:slow_to_close", "--label", "nope", "--stall", "30")
    assert result.exit_code == 2 and "'nope'" in result.stderr
    assert draw_threads() <= before


@pytest.mark.parametrize("flag", ["-o", "--html"])
def test_output_paths_are_checked_before_drawing(feeds, tmp_path, flag):
    missing = tmp_path / "nope" / "report.txt"
    result = invoke(f"{feeds}:hangs", flag, str(missing))  # would stall for 30 s if it drew
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and str(missing.parent) in result.stderr
    assert invoke(f"{feeds}:sorted_feed", "-o", str(tmp_path)).exit_code == 2  # a folder, not a file


def test_negative_seed_is_a_usage_error(feeds):
    assert invoke(f"{feeds}:sorted_feed", "--seed", "-1").exit_code == 2


def test_a_failed_check_is_the_only_exit_1(feeds):
    assert invoke(f"{feeds}:sorted_feed").exit_code == 1


# ---------------------------------------------------------------------- labels are data
def test_control_characters_are_escaped_everywhere_in_text(feeds, tmp_path):
    result = invoke(f"{feeds}:sorted_escape_labels")
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2J" in result.stdout  # visible, escaped
    out = tmp_path / "report.txt"
    invoke(f"{feeds}:sorted_escape_labels", "-o", str(out))
    assert "\x1b" not in out.read_text()


def test_markup_in_labels_is_printed_not_parsed():
    batches = [(np.zeros((4, 2)), np.array(["[/]"] * 4 if i < 10 else ["[bold]x"] * 4)) for i in range(20)]
    report = loadercheck.check(batches)
    text = render_text(report)
    assert "'[/]'" in text and "'[bold]x'" in text
    with pytest.raises(AssertionError, match=r"\[/\]"):
        loadercheck.assert_well_shuffled(batches)


def test_printable_escapes_controls_and_keeps_text():
    assert printable("a\x1b[2Jb\tc\nd\x07") == "a\\x1b[2Jb\tc\nd\\x07"
    assert printable("\u202eevil") == "\\u202eevil"
    assert printable("café ·") == "café ·"


# ---------------------------------------------------------------------- API validation
@pytest.mark.parametrize(("option", "value", "match"), [
    ("batches", True, "batches must be a positive integer"),
    ("seed", -1, "seed must be a non-negative integer"),
    ("seed", "x", "seed must be a non-negative integer"),
    ("alpha", "x", "alpha must be between 0 and 0.5"),
    ("timeout", True, "timeout must be a positive number"),
    ("ordered", "yes", "ordered must be True or False"),
])
def test_bad_options_raise_a_clear_error(option, value, match):
    with pytest.raises(LoaderCheckError, match=match):
        loadercheck.check([(np.zeros((4, 2)), np.arange(4))], **{option: value})


def test_count_mismatch_is_a_label_error_in_python_too():
    with pytest.raises(LabelError, match="3 labels for 8 inputs"):
        loadercheck.check([(np.zeros((8, 2)), np.arange(3))])

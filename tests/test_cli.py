"""The CLI end to end: exit codes 0/1/2, text and JSON output, errors on stderr."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_runner import invoke

ROOT = Path(__file__).resolve().parents[1]
CLASSIC = str(ROOT / "examples" / "classic.py")



def write_module(tmp_path, body, name="feeds.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_sorted_example_fails_with_exit_1_and_names_the_fix():
    result = invoke(f"{CLASSIC}:sorted_loader")
    assert result.exit_code == 1, result.output
    assert "verdict: FAIL" in result.stdout
    assert "shuffle=True" in result.stdout
    assert "batch-entropy" in result.stdout and "label-runs" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no ANSI


def test_shuffled_example_passes_with_exit_0():
    result = invoke(f"{CLASSIC}:shuffled_loader")
    assert result.exit_code == 0, result.output
    assert "verdict: PASS" in result.stdout


def test_json_is_one_document_with_the_spec_keys():
    result = invoke(f"{CLASSIC}:sorted_loader", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "fail" and doc["target"].endswith("classic.py:sorted_loader")
    assert doc["stream"]["samples"] == 10_000 and doc["stream"]["classes"] == 10
    ids = {c["id"] for c in doc["checks"]}
    assert {"label-runs", "batch-entropy", "label-autocorrelation", "window-drift", "class-balance"} <= ids
    assert result.stderr == ""


def test_output_file_gets_plain_report(tmp_path):
    out = tmp_path / "report.txt"
    result = invoke(f"{CLASSIC}:sorted_loader", "--output", str(out))
    assert result.exit_code == 1
    text = out.read_text()
    assert "verdict: FAIL" in text and "\x1b[" not in text
    assert result.stdout == "" and "report written to" in result.stderr


def test_ordered_declares_the_order_intended():
    result = invoke(f"{CLASSIC}:sorted_loader", "--ordered")
    assert result.exit_code == 0, result.output
    assert "declared ordered" in result.stdout


def test_same_seed_same_report():
    first = invoke(f"{CLASSIC}:shuffled_loader", "--format", "json", "--seed", "7")
    second = invoke(f"{CLASSIC}:shuffled_loader", "--format", "json", "--seed", "7")
    strip_time = lambda doc: {**doc, "stream": {**doc["stream"], "seconds": 0}}  # noqa: E731
    assert strip_time(json.loads(first.stdout)) == strip_time(json.loads(second.stdout))


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("loadercheck ")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["no_such_module_xyz:make"], "no_such_module_xyz"),
        (["examples/classic.py"], "has no ':'"),
        ([f"{CLASSIC}:no_such_factory"], "no_such_factory"),
        ([f"{CLASSIC}:sorted_loader", "--alpha", "2"], "alpha"),
        ([f"{CLASSIC}:sorted_loader", "--batches", "0"], "batches"),
        ([f"{CLASSIC}:sorted_loader", "--format", "xml"], "format"),
    ],
)
def test_usage_and_target_errors_exit_2(args, match):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert match in result.stderr


ERRORS = """
    import numpy as np

    def raises():
        raise RuntimeError("database is down")

    def not_iterable():
        return 42

    def empty():
        return []

    def no_label():  # nothing readable: no label, no array, no token sequence
        return [{"id": i, "caption": ["a"] * 4} for i in range(5)]

    def nan_labels():
        return [(np.zeros((4, 2)), np.array([0.0, np.nan, 1.0, 2.0])) for _ in range(5)]

    def mid_stream():
        def gen():
            for i in range(10):
                if i == 3:
                    raise ValueError("corrupt record 3")
                yield np.zeros((4, 2)), np.arange(4)
        return gen()

    def hangs():
        import time
        def gen():
            yield np.zeros((4, 2)), np.arange(4)
            yield np.zeros((4, 2)), np.arange(4)
            time.sleep(60)
            yield np.zeros((4, 2)), np.arange(4)
        return gen()

    def hangs_first():
        import time
        def gen():
            time.sleep(60)
            yield np.zeros((4, 2)), np.arange(4)
        return gen()
"""


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        ("raises", "database is down"),
        ("not_iterable", "int"),
        ("empty", "empty"),
        ("no_label", "--label"),
        ("nan_labels", "NaN"),
        ("mid_stream", "after 3 batches"),
    ],
)
def test_loader_errors_exit_2_with_a_clear_message(tmp_path, factory, match):
    module = write_module(tmp_path, ERRORS)
    result = invoke(f"{module}:{factory}")
    assert result.exit_code == 2, result.output
    assert match in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_json_on_an_error_is_one_document_carrying_the_error(tmp_path):
    module = write_module(tmp_path, ERRORS)
    result = invoke(f"{module}:nan_labels", "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["verdict"] is None and doc["target"] == f"{module}:nan_labels"
    assert "NaN" in doc["error"] and doc["error"] in result.stderr
    out = tmp_path / "report.json"
    assert invoke(f"{module}:nan_labels", "--format", "json", "-o", str(out)).exit_code == 2
    assert json.loads(out.read_text())["error"] == doc["error"]


def test_hanging_loader_reports_on_what_was_drawn(tmp_path):
    module = write_module(tmp_path, ERRORS)
    result = invoke(f"{module}:hangs", "--timeout", "1")
    assert result.exit_code == 0, result.output  # two identical all-distinct batches: nothing to fail
    assert "stopped after 1.0 s (--timeout) with 2 batches drawn" in result.stdout


def test_loader_hanging_before_the_first_batch_exits_2(tmp_path):
    module = write_module(tmp_path, ERRORS)
    result = invoke(f"{module}:hangs_first", "--timeout", "1")
    assert result.exit_code == 2
    assert "timeout" in result.stderr


def test_label_option_picks_the_labels(tmp_path):
    module = write_module(tmp_path, """
        import numpy as np
        def make():
            y = np.repeat(np.arange(4), 64)
            return [{"pixels": np.zeros((16, 2)), "meta": {"cls": y[i:i + 16]}} for i in range(0, 256, 16)]
    """)
    unlabeled = invoke(f"{module}:make")  # no label found: judged on its (constant) inputs, nothing to flag
    assert unlabeled.exit_code == 0 and "no label field was found" in unlabeled.stdout
    assert "SKIP    input-order        all" in unlabeled.stdout
    result = invoke(f"{module}:make", "--label", "meta.cls")
    assert result.exit_code == 1, result.output


def test_help_and_module_entry_point_do_not_import_torch():
    code = (
        "import sys, runpy; sys.argv = ['loadercheck', '--help']\n"
        "try:\n    runpy.run_module('loadercheck', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
        "assert 'scipy' not in sys.modules, 'scipy imported by --help'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "TARGET" in done.stdout


def test_import_loadercheck_does_not_import_torch():
    code = "import sys, loadercheck; loadercheck.Report; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_options_parse_to_what_the_check_is_given():
    from loadercheck.cli import _parser

    defaults = _parser().parse_args(["m:f"])
    assert (defaults.probe, defaults.from_sampler, defaults.stall, defaults.alpha, defaults.format) == (False, None, 300.0, 1e-3, "text")
    args = _parser().parse_args(["m:f", "--probe", "--no-from-sampler", "-o", "r.txt", "--device", "cpu",
                                 "--probe-seeds", "100", "--stall", "0", "--label", "-1", "--batch-size", "8"])
    assert (args.probe, args.from_sampler, args.output, args.device) == (True, False, Path("r.txt"), "cpu")
    assert (args.probe_seeds, args.stall, args.label, args.batch_size) == (100, 0.0, "-1", 8)
    assert _parser().parse_args(["m:f", "--no-probe", "--from-sampler"]).from_sampler is True


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--probe-seeds", "101"], "--probe-seeds: '101' is out of range: it must be between 1 and 100"),
        (["--batches", "1.5"], "--batches: '1.5' is not an integer"),
        (["--alpha", "nan"], "--alpha: 'nan' is out of range"),
        (["--timeout", "0"], "--timeout: '0' is out of range: it must be at least 0.001"),
        (["--batch", "3"], "unrecognized arguments: --batch"),  # no silent prefix matching
        (["--device", "tpu"], "--device: invalid choice: 'tpu'"),
    ],
)
def test_bad_options_exit_2_with_one_paragraph_naming_them(args, match):
    result = invoke(f"{CLASSIC}:sorted_loader", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert match in result.stderr and "Traceback" not in result.stderr
    assert "loadercheck --help" in result.stderr


def test_a_bare_command_shows_the_help_on_stderr_and_exits_2():
    result = invoke()
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: loadercheck TARGET [OPTIONS]")


def test_help_lists_every_option_the_cli_doc_documents():
    from loadercheck.cli import _parser

    table = (ROOT / "docs" / "cli.md").read_text().split("## Exit codes")[0]
    documented = set(re.findall(r"^\| `(--[a-z-]+)", table, re.M)) | set(re.findall(r" / (--[a-z-]+)`", table))
    assert len(documented) >= 18
    assert documented <= set(re.findall(r"--[a-z-]+", _parser().format_help()))


def test_what_is_typed_reaches_the_check_as_the_options_say(monkeypatch):
    from loadercheck import cli

    seen = {}

    def check(target, **options):
        seen.update(options, target=target)
        raise SystemExit(0)  # no report: ends as an error (exit 2), after the options were handed over

    monkeypatch.setattr(cli, "_check", check)
    assert invoke("m:f", "--label", "-1", "--stall", "0", "--no-from-sampler", "--device", "cpu").exit_code == 2
    assert seen["target"] == "m:f" and seen["label"] == -1 and seen["stall"] is None
    assert seen["from_sampler"] is False and seen["device"] == "cpu" and seen["probe"] is False
    invoke("m:f", "--label", "meta.cls", "--alpha", "0.01", "--batches", "7")
    assert (seen["label"], seen["alpha"], seen["batches"], seen["stall"], seen["from_sampler"]) == ("meta.cls", 0.01, 7, 300.0, None)


def test_a_usage_error_quotes_what_was_typed_with_escape_sequences_inert():
    result = invoke(f"{CLASSIC}:sorted_loader", "--bogus\x1b]0;pwned\x07", "--x\x1b[31m")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "--bogus\\x1b]0;pwned\\x07" in result.stderr and "--x\\x1b[31m" in result.stderr


@pytest.mark.parametrize("format_args", [["--format", "json"], ["--format=json"]])
def test_a_usage_error_under_format_json_still_writes_one_json_document(format_args):
    result = invoke("--batches", "3", *format_args, f"{CLASSIC}:sorted_loader", "--probe-seeds", "0")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["verdict"] is None and doc["target"] == f"{CLASSIC}:sorted_loader"
    assert "--probe-seeds" in doc["error"] and "--probe-seeds" in result.stderr
    assert invoke(f"{CLASSIC}:sorted_loader", "--format", "xml").stdout == ""  # json was not what it asked for

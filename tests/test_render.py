"""Renderers format a Report; they compute nothing and add no ANSI codes unless asked."""

import json

import numpy as np
import pytest

from loadercheck.options import Options
from loadercheck.render.json import render_json
from loadercheck.render.text import render_text
from loadercheck.report import build_report, label_strip
from loadercheck.results import CheckResult, Epoch, LabelKind, LoaderInfo, Status, Stream


def _stream(labels, batch_size=4, kind=LabelKind.CATEGORICAL):
    labels = np.asarray(labels)
    sizes = np.full(labels.size // batch_size, batch_size)
    classes = tuple(range(int(labels.max()) + 1)) if kind is LabelKind.CATEGORICAL else ()
    loader = LoaderInfo("DataLoader", batch_size=batch_size, sampler="SequentialSampler", shuffle=False)
    return Stream(epochs=(Epoch(labels, sizes),), kind=kind, classes=classes, loader=loader, notes=("a note",))


def _report(checks):
    stream = _stream(np.repeat(np.arange(3), 8))
    return build_report(stream, tuple(checks), Options().to_dict(), "pkg.mod:make")


FAIL = CheckResult("label-runs", Status.FAIL, "neighbours share a label 90% of the time", 12.0, 1e-12, 0.9,
                   hint="samples arrive in blocks; fix: pass DataLoader(..., shuffle=True)")
PASS = CheckResult("class-balance", Status.PASS, "3 classes seen", 1.0, None, 3.0)


def test_label_strip_one_cell_per_batch_shows_blocks():
    strip = label_strip(_stream(np.repeat(np.arange(3), 8)))
    assert strip == ((0, 100), (0, 100), (1, 100), (1, 100), (2, 100), (2, 100))


def test_label_strip_windows_when_many_batches():
    stream = _stream(np.tile(np.arange(4), 400), batch_size=4)  # 400 batches
    strip = label_strip(stream, cells=50)
    assert len(strip) == 50
    assert all(share == 25 for _, share in strip)


def test_text_report_plain_has_no_ansi_and_names_everything():
    text = render_text(_report([FAIL, PASS]), color=False)
    assert "\x1b[" not in text
    for needle in ("pkg.mod:make", "DataLoader(batch_size=4", "label-runs", "FAIL", "shuffle=True",
                   "verdict: FAIL", "note: a note", "001122"):
        assert needle in text, needle


def test_text_report_color_has_ansi():
    assert "\x1b[" in render_text(_report([FAIL, PASS]), color=True)


def test_verdict_follows_checks():
    assert _report([PASS]).verdict is Status.PASS and _report([PASS]).ok
    assert _report([FAIL, PASS]).verdict is Status.FAIL and not _report([FAIL, PASS]).ok


def test_json_has_the_stable_keys():
    doc = json.loads(render_json(_report([FAIL, PASS])))
    assert {"loadercheck_version", "verdict", "target", "config", "stream", "checks"} <= set(doc)
    assert {"samples", "batches", "epochs", "classes", "label_kind"} <= set(doc["stream"])
    assert doc["stream"]["label_kind"] == "categorical"
    for check in doc["checks"]:
        assert {"id", "status", "message", "statistic", "pvalue", "effect", "hint"} <= set(check)
    assert doc["checks"][0]["status"] == "fail" and doc["verdict"] == "fail"


def test_json_maps_non_finite_numbers_to_null():
    odd = CheckResult("label-runs", Status.PASS, "m", statistic=float("inf"), pvalue=float("nan"), effect=None)
    doc = json.loads(_report([odd]).to_json())
    assert doc["checks"][0]["statistic"] is None and doc["checks"][0]["pvalue"] is None


def test_report_lookup_by_id():
    report = _report([FAIL, PASS])
    assert report["label-runs"] is FAIL
    with pytest.raises(KeyError, match="no check 'probe'"):
        report["probe"]


def test_one_fix_line_when_several_checks_name_the_same_fix():
    annotated = CheckResult("window-drift", Status.FAIL, "the class mix changes", 5.0, 1e-9, 0.5,
                            hint="the class mix drifts; fix: pass DataLoader(..., shuffle=True) (mixes over 800)")
    config = CheckResult("loader-config", Status.WARN, "shuffle=False on a training loader",
                         hint="shuffling is disabled; fix: pass DataLoader(..., shuffle=True)")
    text = render_text(_report([annotated, config]), color=False)
    assert text.count("fix: ") == 1
    assert "fix: pass DataLoader(..., shuffle=True) (mixes over 800)" in text


def test_verdict_sentence_names_the_failing_checks_when_the_order_is_fine():
    dup = CheckResult("duplicates", Status.FAIL, "every input arrives 2 times", 2.0, 1e-9, 1.0,
                      hint="an IterableDataset read by every worker; fix: shard with get_worker_info()")
    text = render_text(_report([dup, PASS]), color=False)
    assert "defect that can hurt training: duplicates" in text and "not a shuffle" not in text
    assert "not a shuffle" in render_text(_report([FAIL, PASS]), color=False)


def test_a_p_value_left_unsettled_by_the_budget_says_so():
    from loadercheck.render.wording import evidence

    settled = CheckResult("batch-entropy", Status.PASS, "m", 1.0, 0.0012, 0.04, details={"mc_settled": 1.0})
    unsettled = CheckResult("batch-entropy", Status.PASS, "m", 1.0, 0.0012, 0.04, details={"mc_settled": 0.0})
    assert evidence(settled) == "p=0.0012, effect=0.04"
    assert evidence(unsettled) == "p=0.0012 unsettled, effect=0.04"
    assert evidence(CheckResult("label-runs", Status.PASS, "m", 1.0, 0.5, 0.0)) == "p=0.5, effect=0.00"


def test_a_partial_sort_shows_the_net_its_budget_cut_short():
    """4,096 labels, 5% partially sorted: window-drift's net spends the stream's budget certifying its
    level, and the nets of the checks after it stop unsettled; the text report must not print such a
    PASS as a plain p-value."""
    import loadercheck
    from loadercheck import synthetic as syn

    y = syn.partial_sort(4096, syn.uniform_shares(10), 0.05, np.random.default_rng([7, 0]))
    report = loadercheck.check([(np.zeros((32, 2), np.float32), y[i:i + 32]) for i in range(0, 4096, 32)])
    cut = [c for c in report.checks if (c.details or {}).get("mc_settled") == 0.0]
    assert report.verdict.value == "warn" and cut
    text = render_text(report, color=False, width=120)
    for check in cut:
        row = next(line for line in text.splitlines() if f" {check.id} " in line)
        assert "unsettled" in row, row

"""The HTML report: one self-contained document with inline figures; the sparkline; the band."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")

from cli_runner import invoke  # noqa: E402

from loadercheck.api import evaluate  # noqa: E402
from loadercheck.errors import LoaderCheckError  # noqa: E402
from loadercheck.options import Options  # noqa: E402
from loadercheck.render.html import render_html  # noqa: E402
from loadercheck.render.plots import batch_band  # noqa: E402
from loadercheck.render.sparkline import probe_summary, sparkline  # noqa: E402
from loadercheck.render.text import render_text  # noqa: E402
from loadercheck.results import CheckResult, Epoch, LabelKind, LoaderInfo, Status, Stream  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLASSIC = str(ROOT / "examples" / "classic.py")


def _stream(order: str, k: int = 5, per: int = 128, b: int = 16) -> Stream:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(k).repeat_interleave(per)
    x = torch.randn(k, 12, generator=g)[labels] + torch.randn(labels.numel(), 12, generator=g)
    if order == "shuffled":
        perm = torch.randperm(labels.numel(), generator=g)
        x, labels = x[perm], labels[perm]
    sizes = np.full(labels.numel() // b, b)
    inputs = [x[i:i + b] for i in range(0, labels.numel(), b)]
    return Stream((Epoch(labels.numpy().astype(np.int64), sizes),), LabelKind.CATEGORICAL, tuple(f"c{i}" for i in range(k)),
                  LoaderInfo("DataLoader", batch_size=b, shuffle=order == "shuffled"), inputs=inputs)


@pytest.fixture(scope="module")
def sorted_case():
    stream = _stream("sorted")
    report = evaluate(stream, Options(probe=True, probe_seeds=1), target="feeds.py:sorted")
    return report, stream


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="(data:image/png;base64,[A-Za-z0-9+/=]+)"', html)


def test_html_is_one_self_contained_document_with_inline_figures(sorted_case):
    report, stream = sorted_case
    html = render_html(report, stream)
    assert html.startswith("<!DOCTYPE html>") and html.count("<html") == 1 and html.rstrip().endswith("</html>")
    assert len(_images(html)) == 3  # label strip, batch composition vs band, probe curves
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "url(" not in html and "<script" not in html and "<link" not in html and "@import" not in html
    assert report.verdict is Status.FAIL
    assert ">FAIL<" in html and "verdict: <b>fail</b>" in html
    for check in report.checks:
        assert check.id in html
    assert "Probe training" in html and "feed order costs" in html


def test_html_without_the_stream_draws_the_strip_from_the_report(sorted_case):
    report, _ = sorted_case
    html = render_html(report)
    assert len(_images(html)) == 2  # strip cells + probe curves; no per-batch plot without the stream
    assert "was not passed to the renderer" in html


def test_html_escapes_user_text():
    stream = _stream("shuffled")
    report = evaluate(stream, Options(), target="<script>alert(1)</script>")
    html = render_html(report, stream)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_continuous_stream_renders():
    rng = np.random.default_rng(0)
    y = np.sort(rng.normal(size=640))
    stream = Stream((Epoch(y, np.full(40, 16)),), LabelKind.CONTINUOUS, (), LoaderInfo("gen"))
    report = evaluate(stream, Options(), target="t")
    assert len(_images(render_html(report, stream))) == 2


def _hide_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_missing_matplotlib_says_what_to_install(sorted_case, monkeypatch):
    report, stream = sorted_case
    _hide_matplotlib(monkeypatch)
    with pytest.raises(LoaderCheckError, match=re.escape("pip install matplotlib")):
        render_html(report, stream)


def test_cli_html_writes_the_file(tmp_path):
    out = tmp_path / "report.html"
    result = invoke(f"{CLASSIC}:sorted_loader", "--batches", "40", "--html", str(out))
    assert result.exit_code == 1, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert "HTML report written" in result.stderr


def test_cli_html_without_matplotlib_exits_2_before_drawing(tmp_path, monkeypatch):
    _hide_matplotlib(monkeypatch)
    out = tmp_path / "report.html"
    result = invoke(f"{CLASSIC}:sorted_loader", "--html", str(out))
    assert result.exit_code == 2
    assert "pip install matplotlib" in result.stderr and not out.exists()


def test_batch_band_holds_a_shuffled_feed_and_not_a_sorted_one():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 10, size=3200)
    sizes = np.full(100, 32)
    band = batch_band(codes, sizes, permutations=200, seed=1)
    inside = (band.entropy >= band.entropy_band[0]) & (band.entropy <= band.entropy_band[2])
    assert inside.mean() > 0.95
    assert band.classes.max() <= 10 and band.classes_band.shape == (3, 100)
    sorted_band = batch_band(np.sort(codes), sizes, permutations=200, seed=1)
    assert (sorted_band.entropy < sorted_band.entropy_band[0]).mean() > 0.8
    again = batch_band(codes, sizes, permutations=200, seed=1)
    assert np.array_equal(again.entropy_band, band.entropy_band)


def test_sparkline_and_probe_summary_line():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
    assert sparkline([1, 1], lo=0, hi=1) == "\u2588\u2588"
    assert sparkline([float("nan"), 0.0, 1.0]) == " \u2581\u2588"
    result = CheckResult("probe", Status.FAIL, "m", effect=2.0, details={
        "curve_feed": [2.3, 2.5, 2.4], "curve_shuffled": [2.3, 1.0, 0.1], "steps": 100})
    line = probe_summary(result)
    assert line.startswith("probe: held-out loss, 100 steps") and "feed \u2587\u2588\u2588" in line
    assert "shuffled \u2587\u2584\u2581" in line
    assert probe_summary(CheckResult("probe", Status.SKIP, "no inputs")) is None


def test_text_report_shows_the_probe_sparkline(sorted_case):
    report, _ = sorted_case
    text = render_text(report, color=False)
    assert "probe: held-out loss" in text and "shuffled " in text

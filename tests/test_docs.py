"""Every stable check id is documented, and the README's commands name real files."""

import re
from pathlib import Path

import pytest

from loadercheck.checks import CHECK_IDS

ROOT = Path(__file__).resolve().parents[1]


def test_every_check_id_has_a_section_in_docs_checks():
    text = (ROOT / "docs" / "checks.md").read_text()
    headings = set()
    for line in text.splitlines():
        if line.startswith("## "):
            headings.update(part.strip() for part in line[3:].split(","))
    missing = [check_id for check_id in CHECK_IDS if check_id not in headings]
    assert not missing, f"docs/checks.md lacks a section for {missing}"


def test_readme_commands_point_at_existing_examples():
    readme = (ROOT / "README.md").read_text()
    targets = set(re.findall(r"loadercheck (examples/[\w/]+\.py):(\w+)", readme))
    assert targets, "the README should run an example"
    for path, attr in targets:
        source = (ROOT / path).read_text()
        assert f"def {attr}(" in source, f"{path} has no {attr}()"


def test_readme_installs_the_cpu_torch_first():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("pip install torch==2.13.0 && pip install -e") == 2
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text()


README_RUNS = re.compile(r"^loadercheck (examples/[\w/]+\.py:\w+)\s+# exit (\d)(?:: (.*))?$", re.M)


def _readme_runs():
    return README_RUNS.findall((ROOT / "README.md").read_text())


def test_the_readme_documents_runs_with_their_exit_codes():
    assert len(_readme_runs()) >= 4


@pytest.mark.parametrize(("target", "code", "failing"), _readme_runs())
def test_readme_example_runs_exit_as_documented(target, code, failing):
    """Each `loadercheck examples/...  # exit N: ids fail` line of the README, run as written."""
    from cli_runner import invoke

    module, factory = target.split(":")
    result = invoke(f"{ROOT / module}:{factory}")
    assert result.exit_code == int(code), result.output
    for check_id in re.findall(r"[a-z]+(?:-[a-z]+)+", failing or ""):
        assert re.search(rf"^FAIL +{check_id} ", result.stdout, re.M), f"{check_id} should fail:\n{result.stdout}"
    if int(code) == 0:
        assert "verdict: PASS" in result.stdout, result.stdout

"""CLI target resolution: ``pkg.module:factory`` and ``path/to/file.py:factory``."""

from __future__ import annotations

import sys
import textwrap

import pytest

from loadercheck._target import load_target
from loadercheck.errors import TargetError

FACTORIES = '''
import helper_module

LOADER = [(1, 0), (2, 1)]
NOT_A_LOADER = 42


def make_loader():
    return helper_module.BATCHES


def needs_args(path, batch_size=32):
    return []


def broken():
    raise RuntimeError("dataset folder /data/x is missing")


def forgot_return():
    [(1, 0)]


class Config:
    @staticmethod
    def loader():
        return [(3, 1)]


class LoaderClass:
    def __iter__(self):
        return iter([(4, 2)])
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with ``train.py`` (factories) beside ``helper_module.py``; sys state restored."""
    (tmp_path / "train.py").write_text(textwrap.dedent(FACTORIES))
    (tmp_path / "helper_module.py").write_text("BATCHES = [('x', 5)]\n")
    (tmp_path / "bad_import.py").write_text("import not_installed_anywhere_xyz\n")
    (tmp_path / "bad_syntax.py").write_text("def f(:\n")
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text("def loader():\n    return [(0, 9)]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_file_target_calls_factory_and_sibling_imports_work(project):
    assert load_target("train.py:make_loader") == [("x", 5)]
    assert load_target(str(project / "train.py") + ":make_loader") == [("x", 5)]


def test_iterable_attribute_is_used_as_is(project):
    assert load_target("train.py:LOADER") == [(1, 0), (2, 1)]


def test_dotted_attribute_and_class_factory(project):
    assert load_target("train.py:Config.loader") == [(3, 1)]
    assert list(load_target("train.py:LoaderClass")) == [(4, 2)]


def test_module_target_from_current_directory(project, monkeypatch):
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(project))])
    assert load_target("mypkg.data:loader") == [(0, 9)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("train.py", r"'train.py' has no ':'.*pkg.module:factory"),
        ("train.py:", "is not a valid target"),
        ("train.py:make-loader", "is not a valid target"),
        ("missing.py:loader", r"target file 'missing.py' does not exist"),
        ("mypkg/:loader", "is a folder, not a file"),
        ("no_such_pkg_xyz.mod:loader", r"cannot import module 'no_such_pkg_xyz.mod'.*no module named 'no_such_pkg_xyz'"),
        ("bad_import.py:x", r"importing 'bad_import.py'.*raised ModuleNotFoundError: No module named 'not_installed_anywhere_xyz'"),
        ("bad_syntax.py:x", "raised SyntaxError"),
        ("train.py:make_loadr", r"'train.py' has no attribute 'make_loadr'.*Did you mean 'make_loader'.*It defines: .*LOADER"),
        ("train.py:Config.nope", r"'train.py:Config' has no attribute 'nope'"),
        ("train.py:NOT_A_LOADER", "is a int, neither a loader"),
        ("train.py:needs_args", r"needs arguments \(path\).*zero-argument"),
        ("train.py:forgot_return", "returned None"),
    ],
)
def test_target_errors(project, spec, message):
    with pytest.raises(TargetError, match=message):
        load_target(spec)


def test_module_importing_a_missing_dependency(project):
    (project / "mypkg" / "broken.py").write_text("import not_installed_anywhere_xyz\n")
    with pytest.raises(TargetError, match=r"importing module 'mypkg.broken'.*failed: ModuleNotFoundError"):
        load_target("mypkg.broken:x")


def test_module_raising_on_import(project):
    (project / "mypkg" / "loud.py").write_text("raise ValueError('no GPU visible')\n")
    with pytest.raises(TargetError, match=r"importing module 'mypkg.loud'.*raised ValueError: no GPU visible"):
        load_target("mypkg.loud:x")
    (project / "notes.txt").write_text("x = 1\n")
    with pytest.raises(TargetError, match=r"cannot import './notes.txt' as a Python module"):
        load_target("./notes.txt:x")


def test_factory_raising_is_chained(project):
    with pytest.raises(TargetError, match=r"factory 'train.py:broken' raised RuntimeError: dataset folder /data/x is missing") as info:
        load_target("train.py:broken")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_same_stem_as_loaded_module_gets_its_own_name(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("other") / "train.py"
    other.write_text("def loader():\n    return ['other']\n")
    assert load_target("train.py:LOADER") == [(1, 0), (2, 1)]
    assert load_target(f"{other}:loader") == ["other"]

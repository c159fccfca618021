"""The package's layers (docs/architecture.md): no module imports upward, and no import circle.

Every import counts, module-level or deferred inside a function, except those under
``if TYPE_CHECKING:`` (annotations only, never executed). ``from . import x`` of a submodule counts as
importing that submodule; importing the package ``loadercheck`` itself counts as importing its
``__init__`` (the public facade, on the top layer).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "loadercheck"

LAYERS: tuple[tuple[str, ...], ...] = (
    # 0 foundation: plain types and constants
    ("loadercheck._version", "loadercheck.errors", "loadercheck.ids", "loadercheck.options", "loadercheck.results",
     "loadercheck.sequential", "loadercheck.rng", "loadercheck.synthetic", "loadercheck._target"),
    # 1 pure statistics: numpy in, typed results out
    ("loadercheck.stats",),
    # 2 reading one batch: labels, structured targets, sketches, fingerprints
    ("loadercheck.labels", "loadercheck.targets", "loadercheck.sketch", "loadercheck.fingerprints"),
    # 3 one adapter per data library
    ("loadercheck.adapters",),
    # 4 recording, reading orders, drawing
    ("loadercheck.recording", "loadercheck.epoch_index", "loadercheck.distributed", "loadercheck.drawing"),
    # 5 decisions
    ("loadercheck.forensics", "loadercheck.checks", "loadercheck.probe"),
    # 6 renderers: a Report in, a string out
    ("loadercheck.render",),
    # 7 the Report and the public API
    ("loadercheck.report", "loadercheck.api"),
    # 8 the ways users meet it
    ("loadercheck.watch", "loadercheck.integrations", "loadercheck.pytest_plugin", "loadercheck.cli",
     "loadercheck.__main__", "loadercheck"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def imports_of(path: Path) -> set[str]:
    """The loadercheck modules ``path`` imports at run time."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("loadercheck"):
                continue
            for alias in node.names:
                sub = PACKAGE.parent / Path(*target.split("."), alias.name)
                found.add(f"{target}.{alias.name}" if sub.with_suffix(".py").exists() or sub.is_dir() else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("loadercheck"))
    found.discard(name)
    return found


def layer_of(module: str) -> int:
    best, depth = None, -1
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            inside = module == prefix or (prefix != "loadercheck" and module.startswith(prefix + "."))
            if inside and len(prefix) > depth:
                best, depth = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS here and to docs/architecture.md")
    return best


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer():
    for module in graph():
        layer_of(module)
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("loadercheck.brand_new_module")  # the package facade's entry covers only itself


def test_no_module_imports_upward():
    upward = [f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
              for m, deps in graph().items() for d in sorted(deps) if layer_of(d) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_renderers_import_results_only():
    allowed = ("loadercheck.render", "loadercheck.results", "loadercheck.ids", "loadercheck.errors", "loadercheck._version")
    wrong = [f"{m} imports {d}" for m, deps in graph().items() if m.startswith("loadercheck.render")
             for d in deps if not any(d == a or d.startswith(a + ".") for a in allowed)]
    assert not wrong, "\n".join(wrong)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circle():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("edges, circular", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"a2"}, "a2": set(), "b": {"b"}}, True),
])
def test_the_cycle_finder_finds_cycles(edges, circular):
    assert (find_cycle(edges) is not None) is circular


def test_the_walk_sees_deferred_imports_and_skips_type_checking(tmp_path, monkeypatch):
    pkg = tmp_path / "loadercheck"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import X\n"
        "def f():\n    from . import high\n    from .ids import A\n")
    (pkg / "high.py").write_text("")
    (pkg / "ids.py").write_text("")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    assert imports_of(pkg / "low.py") == {"loadercheck.high", "loadercheck.ids"}

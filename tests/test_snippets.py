"""Every fenced block of README.md and docs/*.md is run, compared with what the tool prints, or excused.

A doc that no test runs drifts. Each block is classified by the first rule that applies:

1. A marker: an HTML comment on the line before the opening fence (blank lines between are allowed).

   ``<!-- snippet: skip (REASON) -->``
       Not run. The reason is required; ``pytest -rs`` lists it.
   ``<!-- snippet: python prelude=NAME -->``
       A python block, run after the prelude NAME (``PRELUDES`` below): the names it assumes
       (``train_loader``, ``model`` ...) made real from examples/.
   ``<!-- snippet: pytest-file [prelude=NAME] [outcome=passed|failed] -->``
       A test file to copy: written (after the prelude) to a temporary folder and run by
       ``python -m pytest`` there; it must end as named (default ``passed``).
   ``<!-- snippet: pytest-output -->``
       What pytest prints for the nearest ``pytest-file`` block above it: matched as a window of
       that run's output (see *Matching*).
   ``<!-- snippet: install -->``
       Install and test commands, which need a fresh virtual environment: ``.ci/run`` is their test.
       Every venv / activate / ``pip install`` / ``python -m pytest`` step must be one that ``.ci/run``
       runs (a ``pip install`` is covered when ``.ci/run`` installs at least the same requirements,
       extras resolved through pyproject.toml); ``loadercheck`` steps are run and must reach a
       verdict (exit 0 or 1).
   ``<!-- snippet: json-keys $ COMMAND -->``
       A sketch of a JSON document: at every level it draws, its keys must be exactly those of the
       document COMMAND prints; ``{...}`` stands for any object, ``, ...}`` for more keys, ``, ...]``
       for more elements like the first.
   ``<!-- snippet: layout -->``
       A directory listing: every folder and ``.py`` file it names exists.

2. A ``bash`` (``sh``, ``shell``, ``console``) block: every line is a command starting with
   ``loadercheck`` or ``python``, a comment or blank. Commands run as ``sys.executable -m loadercheck
   ARGS`` / ``sys.executable ARGS``. ``exit N`` in the line's comment is the exit status expected
   (``# exit 1: it fails``; default 0); when the comment also says "fail", every check id it names
   must have a ``FAIL`` row.
3. A ``python`` block: exec'd in a fresh namespace. An expression statement followed by
   ``# -> VALUE`` (at the end of its last line, or alone on the next line) must have a ``repr()``
   equal to VALUE, where ``...`` in VALUE stands for any text.
4. A ``text`` block whose first line is ``$ COMMAND``: a transcript. Each ``$ loadercheck ...`` /
   ``$ python ...`` is run and its output (stdout and stderr, as a terminal shows them) must match
   the lines up to the next ``$`` line; ``$ echo $?`` and the line after it give the exit status of
   the command before.
5. Anything else fails: mark it. So does an indented (4-space) code block: fence it.

*Matching* output: trailing spaces are dropped (rich pads its table), durations (``0.4 s``) are
normalised, a line that is exactly ``...`` stands for any run of lines (none included), and every
other line must be equal. Reports are deterministic for a seed: p-values are compared as printed.
Output is the CLI's plain text, wrapped at 100 columns (stdout is not a terminal).

Commands run from a mirror of the repository root (a temporary folder whose entries link to the
repository's, minus the package, which comes from the installation), so that the files they write
(``report.json``, ``report.html``) land there. ``tests/snippets`` is on ``PYTHONPATH`` (it holds the
docs' ``myproject``). Each distinct command runs once per session, in parallel (one per CPU).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tokenize
import tomllib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = ROOT / "tests" / "snippets"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 600

PRELUDES = {
    # README: check() on the label-sorted loader; pytest snippets and probe: the names they assume.
    "classic-sorted": """
        import loadercheck
        from examples.classic import sorted_loader as make_train_loader
        train_loader = make_train_loader()
    """,
    "classic-shuffled": """
        import loadercheck
        from examples.classic import shuffled_loader as make_train_loader
        train_loader = make_train_loader()
    """,
    # a training loop: the loader, the epochs, a model and a step that trains nothing
    "training-loop": """
        import loadercheck
        from examples.classic import shuffled_loader
        train_loader = shuffled_loader()
        epochs = 2
        model = None
        def step(model, x, y):
            return 0.0
    """,
    # Lightning: a tiny LightningModule and a small shuffled loader (as tests/test_lightning.py)
    "lightning": """
        import torch
        import lightning.pytorch as L
        from torch.utils.data import DataLoader, TensorDataset

        class Tiny(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.net = torch.nn.Linear(4, 10)
            def training_step(self, batch, batch_idx):
                x, y = batch
                return torch.nn.functional.cross_entropy(self.net(x), y)
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        model = Tiny()
        x = torch.randn(320, 4, generator=torch.Generator().manual_seed(0))
        y = (torch.arange(320) % 10).sort().values
        train_loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))
    """,
    # Hugging Face: a tiny BERT built from a config (no download), fixed-length samples, CPU args
    "hf": """
        import torch
        import transformers
        config = transformers.BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=16, max_position_embeddings=32, num_labels=4)
        model = transformers.BertForSequenceClassification(config)
        g = torch.Generator().manual_seed(0)
        train_ds = [{"input_ids": torch.randint(1, 30, (8,), generator=g), "labels": i // 32} for i in range(128)]
        args = transformers.TrainingArguments(output_dir="hf-output", per_device_train_batch_size=16, num_train_epochs=2,
                                              report_to=[], use_cpu=True, save_strategy="no", logging_strategy="no",
                                              disable_tqdm=True, seed=0)
    """,
}
PRELUDE_NEEDS = {"lightning": "lightning.pytorch", "hf": "transformers"}

SHELL_LANGS = {"bash", "sh", "shell", "console"}
MARKER = re.compile(r"^<!--\s*snippet:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```([\w-]*)\s*$")
EXIT = re.compile(r"\bexit (\d+)\b")
DURATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)? s\b")
CHECK_ID = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")


# --- the blocks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    marker: str | None  # the text after "snippet:", or None

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str:
        if self.marker is not None:
            return self.marker.split()[0]
        if self.lang in SHELL_LANGS:
            return "shell"
        if self.lang == "python":
            return "python"
        if self.lang == "text" and self.body.startswith("$ "):
            return "transcript"
        return "unmarked"

    def option(self, name: str, default: str | None = None) -> str | None:
        match = re.search(rf"\b{name}=(\S+)", self.marker or "")
        return match.group(1) if match else default


def parse_blocks(doc: Path) -> list[Block]:
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
        assert end is not None, f"{doc.relative_to(ROOT)}:{i + 1}: a fence that never closes"
        before = i - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = MARKER.match(lines[before]) if before >= 0 else None
        body = "\n".join(lines[i + 1:end]) + "\n"
        blocks.append(Block(doc, i + 1, match.group(1), body, marker.group(1) if marker else None))
        i = end + 1
    return blocks


def indented_code(doc: Path) -> list[int]:
    """Lines opening an indented code block (which no fence marks, so no runner would see)."""
    found, in_fence, last_text = [], False, ""
    lines = doc.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        after_blank = n > 0 and not lines[n - 1].strip()
        in_list = re.match(r"^\s*([-*+]|\d+\.)\s", last_text) or last_text.startswith("  ")
        if re.match(r"^ {4,}\S", line) and after_blank and not in_list:
            found.append(n + 1)
        if line.strip():
            last_text = line
    return found


BLOCKS = [block for doc in DOCS for block in parse_blocks(doc)]


# --- commands: run once each, in parallel -------------------------------------------------------


@dataclass
class Result:
    code: int
    output: str  # stdout and stderr interleaved, as a terminal shows them


def command_argv(words: list[str]) -> list[str]:
    """`loadercheck ARGS` / `python ARGS` as this interpreter runs them."""
    if words[0] == "loadercheck":
        return [sys.executable, "-m", "loadercheck", *words[1:]]
    if words[0] in ("python", "python3"):
        return [sys.executable, *words[1:]]
    raise ValueError(f"not a loadercheck or python command: {' '.join(words)}")


def split_comment(line: str) -> tuple[str, str]:
    code, _, comment = line.partition(" #")
    return code.strip(), comment.strip()


def shell_commands(block: Block) -> list[tuple[list[str], str]]:
    """(words, comment) of each command line of a shell block."""
    commands = []
    for line in block.body.splitlines():
        code, comment = split_comment(line)
        if code and not code.startswith("#"):
            commands.append((shlex.split(code), comment))
    return commands


def transcript_steps(block: Block) -> list[tuple[list[str], list[str], str | None]]:
    """(words, expected output lines, expected exit status or None) per `$ command` of a transcript."""
    steps: list[tuple[list[str], list[str], str | None]] = []
    lines = block.body.splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), f"{block.where}: expected a `$ command` line, got {lines[i]!r}"
        words = shlex.split(lines[i][2:])
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i])
            i += 1
        if words == ["echo", "$?"]:
            assert steps, f"{block.where}: `$ echo $?` before any command"
            assert len(expected) == 1, f"{block.where}: `$ echo $?` shows one line"
            steps[-1] = (steps[-1][0], steps[-1][1], expected[0].strip())
        else:
            steps.append((words, expected, None))
    return steps


def pytest_file(block: Block, folder: Path) -> tuple[list[str], Path]:
    """Write a pytest-file block (after its prelude) to a folder of its own; the pytest command and that folder."""
    prelude = textwrap.dedent(PRELUDES[block.option("prelude")]) if block.option("prelude") else ""
    source = prelude + "\n" + block.body
    here = folder / ("snippet_" + hashlib.sha1(source.encode()).hexdigest()[:10])
    if not here.exists():
        here.mkdir()
        (here / "test_data.py").write_text(source, encoding="utf-8")
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_data.py"], here


def commands_of(block: Block, runner: "Runner") -> list[tuple[list[str], Path | None]]:
    """(argv, working folder or None for the repository mirror) of each command a block runs."""
    kind = block.kind
    if kind == "shell":
        return [(command_argv(words), None) for words, _ in shell_commands(block)]
    if kind == "transcript":
        return [(command_argv(words), None) for words, _, _ in transcript_steps(block)]
    if kind == "json-keys":
        return [(command_argv(shlex.split(block.marker.split("$", 1)[1])), None)]
    if kind == "install":
        return [(command_argv(words), None) for words in install_steps(block) if words[0] == "loadercheck"]
    if kind == "pytest-file":
        return [pytest_file(block, runner.files)]
    return []


@dataclass
class Runner:
    mirror: Path
    files: Path
    pool: ThreadPoolExecutor
    futures: dict[tuple, Future] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8")
        env.pop("FORCE_COLOR", None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SNIPPETS), str(self.mirror), env.get("PYTHONPATH")]))
        return env

    def _run(self, argv: list[str], cwd: Path | None) -> Result:
        proc = subprocess.run(argv, cwd=cwd or self.mirror, env=self.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, encoding="utf-8", timeout=TIMEOUT)
        return Result(proc.returncode, proc.stdout)

    def submit(self, argv: list[str], cwd: Path | None = None) -> Future:
        key = (tuple(argv), cwd)
        if key not in self.futures:
            self.futures[key] = self.pool.submit(self._run, argv, cwd)
        return self.futures[key]

    def __call__(self, argv: list[str], cwd: Path | None = None) -> Result:
        return self.submit(argv, cwd).result()


def make_mirror(folder: Path) -> Path:
    for entry in ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name not in ("loadercheck", "loadercheck.egg-info"):
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.fixture(scope="session")
def run(request, tmp_path_factory):
    """Runs a command (argv) once per session; the selected tests' commands start at once, in parallel."""
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    runner = Runner(make_mirror(tmp_path_factory.mktemp("repo")), tmp_path_factory.mktemp("pytest-files"), pool)
    for item in request.session.items:
        block = getattr(item, "callspec", None) and item.callspec.params.get("block")
        if isinstance(block, Block):
            for argv, cwd in commands_of(block, runner):
                runner.submit(argv, cwd)
    yield runner
    pool.shutdown(cancel_futures=True)


# --- matching ---------------------------------------------------------------------------------


def normalise(text: str | list[str]) -> list[str]:
    lines = text.splitlines() if isinstance(text, str) else list(text)
    lines = [DURATION.sub("<t> s", line.rstrip()) for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def lines_match(pattern: list[str], actual: list[str]) -> bool:
    """`...` lines of `pattern` stand for any run of lines of `actual`; the other lines must be equal."""
    reachable = {0}  # positions in `actual` the pattern so far can end at
    for line in pattern:
        if line == "...":
            reachable = set(range(min(reachable), len(actual) + 1)) if reachable else set()
        else:
            reachable = {i + 1 for i in reachable if i < len(actual) and actual[i] == line}
    return len(actual) in reachable


def assert_output(expected: list[str], actual: str, what: str, *, window: bool = False) -> None:
    pattern, got = normalise(expected), normalise(actual)
    if window:
        pattern = ["...", *pattern, "..."]
    if not lines_match(pattern, got):
        import difflib

        diff = "\n".join(difflib.unified_diff(pattern, got, "the doc", "the tool now", lineterm=""))
        pytest.fail(f"{what}: the output differs from the doc\n{diff}", pytrace=False)


def value_matches(expected: str, value: object) -> bool:
    parts = [re.escape(part) for part in expected.split("...")]
    return re.fullmatch(".*".join(parts), repr(value), re.S) is not None


# --- the runners ------------------------------------------------------------------------------


def run_shell(block: Block, run: Runner) -> None:
    commands = shell_commands(block)
    assert commands, f"{block.where}: a shell block without commands"
    for words, comment in commands:
        assert words[0] in ("loadercheck", "python", "python3"), (
            f"{block.where}: `{' '.join(words)}` cannot run here; mark the block (<!-- snippet: ... -->)")
        result = run(command_argv(words))
        expected = EXIT.search(comment)
        code = int(expected.group(1)) if expected else 0
        assert result.code == code, f"{block.where}: `{' '.join(words)}` exited {result.code}, the doc says {code}:\n{result.output}"
        if expected and "fail" in comment[expected.end():]:
            for check_id in CHECK_ID.findall(comment[expected.end():]):
                assert re.search(rf"^FAIL +{check_id} ", result.output, re.M), (
                    f"{block.where}: `{' '.join(words)}`: the doc says {check_id} fails:\n{result.output}")


def run_transcript(block: Block, run: Runner) -> None:
    for words, expected, code in transcript_steps(block):
        result = run(command_argv(words))
        where = f"{block.where}: `$ {' '.join(words)}`"
        assert_output(expected, result.output, where)
        if code is not None:
            assert str(result.code) == code, f"{where} exited {result.code}, the doc says {code}"


def expected_values(source: str) -> dict[int, str]:
    """Line of the statement -> VALUE of each `# -> VALUE` comment (one alone on a line is the line above's)."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.string.startswith("# ->"):
            alone = token.line.lstrip().startswith("#")
            found[token.start[0] - alone] = token.string[4:].strip()
    return found


def exec_python(source: str, namespace: dict, filename: str, first_line: int) -> None:
    """Run `source` statement by statement, checking each `# -> VALUE` against the statement's value."""
    tree = ast.parse(source, filename)
    ast.increment_lineno(tree, first_line - 1)
    expected = {line + first_line - 1: value for line, value in expected_values(source).items()}
    for statement in tree.body:
        value = expected.get(statement.end_lineno)
        if isinstance(statement, ast.Expr) and value is not None:
            result = eval(compile(ast.Expression(statement.value), filename, "eval"), namespace)
            assert value_matches(value, result), (
                f"{filename}:{statement.lineno}: {ast.unparse(statement)!r} is {result!r}, the doc says {value}")
        else:
            assert value is None, f"{filename}:{statement.lineno}: `# -> {value}` follows a statement that has no value"
            exec(compile(ast.Module([statement], []), filename, "exec"), namespace)


def run_python(block: Block, monkeypatch, run: Runner) -> None:
    prelude = block.option("prelude")
    if prelude in PRELUDE_NEEDS:
        pytest.importorskip(PRELUDE_NEEDS[prelude])
    monkeypatch.chdir(run.mirror)
    monkeypatch.syspath_prepend(str(run.mirror))
    monkeypatch.syspath_prepend(str(SNIPPETS))
    namespace = {"__name__": "__snippet__"}
    if prelude:
        exec(compile(textwrap.dedent(PRELUDES[prelude]), f"<prelude {prelude}>", "exec"), namespace)
    exec_python(block.body, namespace, str(block.doc.relative_to(ROOT)), block.line + 1)


def run_pytest_file(block: Block, run: Runner) -> Result:
    result = run(*pytest_file(block, run.files))
    outcome = block.option("outcome", "passed")
    code = {"passed": 0, "failed": 1}[outcome]
    assert result.code == code, f"{block.where}: pytest exited {result.code}, the doc expects the test to have {outcome}:\n{result.output}"
    return result


def run_pytest_output(block: Block, run: Runner) -> None:
    source = [b for b in BLOCKS if b.doc == block.doc and b.line < block.line and b.kind == "pytest-file"]
    assert source, f"{block.where}: no pytest-file block above this pytest-output block"
    result = run_pytest_file(source[-1], run)
    assert_output(block.body.splitlines(), result.output, f"{block.where}: pytest on {source[-1].where}", window=True)


# install: the steps a fresh virtual environment needs, which .ci/run runs

def install_steps(block: Block) -> list[list[str]]:
    steps = []
    for line in block.body.splitlines():
        code, _ = split_comment(line)
        for step in re.split(r"\s*(?:&&|;|\{|\})\s*", code):
            if step.strip():
                steps.append(shlex.split(step))
    return steps


def _requirements(args: list[str]) -> dict[tuple[str, bool], set[str]]:
    """pip install arguments -> {(name or path with version pin, editable): resolved requirement strings}."""
    extras_table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    found, editable = {}, False
    for arg in args:
        if arg in ("-q", "--quiet"):
            continue
        if arg == "-e":
            editable = True
            continue
        name, _, extras = arg.partition("[")
        resolved = {arg if not extras else name}
        for extra in filter(None, (extra.strip() for extra in extras.rstrip("]").split(","))):
            assert extra in extras_table, f"pyproject.toml has no extra [{extra}] (`pip install {' '.join(args)}`)"
            resolved |= set(extras_table[extra])
        found[(name, editable)] = resolved
        editable = False
    return found


def ci_steps() -> list[list[str]]:
    steps = []
    for line in (ROOT / ".ci" / "run").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words = shlex.split(line)
            steps.append(["pip", *words[3:]] if words[:3] == ["python", "-m", "pip"] else words)
    return steps


def run_install(block: Block, run: Runner) -> None:
    ci = ci_steps()
    for words in install_steps(block):
        step = " ".join(words)
        if words[:3] == ["python3", "-m", "venv"]:
            assert any(c[:3] == words[:3] for c in ci), f"{block.where}: .ci/run creates no venv (`{step}`)"
        elif words[0] == "." and words[1].endswith("/bin/activate"):
            assert any(c[0] == "." and c[1].endswith("/bin/activate") for c in ci), f"{block.where}: .ci/run activates no venv"
        elif words[:2] == ["pip", "install"]:
            wanted = _requirements(words[2:])
            installs = [_requirements(c[2:]) for c in ci if c[:2] == ["pip", "install"]]
            assert any(all(key in got and wanted[key] <= got[key] for key in wanted) for got in installs), (
                f"{block.where}: .ci/run does not install (at least) what `{step}` installs")
        elif words[:3] == ["python", "-m", "pytest"]:
            assert words in ci, f"{block.where}: .ci/run does not run `{step}`"
        elif words[0] == "loadercheck":
            result = run(command_argv(words))
            assert result.code in (0, 1), f"{block.where}: `{step}` reached no verdict (exit {result.code}):\n{result.output}"
        else:
            pytest.fail(f"{block.where}: `{step}` is neither an install step .ci/run runs nor a loadercheck command")


# json-keys: the document sketch against the real document

def parse_sketch(text: str) -> object:
    """The docs' JSON sketch as JSON.

    `{...}`: any object (-> {}); `[...]`: any list; `, ...}`: more keys follow (-> an "..." key); `, ...]`: more
    elements like the first (dropped); a `...` value or a bare type (`int|null`) -> null.
    """
    out = []
    for n, part in enumerate(re.split(r'("(?:[^"\\]|\\.)*")', text)):
        if n % 2 == 0:  # outside strings
            part = re.sub(r"\{\s*\.\.\.\s*\}", "{}", part)
            part = re.sub(r"\[\s*\.\.\.\s*\]", "[]", part)
            part = re.sub(r",\s*\.\.\.\s*\}", ', "...": null}', part)
            part = re.sub(r",\s*\.\.\.\s*\]", "]", part)
            part = re.sub(r":\s*\.\.\.", ": null", part)
            part = re.sub(r"\b(?!true\b|false\b|null\b)[A-Za-z_][\w|]*", "null", part)
        out.append(part)
    return json.loads("".join(out))


def compare_keys(sketch: object, actual: object, path: str, problems: list[str]) -> None:
    if isinstance(sketch, dict):
        if not isinstance(actual, dict):
            problems.append(f"{path}: the doc draws an object, the tool gives {type(actual).__name__}")
            return
        if not sketch:  # {...}: free-form
            return
        keys, more = set(sketch) - {"..."}, "..." in sketch
        if not (keys <= set(actual) if more else keys == set(actual)):
            problems.append(f"{path}: the doc lists {sorted(keys)}{' and more' if more else ''}, "
                            f"the tool gives {sorted(actual)}")
        for key in keys & set(actual):
            compare_keys(sketch[key], actual[key], f"{path}.{key}", problems)
    elif isinstance(sketch, list) and sketch and isinstance(sketch[0], dict):
        for n, element in enumerate(actual if isinstance(actual, list) else [actual]):
            before = len(problems)
            compare_keys(sketch[0], element, f"{path}[{n}]", problems)
            if len(problems) > before:  # one element says it
                break


def run_json_keys(block: Block, run: Runner) -> None:
    words = shlex.split(block.marker.split("$", 1)[1])
    result = run(command_argv(words))
    lines = result.output.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("{")), None)
    assert start is not None, f"{block.where}: `{' '.join(words)}` printed no JSON document:\n{result.output}"
    problems: list[str] = []
    compare_keys(parse_sketch(block.body), json.loads("\n".join(lines[start:])), "$", problems)
    assert not problems, f"{block.where}: the JSON keys differ from `{' '.join(words)}`:\n" + "\n".join(problems)


def run_layout(block: Block) -> None:
    missing, folder = [], ""
    for line in block.body.splitlines():
        if line[:1].strip():
            folder = line.split()[0]
        for name in re.findall(r"(?<![\w./-])([\w.-]+(?:/[\w.-]+)*(?:/|\.py))(?![\w/])", line):
            if not ((ROOT / name).exists() or (ROOT / folder / name).exists()):
                missing.append(name)
    assert not missing, f"{block.where}: the layout names what the repository lacks: {missing}"


# --- the tests --------------------------------------------------------------------------------


def test_the_docs_have_blocks():
    assert len(BLOCKS) >= 20
    assert {block.kind for block in BLOCKS} >= {"shell", "python", "transcript", "install", "skip"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_no_indented_code_blocks(doc):
    """An indented code block escapes the runners below: fence it (```bash, ```text ...) and mark it if needed."""
    assert not indented_code(doc), f"{doc.relative_to(ROOT)}: indented code at lines {indented_code(doc)}"


# python blocks first: they run in this process while the commands of the others run alongside
@pytest.mark.parametrize("block", sorted(BLOCKS, key=lambda block: block.kind != "python"),
                         ids=lambda block: f"{block.where}-{block.kind}")
def test_block(block, run, monkeypatch):
    kind = block.kind
    if kind == "skip":
        reason = re.fullmatch(r"skip\s+\((.+)\)", block.marker)
        assert reason, f"{block.where}: a skip marker needs a reason: <!-- snippet: skip (why) -->"
        pytest.skip(f"{block.where}: {reason.group(1)}")
    elif kind == "shell":
        run_shell(block, run)
    elif kind == "transcript":
        run_transcript(block, run)
    elif kind == "python":
        run_python(block, monkeypatch, run)
    elif kind == "pytest-file":
        run_pytest_file(block, run)
    elif kind == "pytest-output":
        run_pytest_output(block, run)
    elif kind == "install":
        run_install(block, run)
    elif kind == "json-keys":
        run_json_keys(block, run)
    elif kind == "layout":
        run_layout(block)
    else:
        pytest.fail(f"{block.where}: a ```{block.lang} block no runner takes (kind {kind!r}): make it runnable, "
                    "or mark it (<!-- snippet: skip (why) -->, see tests/test_snippets.py)", pytrace=False)

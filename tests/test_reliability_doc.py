"""docs/reliability.md names, for each guarantee, the test that proves it and when that test runs.
This reads the page and the test files (their syntax trees: nothing is run or collected) and
checks that every named test exists and that its *runs* cell agrees with its marks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "reliability.md"
HEADER = "| guarantee | test | runs |"
REFERENCE = re.compile(r"^tests/[\w/]+\.py(::\w+)?$")  # the page's one format for a test or a file
SLOW, GPU, SOME_SLOW, DEFAULT = "slow", "gpu", "default, some cases slow", "default"


def spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def named_tests(text: str) -> list[str]:
    """Every code span that names a test file or a test: ``x.py::name`` or ``test_x.py``."""
    return [span for span in spans(text) if "::" in span or re.search(r"(^|/)test_\w+\.py$", span)]


def table_rows(text: str) -> list[tuple[str, str]]:
    """(test cell, runs cell) of each row of every guarantee table."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.strip() == HEADER:
            inside = True
        elif inside and line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows.append((cells[-2], cells[-1]))
        elif not line.startswith("|"):
            inside = False
    return rows


class Marks:
    """When each test function of one file runs, read from its decorators and the module's marks."""

    def __init__(self, path: Path) -> None:
        self.tree = ast.parse(path.read_text())
        self.slow_names = {"pytest.mark.slow"} | {
            target.id for node in self.tree.body if isinstance(node, ast.Assign)
            and ast.unparse(node.value) == "pytest.mark.slow" for target in node.targets if isinstance(target, ast.Name)}
        self.module_slow = any(isinstance(node, ast.Assign) and "pytestmark" in map(ast.unparse, node.targets)
                               and self._mentions_slow(node.value) for node in self.tree.body)
        self.functions = {node.name: node for node in ast.walk(self.tree)
                          if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")}

    def _mentions_slow(self, node: ast.AST) -> bool:
        return any(ast.unparse(sub) in self.slow_names for sub in ast.walk(node) if isinstance(sub, (ast.Attribute, ast.Name)))

    def _case_is_slow(self, node: ast.AST) -> bool:
        return (isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.param"
                and any(k.arg == "marks" and self._mentions_slow(k.value) for k in node.keywords))

    def _cases(self, values: ast.AST) -> set[bool]:
        """Whether each case of a parametrize list is slow (both, when it cannot be told)."""
        if isinstance(values, (ast.ListComp, ast.GeneratorExp)):
            return {self._case_is_slow(values.elt)}
        if isinstance(values, (ast.List, ast.Tuple)):
            return set().union(*(self._cases(e.value) if isinstance(e, ast.Starred) else {self._case_is_slow(e)}
                                 for e in values.elts)) or {False}
        return {True, False} if self._mentions_slow(values) else {False}

    def runs(self, name: str) -> str:
        decorators = self.functions[name].decorator_list
        if self.module_slow or any(ast.unparse(d) in self.slow_names for d in decorators):
            return SLOW
        if any(ast.unparse(d) == "pytest.mark.gpu" for d in decorators):
            return GPU
        cases = set().union(*(self._cases(d.args[1]) for d in decorators if isinstance(d, ast.Call)
                              and ast.unparse(d.func) == "pytest.mark.parametrize" and len(d.args) > 1)) or {False}
        return {frozenset({True}): SLOW, frozenset({True, False}): SOME_SLOW}.get(frozenset(cases), DEFAULT)

    def file_runs(self) -> str:
        kinds = {self.runs(name) for name in self.functions}
        return kinds.pop() if len(kinds) == 1 else SOME_SLOW if kinds <= {DEFAULT, SLOW, SOME_SLOW} else "mixed"


def test_every_test_the_reliability_page_names_exists_and_runs_as_it_says() -> None:
    text = PAGE.read_text()
    names = named_tests(text)
    assert len(names) > 30  # the page's tables were read
    wrong_format = [name for name in names if not REFERENCE.match(name)]
    assert not wrong_format, f"name tests as tests/<path>.py::<function> or tests/<path>.py: {wrong_format}"
    missing = []
    for name in names:
        path, _, function = name.partition("::")
        if not (REPO / path).is_file() or (function and function not in Marks(REPO / path).functions):
            missing.append(name)
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
    for cell, runs in table_rows(text):
        (name,) = named_tests(cell)  # one test per row
        path, _, function = name.partition("::")
        marks = Marks(REPO / path)
        actual = marks.runs(function) if function else marks.file_runs()
        assert runs == actual, f"{name}: the page says it runs {runs!r}, its marks say {actual!r}"


def test_the_marks_are_read_as_pytest_reads_them(tmp_path: Path) -> None:
    """The reader on a file with each kind of mark, so a wrong *runs* cell cannot pass unseen."""
    source = tmp_path / "test_marked.py"
    source.write_text(
        "import pytest\nslow = pytest.mark.slow\n"
        "def test_plain(): pass\n"
        "@slow\ndef test_aliased(): pass\n"
        "@pytest.mark.slow\ndef test_slow(): pass\n"
        "@pytest.mark.gpu\ndef test_gpu(): pass\n"
        "@pytest.mark.parametrize('x', [1, pytest.param(2, marks=pytest.mark.slow)])\ndef test_some(x): pass\n"
        "@pytest.mark.parametrize('x', [pytest.param(s, marks=slow) for s in (1, 2)])\ndef test_all(x): pass\n"
        "@pytest.mark.parametrize('x', [0, *(pytest.param(s, marks=slow) for s in (1, 2))])\ndef test_star(x): pass\n")
    marks = Marks(source)
    assert {name: marks.runs(name) for name in marks.functions} == {
        "test_plain": DEFAULT, "test_aliased": SLOW, "test_slow": SLOW, "test_gpu": GPU,
        "test_some": SOME_SLOW, "test_all": SLOW, "test_star": SOME_SLOW}
    source.write_text("import pytest\npytestmark = pytest.mark.slow\ndef test_any(): pass\n")
    assert Marks(source).file_runs() == SLOW

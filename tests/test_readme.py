"""README.md's code runs and shows true values.

Every ```python block of README.md runs, in the order of the file, in one
namespace (as a reader pasting them one after the other into one session
would), with a fresh temporary folder as the working directory; none is
skipped, and none needs a package outside the test extras.

Values are shown as comments, not as doctest prompts, so that the blocks can be
pasted as they are: a line ending a top-level statement may carry a comment
``# -> VALUE`` (text after VALUE, separated by three spaces, is a remark).
The statement must be an expression; it is evaluated and VALUE is compared
with its ``repr``:

* the text between numbers must be equal, whitespace aside (so
  ``array([0.5, 1.])`` matches NumPy's ``array([0.5, 1. ])``);
* a number shown with decimals, e.g. ``0.4076`` or ``4.2e-18``, must be the
  value rounded to the digits shown (within half a unit of its last digit);
* a number shown without decimals (``3``, ``1.``, ``1e-08``) must be equal.

A ``# ->`` comment on anything but an expression statement fails the test, and
so does a comment that looks like a value (a number or ``array(``) without
the ``->``, so that no value in the README goes unchecked.
"""

import ast
import io
import math
import pathlib
import re
import tokenize

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def python_blocks(text):
    """[(line number in README of the block's first line, source)]."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def comments(source):
    """{line number (1-based): comment text without '#'} of `source`."""
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            found[tok.start[0]] = tok.string[1:].strip()
    return found


def _split(text):
    """The numbers of `text` and the text between them (whitespace removed)."""
    numbers = _NUMBER.findall(text)
    between = [re.sub(r"\s+", "", part) for part in _NUMBER.split(text)]
    return numbers, between


def _number_matches(shown, actual):
    value, expected = float(actual), float(shown)
    mantissa, _, exponent = shown.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if decimals == 0:
        return value == expected
    half_unit = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
    return abs(value - expected) <= half_unit * (1 + 1e-9)


def value_matches(shown, actual_repr):
    """Whether `actual_repr` is `shown`, its numbers possibly rounded."""
    shown_numbers, shown_text = _split(shown)
    actual_numbers, actual_text = _split(actual_repr)
    return (shown_text == actual_text and len(shown_numbers) == len(actual_numbers)
            and all(map(_number_matches, shown_numbers, actual_numbers)))


def looks_like_a_value(comment):
    """Whether a comment without '->' reads like a shown value: a Python
    literal (number, tuple, list, True...) or a NumPy array's repr."""
    head = re.split(r"\s{3,}", comment, maxsplit=1)[0]
    if re.match(r"^\(?array\(", head):
        return True
    try:
        ast.literal_eval(head)
    except (ValueError, SyntaxError):
        return False
    return True


def shown_value(comment):
    """VALUE of a ``-> VALUE   remark`` comment."""
    return re.split(r"\s{3,}", comment[2:].strip(), maxsplit=1)[0]


def run_block(source, namespace, where):
    """Run `source` statement by statement in `namespace`, checking the values
    shown in ``# ->`` comments; returns how many were checked."""
    tree = ast.parse(source)
    notes = comments(source)
    for line, note in notes.items():
        if not note.startswith("->") and looks_like_a_value(note):
            pytest.fail(f"{where(line)}: a value shown without '# ->' is not checked: {note!r}")
    statement_ends = {stmt.end_lineno for stmt in tree.body}
    for line, note in notes.items():
        if note.startswith("->") and line not in statement_ends:
            pytest.fail(f"{where(line)}: '# ->' must end a top-level statement")
    checked = 0
    for stmt in tree.body:
        note = notes.get(stmt.end_lineno, "")
        if not note.startswith("->"):
            exec(compile(ast.Module([stmt], type_ignores=[]), "README.md", "exec"), namespace)
            continue
        if not isinstance(stmt, ast.Expr):
            pytest.fail(f"{where(stmt.end_lineno)}: '# ->' on a statement that is not an "
                        "expression")
        value = eval(compile(ast.Expression(stmt.value), "README.md", "eval"), namespace)
        shown = shown_value(note)
        assert value_matches(shown, repr(value)), (
            f"{where(stmt.end_lineno)}: README shows {shown}, the code gives {value!r}")
        checked += 1
    return checked


def test_every_python_block_runs_and_shows_true_values(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    checked = 0
    with np.printoptions(legacy=False):
        for first_line, source in blocks:
            checked += run_block(source, namespace,
                                 lambda line, first=first_line: f"README.md:{first + line - 1}")
    assert checked >= 25


def test_quick_start_commands():
    """The two commands of the Quick start, and .ci/run runs the second
    verbatim (when this is a checkout: the sdist has no .ci/)."""
    text = README.read_text(encoding="utf-8")
    quick = text[text.index("## Quick start"):text.index("\n## ", text.index("## Quick start"))]
    commands = re.findall(r"^```bash\n(.*?)\n```$", quick, re.MULTILINE | re.DOTALL)
    assert commands == ['pip install ".[demo]" && lossopt demo', 'pip install ".[test]" && pytest']
    ci = README.parent / ".ci" / "run"
    if ci.exists():
        assert commands[1] in ci.read_text().splitlines()


@pytest.mark.parametrize("shown, actual, ok", [
    ("0.4076", "0.40760596", True), ("0.4076", "0.40765001", False),
    ("0.4077", "0.40765001", True), ("4.2e-18", "4.248354255291589e-18", True),
    ("4.3e-18", "4.248354255291589e-18", False), ("3", "3", True), ("3", "3.2", False),
    ("array([0.5, 1.])", "array([0.5, 1. ])", True), ("array([0.5, 1.])", "array([0.5, 1.1])", False),
    ("(1.25, array([0.5]))", "(1.25, array([0.5]))", True), ("1.25", "(1.25,)", False),
    ("array([1., 2.], dtype=float32)", "array([1., 2.])", False),
    ("-inf", "-inf", True), ("-inf", "inf", False), ("1.0", "-1.0", False),
])
def test_value_matching(shown, actual, ok):
    # the rule of the module docstring, checked on itself
    assert value_matches(shown, actual) is ok


def test_a_wrong_value_fails():
    namespace = {}
    with pytest.raises(AssertionError, match="README shows 2, the code gives 3"):
        run_block("1 + 2   # -> 2\n", namespace, lambda line: f"line {line}")
    with pytest.raises(pytest.fail.Exception, match="not an expression"):
        run_block("x = 1   # -> 1\n", namespace, lambda line: f"line {line}")
    with pytest.raises(pytest.fail.Exception, match="not checked"):
        run_block("x = 1   # 1.0\n", namespace, lambda line: f"line {line}")
    with pytest.raises(pytest.fail.Exception, match="not checked"):
        run_block("x = [1.0]   # array([1.])   a remark\n", namespace, str)
    assert run_block("x = [1, 2]\nsum(\n    x)   # -> 3\n", namespace, str) == 1

"""Property-based fuzzing of the engine (and, when importable, the fixes).

(a) generated ΦML-like programs: the checker never raises, every span lies inside the text, every
    offered fix yields parseable code that no longer reports the diagnostic at that place, and
    fixing is idempotent;
(b) random edits of the shared corpus files: never an exception, only PML000 or normal diagnostics;
(c) broken notebooks: a clear ``SourceError`` or diagnostics, never another exception.

Profiles (see ``conftest.py``): ``HYPOTHESIS_PROFILE=ci`` (default) or ``long``.
"""

from __future__ import annotations

import ast
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from phiml_lint.analysis.source import SourceError, from_bytes, from_text
from phiml_lint.engine import SYNTAX_ERROR, Engine

#: The fix properties re-check every fixed text, so they run a fraction of the profile's examples.
FIX_EXAMPLES = settings(max_examples=max(settings.default.max_examples // 4, 1))
IDEMPOTENCE_EXAMPLES = settings(max_examples=max(settings.default.max_examples // 6, 1))
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
CORPUS_FILES = sorted(CORPUS.rglob("*.py")) if CORPUS.is_dir() else []
ROOT = Path(tempfile.mkdtemp(prefix="phiml-lint-fuzz-"))

try:  # the fixes package is being written in parallel: fuzz it only when it imports
    from phiml_lint.fixes import fixes_for
except Exception:  # pragma: no cover - depends on the state of the tree
    fixes_for = None
try:
    from phiml_lint.fixes.apply import fix_project
except Exception:  # pragma: no cover
    fix_project = None


# -- helpers ---------------------------------------------------------------------------------------------------
def new_engine() -> Engine:
    return Engine(ROOT, use_jedi=False)


def check_text(text: str, name: str = "mod.py") -> tuple[Engine, str, list]:
    engine = new_engine()
    path = str(ROOT / name)
    engine.update(from_text(text, path))
    return engine, path, engine.diagnostics(path)


def assert_spans_inside(text: str, diagnostics: list) -> None:
    lines = text.split("\n")
    for d in diagnostics:
        start, end = d.span.start, d.span.end
        assert start <= end, d
        for pos in (start, end):
            assert 0 <= pos.line < max(len(lines), 1), (d, len(lines))
            assert 0 <= pos.col <= len(lines[pos.line] if lines else ""), (d, lines[pos.line])


def apply_edits(text: str, edits) -> str:
    """Apply edits in code-point coordinates ourselves (independent of ``fixes.text``)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(pos) -> int:
        assert 0 <= pos.line < len(lines), pos
        assert 0 <= pos.col <= len(lines[pos.line]), pos
        return starts[pos.line] + pos.col

    ranges = sorted((offset(e.span.start), offset(e.span.end), e.content) for e in edits)
    out, cursor = [], 0
    for start, end, content in ranges:
        assert cursor <= start <= end, "overlapping edits"
        out += [text[cursor:start], content]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


# -- (a) generated programs ----------------------------------------------------------------------------------
IMPORTS = [  # (import lines, prefix of the math namespace, nn prefix)
    (["from phiml import math"], "math.", None),
    (["import phiml.math as pm"], "pm.", None),
    (["from phiml import math as m", "from phiml import nn"], "m.", "nn."),
    (["from phi.flow import *"], "math.", None),
    (["import phiml"], "phiml.math.", "phiml.nn."),
    (["from phiml import math, nn"], "math.", "nn."),
    (["import phiml.nn as pnn", "from phiml import math"], "math.", "pnn."),
    (["from phiml.math import jit_compile, solve_linear, custom_gradient, gradient, SolveTape, Solve, "
      "laplace, jit_compile_linear, l2_loss"], "", None),
]
NAMES = ["x", "y", "n", "flag"]


@st.composite
def statements(draw, p: str, nn: str | None, others: list[str], depth: int = 0) -> list[str]:
    """A few statements (as lines without indentation); always valid Python."""
    op = draw(st.sampled_from(["op", "lambda v: " + p + "laplace(v)", "inner_op"]))
    choices = [
        ["f = lambda v: v * 2", "x = f(x)"],
        ["def inner(v):", "    return " + p + "laplace(v) + x", "x = inner(x)"],
        ["def inner_op(v):", "    return " + p + "laplace(v)",
         "x = " + p + "solve_linear(" + op + ", x, " + p + "Solve('CG', 1e-5, x0=x))"],
        ["x = " + p + "solve_linear(" + op + ", y, " + p + "Solve('CG', x0=x))"],
        ["g = " + p + "custom_gradient(lambda v: v * 2, lambda v, o, d: {'v': d})", "x = g(x)"],
        ["grad = " + p + "gradient(lambda v: " + p + "l2_loss(v), 'v')", "x = grad(x)"],
        ["with " + p + "SolveTape() as tape:",
         "    x = " + p + "solve_linear(" + op + ", y, " + p + "Solve('CG', x0=x))"],
        ["history.append(x)"],
        ["global calls", "calls += 1"],
        ["zs = [x * i for i in range(3)]", "x = zs[-1]"],
        ["k = 0", "while k < n:", "    k += 1", "    x = x + k"],
        ["if n > 0:", "    x = x * 2", "else:", "    x = -x"],
        ["if flag:", "    x = " + p + "laplace(x)"],
        ["if x > 0:", "    x = x - 1"],
        ["lin = " + p + "jit_compile(lambda v: v + 1)", "x = lin(x)"],
        ["self_cache = {}", "self_cache['x'] = x"],
    ]
    if nn:
        choices.append(["x = " + nn + "update_weights(net, optimizer, loss_function, x, y)"])
        choices.append(["x = " + nn + "update_weights(net, optimizer, " + draw(st.sampled_from(others or ["loss_function"])) + ", x, y)"])
    if others:
        other = draw(st.sampled_from(others))
        choices.append(["x = " + other + "(x, y, n, flag)"])
        choices.append(["x = " + other + "(x, y, 3, False)"])
    if depth < 2:
        inner = draw(statements(p, nn, others, depth + 1))
        choices.append(["for i in range(n):"] + ["    " + line for line in inner])
        choices.append(["for t in range(3):"] + ["    " + line for line in inner])
        choices.append(["def nested(x):"] + ["    " + line for line in inner] + ["    return x", "x = nested(x)"])
    picked = draw(st.lists(st.sampled_from(range(len(choices))), min_size=1, max_size=4))
    return [line for i in picked for line in choices[i]]


@st.composite
def programs(draw) -> str:
    imports, p, nn = draw(st.sampled_from(IMPORTS))
    lines = [*imports, "", "history = []", "calls = 0"]
    if nn:
        lines += [f"net = {nn}mlp(2, 1, [8])", f"optimizer = {nn}adam(net, 1e-3)", "",
                  "def loss_function(x, y):", f"    return {p}l2_loss(x - y)"]
    lines += ["", f"@{p}jit_compile_linear", "def op(v):", f"    return {p}laplace(v)", ""]
    functions: list[str] = []
    for index in range(draw(st.integers(1, 4))):
        name = f"f{index}"
        decorator = draw(st.sampled_from([
            None, f"{p}jit_compile", f"{p}jit_compile()", f"{p}jit_compile(auxiliary_args='n')",
            f"{p}jit_compile(forget_traces=True)", f"{p}jit_compile(auxiliary_args='n, flag')", "call",
        ]))
        body = draw(statements(p, nn, functions))
        if decorator and decorator != "call":
            lines.append("@" + decorator)
        method = draw(st.booleans()) and index > 0
        if method:
            lines += [f"class C{index}:"]
            if decorator and decorator != "call":
                lines[-2], lines[-1] = lines[-1], "    " + lines[-2]
            lines += [f"    def {name}(self, x, y, n, flag):"] + ["        " + s for s in body] + ["        return x", ""]
            lines.append(f"{name} = C{index}().{name}")
        else:
            lines += [f"def {name}(x, y, n, flag):"] + ["    " + s for s in body] + ["    return x", ""]
        if decorator == "call":
            lines.append(f"{name} = {p}jit_compile({name})")
        functions.append(name)
    # a driver calling the functions in loops (PML201/202/203 territory)
    driver = ["def run(x, y):"]
    for name in draw(st.lists(st.sampled_from(functions), max_size=3)):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            driver += ["    for t in range(10):", f"        x = {name}(x, y, t, True)"]
        elif kind == 1:
            driver += ["    for t in range(10):", f"        x = {p}jit_compile({name})(x, y, 1, False)"]
        elif kind == 2:
            driver += ["    for t in range(10):", f"        g = {p}gradient({name}, 'x')", "        x = g(x, y, 1, t)"]
        else:
            driver += [f"    x = {name}(x, y, 2, False)"]
    lines += [*driver, "    return x", ""]
    text = "\n".join(lines)
    ast.parse(text)  # the generator only makes valid programs
    return text


@given(programs())
def test_generated_programs_never_crash(text: str):
    _engine, _path, found = check_text(text)
    note(text)
    assert_spans_inside(text, found)
    assert all(d.code != SYNTAX_ERROR for d in found), found
    for d in found:
        event(d.code)


def _same_place(text: str, d, text2: str, d2) -> bool:
    line = text.split("\n")[d.span.start.line].strip()
    line2 = text2.split("\n")[d2.span.start.line].strip()
    return d2.code == d.code and d2.message == d.message and line == line2


@pytest.mark.skipif(fixes_for is None, reason="phiml_lint.fixes is not importable")
@FIX_EXAMPLES
@given(programs())
def test_every_fix_parses_and_removes_its_diagnostic(text: str):
    engine, path, found = check_text(text)
    note(text)
    for d in found:
        for fix in fixes_for(engine, d):
            edits = [e for e in fix.edits if e.path == path or Path(e.path).resolve() == Path(path).resolve()]
            assert len(edits) == len(fix.edits), fix  # one-file programs: edits stay in the file
            fixed = apply_edits(text, edits)
            note(f"{d.code} {d.span} fix {fix.title!r}:\n{fixed}")
            try:
                ast.parse(fixed)
            except SyntaxError as err:
                pytest.fail(f"fix {fix.title!r} for {d.code} gives invalid code: {err}\n{fixed}")
            _e2, _p2, after = check_text(fixed, "mod.py")
            before_count = sum(1 for x in found if x.code == d.code)
            after_count = sum(1 for x in after if x.code == d.code)
            if after_count >= before_count:
                still = [x for x in after if _same_place(text, d, fixed, x)]
                assert not still, f"{d.code} still reported after {fix.title!r}: {still}\n{fixed}"
            event(f"fixed {d.code}")


@pytest.mark.skipif(fix_project is None, reason="phiml_lint.fixes.apply is not importable")
@IDEMPOTENCE_EXAMPLES
@given(programs())
def test_fix_project_is_idempotent(text: str):
    note(text)
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        file = Path(tmp) / "mod.py"
        file.write_text(text)
        engine = Engine(Path(tmp), use_jedi=False)
        engine.update(from_text(text, str(file)))
        first = fix_project(engine, [str(file)], unsafe=True, write=False)
        assert not first.errors, first.errors
        fixed = engine.sources[engine.key(str(file))].text if first.changed else text
        note(f"after fixing:\n{fixed}")
        ast.parse(fixed)
        assert_spans_inside(fixed, engine.diagnostics(str(file)))
        file.write_text(fixed)
        again = Engine(Path(tmp), use_jedi=False)
        again.update(from_text(fixed, str(file)))
        second = fix_project(again, [str(file)], unsafe=True, write=False)
        assert not second.changed, f"not idempotent:\n{second.diff}"
        event(f"applied {first.applied}")


# -- (b) random edits of the corpus ----------------------------------------------------------------------------
NASTY = ["\U0001f600", "\U00010348", "e\u0301", "\u0301", "\u200b", "\ufeff", "Δ", "\u2028", "\x0c", "\t", "\r",
         "\r\n", "\x00", "\\", "'''", '"', "(", ")", "[", ":", "#", "\U0010ffff", "ß", "İ"]


@st.composite
def corpus_mutations(draw) -> tuple[str, bytes]:
    file = draw(st.sampled_from(CORPUS_FILES))
    text = file.read_text()
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["delete", "truncate", "indent", "unicode", "crlf", "tabs", "nul", "dedent",
                                     "duplicate", "cr"]))
        event(kind)
        n = len(text)
        if kind == "delete" and n:
            i = draw(st.integers(0, n - 1))
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        elif kind == "truncate":
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
            text = "\n".join(lines)
        elif kind in ("indent", "dedent", "tabs"):
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            stripped = lines[i].lstrip()
            indent = lines[i][: len(lines[i]) - len(stripped)]
            lines[i] = {"indent": indent + "  ", "dedent": indent[:-1], "tabs": indent.replace("    ", "\t")}[kind] \
                + stripped
            text = "\n".join(lines)
        elif kind == "unicode":
            i = draw(st.integers(0, n))
            extra = draw(st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=4)))
            text = text[:i] + extra + text[i:]
        elif kind == "crlf":
            text = text.replace("\n", "\r\n")
        elif kind == "cr":
            text = text.replace("\n", "\r")
        elif kind == "nul":
            i = draw(st.integers(0, n))
            text = text[:i] + "\x00" + text[i:]
        elif kind == "duplicate":
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):  # random bytes somewhere
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    return text, data


@pytest.mark.skipif(not CORPUS_FILES, reason="shared corpus not present")
@given(corpus_mutations())
def test_mutated_corpus_never_crashes(case: tuple[str, bytes]):
    text, data = case
    # as the LSP sees it: text held by the editor
    engine, path, found = check_text(text)
    analysed = from_text(text, path).text
    assert_spans_inside(analysed, found)
    parses = True
    try:
        ast.parse(analysed)
    except (SyntaxError, ValueError):
        parses = False
    if not parses:
        assert [d.code for d in found] == [SYNTAX_ERROR], found
    # as the CLI sees it: bytes on disk (SourceError becomes a PML000, as in cli.py)
    engine = new_engine()
    path = str(ROOT / "bytes.py")
    try:
        source = from_bytes(data, path)
    except SourceError as err:
        assert str(err)
        engine.update_error(path, str(err))
        assert [d.code for d in engine.diagnostics(path)] == [SYNTAX_ERROR]
        event("SourceError")
        return
    engine.update(source)
    assert_spans_inside(source.text, engine.diagnostics(path))


# -- (c) broken notebooks --------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
cell_sources = st.one_of(
    st.sampled_from(["from phiml import math\n", "x = math.jit_compile(f)\n", "%timeit f()\n", "!ls\n",
                     "@math.jit_compile\ndef f(x):\n    return x\n", "def (\n", "\U0001f600 = 1\n", "x = 1\r\ny = 2"]),
    st.lists(st.sampled_from(["from phiml import math\n", "def f(x):\n", "    return x\n", "%%time\n", "\t\n"]),
             max_size=4),
    json_values,
)
cells = st.one_of(
    st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown", "raw", 3]), "source": cell_sources},
                          optional={"metadata": json_values, "outputs": json_values}),
    json_values,
)
metadata = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"kernelspec": st.one_of(
        st.fixed_dictionaries({"name": st.sampled_from(["python3", "ir", "julia-1.9", "", "Python"]),
                               "language": st.sampled_from(["python", "R", "julia"])}), json_values)}),
    st.fixed_dictionaries({"language_info": st.one_of(
        st.fixed_dictionaries({"name": st.sampled_from(["python", "R", "ipython3", "scala"])}), json_values)}),
    json_values,
)
notebooks = st.fixed_dictionaries(
    {"cells": st.one_of(st.lists(cells, max_size=5), json_values), "metadata": metadata},
    optional={"nbformat": st.sampled_from([4, 3, "4", None]), "nbformat_minor": st.integers(0, 5)},
)


@st.composite
def notebook_bytes(draw) -> bytes:
    kind = draw(st.sampled_from(["structured", "structured", "structured", "any-json", "truncated", "bytes"]))
    event(kind)
    if kind == "any-json":
        return json.dumps(draw(json_values)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    data = json.dumps(draw(notebooks), indent=1, ensure_ascii=draw(st.booleans())).encode()
    if kind == "truncated":
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


@given(notebook_bytes())
def test_broken_notebooks(data: bytes):
    path = str(ROOT / "nb.ipynb")
    try:
        source = from_bytes(data, path)
    except SourceError as err:
        assert str(err), "SourceError needs a message"
        event("SourceError")
        return
    engine = new_engine()
    engine.update(source)
    found = engine.diagnostics(path)
    assert_spans_inside(source.text, found)
    for d in found:
        source.to_cell(d.span.start)  # cell mapping never raises
    event("diagnostics")


def test_mutation_strategy_has_corpus():
    assert CORPUS_FILES, f"no corpus at {CORPUS}"


@pytest.mark.parametrize("text", ["\nx = 1\x00\n", "\n\n\x00", "\x00", "# a\n\n\x00 = 1\r\n"])
def test_nul_byte_span_stays_inside_the_text(text: str):
    """Regression (found by the long profile): PML000 for a NUL byte ended past an empty line 1."""
    _engine, _path, found = check_text(text)
    assert [d.code for d in found] == [SYNTAX_ERROR]
    assert_spans_inside(from_text(text, "x.py").text, found)

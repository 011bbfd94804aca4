"""Quick fixes: each fix kind on real files, the cases with no fix, the CLI's --fix/--diff, and
sweeps over the shared corpus and every rule example (parses, settles its diagnostic, minimal,
idempotent). Behaviour: fixed ΦML code computes the same numbers on the NumPy backend.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from phiml_lint.analysis.source import from_text, load, notebook_from_cells
from phiml_lint.config import Config
from phiml_lint.engine import Engine
from phiml_lint.fixes import best_fix, fixes_for, suppress_fix
from phiml_lint.fixes.apply import fix_all_texts, fix_project
from phiml_lint.fixes.noqa import suppress
from phiml_lint.fixes.text import Unmappable, apply_edits, apply_to_raw, diff_edits, to_cell_edits
from phiml_lint.model import Applicability, Diagnostic, Edit, Fix, Pos, Severity, Span
from phiml_lint.rules import REGISTRY

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
PROJECTS = ("rules", "crossmodule", "clean")


@pytest.fixture(autouse=True)
def _debug(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixer that crashes must fail the test, not be logged and skipped."""
    monkeypatch.setenv("PHIML_LINT_DEBUG", "1")


# -- helpers -------------------------------------------------------------------------------------------------
def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def engine_for(root: Path) -> Engine:
    """Analyse every ``.py`` / ``.ipynb`` file under ``root`` as one project."""
    engine = Engine(root, Config())
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.ipynb")]):
        engine.update(load(path))
    return engine


def project(root: Path, files: dict[str, str]) -> Engine:
    write(root, files)
    return engine_for(root)


def diagnostics(engine: Engine, name: str, code: str | None = None) -> list[Diagnostic]:
    key = str((engine.root / name).resolve())
    return [d for d in engine.diagnostics(key) if code is None or d.code == code]


def only(engine: Engine, name: str, code: str) -> Diagnostic:
    found = diagnostics(engine, name, code)
    assert len(found) == 1, found
    return found[0]


def text_of(engine: Engine, path: str) -> str:
    key = engine.key(path)
    source = engine.sources.get(key) or engine.project.modules[key].source
    return source.text


def applied(engine: Engine, fix: Fix) -> dict[str, str]:
    """The texts of every file the fix edits, after the fix."""
    by_path: dict[str, list[Edit]] = {}
    for edit in fix.edits:
        by_path.setdefault(engine.key(edit.path), []).append(edit)
    return {path: apply_edits(text_of(engine, path), edits) for path, edits in by_path.items()}


def fixed_text(engine: Engine, name: str, code: str, index: int = 0) -> str:
    diagnostic = diagnostics(engine, name, code)[index]
    fix = best_fix(engine, diagnostic)
    assert fix is not None, f"no fix for {diagnostic}"
    return applied(engine, fix)[engine.key(diagnostic.path)]


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHIML_LINT_DEBUG": "1"}
    return subprocess.run([sys.executable, "-m", "phiml_lint", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def dedent(text: str) -> str:
    return textwrap.dedent(text)


def clean(text: str) -> str:
    """Without the examples' ``# expect: CODE`` annotations."""
    return re.sub(r"[ \t]*# expect: [A-Z0-9, ]+", "", text)


# -- PML108 / PML109: auxiliary_args -------------------------------------------------------------------------
def test_aux_bare_decorator_becomes_call(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML108"].bad})
    fix = best_fix(engine, only(engine, "a.py", "PML108"))
    assert fix is not None and fix.applicability is Applicability.SAFE
    assert fix.title == "Add `iterations` to `auxiliary_args`"
    assert [e.content for e in fix.edits] == ["(auxiliary_args='iterations')"]  # one minimal insertion
    assert clean(applied(engine, fix)[engine.key(str(tmp_path / "a.py"))]) == REGISTRY["PML108"].good


def test_aux_keeps_other_options_and_extends_existing_strings(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        from phiml import math


        @math.jit_compile(forget_traces=True)
        def f(x, n: int):
            return x if n > 1 else -x


        @math.jit_compile(auxiliary_args="a")
        def g(x, a, n: int):
            return x if n > 1 else -x


        @math.jit_compile(auxiliary_args='a,b', forget_traces=False)
        def h(x, a, b, n: int):
            return x if n > 1 else -x
        """})
    texts = [fixed_text(engine, "a.py", "PML108", i) for i in range(3)]
    assert "@math.jit_compile(forget_traces=True, auxiliary_args='n')\ndef f" in texts[0]
    assert '@math.jit_compile(auxiliary_args="a, n")\ndef g' in texts[1]
    assert "@math.jit_compile(auxiliary_args='a,b,n', forget_traces=False)\ndef h" in texts[2]


def test_aux_call_form(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML108"].invalid[1]})
    text = fixed_text(engine, "a.py", "PML108")
    assert "fast = math.jit_compile(smooth, auxiliary_args='n')" in text


def test_aux_for_solve_parameter(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML109"].bad})
    assert clean(fixed_text(engine, "a.py", "PML109")) == REGISTRY["PML109"].good


def test_no_aux_fix_when_auxiliary_args_is_not_a_string(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        from phiml import math


        @math.jit_compile(auxiliary_args=('a',))
        def g(x, a, n: int):
            return x if n > 1 else -x
        """})
    assert fixes_for(engine, only(engine, "a.py", "PML108")) == []


# -- PML202: forget_traces -----------------------------------------------------------------------------------
def test_forget_traces_keeps_aux_and_replaces_false(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML202"].bad})
    assert clean(fixed_text(engine, "a.py", "PML202")) == REGISTRY["PML202"].good
    engine = project(tmp_path, {"b.py": """\
        from phiml import math


        @math.jit_compile(forget_traces=False)
        def tag(x, name: str):
            return x


        fast = math.jit_compile(tag)


        def run(x):
            for i in range(100):
                x = tag(x, f"frame-{i}")
            return x
        """})
    assert "@math.jit_compile(forget_traces=True)\ndef tag" in fixed_text(engine, "b.py", "PML202")


def test_forget_traces_call_form(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        from phiml import math


        def tag(x, name: str):
            return x


        fast = math.jit_compile(tag, 'name')


        def run(x):
            for i in range(100):
                x = fast(x, str(i))
            return x
        """})
    assert "fast = math.jit_compile(tag, 'name', forget_traces=True)" in fixed_text(engine, "a.py", "PML202")


def test_forget_traces_edit_lands_in_the_defining_file(tmp_path: Path) -> None:
    files = {
        "ops.py": """\
            from phiml import math


            @math.jit_compile(auxiliary_args='order')
            def smooth(x, order):
                return math.laplace(x) * order
            """,
        "sim.py": """\
            from ops import smooth


            def run(x):
                for order in range(1, 20):
                    x = smooth(x, order)  # comment stays
                return x
            """,
    }
    engine = project(tmp_path, files)
    fix = best_fix(engine, only(engine, "sim.py", "PML202"))
    assert fix is not None and {Path(e.path).name for e in fix.edits} == {"ops.py"}
    result = cli(tmp_path, "--fix", "sim.py")  # the fix edits ops.py, which was not checked but is ours
    assert result.returncode == 0, result.stdout + result.stderr
    assert "@math.jit_compile(auxiliary_args='order', forget_traces=True)" in (tmp_path / "ops.py").read_text()
    assert (tmp_path / "sim.py").read_text() == dedent(files["sim.py"])


# -- PML201: compile once ------------------------------------------------------------------------------------
def test_compile_once_to_module_level_then_before_the_loop(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML201"].bad})
    fixes = fixes_for(engine, only(engine, "a.py", "PML201"))
    assert [f.applicability for f in fixes] == [Applicability.SAFE, Applicability.SAFE]
    module_level, before_loop = (applied(engine, f)[engine.key(str(tmp_path / "a.py"))] for f in fixes)
    assert clean(module_level) == dedent("""\
        from phiml import math


        def advect(x, dt):
            return x * dt


        fast = math.jit_compile(advect)


        def simulate(x, steps):
            for i in range(steps):
                x = fast(x, 0.1)
            return x
        """)
    assert "def simulate(x, steps):\n    fast = math.jit_compile(advect)\n    for i in range(steps):" \
        in clean(before_loop)


def test_compile_once_before_the_loop_when_the_name_is_taken(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        from phiml import math

        fast = None


        def simulate(x, steps, f):
            while x.mean > 0:
                for i in range(steps):
                    # one compiled function is enough
                    fast = math.jit_compile(f)
                    x = fast(x)
            return x
        """})
    fixes = fixes_for(engine, only(engine, "a.py", "PML201"))
    assert len(fixes) == 1
    assert applied(engine, fixes[0])[engine.key(str(tmp_path / "a.py"))] == dedent("""\
        from phiml import math

        fast = None


        def simulate(x, steps, f):
            # one compiled function is enough
            fast = math.jit_compile(f)
            while x.mean > 0:
                for i in range(steps):
                    x = fast(x)
            return x
        """)


@pytest.mark.parametrize("body", [
    "x = math.jit_compile(advect)(x, 0.1)",  # not a `name = jit_compile(f)` statement
    "f = math.jit_compile(f)\n        x = f(x, 0.1)",  # f changes every iteration
    "fast = math.jit_compile(advect, forget_traces=i > 2)\n        x = fast(x, 0.1)",  # reads the loop variable
])
def test_no_compile_once_fix(tmp_path: Path, body: str) -> None:
    engine = project(tmp_path, {"a.py": f"""\
from phiml import math


def advect(x, dt):
    return x * dt


def simulate(x, steps, f):
    for i in range(steps):
        {body}
    return x
"""})
    found = diagnostics(engine, "a.py", "PML201")
    assert found and all(fixes_for(engine, d) == [] for d in found)


def test_compile_once_is_not_offered_for_nested_functions(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML201"].invalid[0]})
    assert fixes_for(engine, only(engine, "a.py", "PML201")) == []


# -- PML203 / PML105: hoist the transformation ----------------------------------------------------------------
def test_hoist_transformation_before_the_loop(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML203"].bad})
    fixes = fixes_for(engine, only(engine, "a.py", "PML203"))
    assert fixes[0].applicability is Applicability.SAFE
    assert clean(applied(engine, fixes[0])[engine.key(str(tmp_path / "a.py"))]) == REGISTRY["PML203"].good


def test_hoist_inline_transformation_introduces_a_name(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML203"].invalid[0]})
    fix = best_fix(engine, only(engine, "a.py", "PML203"))
    assert fix is not None and fix.applicability is Applicability.UNSAFE and "loss_gradient" in fix.reason
    text = clean(applied(engine, fix)[engine.key(str(tmp_path / "a.py"))])
    assert "def optimize(x):\n    loss_gradient = functional_gradient(loss, get_output=False)\n    while True:\n" \
           "        x -= loss_gradient(x)\n" in text


def test_hoist_gradient_out_of_jit_to_module_level(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML105"].bad})
    fixes = fixes_for(engine, only(engine, "a.py", "PML105"))
    assert len(fixes) == 1 and fixes[0].is_safe
    assert clean(applied(engine, fixes[0])[engine.key(str(tmp_path / "a.py"))]) == dedent("""\
        from phiml import math


        def loss(x):
            return math.l2_loss(x)


        grad = math.gradient(loss, 'x', get_output=False)


        @math.jit_compile
        def descend(x):
            return x - 0.1 * grad(x)
        """)


def test_hoist_gradient_reuses_an_identical_module_level_assignment(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        import phiml
        from phiml import math


        def loss(x):
            return math.l2_loss(x)


        @math.jit_compile
        def descend(x):
            grad_fn = phiml.functional_gradient(loss, 'x', get_output=False)
            return x - 0.1 * grad_fn(x)


        loss_gradient = math.gradient(loss, 'x', get_output=False)
        """})
    fix = best_fix(engine, only(engine, "a.py", "PML105"))
    assert fix is not None and not fix.is_safe and "loss_gradient" in fix.reason
    text = applied(engine, fix)[engine.key(str(tmp_path / "a.py"))]
    assert "def descend(x):\n    return x - 0.1 * loss_gradient(x)\n" in text and "grad_fn" not in text


def test_no_hoist_for_a_gradient_of_a_parameter(tmp_path: Path) -> None:
    engine = project(tmp_path, {"ops.py": (CORPUS / "crossmodule" / "ops.py").read_text(),
                                "sim.py": (CORPUS / "crossmodule" / "sim.py").read_text()})
    assert fixes_for(engine, only(engine, "ops.py", "PML105")) == []


# -- PML102 / PML107: hoist to a module-level linear operator ------------------------------------------------
def test_hoist_lambda_matches_the_documented_fix(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML102"].bad})
    d102 = only(engine, "a.py", "PML102")
    d107 = only(engine, "a.py", "PML107")
    fix = best_fix(engine, d102)
    assert fix is not None and fix.applicability is Applicability.UNSAFE
    assert fix.title == "Hoist to a module-level linear operator"
    assert fix.reason == ("ΦML then traces the operator into a sparse matrix, which assumes it is linear in its "
                          "first argument")
    assert best_fix(engine, d107) == fix  # the same fix settles both
    assert clean(applied(engine, fix)[engine.key(str(tmp_path / "a.py"))]) == REGISTRY["PML102"].good


def test_hoist_nested_def_and_partial(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "rules" / "pml102_temporary_functions.py", tmp_path / "a.py")
    engine = engine_for(tmp_path)
    found = diagnostics(engine, "a.py", "PML102")
    nested = applied(engine, best_fix(engine, found[1]))[engine.key(str(tmp_path / "a.py"))]
    assert dedent("""\
        @math.jit_compile_linear
        def _implicit_step_nested_operator(x, k):
            return math.laplace(x) * k


        @math.jit_compile
        def implicit_step_nested(u, k):
            return math.solve_linear(_implicit_step_nested_operator, u, Solve('CG', x0=u), k, grad_for_f=True)""") \
        in nested
    partial = applied(engine, best_fix(engine, found[2]))[engine.key(str(tmp_path / "a.py"))]
    assert "return math.solve_linear(scaled_laplace, u, Solve('CG', x0=u), k, grad_for_f=True)" in partial
    assert "functools" not in partial  # its only use is gone, and so is the import
    assert fixes_for(engine, found[3]) == []  # preprocess_y: no automatic fix


def test_hoist_keeps_the_call_layout(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        import phiml.math as pm
        from phiml.math import Solve


        @pm.jit_compile
        def step(u, k):
            scale = 2 * k
            return pm.solve_linear(
                lambda x: x - scale * pm.laplace(x)
                - k * x,
                u,
                Solve('CG', x0=u),
            )
        """})
    text = fixed_text(engine, "a.py", "PML102")
    assert text == dedent("""\
        import phiml.math as pm
        from phiml.math import Solve


        @pm.jit_compile_linear
        def _step_operator(x, scale, k):
            return (x - scale * pm.laplace(x)
                - k * x)


        @pm.jit_compile
        def step(u, k):
            scale = 2 * k
            return pm.solve_linear(
                _step_operator,
                u,
                Solve('CG', x0=u),
                scale,
                k,
                grad_for_f=True,
            )
        """)


def test_hoist_under_star_import_and_partial_keywords(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        from functools import partial

        from phi.flow import *


        def diffusion(x, nu, dt=1.0):
            return x - dt * nu * math.laplace(x)


        @jit_compile
        def step(u, dt):
            return solve_linear(partial(diffusion, dt=dt), u, Solve('CG', x0=u))
        """})
    text = fixed_text(engine, "a.py", "PML102")
    assert "@jit_compile_linear\ndef diffusion(x, nu, dt=1.0):" in text
    # dt does not fill diffusion's next parameter (nu): it stays a keyword (solve_linear's **f_kwargs_)
    assert "return solve_linear(diffusion, u, Solve('CG', x0=u), dt=dt, grad_for_f=True)" in text


def test_wrap_phiml_function_and_reuse(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML107"].invalid[0]})
    text = fixed_text(engine, "a.py", "PML107")
    assert "laplace_linear = jit_compile_linear(math.laplace)\n\n\n@jit_compile\ndef step(u):\n" \
           "    return solve_linear(laplace_linear, u, Solve('CG', x0=u))" in text
    engine = project(tmp_path, {"b.py": """\
        from phiml import math
        from phiml.math import Solve

        laplace_linear = math.jit_compile_linear(math.laplace)


        @math.jit_compile
        def step(u):
            return math.solve_linear(math.laplace, u, Solve('CG', x0=u))
        """})
    fix = best_fix(engine, only(engine, "b.py", "PML107"))
    assert fix is not None and len(fix.edits) == 1 and fix.edits[0].content == "laplace_linear"


def test_decorate_module_level_operator(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML107"].bad})
    assert clean(fixed_text(engine, "a.py", "PML107")) == REGISTRY["PML107"].good


def test_linear_operator_import_is_added_when_nothing_fits(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        from phiml.math import Solve, jit_compile, solve_linear


        @jit_compile
        def step(u, k):
            return solve_linear(lambda x: x * k, u, Solve('CG', x0=u))
        """, "b.py": """\
        import math

        from phiml.math import Solve
        from phiml.math import jit_compile as jit
        from phiml.math import solve_linear as solve


        @jit
        def step(u, k):
            return solve(lambda x: x * k, u, Solve('CG', x0=u))
        """, "c.py": """\
        import math

        from phiml.math import Solve, jit_compile
        from phiml.math._optimize import solve_linear


        @jit_compile
        def step(u, k):
            return solve_linear(lambda x: x * k, u, Solve('CG', x0=u))
        """})
    a = fixed_text(engine, "a.py", "PML102")
    assert a.startswith("from phiml.math import Solve, jit_compile, solve_linear, jit_compile_linear\n")
    assert "@jit_compile_linear\ndef _step_operator(x, k):" in a
    b = fixed_text(engine, "b.py", "PML102")
    # the import that brings `solve_linear` brings `jit_compile_linear` too
    assert "from phiml.math import solve_linear as solve, jit_compile_linear\n" in b
    c = fixed_text(engine, "c.py", "PML102")  # nothing fits: a new import (`math` is the standard library)
    assert "from phiml.math._optimize import solve_linear\nfrom phiml.math import jit_compile_linear\n" in c
    assert "@jit_compile_linear\ndef _step_operator(x, k):" in c


@pytest.mark.parametrize("operator, extra", [
    ("def op(x):\n        nonlocal k\n        return x * k", ""),  # writes a nonlocal
    ("def op(x):\n        yield x * k", ""),  # a generator
    ("async def op(x):\n        return x * k", ""),  # a coroutine
    ("op = lambda x: x * k\n    k = k + 1", ""),  # captured name rebound after creation
    ("op = lambda x, s=2: x * k * s", ""),  # defaults
    ("op = lambda x: x * k\n    y = op(u)", ""),  # the operator is used elsewhere too
    ("pass", "[math.solve_linear(lambda x: x * j, u, Solve('CG', x0=u)) for j in k]"),  # comprehension variable
])
def test_no_hoist_when_it_would_change_meaning(tmp_path: Path, operator: str, extra: str) -> None:
    call = extra or "math.solve_linear(op, u, Solve('CG', x0=u))"
    engine = project(tmp_path, {"a.py": f"""\
from phiml import math
from phiml.math import Solve


@math.jit_compile
def step(u, k):
    {operator}
    return {call}
"""})
    found = [d for d in diagnostics(engine, "a.py") if d.code in ("PML102", "PML107")]
    assert found
    assert all(fixes_for(engine, d) == [] for d in found)


def test_no_hoist_for_bound_methods_or_captured_instances(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML102"].invalid[2], "b.py": """\
        from phiml import math


        class Sim:
            k = 0.5

            @math.jit_compile
            def step(self, u):
                # `self` would become an auxiliary argument, cached by identity: stale after `self.k = ...`
                return math.solve_linear(lambda x: x * self.k, u, math.Solve('CG', x0=u))
        """})
    for name in ("a.py", "b.py"):
        found = [d for d in diagnostics(engine, name) if d.code in ("PML102", "PML107")]
        assert found and all(fixes_for(engine, d) == [] for d in found)


# -- suppression -----------------------------------------------------------------------------------------------
def test_suppress_adds_or_merges_noqa(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": """\
        from phiml import math
        from phiml.math import Solve, SolveTape


        @math.jit_compile
        def solve(y, op):
            with SolveTape() as tape:   
                x = math.solve_linear(op, y, Solve('CG', x0=y))  # noqa: PML107
            return x, tape
        """})  # noqa: W291 - trailing spaces on the `with` line are part of the test
    tape = only(engine, "a.py", "PML106")
    fix = suppress_fix(engine, tape)
    assert fix is not None and fix.is_safe and fix.title == "Suppress with `# noqa: PML106`"
    text = applied(engine, fix)[engine.key(tape.path)]
    assert "    with SolveTape() as tape:  # noqa: PML106\n" in text
    engine.update(from_text(text, tape.path))
    assert diagnostics(engine, "a.py", "PML106") == []
    source = from_text("x = 1  # noqa: PML107\ny = 2  # noqa\nz = '''\n'''\n", str(tmp_path / "b.py"))

    def at(line: int, code: str) -> Diagnostic:
        return Diagnostic(code, "m", source.path, Span(Pos(line, 0), Pos(line, 1)), Severity.ERROR)

    merged = suppress(source, source.path, at(0, "PML102"))
    assert merged is not None and apply_edits(source.text, merged.edits).startswith("x = 1  # noqa: PML107, PML102\n")
    assert suppress(source, source.path, at(0, "PML107")) is None  # already there
    assert suppress(source, source.path, at(1, "PML102")) is None  # a bare noqa covers everything
    assert suppress(source, source.path, at(2, "PML102")) is None  # the line ends inside a string


def test_fix_never_applies_suppression(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": REGISTRY["PML106"].bad})
    before = (tmp_path / "a.py").read_bytes()
    result = cli(tmp_path, "--fix", "--unsafe-fixes", "a.py")
    assert result.returncode == 1 and "PML106" in result.stdout
    assert (tmp_path / "a.py").read_bytes() == before


# -- the CLI ---------------------------------------------------------------------------------------------------
def test_cli_diff_writes_nothing_and_fix_applies_safe_only(tmp_path: Path) -> None:
    files = {"a.py": REGISTRY["PML108"].bad, "b.py": REGISTRY["PML102"].bad}
    write(tmp_path, files)
    result = cli(tmp_path, "--diff", ".")
    assert result.returncode == 1
    assert "--- a.py\n+++ a.py\n" in result.stdout and "+@math.jit_compile(auxiliary_args='iterations')" in result.stdout
    assert "b.py" not in result.stdout  # unsafe fixes need --unsafe-fixes
    assert (tmp_path / "a.py").read_text() == dedent(files["a.py"])
    assert cli(tmp_path, "--diff", "--unsafe-fixes", ".").stdout.count("+++ b.py") == 1
    result = cli(tmp_path, "--fix", ".")
    assert result.returncode == 1 and "Fixed 1 error." in result.stdout  # PML102 / PML107 remain
    assert clean((tmp_path / "a.py").read_text()) == REGISTRY["PML108"].good
    result = cli(tmp_path, "--fix", "--unsafe-fixes", ".")
    assert "Fixed 2 errors." in result.stdout and result.returncode == 0, result.stdout
    assert clean((tmp_path / "b.py").read_text()) == REGISTRY["PML102"].good
    result = cli(tmp_path, "--diff", "--unsafe-fixes", ".")
    assert result.returncode == 0 and result.stdout == ""


def test_json_output_carries_the_fix(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": REGISTRY["PML102"].bad})
    items = json.loads(cli(tmp_path, "--output-format", "json", ".").stdout)
    fix = next(i["fix"] for i in items if i["code"] == "PML102")
    assert fix["applicability"] == "unsafe" and fix["message"] == "Hoist to a module-level linear operator"
    assert fix["reason"].startswith("ΦML then traces") and fix["edits"][0]["location"] == {"row": 5, "column": 1}


def test_line_endings_and_encoding_are_kept(tmp_path: Path) -> None:
    text = REGISTRY["PML108"].bad.replace("from phiml import math", "# -*- coding: latin-1 -*-\n# café\n"
                                          "from phiml import math")
    data = text.replace("\n", "\r\n").encode("latin-1")
    data = data.replace(b"return x\r\n", b"return x\n")  # one odd line ending stays as it is
    (tmp_path / "a.py").write_bytes(data)
    assert cli(tmp_path, "--fix", ".").returncode == 0
    expected = data.replace(b"@math.jit_compile\r\n", b"@math.jit_compile(auxiliary_args='iterations')\r\n")
    assert (tmp_path / "a.py").read_bytes() == expected


def test_notebook_cells_are_fixed_in_place(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Smoothing — é\n"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["%matplotlib inline\n", "from phiml import math\n", "from phiml.math import Solve"]},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": ["@math.jit_compile\n", "def smooth(x, n: int):\n", "    for _ in range(n):\n",
                    "        x = math.laplace(x)\n", "    return x\n"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": "@math.jit_compile\ndef step(u, k):\n    return math.solve_linear(lambda x: x - k * x, u, "
                   "Solve('CG', x0=u))"},
    ]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    raw = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    (tmp_path / "nb.ipynb").write_text(raw, encoding="utf-8")
    result = cli(tmp_path, "--fix", "--unsafe-fixes", ".")
    assert result.returncode == 0, result.stdout
    new_raw = (tmp_path / "nb.ipynb").read_text(encoding="utf-8")
    cells[2]["source"][0] = "@math.jit_compile(auxiliary_args='n')\n"
    cells[3]["source"] = ("@math.jit_compile_linear\ndef _step_operator(x, k):\n    return x - k * x\n\n\n"
                          "@math.jit_compile\ndef step(u, k):\n    return math.solve_linear(_step_operator, u, "
                          "Solve('CG', x0=u), k, grad_for_f=True)")
    assert new_raw == json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert cli(tmp_path, "--fix", "--unsafe-fixes", ".").stdout.strip() == "All checks passed!"


def test_notebook_edits_map_to_cells() -> None:
    source = notebook_from_cells("nb.ipynb", [(2, "%time x = 1\nimport phiml"), (4, "y = 2\nz = 3\n")])
    first = source.cells[1].first_line
    edits = to_cell_edits(source, [Edit("nb.ipynb", Span(Pos(first + 1, 0), Pos(first + 1, 1)), "w")])
    assert [(e.cell, e.span, e.content) for e in edits] == [(4, Span(Pos(1, 0), Pos(1, 1)), "w")]
    with pytest.raises(Unmappable):  # the first line of cell 2 is IPython syntax
        to_cell_edits(source, [Edit("nb.ipynb", Span(Pos(0, 0), Pos(0, 1)), "")])
    with pytest.raises(Unmappable):  # spans two cells
        to_cell_edits(source, [Edit("nb.ipynb", Span(Pos(1, 0), Pos(first, 1)), "")])


def test_text_edits_are_minimal_and_keep_mixed_newlines() -> None:
    old = "a = f(1, 2)\n\nb = 3\n"
    new = "a = f(x, 2, y=3)\n\nb = 3\n"
    edits = diff_edits("p", old, new)
    assert [(e.span, e.content) for e in edits] == [(Span(Pos(0, 6), Pos(0, 7)), "x"),
                                                    (Span(Pos(0, 10), Pos(0, 10)), ", y=3")]
    assert apply_edits(old, edits) == new
    raw = "a = f(1, 2)\r\n\nb = 3\r\n"
    assert apply_to_raw(raw, edits, "\r\n") == "a = f(x, 2, y=3)\r\n\nb = 3\r\n"


def test_fix_all_texts_restores_the_engine(tmp_path: Path) -> None:
    engine = project(tmp_path, {"a.py": REGISTRY["PML108"].bad})
    key = str((tmp_path / "a.py").resolve())
    result = fix_all_texts(engine, key, unsafe=False)
    assert {k: (old, clean(new)) for k, (old, new) in result.items()} == {key: (REGISTRY["PML108"].bad, REGISTRY["PML108"].good)}
    assert engine.sources[key].text == REGISTRY["PML108"].bad and diagnostics(engine, "a.py", "PML108")


# -- sweeps: the corpus and every rule example -----------------------------------------------------------------
def _touched_lines(edits: list[Edit]) -> set[int]:
    lines: set[int] = set()
    for edit in edits:
        lines |= set(range(edit.span.start.line, edit.span.end.line + 1))
    return lines


def verify_fix(engine: Engine, diagnostic: Diagnostic, fix: Fix) -> None:
    """The fixed files parse, only edited lines change, and re-checking settles the diagnostic."""
    new_texts = applied(engine, fix)
    for path, new in new_texts.items():
        ast.parse(new)
        old = text_of(engine, path)
        edits = [e for e in fix.edits if engine.key(e.path) == path]
        touched = _touched_lines(edits)
        matcher = difflib.SequenceMatcher(None, old.split("\n"), new.split("\n"), autojunk=False)
        for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
            if tag in ("replace", "delete"):
                assert set(range(i1, i2)) <= touched, (fix, tag, i1, i2)
        for edit in edits:
            start, end = edit.span.start, edit.span.end
            lines = old.split("\n")
            replaced = "\n".join(lines[start.line:end.line + 1])
            replaced = replaced[start.col:len(replaced) - (len(lines[end.line]) - end.col)]
            assert replaced != edit.content, edit  # no edit that changes nothing
    fresh = Engine(engine.root, engine.config)
    for key, source in engine.sources.items():
        text = new_texts.get(key, source.text)
        fresh.update(from_text(text, source.path) if not source.cells else source)
    key = engine.key(diagnostic.path)
    before = [d for d in engine.diagnostics(key) if d.code == diagnostic.code]
    after = [d for d in fresh.diagnostics(key) if d.code == diagnostic.code]
    assert len(after) < len(before), (diagnostic, fix, new_texts)


def sweep(engine: Engine) -> int:
    count = 0
    for key in sorted(engine.sources):
        for diagnostic in engine.diagnostics(key):
            for fix in fixes_for(engine, diagnostic):
                verify_fix(engine, diagnostic, fix)
                count += 1
    return count


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("*.md", "evaluate.py"))
    return target


def test_every_fix_on_the_corpus(corpus: Path) -> None:
    counts = {name: sweep(engine_for(corpus / name)) for name in PROJECTS}
    assert counts["rules"] >= 15 and counts["clean"] == 0


EXAMPLES = [(code, i, text) for code, rule in sorted(REGISTRY.items()) for i, text in enumerate(rule.all_invalid())]


@pytest.mark.parametrize(("code", "index", "text"), EXAMPLES, ids=[f"{c}-{i}" for c, i, _ in EXAMPLES])
def test_every_fix_on_rule_examples(tmp_path: Path, code: str, index: int, text: str) -> None:
    engine = project(tmp_path, {"example.py": text})
    sweep(engine)
    fix_project(engine, [str(tmp_path / "example.py")], unsafe=True, write=False)
    for diagnostic in engine.diagnostics(str((tmp_path / "example.py").resolve())):
        assert fixes_for(engine, diagnostic) == [], diagnostic  # what remains has no fix
    again = fix_project(engine, [str(tmp_path / "example.py")], unsafe=True, write=False)
    assert again.applied == 0 and again.diff == ""  # idempotent


def test_fixing_the_corpus_leaves_only_unfixable_diagnostics(corpus: Path) -> None:
    for name in PROJECTS:
        folder = corpus / name
        first = cli(folder, "--fix", "--unsafe-fixes", ".")
        assert first.returncode in (0, 1), first.stderr
        snapshot = {p: p.read_bytes() for p in folder.rglob("*.py")}
        for data in snapshot.values():
            ast.parse(data)
        report = cli(folder, "--output-format", "json", ".")
        assert report.stdout, report.stderr
        items = json.loads(report.stdout)
        assert [i for i in items if i["fix"] is not None] == []
        second = cli(folder, "--fix", "--unsafe-fixes", ".")
        assert "Fixed" not in second.stdout
        assert {p: p.read_bytes() for p in folder.rglob("*.py")} == snapshot
    fixed = (corpus / "rules" / "pml102_temporary_functions.py").read_text()
    assert "lambda x: math.laplace(x) * k" not in fixed and "partial(scaled" not in fixed and "functools" not in fixed
    assert "preprocess_y=lambda y: y - math.mean(y)" in fixed  # no automatic fix


# -- behaviour: the fixed code computes the same numbers ------------------------------------------------------
BEHAVIOUR = """\
from functools import partial

from phiml import math
from phiml.math import Solve


def diffusion(x, nu):
    return x - nu * math.laplace(x)


@math.jit_compile
def step_lambda(u, k):
    scale = 0.5 * k
    return math.solve_linear(lambda x: x - scale * math.laplace(x) + k * x, u, Solve('CG', 1e-9, 1e-9, x0=u))


@math.jit_compile
def step_nested(u, k):
    def operator(x):
        return x - k * math.laplace(x)
    return math.solve_linear(operator, u, Solve('CG', 1e-9, 1e-9, x0=u))


@math.jit_compile
def step_partial(u, nu):
    return math.solve_linear(partial(diffusion, nu=nu), u, Solve('CG', 1e-9, 1e-9, x0=u))


@math.jit_compile
def step_plain(u, nu):
    return math.solve_linear(diffusion, u, Solve('CG', 1e-9, 1e-9, x0=u), nu)


@math.jit_compile
def smooth(x, iterations: int):
    for _ in range(iterations):
        x = x + 0.1 * math.laplace(x)
    return x
"""


def _import(path: Path, name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixed_functions_compute_the_same(tmp_path: Path) -> None:
    from phiml import math
    from phiml.math import spatial

    write(tmp_path, {"original.py": BEHAVIOUR, "fixed/fixed.py": BEHAVIOUR})
    result = cli(tmp_path / "fixed", "--fix", "--unsafe-fixes", ".")
    assert result.returncode == 0, result.stdout
    fixed_source = (tmp_path / "fixed" / "fixed.py").read_text()
    assert fixed_source.count("grad_for_f=True") == 3  # every operator that captured something
    assert "@math.jit_compile(auxiliary_args='iterations')" in fixed_source
    assert "@math.jit_compile_linear\ndef diffusion(x, nu):" in fixed_source
    original = _import(tmp_path / "original.py", "phiml_lint_behaviour_original")
    fixed = _import(tmp_path / "fixed" / "fixed.py", "phiml_lint_behaviour_fixed")
    u = math.random_normal(spatial(x=12))
    k = math.tensor(0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "jit_compile() not supported by numpy": runs eagerly
        for name, args in [("step_lambda", (u, k)), ("step_nested", (u, k)), ("step_partial", (u, k)),
                           ("step_plain", (u, k)), ("smooth", (u, 3))]:
            expected = getattr(original, name)(*args)
            actual = getattr(fixed, name)(*args)
            assert float(math.max(abs(expected - actual))) < 1e-5, name

"""Linear solves and custom gradients: PML102, PML103, PML106, PML107, PML109."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..analysis.module import FunctionInfo, Scope
from ..analysis.project import JIT_ROLES, argument
from ..analysis.targets import Api, Func, Value
from ..model import Severity
from .base import Context, Finding, Rule, register

#: ``Solve(method, rel_tol, abs_tol, x0, max_iterations, suppress, preprocess_y, ...)``
SOLVE_PREPROCESS_INDEX = 6


def temporary_kind(ctx: Context, fn: FunctionInfo, scope: Scope, expr: ast.expr) -> str | None:
    """Why ``expr`` is a function object created anew on every call of ``fn`` (or None)."""
    if isinstance(expr, ast.Lambda):
        return "a lambda"
    if isinstance(expr, ast.Call) and ctx.role(scope, expr.func) == "partial":
        return "a `partial(...)`"
    if isinstance(expr, ast.Name):
        target = ctx.resolve(scope, expr)
        if isinstance(target, Func) and _defined_in(target.info, fn):
            return f"the nested function `{expr.id}`"
        if isinstance(target, Value) and _scope_in(target.scope, fn):
            inner = target.expr
            if isinstance(inner, ast.Lambda):
                return f"`{expr.id}`, a lambda created in this call,"
            if isinstance(inner, ast.Call) and ctx.project.role_of(target.module, target.scope, inner.func) == "partial":
                return f"`{expr.id}`, a `partial(...)` created in this call,"
    if isinstance(expr, ast.Attribute):
        target = ctx.resolve(scope, expr)
        if isinstance(target, Func) and target.info.is_method:
            return f"the bound method `{ast.unparse(expr)}`"
    return None


def _defined_in(info: FunctionInfo, fn: FunctionInfo) -> bool:
    parent = info.parent
    while parent is not None:
        if parent is fn:
            return True
        parent = parent.parent
    return False


def _scope_in(scope: Scope, fn: FunctionInfo) -> bool:
    current: Scope | None = scope
    while current is not None:
        if current is fn.scope:
            return True
        current = current.parent
    return False


@register
class TemporaryFunction(Rule):
    code = "PML102"
    name = "temporary-function-in-custom-gradient"
    summary = "A function created inside traced code is passed to a custom-gradient operation"
    severity = Severity.WARNING
    backends = frozenset({"jax"})
    breaks_on = "Jax"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': "error on jax 0.10.2: TypeError: No constant handler for type: <class 'jax._src.interpreters.partial_eval.DynamicJaxprTracer'>",
        'torch': 'works on torch 2.13: value and gradient match eager / finite differences',
    }
    why = (
        "`solve_linear`, `Solve(preprocess_y=...)` and `custom_gradient` build a custom-gradient "
        "function keyed on the identity of the function they are given. A lambda, nested `def`, "
        "`partial` or bound method created inside a jit-compiled function is a new object on every "
        "trace, and under Jax it closes over tracers of that trace: the backward pass then sees "
        "leaked tracers or a stale operator."
    )
    fix_text = (
        "For `solve_linear`: *Hoist to a module-level linear operator* (unsafe: ΦML then traces the "
        "operator into a sparse matrix). The captured variables become trailing parameters, passed "
        "as `solve_linear`'s `*f_args` with `grad_for_f=True`. For `preprocess_y`: apply the "
        "preprocessing to `y` before the solve; there is no automatic fix."
    )
    bad = """\
from phiml import math
from phiml.math import Solve


@math.jit_compile
def implicit_step(u, k):
    return math.solve_linear(lambda x: math.laplace(x) * k, u, Solve('CG', x0=u))  # expect: PML102, PML107
"""
    good = """\
from phiml import math
from phiml.math import Solve


@math.jit_compile_linear
def _implicit_step_operator(x, k):
    return math.laplace(x) * k


@math.jit_compile
def implicit_step(u, k):
    return math.solve_linear(_implicit_step_operator, u, Solve('CG', x0=u), k, grad_for_f=True)
"""
    invalid = (
        """\
from phiml import math
from phiml.math import Solve

@math.jit_compile
def step(u):
    solve = Solve('CG', x0=u, preprocess_y=lambda y: y - math.mean(y))  # expect: PML102
    return math.solve_linear(math.laplace, u, solve)  # expect: PML107
""",
        """\
from phiml import math

@math.jit_compile
def step(u, solve):
    return math.solve_linear(math.laplace, u, solve.with_preprocessing(lambda y: y))  # expect: PML102, PML107
""",
        """\
from phi.flow import *

class Sim:
    def operator(self, x):
        return math.laplace(x)

    @jit_compile
    def step(self, u):
        return solve_linear(self.operator, u, Solve('CG', x0=u))  # expect: PML102, PML107
""",
    )
    valid = (
        """\
from phiml import math
from phiml.math import Solve

@math.jit_compile_linear
def op(x, k):
    return math.laplace(x) * k

@math.jit_compile
def step(u, k):
    return math.solve_linear(op, u, Solve('CG', x0=u), k)
""",
        """\
from phiml import math
from phiml.math import Solve

def eager(u, k):
    return math.solve_linear(lambda x: math.laplace(x) * k, u, Solve('CG', x0=u))
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for site, fn, trace in ctx.traced_sites():
            call = site.node
            role = ctx.role(site.scope, call.func)
            candidates: list[tuple[ast.expr, str]] = []
            if role == "solve_linear":
                f = argument(call, 0, "f")
                if f is not None:
                    candidates.append((f, "as the operator of `solve_linear`"))
            elif role == "Solve":
                pre = argument(call, SOLVE_PREPROCESS_INDEX, "preprocess_y")
                if pre is not None:
                    candidates.append((pre, "as `preprocess_y` of `Solve`"))
            elif role == "custom_gradient":
                for index, name in ((0, "f"), (1, "gradient")):
                    arg = argument(call, index, name)
                    if arg is not None:
                        candidates.append((arg, "to `custom_gradient`"))
            elif isinstance(call.func, ast.Attribute) and call.func.attr == "with_preprocessing" and call.args:
                candidates.append((call.args[0], "to `Solve.with_preprocessing`"))
            for expr, where in candidates:
                kind = temporary_kind(ctx, fn, site.scope, expr)
                if kind is None:
                    continue
                preprocess = "preprocess" in where
                way_out = (
                    "apply the preprocessing to `y` before the solve"
                    if preprocess else "hoist it to a module-level `jit_compile_linear` function"
                    if role == "solve_linear" else "define it at module level"
                )
                yield Finding(
                    ctx.span(expr),
                    f"{kind[0].upper()}{kind[1:]} is created on every call of traced code and passed {where}: "
                    f"Jax leaks its tracers into the custom gradient; {way_out}.",
                    trace,
                    {"role": role, "preprocess": preprocess},
                )


@register
class NestedCustomGradient(Rule):
    code = "PML103"
    name = "nested-custom-gradient"
    summary = "A custom-gradient forward function calls another custom-gradient function"
    severity = Severity.ERROR
    backends = frozenset({"torch"})
    breaks_on = "PyTorch"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'works on jax 0.10.2: value and gradient match eager / finite differences',
        'torch': 'error on torch 2.13: AssertionError in get_compiled_function',
    }
    why = (
        "PyTorch implements `custom_gradient` with `torch.autograd.Function`. Calling another "
        "custom-gradient function (another `custom_gradient` result, or `solve_linear`, whose implicit "
        "backward pass is one) inside the forward function nests autograd Functions, which PyTorch's "
        "tracer does not support: jit-compiling the outer function or taking its gradient fails."
    )
    fix_text = (
        "Compute the inner custom-gradient call outside the forward function and pass its result in, "
        "or merge both gradients into one `custom_gradient`. No automatic fix."
    )
    bad = """\
from phiml import math

def _fwd(x):
    return x

clipped = math.custom_gradient(_fwd, lambda inputs, y, dy: {'x': dy})

def _outer(x):
    return clipped(x) * 2  # expect: PML103

outer = math.custom_gradient(_outer, lambda inputs, y, dy: {'x': dy})
"""
    good = """\
from phiml import math

def _fwd(x):
    return x

clipped = math.custom_gradient(_fwd, lambda inputs, y, dy: {'x': dy})

def _outer(x):
    return x * 2

outer = math.custom_gradient(_outer, lambda inputs, y, dy: {'x': dy})

def both(x):
    return outer(clipped(x))
"""
    invalid = (
        """\
from phiml import math
from phiml.math import Solve

def _helper(x):
    return math.solve_linear(math.laplace, x, Solve('CG', x0=x))  # expect: PML103

def _fwd(x):
    return _helper(x)

smoothed = math.custom_gradient(_fwd, lambda i, y, dy: {'x': dy})
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for fn in ctx.module.functions:
            trace = ctx.facts.cg_forward.get(id(fn))
            if trace is None:
                continue
            for site in ctx.project.calls_in(fn):
                target = ctx.target(site.scope, site.node.func)
                what = None
                if isinstance(target, Api) and target.role == "solve_linear":
                    what = "`solve_linear` (its implicit backward pass is a custom gradient)"
                elif isinstance(target, Value):
                    role, _call = ctx.project.call_role(target)
                    if role == "custom_gradient":
                        what = f"the custom-gradient function `{ast.unparse(site.node.func)}`"
                if what is not None:
                    yield Finding(
                        ctx.span(site.node),
                        f"This custom-gradient forward function calls {what}: nested custom gradients fail "
                        "under PyTorch tracing and differentiation; compute it outside and pass the result in.",
                        trace,
                    )


@register
class SolveTapeInJit(Rule):
    code = "PML106"
    name = "solve-tape-in-jit"
    summary = "A `SolveTape` is created inside jit-compiled code"
    severity = Severity.ERROR
    backends = frozenset({"jax", "torch"})
    breaks_on = "PyTorch, Jax"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'error on jax 0.10.2: UnexpectedTracerError: Encountered an unexpected tracer. A function transformed by JAX had a side effect',
        'torch': 'error on torch 2.13: IndexError: list index out of range',
    }
    why = (
        "`SolveTape` records solver results as Python objects while the solve runs. Under tracing the "
        "solve is a graph node: PyTorch cannot trace the `torch.autograd.Function` the implicit backward "
        "solve needs, and Jax hands the tape tracers instead of numbers."
    )
    fix_text = "Use `SolveTape` in eager code, or return the solver statistics you need. No automatic fix."
    bad = """\
from phiml import math
from phiml.math import Solve, SolveTape


@math.jit_compile
def solve(y, op):
    with SolveTape() as tape:  # expect: PML106
        x = math.solve_linear(op, y, Solve('CG', x0=y))
    return x, tape[0].iterations
"""
    good = """\
from phiml import math
from phiml.math import Solve, SolveTape


def solve(y, op):
    with SolveTape() as tape:
        x = math.solve_linear(op, y, Solve('CG', x0=y))
    return x, tape[0].iterations
"""

    def check(self, ctx: Context) -> Iterator[Finding]:
        for site, _fn, trace in ctx.traced_sites(("SolveTape",)):
                yield Finding(
                    ctx.span(site.node),
                    "`SolveTape` inside jit-compiled code fails on PyTorch and records tracers on Jax; "
                    "use it around an eager call instead.",
                    trace,
                )


@register
class MatrixFreeSolve(Rule):
    code = "PML107"
    name = "matrix-free-solve-in-jit"
    summary = "`solve_linear` in jit-compiled code is given a plain Python function"
    severity = Severity.ERROR
    backends = frozenset({"torch"})
    breaks_on = "PyTorch"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'works on jax 0.10.2: matches eager solve',
        'torch': 'error on torch 2.13: AssertionError: JIT-compiling conjugate_gradient with PyTorch is not yet supported for arbitrary functions',
    }
    why = (
        "Inside `jit_compile`, `solve_linear` with a plain Python operator runs the iterative solver "
        "matrix-free: the operator is called inside the solver loop. PyTorch's tracer cannot trace that "
        "loop (data-dependent iteration through `torch.autograd.Function`) and the trace fails. A "
        "`jit_compile_linear` operator is traced once into a sparse matrix and works on every backend."
    )
    fix_text = (
        "Decorate the operator with `@math.jit_compile_linear` (for a module-level `def`), hoist a "
        "lambda / nested def / partial to such a function, or wrap a ΦML function: "
        "`laplace_linear = math.jit_compile_linear(math.laplace)`. Unsafe: ΦML then evaluates the "
        "operator as a matrix, which assumes it is linear in its first argument."
    )
    bad = """\
from phiml import math
from phiml.math import Solve


def diffusion(x, nu):
    return x - nu * math.laplace(x)


@math.jit_compile
def implicit_step(u, nu):
    return math.solve_linear(diffusion, u, Solve('CG', x0=u), nu)  # expect: PML107
"""
    good = """\
from phiml import math
from phiml.math import Solve


@math.jit_compile_linear
def diffusion(x, nu):
    return x - nu * math.laplace(x)


@math.jit_compile
def implicit_step(u, nu):
    return math.solve_linear(diffusion, u, Solve('CG', x0=u), nu)
"""
    invalid = (
        """\
from phi.torch.flow import *

@jit_compile
def step(u):
    return solve_linear(math.laplace, u, Solve('CG', x0=u))  # expect: PML107
""",
    )
    valid = (
        """\
from phiml import math
from phiml.math import Solve

def step(matrix, u):
    return math.solve_linear(matrix, u, Solve('CG', x0=u))

@math.jit_compile
def traced(matrix, u):
    return math.solve_linear(matrix, u, Solve('CG', x0=u))
""",
        """\
from phiml import math
from phiml.math import Solve
laplace_linear = math.jit_compile_linear(math.laplace)

@math.jit_compile
def step(u):
    return math.solve_linear(laplace_linear, u, Solve('CG', x0=u))
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for site, _fn, trace in ctx.traced_sites(("solve_linear",)):
            call = site.node
            f = argument(call, 0, "f")
            if f is None:
                continue
            kind = self._plain(ctx, site.scope, f)
            if kind is None:
                continue
            yield Finding(
                ctx.span(call),
                f"`solve_linear` in jit-compiled code gets {kind}, so it solves matrix-free and PyTorch's "
                "trace fails; pass a `jit_compile_linear` function instead.",
                trace,
                {"operator": kind},
            )

    def _plain(self, ctx: Context, scope: Scope, f: ast.expr) -> str | None:
        if isinstance(f, ast.Lambda):
            return "a lambda"
        if isinstance(f, ast.Call):
            return "a `partial(...)`" if ctx.role(scope, f.func) == "partial" else None
        target = ctx.target(scope, f)
        if isinstance(target, Func):
            spec = ctx.project.function_spec(target.info)
            if spec is not None and spec.kind == "jit_compile_linear":
                return None
            return f"the plain function `{ast.unparse(f)}`"
        if isinstance(target, Value):
            jit = ctx.project.jit_of_value(target)
            if jit is not None:
                return None if jit[1].kind == "jit_compile_linear" else f"`{ast.unparse(f)}`, compiled with `jit_compile`,"
            if isinstance(target.expr, ast.Lambda):
                return f"`{ast.unparse(f)}`, a lambda,"
            if isinstance(target.expr, ast.Call) and ctx.project.role_of(target.module, target.scope,
                                                                        target.expr.func) == "partial":
                return f"`{ast.unparse(f)}`, a `partial(...)`,"
            return None
        if isinstance(target, Api) and target.role is None and target.path.split(".")[0] in ("phiml", "phi"):
            return f"the ΦML function `{ast.unparse(f)}`"
        return None


def _solve_like(ctx: Context, scope: Scope, expr: ast.expr | None) -> bool:
    """True when ``expr`` is ``Solve(...)`` or a name bound to one."""
    if expr is None:
        return False
    if isinstance(expr, ast.Call):
        return ctx.role(scope, expr.func) == "Solve"
    target = ctx.resolve(scope, expr)
    if isinstance(target, Value) and isinstance(target.expr, ast.Call):
        return ctx.project.role_of(target.module, target.scope, target.expr.func) == "Solve"
    return False


@register
class SolveAsTracedArgument(Rule):
    code = "PML109"
    name = "solve-as-traced-argument"
    summary = "A `Solve` is passed to a jit-compiled function as a traced argument"
    severity = Severity.ERROR
    backends = frozenset({"jax", "torch"})
    breaks_on = "Jax (first call), PyTorch (every later call)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'error on jax 0.10.2: TracerArrayConversionError: The numpy.ndarray conversion method __array__() was called on traced array',
        'torch': "error on torch 2.13: AttributeError: 'bool' object has no attribute 'any'",
    }
    why = (
        "`jit_compile` traces every argument not named in `auxiliary_args`. A `Solve` holds Python "
        "numbers (tolerances, iteration limits) and solver names: Jax fails on the first call when it "
        "tries to trace them, and PyTorch keys the trace on the object's tensors so later calls reuse "
        "a trace built for another `Solve`."
    )
    fix_text = "Add the parameter to `auxiliary_args` (safe: one trace per distinct `Solve`)."
    bad = """\
from phiml import math
from phiml.math import Solve


@math.jit_compile
def pressure_step(v, op, solve: Solve):  # expect: PML109
    return math.solve_linear(op, v, solve)
"""
    good = """\
from phiml import math
from phiml.math import Solve


@math.jit_compile(auxiliary_args='solve')
def pressure_step(v, op, solve: Solve):
    return math.solve_linear(op, v, solve)
"""
    valid = (
        """\
from phiml import math
from phiml.math import Solve

# jit_compile_linear treats every parameter but the first as auxiliary
@math.jit_compile_linear
def masked_laplace(p, solve: Solve = None, order=2):
    if order > 2:
        return math.laplace(p)
    return p
""",
    )
    invalid = (
        """\
from phiml import math
from phiml.math import Solve

@math.jit_compile
def step(v, op, solve):  # expect: PML109
    return math.solve_linear(op, v, solve)

def run(v, op):
    return step(v, op, Solve('CG'))
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for fn in ctx.module.functions:
            spec = ctx.facts.jit_specs.get(id(fn))
            if spec is None or spec.auxiliary(fn) is None or spec.kind not in JIT_ROLES:
                continue
            aux = spec.auxiliary(fn) or frozenset()
            trace = ctx.facts.traced.get(id(fn))
            flagged: set[str] = set()
            params = _traced_params(fn)
            for arg in params:
                if arg.arg in aux:
                    continue
                annotated = arg.annotation is not None and _is_solve_annotation(ctx, fn, arg.annotation)
                defaulted = _solve_like(ctx, fn.outer, fn.default_of(arg.arg))
                if annotated or defaulted:
                    flagged.add(arg.arg)
            for jit_call in ctx.facts.calls_of(fn):
                for name, value in _bind_arguments(fn, jit_call.site.node, via_instance=_via_instance(jit_call)):
                    if name in aux or name in flagged:
                        continue
                    if _solve_like_in(ctx, jit_call, value):
                        flagged.add(name)
            for arg in params:
                if arg.arg in flagged:
                    yield Finding(
                        ctx.span(arg),
                        f"`{arg.arg}` receives a `Solve` but is traced by `jit_compile`: Jax fails on the first "
                        "call and PyTorch reuses a stale trace; add it to `auxiliary_args`.",
                        trace,
                        {"param": arg.arg},
                    )


def _is_solve_annotation(ctx: Context, fn: FunctionInfo, annotation: ast.expr) -> bool:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return False
        return ast.unparse(annotation).split("[")[0].rsplit(".", 1)[-1] == "Solve"
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    return ctx.role(fn.outer, annotation) == "Solve"


def _traced_params(fn: FunctionInfo) -> list[ast.arg]:
    params = [*fn.node.args.posonlyargs, *fn.node.args.args, *fn.node.args.kwonlyargs]
    if fn.is_method and params and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorators):
        params = params[1:]
    return params


def _via_instance(jit_call: object) -> bool:
    func = jit_call.site.node.func  # type: ignore[attr-defined]
    return jit_call.function.is_method and isinstance(func, ast.Attribute)  # type: ignore[attr-defined]


def _bind_arguments(fn: FunctionInfo, call: ast.Call, *, via_instance: bool) -> list[tuple[str, ast.expr]]:
    """Pair a call's arguments with ``fn``'s parameter names (stops at ``*args``)."""
    positional = [a.arg for a in fn.positional_params()]
    if via_instance and positional:
        positional = positional[1:]
    pairs: list[tuple[str, ast.expr]] = []
    for name, value in zip(positional, call.args, strict=False):
        if isinstance(value, ast.Starred):
            break
        pairs.append((name, value))
    for kw in call.keywords:
        if kw.arg is not None:
            pairs.append((kw.arg, kw.value))
    return pairs


def _solve_like_in(ctx: Context, jit_call: object, value: ast.expr) -> bool:
    site = jit_call.site  # type: ignore[attr-defined]
    module = jit_call.module  # type: ignore[attr-defined]
    sub = Context(ctx.project, module, ctx.facts)
    return _solve_like(sub, site.scope, value)


bind_arguments = _bind_arguments
traced_params = _traced_params
via_instance = _via_instance

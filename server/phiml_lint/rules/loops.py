"""Work repeated every loop iteration: PML201, PML202, PML203."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..analysis.module import FunctionInfo, Loop
from ..analysis.project import FUNCTION_TRANSFORMS, JIT_ROLES, JitCall
from ..model import Severity
from .base import Context, Finding, Rule, register
from .solve import bind_arguments, via_instance

#: A loop over fewer distinct values than this retraces a bounded number of times.
BOUNDED_LOOP = 10


def loop_is_bounded(loop: Loop) -> bool:
    """A ``for`` over a literal collection (or ``range`` of literals) with fewer than 10 items."""
    iterable = loop.iter if isinstance(loop, ast.For | ast.AsyncFor | ast.comprehension) else None
    if iterable is None:
        return False
    if isinstance(iterable, ast.List | ast.Tuple | ast.Set):
        return len(iterable.elts) < BOUNDED_LOOP and not any(isinstance(e, ast.Starred) for e in iterable.elts)
    if isinstance(iterable, ast.Dict):
        return len(iterable.keys) < BOUNDED_LOOP
    if (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and iterable.func.id == "range"
            and iterable.args and all(isinstance(a, ast.Constant) and isinstance(a.value, int) for a in iterable.args)):
        try:
            return len(range(*[a.value for a in iterable.args])) < BOUNDED_LOOP  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            return False
    return False


def _assigned_names(nodes: list[ast.stmt] | ast.AST) -> set[str]:
    names: set[str] = set()
    roots = nodes if isinstance(nodes, list) else [nodes]
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def changing_names(loops: tuple[Loop, ...]) -> set[str]:
    """Names whose value changes from one iteration of an unbounded loop to the next."""
    names: set[str] = set()
    for loop in loops:
        if loop_is_bounded(loop):
            continue
        if isinstance(loop, ast.While):
            names |= _assigned_names(loop.body)
        elif isinstance(loop, ast.comprehension):
            names |= _assigned_names(loop.target)
        else:
            names |= _assigned_names(loop.target) | _assigned_names(loop.body)
    return names


@register
class JitCompileInLoop(Rule):
    code = "PML201"
    name = "jit-compile-in-loop"
    summary = "`jit_compile` is applied inside a loop or to a function defined in another function"
    severity = Severity.WARNING
    backends = frozenset({"jax", "torch", "tensorflow"})
    breaks_on = "all backends (retracing, growing memory)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'retrace on jax 0.10.2: 12 traces for 12 loop passes',
        'torch': 'retrace on torch 2.13: 12 traces for 12 loop passes',
    }
    why = (
        "Every application of `jit_compile` builds a new compiled function with an empty trace cache. "
        "Inside a loop, or on a function defined inside another function (a new object every time "
        "the outer function runs), every pass traces again, silently, and the traces accumulate. "
        "`forget_traces=True` does not help: it only limits the traces of *one* compiled function."
    )
    fix_text = (
        "*Compile once*: move `jit_compile(f)` before the loop, or to module level when `f` is "
        "module-level (safe). For nested functions, pass what they capture as arguments and define "
        "them at module level."
    )
    bad = """\
from phiml import math


def advect(x, dt):
    return x * dt


def simulate(x, steps):
    for i in range(steps):
        fast = math.jit_compile(advect)  # expect: PML201
        x = fast(x, 0.1)
    return x
"""
    good = """\
from phiml import math


def advect(x, dt):
    return x * dt


fast_advect = math.jit_compile(advect)


def simulate(x, steps):
    for i in range(steps):
        x = fast_advect(x, 0.1)
    return x
"""
    invalid = (
        """\
from phiml import math

def make_stepper(scale):
    @math.jit_compile(forget_traces=True)  # expect: PML201
    def stepper(x):
        return x * scale
    return stepper
""",
        """\
from phiml import math

def run(fs, x):
    return [math.jit_compile(f)(x) for f in fs]  # expect: PML201
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        decorators: set[int] = set()
        for fn in ctx.module.functions:
            for decorator in fn.decorators:
                decorators.add(id(decorator))
            spec = ctx.facts.jit_specs.get(id(fn))
            if spec is None or spec.form != "decorator" or spec.module is not ctx.module:
                continue
            where = self._where(fn)
            if where:
                yield Finding(ctx.span(spec.node), self._message(where, spec.kind), ctx.facts.trace(fn))
        for site in ctx.facts.sites_with(ctx.module, sorted(JIT_ROLES)):
            kind = ctx.role(site.scope, site.node.func)
            if id(site.node) in decorators:
                continue
            where = None
            if site.loops:
                where = "inside a loop"
            else:
                first = site.node.args[0] if site.node.args else None
                fn = ctx.project.function_of_expr(ctx.module, site.scope, first) if first is not None else None
                if fn is not None and fn.parent is not None:
                    where = "on a function defined inside another function"
            if where:
                yield Finding(ctx.span(site.node), self._message(where, kind), None,
                              {"in_loop": bool(site.loops)})

    def _where(self, fn: FunctionInfo) -> str | None:
        if fn.loops:
            return "inside a loop"
        scope = fn.outer
        while scope is not None:
            if scope.kind in ("function", "lambda"):
                return "on a function defined inside another function"
            scope = scope.parent
        return None

    @staticmethod
    def _message(where: str, kind: str = "jit_compile") -> str:
        return (
            f"`{kind}` applied {where} creates a new compiled function each time, which traces again "
            "on every backend and keeps its traces (`forget_traces=True` does not help); compile once, at "
            "module level."
        )


@register
class RetraceInLoop(Rule):
    code = "PML202"
    name = "retrace-in-loop"
    summary = "A jit-compiled function is retraced on every loop iteration"
    severity = Severity.WARNING
    backends = frozenset({"jax", "torch", "tensorflow"})
    breaks_on = "all backends (retracing, memory leak)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'retrace on jax 0.10.2: 12 traces for 12 calls, all 12 kept; RuntimeWarning from the 10th trace on',
        'torch': 'retrace on torch 2.13: 12 traces for 12 calls, all 12 kept; RuntimeWarning from the 10th trace on',
    }
    why = (
        "ΦML keys its traces on the values of `auxiliary_args` and on every non-tensor argument such "
        "as strings. Passing a value that changes every iteration retraces every iteration, and ΦML "
        "keeps every trace: the loop slows down drastically and memory grows. Changing ints and "
        "floats in ordinary parameters are fine: they become traced tensors."
    )
    fix_text = (
        "*Add `forget_traces=True`* to the `jit_compile` of the called function (safe: ΦML keeps "
        "only the newest trace, so memory stays flat; it still retraces). Better still, pass the "
        "changing value as a traced argument when the function allows it."
    )
    bad = """\
from phiml import math


@math.jit_compile(auxiliary_args='order')
def smooth(x, order):
    return math.laplace(x) * order


def run(x):
    for order in range(1, 20):
        x = smooth(x, order)  # expect: PML202
    return x
"""
    good = """\
from phiml import math


@math.jit_compile(auxiliary_args='order', forget_traces=True)
def smooth(x, order):
    return math.laplace(x) * order


def run(x):
    for order in range(1, 20):
        x = smooth(x, order)
    return x
"""
    invalid = (
        """\
from phiml import math

@math.jit_compile
def tag(x, name: str):
    return x

def run(x):
    i = 0
    while i < 100:
        x = tag(x, f"frame-{i}")  # expect: PML202
        i += 1
    return x
""",
    )
    valid = (
        """\
from phiml import math

@math.jit_compile(auxiliary_args='order')
def smooth(x, order):
    return math.laplace(x) * order

def run(x):
    for order in (1, 2):
        x = smooth(x, order)
    for _ in range(100):
        x = smooth(x, 3)
    return x
""",
        """\
from phiml import math

@math.jit_compile
def step(x, t):
    return x * math.cos(t)

def run(x):
    for t in range(100):
        x = step(x, t)
    return x
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for jit_call in ctx.facts.calls_in(ctx.module):
            if not jit_call.site.loops:
                continue
            spec = jit_call.spec
            if spec.forget_traces:
                continue
            changing = changing_names(jit_call.site.loops)
            if not changing:
                continue
            reason = self._reason(jit_call, changing)
            if reason is None:
                continue
            fn = jit_call.function
            yield Finding(
                ctx.span(jit_call.site.node),
                f"`{fn.name}` is called with {reason} that changes every iteration, so it retraces every "
                "iteration and keeps every trace on all backends; add `forget_traces=True` to its "
                "`jit_compile` or pass a traced value.",
                None,
                {"function": fn.qualname, "def_path": fn.module.path},
            )

    def _reason(self, jit_call: JitCall, changing: set[str]) -> str | None:
        fn, spec = jit_call.function, jit_call.spec
        for name, value in bind_arguments(fn, jit_call.site.node, via_instance=via_instance(jit_call)):
            used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
            if not used & changing:
                continue
            aux = spec.auxiliary(fn)
            if aux is not None and name in aux:
                return f"the auxiliary argument `{name}`"
            if _is_string_expr(value):
                return f"a string for `{name}`"
            if _is_str_param(fn, name) and isinstance(value, ast.Name):
                return f"a string for `{name}`"
        return None


def _is_string_expr(expr: ast.expr) -> bool:
    if isinstance(expr, ast.JoinedStr):
        return True
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in {"str", "repr"}:
        return True
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "format" and (
            isinstance(expr.func.value, ast.Constant) and isinstance(expr.func.value.value, str)):
        return True
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Mod):
        return any((isinstance(side, ast.Constant) and isinstance(side.value, str)) or _is_string_expr(side)
                   for side in (expr.left, expr.right))
    return False


def _is_str_param(fn: FunctionInfo, name: str) -> bool:
    for arg in fn.params:
        if arg.arg == name:
            if arg.annotation is not None and ast.unparse(arg.annotation).strip("'\"") == "str":
                return True
            default = fn.default_of(name)
            return isinstance(default, ast.Constant) and isinstance(default.value, str)
    return False


@register
class TransformationInLoop(Rule):
    code = "PML203"
    name = "transformation-in-loop"
    summary = "A function transformation is created inside a loop"
    severity = Severity.WARNING
    backends = frozenset({"jax", "torch", "tensorflow"})
    breaks_on = "all backends (retracing, memory leak)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'retrace on jax 0.10.2: 12 gradient traces for 12 iterations',
        'torch': 'retrace on torch 2.13: 12 gradient traces for 12 iterations',
    }
    why = (
        "`gradient`, `functional_gradient`, `jacobian`, `hessian` and `custom_gradient` return a new "
        "function object with its own trace cache. Created inside a loop, every iteration traces "
        "again and the caches pile up: ΦML's documentation warns that this leaks memory."
    )
    fix_text = (
        "*Hoist the transformation* before the loop when its arguments do not change in the loop, "
        "or to module level when they are module-level names (safe)."
    )
    bad = """\
from phiml import math


def loss(x):
    return math.l2_loss(x)


def optimize(x, iterations):
    for _ in range(iterations):
        grad = math.gradient(loss, 'x', get_output=False)  # expect: PML203
        x = x - 0.01 * grad(x)
    return x
"""
    good = """\
from phiml import math


def loss(x):
    return math.l2_loss(x)


def optimize(x, iterations):
    grad = math.gradient(loss, 'x', get_output=False)
    for _ in range(iterations):
        x = x - 0.01 * grad(x)
    return x
"""
    invalid = (
        """\
from phi.flow import *

def loss(x):
    return math.l2_loss(x)

def optimize(x):
    while True:
        x -= functional_gradient(loss, get_output=False)(x)  # expect: PML203
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for site in ctx.facts.sites_with(ctx.module, sorted(FUNCTION_TRANSFORMS)):
            if site.loops:
                yield Finding(
                    ctx.span(site.node),
                    f"`{ast.unparse(site.node.func)}` inside a loop creates a new function, with new traces, "
                    "every iteration on all backends; create it once before the loop.",
                    ctx.facts.trace(site.function),
                    {"role": ctx.role(site.scope, site.node.func)},
                )

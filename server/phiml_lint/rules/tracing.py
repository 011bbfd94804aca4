"""What traced code must not do with its arguments or with autodiff: PML105, PML108."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..analysis.module import FunctionInfo
from ..model import Severity
from .base import Context, Finding, Rule, register, walk_body
from .solve import traced_params

GRADIENT_ROLES = frozenset({"gradient", "jacobian", "hessian"})
NUMBER_TYPES = frozenset({"int", "float", "bool"})
#: Calls through which a Python number stays a Python number in a test (``if abs(n) > 2``).
TRANSPARENT_CALLS = frozenset({"int", "float", "bool", "len", "abs", "min", "max", "round"})
CONVERSIONS = frozenset({"int", "float", "bool"})


@register
class GradientInJit(Rule):
    code = "PML105"
    name = "gradient-in-jit"
    summary = "A jit-compiled function computes a gradient"
    severity = Severity.WARNING
    backends = frozenset({"torch"})
    breaks_on = "PyTorch (documented upstream; simple cases work on torch 2.13)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'works on jax 0.10.2: matches finite differences',
        'torch': 'works on torch 2.13: first-order gradient inside jit matches finite differences: the documented PyTorch limitation does not reproduce for this case',
    }
    why = (
        "ΦML's documentation warns that PyTorch cannot trace backward passes, so `gradient`, "
        "`functional_gradient`, `jacobian` and `hessian` should not be called inside jit-compiled "
        "code. Running the pattern with phiml 1.16.1 and torch 2.13 showed that simple cases do work, "
        "so this rule is a warning: it marks code that depends on the backend's tracer."
    )
    fix_text = (
        "Create the gradient function at module level (`grad_fn = math.gradient(loss, 'x')`) and "
        "jit-compile the gradient function itself, or call it from eager code. "
        "*Hoist the transformation* is offered when all arguments are module-level names."
    )
    bad = """\
from phiml import math


def loss(x):
    return math.l2_loss(x)


@math.jit_compile
def descend(x):
    grad = math.gradient(loss, 'x', get_output=False)  # expect: PML105
    return x - 0.1 * grad(x)
"""
    good = """\
from phiml import math


def loss(x):
    return math.l2_loss(x)


loss_gradient = math.gradient(loss, 'x', get_output=False)


def descend(x):
    return x - 0.1 * loss_gradient(x)
"""
    invalid = (
        """\
import phiml
from phiml import math

def loss(x):
    return math.l2_loss(x)

@math.jit_compile
def descend(x):
    return phiml.functional_gradient(loss, 'x')(x)  # expect: PML105
""",
    )
    valid = (
        """\
from phi.flow import *

@jit_compile
def smooth(grid, backend):
    # a Field's own method, PhiFlow's spatial gradient and a Backend's method are not ΦML's
    # functional gradient (phi.field.gradient, by contrast, *is* that gradient)
    return grid.gradient() + field.spatial_gradient(grid) + backend.jacobian(grid)
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for site, _fn, trace in ctx.traced_sites(GRADIENT_ROLES):
            yield Finding(
                ctx.span(site.node),
                f"`{ast.unparse(site.node.func)}` in jit-compiled code asks PyTorch to trace a backward "
                "pass, which ΦML documents as unsupported; create the gradient function outside and "
                "jit-compile that instead.",
                trace,
                {"role": ctx.role(site.scope, site.node.func)},
            )


@register
class ControlFlowOnTracedArgument(Rule):
    code = "PML108"
    name = "control-flow-on-traced-argument"
    summary = "Python control flow depends on a traced number argument"
    severity = Severity.ERROR
    backends = frozenset({"jax", "torch", "tensorflow"})
    breaks_on = "Jax (error), PyTorch (silently wrong)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'error on jax 0.10.2: TracerIntegerConversionError: The __index__() method was called on traced array',
        'torch': 'wrong-value on torch 2.13: iterations=3 and 5 silently reuse the trace of iterations=1 (one trace for three counts)',
    }
    why = (
        "`jit_compile` converts every argument not named in `auxiliary_args` into a traced tensor, "
        "Python numbers included. Python control flow needs a concrete value: Jax raises "
        "`ConcretizationTypeError` (or `TracerIntegerConversionError` in `range`), and PyTorch "
        "evaluates the condition once while tracing and reuses that branch or loop count for every "
        "later call, silently computing wrong values. Strings are never traced and are fine."
    )
    fix_text = (
        "*Add the parameter to `auxiliary_args`* (safe): ΦML then treats it as a static value and "
        "traces once per distinct value."
    )
    bad = """\
from phiml import math


@math.jit_compile
def smooth(x, iterations: int):
    for _ in range(iterations):  # expect: PML108
        x = x + 0.1 * math.laplace(x)
    return x
"""
    good = """\
from phiml import math


@math.jit_compile(auxiliary_args='iterations')
def smooth(x, iterations: int):
    for _ in range(iterations):
        x = x + 0.1 * math.laplace(x)
    return x
"""
    invalid = (
        """\
from phiml import math

@math.jit_compile
def clip_if(x, enabled=True):
    if enabled:  # expect: PML108
        x = math.clip(x, -1, 1)
    return x
""",
        """\
from phiml import math

def smooth(x, n):
    for _ in range(n):  # expect: PML108
        x = math.laplace(x)
    return x

fast = math.jit_compile(smooth)
""",
        """\
from phiml import math

@math.jit_compile(auxiliary_args='n')
def f(x, n, scale: float):
    y = x * n
    return y if scale > 1 else -y  # expect: PML108
""",
    )
    valid = (
        """\
from phiml import math

@math.jit_compile
def advect(x, scheme: str = 'upwind'):
    if scheme == 'upwind':
        return x * 0.5
    return x

@math.jit_compile
def scale(x, factor: float):
    return x * factor
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for fn in ctx.module.functions:
            spec = ctx.facts.jit_specs.get(id(fn))
            if spec is None or spec.auxiliary(fn) is None or fn.is_lambda:
                continue
            aux = spec.auxiliary(fn) or frozenset()
            trace = ctx.facts.traced.get(id(fn))
            numbers = self._number_params(fn, aux)
            if not numbers:
                continue
            reported: set[tuple[str, int]] = set()
            for name, construct in self._uses(fn, numbers):
                key = (name.id, name.lineno)
                if key in reported:
                    continue
                reported.add(key)
                yield Finding(
                    ctx.span(name),
                    f"`{name.id}` is traced by `jit_compile`, so {construct} fails on Jax and is frozen to the "
                    f"first call's value on PyTorch; add `{name.id}` to `auxiliary_args`.",
                    trace,
                    {"param": name.id},
                )

    def _number_params(self, fn: FunctionInfo, aux: frozenset[str]) -> set[str]:
        numbers: set[str] = set()
        for arg in traced_params(fn):
            if arg.arg in aux:
                continue
            annotation = arg.annotation
            if annotation is not None:
                text = annotation.value if isinstance(annotation, ast.Constant) else ast.unparse(annotation)
                if str(text) in NUMBER_TYPES:
                    numbers.add(arg.arg)
                continue
            default = fn.default_of(arg.arg)
            if isinstance(default, ast.Constant) and type(default.value) in (int, float, bool):
                numbers.add(arg.arg)
        # passed to ``range``: a number whatever its annotation says
        params = {a.arg for a in traced_params(fn)} - aux
        for node in walk_body(fn):
            if type(node) is ast.Call and isinstance(node.func, ast.Name) and node.func.id == "range":
                for arg in node.args:
                    for name in _plain_names(arg):
                        if name.id in params:
                            numbers.add(name.id)
        return {n for n in numbers if not _rebound(fn, n)}

    def _uses(self, fn: FunctionInfo, numbers: set[str]) -> Iterator[tuple[ast.Name, str]]:
        for node in walk_body(fn):
            if type(node) not in _USE_NODES:
                continue
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "range":
                    for arg in node.args:
                        for name in _plain_names(arg):
                            if name.id in numbers:
                                yield name, f"`range({ast.unparse(arg)})`"
                elif node.func.id in CONVERSIONS:
                    for arg in node.args:
                        for name in _plain_names(arg):
                            if name.id in numbers:
                                yield name, f"`{node.func.id}({ast.unparse(arg)})`"
            test = None
            if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
                test = node.test
            elif isinstance(node, ast.comprehension):
                for cond in node.ifs:
                    for name in _plain_names(cond):
                        if name.id in numbers:
                            yield name, "a comprehension condition"
            if test is not None:
                kind = {ast.If: "an `if` test", ast.While: "a `while` test", ast.IfExp: "a conditional expression",
                        ast.Assert: "an `assert`"}[type(node)]
                for name in _plain_names(test):
                    if name.id in numbers:
                        yield name, kind


#: The node types ``_uses`` looks at.
_USE_NODES = frozenset({ast.Call, ast.If, ast.While, ast.IfExp, ast.Assert, ast.comprehension})


def _plain_names(expr: ast.expr) -> Iterator[ast.Name]:
    """Names read directly in ``expr``, not through calls that would turn them into tensors."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            yield node
            continue
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in TRANSPARENT_CALLS:
                stack.extend(node.args)
            continue
        if isinstance(node, ast.Lambda | ast.Attribute | ast.Subscript):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _rebound(fn: FunctionInfo, name: str) -> bool:
    """True when the body reassigns the parameter (then its value is no longer the argument)."""
    bindings = fn.scope.bindings.get(name, ())
    return any(b.kind != "param" for b in bindings)

"""PML101: jit-compiled code must not write to state that outlives the call."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..analysis.module import FunctionInfo
from ..analysis.targets import Param, Value
from ..model import Severity
from .base import Context, Finding, Rule, register, walk_body

#: Methods that mutate their receiver (lists, dicts, sets, deques).
MUTATORS = frozenset({
    "append", "extend", "insert", "update", "setdefault", "add", "pop", "popitem", "clear", "remove",
    "discard", "sort", "reverse", "appendleft", "extendleft", "popleft", "difference_update",
    "intersection_update", "symmetric_difference_update", "__setitem__", "__delitem__",
})
#: On parameters these names are too often non-mutating tensor/optimizer methods to flag.
AMBIGUOUS_ON_PARAMS = frozenset({"add", "pop", "sort", "update", "reverse", "remove"})


def _root(expr: ast.expr) -> ast.Name | None:
    while isinstance(expr, ast.Attribute | ast.Subscript):
        expr = expr.value
    return expr if isinstance(expr, ast.Name) else None


@register
class SideEffect(Rule):
    code = "PML101"
    name = "jit-side-effect"
    summary = "A jit-compiled function writes to state that outlives the call"
    severity = Severity.ERROR
    backends = frozenset({"jax", "torch", "tensorflow"})
    breaks_on = "Jax (error), PyTorch (silently stale)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': 'error on jax 0.10.2: UnexpectedTracerError: Encountered an unexpected tracer. A function transformed by JAX had a side effect',
        'torch': 'stale on torch 2.13: 3 calls log 2 entries, both from the first call (PyTorch runs the Python body twice while tracing, never afterwards)',
    }
    why = (
        "A jit-compiled function runs as Python only while it is traced. Jax traces with abstract "
        "tracers, so a value stored outside the call leaks a tracer and the next use raises "
        "`UnexpectedTracerError`; PyTorch and TensorFlow run the Python body only on the first call "
        "(and on retraces), so the write silently stops happening and the stored value goes stale."
    )
    fix_text = (
        "Return the value from the jit-compiled function and store it outside, or move the write to "
        "eager code. There is no automatic fix: where the value should go is a design decision."
    )
    bad = """\
from phiml import math

history = []


@math.jit_compile
def step(x):
    y = x * 2
    history.append(y)  # expect: PML101
    return y
"""
    good = """\
from phiml import math

history = []


@math.jit_compile
def step(x):
    return x * 2


def run(x):
    y = step(x)
    history.append(y)
    return y
"""
    invalid = (
        """\
from phiml import math
calls = 0

@math.jit_compile
def step(x):
    global calls
    calls += 1  # expect: PML101
    return x
""",
        """\
from phiml import math

class Sim:
    @math.jit_compile
    def step(self, x):
        self.last = x  # expect: PML101
        return x
""",
        """\
from phiml import math
cache = {}

def helper(x):
    cache['x'] = x  # expect: PML101
    return x

@math.jit_compile
def step(x):
    return helper(x)
""",
        """\
from phiml import math

class Counter:
    @math.jit_compile
    def step(self, x):
        setattr(self, 'last', x)  # expect: PML101
        return x
""",
        """\
from phiml import math

def make():
    seen = []
    def f(x):
        seen.append(x)  # expect: PML101
        return x
    return math.jit_compile(f)  # expect: PML201
""",
    )
    valid = (
        """\
from phiml import math

@math.jit_compile
def step(x):
    parts = []
    parts.append(x)
    return math.stack(parts, math.batch('b'))
""",
        """\
import numpy as np
from phiml import math
log = []

def eager(x):
    log.append(x)
    return np.add(x, 1)
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for fn, trace in ctx.traced_functions():
            seen: set[int] = set()
            for node in walk_body(fn):
                if type(node) not in _WRITE_NODES:
                    continue
                found = self._write(ctx, fn, node)
                if found is None:
                    continue
                stmt, what = found
                if id(stmt) in seen:
                    continue
                seen.add(id(stmt))
                yield Finding(
                    ctx.span(stmt),
                    f"{what} in {'jit-compiled' if trace.entry is fn else 'traced'} code writes state that outlives "
                    "the call: Jax raises a leaked-tracer error and PyTorch silently skips it after the first "
                    "trace; return the value instead.",
                    trace,
                )

    def _write(self, ctx: Context, fn: FunctionInfo, node: ast.AST) -> tuple[ast.AST, str] | None:
        scope = fn.scope
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                for sub in (target.elts if isinstance(target, ast.Tuple | ast.List) else [target]):
                    if isinstance(sub, ast.Name):
                        if sub.id in scope.globals or sub.id in scope.nonlocals:
                            kind = "global" if sub.id in scope.globals else "nonlocal"
                            return node, f"Assigning the {kind} `{sub.id}`"
                    elif isinstance(sub, ast.Subscript | ast.Attribute):
                        root = _root(sub)
                        if root is not None and self._outlives(ctx, fn, root, allow_param_attr=True):
                            what = "Item assignment" if isinstance(sub, ast.Subscript) else "Attribute assignment"
                            return node, f"{what} on `{ast.unparse(sub.value)}`"
        elif isinstance(node, ast.Call):
            call = node
            if (isinstance(call.func, ast.Name) and call.func.id in {"setattr", "delattr"} and call.args
                    and ctx.resolve(scope, call.func) is None):
                root = _root(call.args[0])
                if root is not None and self._outlives(ctx, fn, root, allow_param_attr=True):
                    return call, f"`{call.func.id}({ast.unparse(call.args[0])}, ...)`"
            if isinstance(call.func, ast.Attribute):
                method = call.func.attr
                in_place = method.endswith("_") and not method.endswith("__") and len(method) > 2
                if method in MUTATORS or in_place:
                    root = _root(call.func.value)
                    if root is not None and self._outlives(ctx, fn, root, method=method, in_place=in_place):
                        return call, f"`{ast.unparse(call.func)}(...)`"
        elif isinstance(node, ast.For | ast.AsyncFor | ast.With | ast.AsyncWith):
            targets = [node.target] if isinstance(node, ast.For | ast.AsyncFor) else [
                i.optional_vars for i in node.items if i.optional_vars is not None]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name) and (sub.id in scope.globals or sub.id in scope.nonlocals):
                        return node, f"Rebinding the {'global' if sub.id in scope.globals else 'nonlocal'} `{sub.id}`"
        return None

    def _outlives(self, ctx: Context, fn: FunctionInfo, root: ast.Name, *, method: str = "",
                  in_place: bool = False, allow_param_attr: bool = False) -> bool:
        """True when ``root`` names an object that was not created in this call."""
        scope = ctx.module.scope_for_name(root)
        found = ctx.module.lookup_local(root.id, scope)
        if found is None:
            return False
        bound_scope, bindings = found
        kinds = {b.kind for b in bindings}
        own = bound_scope is fn.scope or _inside(bound_scope, fn)
        if own:
            if "param" not in kinds:
                return False  # created in this call
            if kinds != {"param"}:
                return False  # rebound locally: we cannot tell which object it is
            is_self = fn.is_method and fn.positional_params() and fn.positional_params()[0].arg == root.id
            if is_self or allow_param_attr:
                return True
            return method not in AMBIGUOUS_ON_PARAMS and not in_place
        if bound_scope.kind == "class":
            return False
        if kinds & {"import", "def", "class", "star"}:
            return False
        if in_place and bound_scope.kind == "module":
            target = ctx.resolve(scope, root)
            return isinstance(target, Value | Param)
        return True


#: The node types ``_write`` looks at (a set lookup skips the rest of a body cheaply).
_WRITE_NODES = frozenset({ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.Call, ast.For, ast.AsyncFor,
                          ast.With, ast.AsyncWith})


def _inside(scope: object, fn: FunctionInfo) -> bool:
    """True for comprehension/lambda scopes nested in ``fn`` (their names are ``fn``'s temporaries)."""
    current = scope
    while current is not None and getattr(current, "kind", None) in ("comprehension", "lambda"):
        current = current.parent  # type: ignore[attr-defined]
        if current is fn.scope:
            return True
    return False

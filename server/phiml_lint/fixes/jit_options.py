"""Options of a ``jit_compile``: *Add the parameter to auxiliary_args* (PML108, PML109) and
*Add forget_traces=True* (PML202).

The option lands where the function is compiled: the decorator (``@math.jit_compile`` becomes
``@math.jit_compile(auxiliary_args='n')``), the decorator call, a ``partial(jit_compile, ...)``
decorator, or the call form ``fast = math.jit_compile(f)``, possibly in another file.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import libcst as cst

from ..analysis.module import FunctionInfo
from ..analysis.project import JIT_ROLES, JitSpec
from ..model import Applicability, Fix
from .base import FixContext
from .cst import Changes, NoFix, insert_args, keyword, quote_of, string_literal

#: Rewrites an option that is already given: ``(ast value, libcst value) -> new libcst value``.
Update = Callable[[ast.expr, cst.BaseExpression], cst.BaseExpression]

#: ``jit_compile(f, auxiliary_args, forget_traces)``: positions in the call form.
AUX_INDEX = 1
FORGET_INDEX = 2


def _spec(ctx: FixContext) -> JitSpec:
    """The jit spec of the function the diagnostic is about."""
    data = ctx.data
    if ctx.diagnostic.code == "PML202":
        path = data.get("def_path")
        qualname = data.get("function")
        if not isinstance(path, str) or not isinstance(qualname, str):
            raise NoFix("diagnostic lacks the function")
        fn = ctx.function_named(ctx.summary(path), qualname)
    else:
        qualname = data.get("function")
        fn = ctx.function_named(ctx.module, qualname, ctx.diagnostic.span) if isinstance(qualname, str) else \
            _innermost_jit_function(ctx)
    spec = ctx.facts.jit_specs.get(id(fn))
    if spec is None or spec.kind not in JIT_ROLES:
        raise NoFix("the function is not compiled by jit_compile")
    return spec


def _innermost_jit_function(ctx: FixContext) -> FunctionInfo:
    span = ctx.diagnostic.span
    found = None
    for fn in ctx.module.functions:
        fn_span = ctx.module.span(fn.node)
        if fn_span.start <= span.start and span.end <= fn_span.end and id(fn) in ctx.facts.jit_specs:
            found = fn
    if found is None:
        raise NoFix("no jit-compiled function around the diagnostic")
    return found


def _options_call(ctx: FixContext, spec: JitSpec) -> ast.Call | None:
    """The call that holds the options (None for a bare ``@jit_compile``); refuses unknown forms."""
    project = ctx.project
    module = spec.module
    scope = module.module_scope
    if spec.call is None:
        if project.role_of(module, scope, spec.node) not in JIT_ROLES:
            raise NoFix("the decorator is not ΦML's jit_compile")
        return None
    call = spec.call
    role = project.role_of(module, scope, call.func)
    if spec.form == "decorator":
        if role == "partial" and call.args and project.role_of(module, scope, call.args[0]) in JIT_ROLES:
            if len(call.args) > 1:
                raise NoFix("positional options in partial(jit_compile, ...)")
            return call
        if role not in JIT_ROLES or call.args:
            raise NoFix("the decorator is not a plain jit_compile(...) call")
        return call
    if role not in JIT_ROLES:
        raise NoFix("not a jit_compile call")
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise NoFix("*args or **kwargs in the jit_compile call")
    return call


def _option(call: ast.Call, name: str, index: int | None) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if index is not None and len(call.args) > index:
        return call.args[index]
    return None


def _set_option(ctx: FixContext, changes: Changes, spec: JitSpec, name: str, *, index: int,
                value: cst.BaseExpression, update: Update | None = None) -> None:
    """Add ``name=value`` to the compile options, or rewrite the existing value with ``update``."""
    module = spec.module
    rewrite = changes.file(module.path)
    file = rewrite.file
    call = _options_call(ctx, spec)
    if call is None:  # bare decorator: ``@math.jit_compile`` -> ``@math.jit_compile(name=value)``
        node = file.of(module, spec.node, cst.BaseExpression)
        rewrite.replace(node, lambda n: cst.Call(func=n, args=[keyword(name, value)]))
        return
    existing = _option(call, name, index if spec.form == "call" else None)
    if existing is not None:
        if update is None:
            raise NoFix(f"{name} is already given")
        old = file.of(module, existing, cst.BaseExpression)
        rewrite.replace(old, update(existing, old))
        return
    node = file.of(module, call, cst.Call)
    added = keyword(name, value)
    rewrite.replace(node, lambda n: n.with_changes(args=insert_args(n.args, [added], len(n.args))))


def auxiliary_fix(ctx: FixContext) -> Fix:
    """PML108 / PML109: add the parameter to ``auxiliary_args``."""
    param = ctx.data.get("param")
    if not isinstance(param, str):
        raise NoFix("diagnostic lacks the parameter")
    spec = _spec(ctx)
    if spec.aux is None:
        raise NoFix("auxiliary_args is not a string literal")
    if param in spec.aux:
        raise NoFix("already auxiliary")
    quote = quote_of(spec.module)

    def extend(existing: ast.expr, old: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(existing, ast.Constant) and existing.value is None:
            return string_literal(param, quote)
        if not (isinstance(existing, ast.Constant) and isinstance(existing.value, str)
                and isinstance(old, cst.SimpleString)):
            raise NoFix("auxiliary_args is not a plain string literal")
        text = existing.value
        prefix = old.prefix.lower()
        if "r" in prefix or "b" in prefix or "\\" in old.value:
            raise NoFix("auxiliary_args uses an escaped or raw string")
        parts = [p for p in text.split(",") if p.strip()]
        sep = "," if len(parts) > 1 and ", " not in text else ", "
        new_text = (text.rstrip().rstrip(",") + sep + param) if parts else param
        q = old.quote
        if q in new_text:
            raise NoFix("quote inside auxiliary_args")
        return cst.SimpleString(f"{old.prefix}{q}{new_text}{q}", lpar=old.lpar, rpar=old.rpar)

    changes = ctx.changes()
    _set_option(ctx, changes, spec, "auxiliary_args", index=AUX_INDEX, value=string_literal(param, quote),
                update=extend)
    return Fix(f"Add `{param}` to `auxiliary_args`", Applicability.SAFE, changes.edits())


def forget_traces_fix(ctx: FixContext) -> Fix:
    """PML202: add ``forget_traces=True`` where the called function is compiled."""
    spec = _spec(ctx)

    def flip(existing: ast.expr, old: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(existing, ast.Constant) and (existing.value is False or existing.value is None):
            return cst.Name("True", lpar=getattr(old, "lpar", ()), rpar=getattr(old, "rpar", ()))
        raise NoFix("forget_traces is already set or not a literal")

    changes = ctx.changes()
    _set_option(ctx, changes, spec, "forget_traces", index=FORGET_INDEX, value=cst.Name("True"), update=flip)
    return Fix("Add `forget_traces=True`", Applicability.SAFE, changes.edits())

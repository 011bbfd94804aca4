"""Moving work out of loops and traced functions.

* *Compile once* (PML201): ``fast = math.jit_compile(advect)`` inside a loop moves to module
  level (when everything it reads is module-level and ``fast`` is free there) or before the loop.
  Only a plain ``name = jit_compile(...)`` statement is moved; ``forget_traces`` is never offered.
* *Hoist the transformation* (PML203, PML105): ``grad = math.gradient(loss, 'x')`` moves before
  the loop (PML203) or to module level (PML105: it is inside a jit-compiled function, so only
  module level helps). Used inline, ``math.gradient(loss)(x)``, the transformation gets a name
  (``loss_gradient``) first. An identical module-level assignment is reused.

Moving a statement whose arguments are names and literals is safe; anything else (a new name,
renamed uses, attribute reads that now happen once) is unsafe and says why.
"""

from __future__ import annotations

import ast
import builtins

import libcst as cst

from ..analysis.module import CallSite, FunctionInfo, ModuleSummary, Scope
from ..analysis.project import argument
from ..analysis.targets import Api, ModuleRef
from ..model import Applicability, Fix
from .base import FixContext, names_in, node_start
from .cst import (
    Changes,
    NoFix,
    Rewrite,
    bound_before,
    comment_lines,
    fresh_name,
    identifiers,
    insert_top_level,
)

#: How a named transformation ends: ``loss`` → ``loss_gradient``.
SUFFIX = {"gradient": "gradient", "jacobian": "jacobian", "hessian": "hessian",
          "custom_gradient": "with_gradient"}
JIT = frozenset({"jit_compile", "jit_compile_linear"})
BUILTINS = frozenset(dir(builtins))


def compile_once_fixes(ctx: FixContext) -> list[Fix]:
    """PML201: move ``name = jit_compile(f)`` out of the loop (module level first)."""
    if not ctx.data.get("in_loop"):
        raise NoFix("only jit_compile calls inside loops are moved")
    mover = _Mover(ctx, ctx.call_at(ctx.diagnostic.span))
    if mover.target is None:
        raise NoFix("not a plain `name = jit_compile(f)` statement")
    return _collect(mover.to_module_level, mover.before_loop)


def transformation_fixes(ctx: FixContext) -> list[Fix]:
    """PML203: before the loop (module level as the alternative); PML105: module level only."""
    mover = _Mover(ctx, ctx.call_at(ctx.diagnostic.span))
    if ctx.diagnostic.code == "PML105":
        return _collect(mover.to_module_level)
    return _collect(mover.before_loop, mover.to_module_level)


def _collect(*options: object) -> list[Fix]:
    found: list[Fix] = []
    for option in options:
        try:
            found.append(option())  # type: ignore[operator]
        except NoFix:
            continue
    if not found:
        raise NoFix("no place to move the call to")
    return found


class _Mover:
    """Where a call (and the statement assigning it) can go, and the rewrite that moves it there."""

    def __init__(self, ctx: FixContext, site: CallSite) -> None:
        self.ctx = ctx
        self.site = site
        self.call = site.node
        self.module = ctx.module
        self.role = ctx.project.role_of(self.module, site.scope, self.call.func)
        parent = ctx.parent_of(self.call)
        self.statement: ast.Assign | None = None
        self.target: str | None = None
        if (isinstance(parent, ast.Assign) and parent.value is self.call and len(parent.targets) == 1
                and isinstance(parent.targets[0], ast.Name)):
            self.statement = parent
            self.target = parent.targets[0].id
        self.function: FunctionInfo | None = site.function
        self.reads = [n for n in names_in(self.call)]
        self.read_names = {n.id for n in self.reads}
        self.unsafe = self._purity()

    # -- what the call reads ---------------------------------------------------------------------------
    def _purity(self) -> list[str]:
        """Reasons the move is not a pure move; raises when the call reads anything but plain values."""
        reasons: list[str] = []
        call = self.call
        for expr in [*call.args, *(k.value for k in call.keywords)]:
            for node in ast.walk(expr):
                if isinstance(node, ast.Starred | ast.Call | ast.Subscript | ast.Lambda | ast.NamedExpr
                              | ast.Await | ast.Yield | ast.YieldFrom | ast.comprehension):
                    raise NoFix("the call's arguments are not plain values")
                if isinstance(node, ast.Attribute) and not self._module_attribute(node):
                    reasons.append(f"`{ast.unparse(node)}` is then read once instead of every time")
        if any(k.arg is None for k in call.keywords):
            raise NoFix("**kwargs in the call")
        return reasons

    def _module_attribute(self, node: ast.Attribute) -> bool:
        base: ast.expr = node
        while isinstance(base, ast.Attribute):
            base = base.value
        if not isinstance(base, ast.Name):
            return False
        target = self.ctx.project.resolve(self.module, self.site.scope, base)
        return isinstance(target, ModuleRef | Api)

    # -- before the loop ------------------------------------------------------------------------------------
    def before_loop(self) -> Fix:
        loops = self.site.loops
        if not loops or any(isinstance(loop, ast.comprehension) for loop in loops):
            raise NoFix("not inside statement loops")
        if self.site.scope is not self._home_scope():
            raise NoFix("the call is inside a lambda or comprehension")
        if self.statement is not None and self.ctx.parent_of(self.statement) is not loops[-1]:
            raise NoFix("the statement is not directly in the loop body")
        if self.statement is not None and self.statement not in loops[-1].body:  # type: ignore[union-attr]
            raise NoFix("the statement is in the loop's else block")
        chosen = None
        for loop in reversed(loops):
            if not self._invariant_in(loop):
                break
            chosen = loop
        if chosen is None:
            raise NoFix("the call reads names assigned in the loop")
        changes = self.ctx.changes()
        rewrite = changes.file(self.module.path)
        file = rewrite.file
        loop_cst = file.at(self.module.span(chosen).start, cst.BaseCompoundStatement)
        if self.statement is not None:
            moved = self._statement_cst(rewrite)
            body, _index = rewrite.siblings(moved)
            if len(body) == 1:
                raise NoFix("the statement is the loop's only statement")
            rewrite.remove(moved)
            rewrite.insert_before(loop_cst, [_without_blank_lines(moved)])
            return self._fix("before the loop", changes, self.unsafe)
        name = self._new_name()
        call_cst = file.of(self.module, self.call, cst.Call)
        rewrite.insert_before(loop_cst, [_assignment(name, call_cst)])
        rewrite.replace(call_cst, cst.Name(name))
        return self._fix("before the loop", changes,
                         [*self.unsafe, f"the new name `{name}` holds the transformation, created once"])

    def _home_scope(self) -> Scope:
        return self.function.scope if self.function is not None else self.module.module_scope

    def _invariant_in(self, loop: ast.AST) -> bool:
        assigned: dict[str, int] = {}
        for node in ast.walk(loop):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                assigned[node.id] = assigned.get(node.id, 0) + 1
            elif isinstance(node, ast.Global | ast.Nonlocal):
                return False
        target = self.target
        if self.read_names & set(assigned):
            return False
        if target is not None and self.statement is not None:
            if assigned.get(target, 0) != 1 or target in self.read_names:
                return False
            here = node_start(self.statement)
            for node in ast.walk(loop):
                if isinstance(node, ast.Name) and node.id == target and isinstance(node.ctx, ast.Load) \
                        and node_start(node) < here:
                    return False
        return True

    # -- module level -----------------------------------------------------------------------------------
    def to_module_level(self) -> Fix:
        fn = self.function
        if fn is None:
            raise NoFix("already at module level")
        if self.site.scope is not fn.scope:
            raise NoFix("the call is inside a lambda or comprehension")
        anchor_ast = self.ctx.top_level_statement(self.call)
        decorators = getattr(anchor_ast, "decorator_list", [])
        anchor_line = min([anchor_ast.lineno, *(d.lineno for d in decorators)]) - 1
        self._module_level_reads(anchor_line)
        changes = self.ctx.changes()
        rewrite = changes.file(self.module.path)
        file = rewrite.file
        call_cst = file.of(self.module, self.call, cst.Call)
        anchor = file.top_level(call_cst)
        reuse = self._identical_assignment()
        if self.statement is None:
            if self.role in JIT:
                raise NoFix("only `name = jit_compile(f)` statements are moved")
            reasons = list(self.unsafe)
            if reuse is None:
                reuse = self._new_name()
                insert_top_level(rewrite, anchor, [_assignment(reuse, call_cst)])
                reasons.append(f"the new module-level `{reuse}` holds the transformation, created once")
            else:
                reasons.append(f"the call is replaced by the existing module-level `{reuse}`")
            rewrite.replace(call_cst, cst.Name(reuse))
            return self._fix("to module level", changes, reasons)
        moved = self._statement_cst(rewrite)
        target = self.target
        assert target is not None
        local_uses = self._local_uses(fn, target)
        container = self.ctx.parent_of(self.statement)
        while isinstance(container, ast.For | ast.While):
            container = self.ctx.parent_of(container)
        if container is not fn.node:
            raise NoFix("the statement is inside a conditional block")
        if self.role in JIT:
            if not self._free_at_module_level(target, fn):
                raise NoFix(f"`{target}` is taken at module level")
            reuse, name = None, target
        else:
            name = target if reuse is None and self._free_at_module_level(target, fn) else None
        rewrite.remove(moved)
        if reuse is not None:
            self._rename(rewrite, local_uses, reuse)
            return self._fix("to module level", changes,
                             [*self.unsafe, f"the local `{target}` is replaced by the existing `{reuse}`"])
        reasons = list(self.unsafe)
        if name is None:
            name = self._new_name()
            self._rename(rewrite, local_uses, name)
            assign = moved.body[0]
            assert isinstance(assign, cst.Assign)
            moved = moved.with_changes(body=[assign.with_changes(
                targets=[assign.targets[0].with_changes(target=cst.Name(name))])])
            reasons.append(f"the local `{target}` is renamed to the module-level `{name}`")
        insert_top_level(rewrite, anchor, [_without_blank_lines(moved)])
        return self._fix("to module level", changes, reasons)

    def _module_level_reads(self, anchor_line: int) -> None:
        """Everything the call reads must mean the same at module level, bound before the anchor."""
        module = self.module
        for node in self.reads:
            found = module.lookup_local(node.id, self.site.scope)
            if found is not None and found[0] is not module.module_scope:
                raise NoFix(f"`{node.id}` is local")
            if found is None and node.id in BUILTINS:
                continue
            if not bound_before(module, node.id, anchor_line):
                raise NoFix(f"`{node.id}` is not bound before the function")

    def _free_at_module_level(self, name: str, fn: FunctionInfo) -> bool:
        """``name`` is bound nowhere at module level, read as a global nowhere, and bound once in ``fn``."""
        module = self.module
        if name in identifiers_at_module(self.module) or name in fn.scope.globals | fn.scope.nonlocals:
            return False
        bindings = fn.scope.bindings.get(name, ())
        if len(bindings) != 1 or bindings[0].node is not self.statement:
            return False
        for node in names_in(module.tree):
            if node.id != name:
                continue
            found = module.lookup_local(name, module.scope_for_name(node))
            if found is None or found[0] is module.module_scope:
                return False  # read as a global somewhere: the new module-level name would change it
        return True

    def _local_uses(self, fn: FunctionInfo, name: str) -> list[ast.Name]:
        """The loads of the assigned local (all must resolve to this one binding)."""
        module = self.module
        bindings = fn.scope.bindings.get(name, ())
        if len(bindings) != 1 or bindings[0].node is not self.statement or name in fn.scope.nonlocals \
                or name in fn.scope.globals:
            raise NoFix(f"`{name}` is bound more than once")
        uses = []
        for node in names_in(fn.node):
            if node.id != name or node is self.statement.targets[0]:  # type: ignore[union-attr]
                continue
            found = module.lookup_local(name, module.scope_for_name(node))
            if found is None or found[0] is not fn.scope or not isinstance(node.ctx, ast.Load):
                raise NoFix(f"`{name}` is shadowed or rebound")
            uses.append(node)
        return uses

    def _rename(self, rewrite: Rewrite, uses: list[ast.Name], name: str) -> None:
        module = self.module
        for node in uses:
            found = module.lookup_local(name, module.scope_for_name(node))
            if found is not None and found[0] is not module.module_scope:
                raise NoFix(f"`{name}` is shadowed where it would be used")
            rewrite.replace(rewrite.file.of(module, node, cst.Name), cst.Name(name))

    def _identical_assignment(self) -> str | None:
        """A module-level ``name = <the same call>`` (same ΦML function, same arguments)."""
        from ..analysis import api

        module, project = self.module, self.ctx.project
        mine = project.resolve(module, self.site.scope, self.call.func)
        if not isinstance(mine, Api):
            return None
        for stmt in module.tree.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call)):
                continue
            value = stmt.value
            theirs = project.resolve(module, module.module_scope, value.func)
            if not isinstance(theirs, Api) or api.origin(theirs.path) != api.origin(mine.path):
                continue
            same_args = [ast.dump(a) for a in value.args] == [ast.dump(a) for a in self.call.args]
            same_kw = sorted(map(ast.dump, value.keywords)) == sorted(map(ast.dump, self.call.keywords))
            name = stmt.targets[0].id
            if not (same_args and same_kw) or len(module.module_scope.bindings.get(name, ())) != 1:
                continue
            found = module.lookup_local(name, self.site.scope)
            if found is not None and found[0] is module.module_scope:
                return name
        return None

    # -- helpers ----------------------------------------------------------------------------------------
    def _statement_cst(self, rewrite: Rewrite) -> cst.SimpleStatementLine:
        assert self.statement is not None
        line = rewrite.file.statement(rewrite.file.of(self.module, self.statement, cst.Assign))
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            raise NoFix("the statement shares its line")
        return line

    def _new_name(self) -> str:
        first = argument(self.call, 0, "f")
        base = first.id if isinstance(first, ast.Name) else first.attr if isinstance(first, ast.Attribute) \
            else "function"
        suffix = SUFFIX.get(self.role or "", "compiled")
        return fresh_name(f"{base.strip('_')}_{suffix}", identifiers(self.module))

    def _fix(self, where: str, changes: Changes, reasons: list[str]) -> Fix:
        verb = "Compile once" if self.role in JIT else "Hoist the transformation"
        title = f"{verb}: move it {where}"
        edits = changes.edits()
        if reasons:
            reason = "; ".join(dict.fromkeys(reasons))
            return Fix(title, Applicability.UNSAFE, edits, reason[0].upper() + reason[1:])
        return Fix(title, Applicability.SAFE, edits)


def identifiers_at_module(summary: ModuleSummary) -> set[str]:
    """Names bound at module level, or that a star import may bind."""
    from ..analysis import api

    names = set(summary.module_scope.bindings)
    for star, level, _node in summary.star_modules():
        exports = api.star_exports(star) if not level else None
        names |= exports or set()
    return names


def _without_blank_lines(statement: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    return statement.with_changes(leading_lines=comment_lines(statement.leading_lines))


def _assignment(name: str, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))],
                                                    value=value)])

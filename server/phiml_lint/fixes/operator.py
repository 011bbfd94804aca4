"""*Hoist to a module-level linear operator* (PML102, PML107).

``solve_linear(f, y, solve, *f_args, grad_for_f=False, f_kwargs=None, **f_kwargs_)`` calls
``f(x, *f_args, **f_kwargs)``. A lambda, nested ``def`` or ``partial`` passed as ``f`` inside
traced code is rewritten so that ``f`` is a module-level ``jit_compile_linear`` function:

* lambda / nested ``def`` / ``name = lambda``: becomes a decorated module-level ``def`` placed
  before the enclosing top-level statement; the variables it captured from enclosing functions
  become trailing parameters, passed as trailing ``*f_args``, with ``grad_for_f=True`` (without
  it, gradients with respect to captured values silently vanish on Jax and PyTorch);
* ``partial(g, k=k)``: ``g`` is passed directly (decorated if it is a plain module-level
  ``def``, wrapped if it is a ΦML function), ``k`` as a positional ``f_arg`` when it fills
  ``g``'s next parameters, else as a keyword (``solve_linear``'s ``**f_kwargs_``);
* a plain module-level ``def`` (PML107): gets the ``@jit_compile_linear`` decorator;
* a ΦML function such as ``math.laplace`` (PML107): ``laplace_linear =
  math.jit_compile_linear(math.laplace)`` at module level (reused when it exists).

All are unsafe: ΦML then evaluates the operator as a matrix, which is only right for a function
that is linear in its first argument. Nothing is offered when the operator cannot be moved
without changing what it computes (``nonlocal``, ``yield``, ``async``, captured names rebound
after the operator is created or bound by a comprehension, defaults, ``*args``...).
"""

from __future__ import annotations

import ast
from collections import Counter

import libcst as cst

from ..analysis.module import Binding, CallSite, FunctionInfo, ModuleSummary
from ..analysis.targets import Api, Func, Value
from ..model import Applicability, Fix
from .base import FixContext, inside, names_in, node_start
from .cst import (
    Changes,
    CstFile,
    NoFix,
    Rewrite,
    bound_before,
    comment_lines,
    expression,
    fresh_name,
    identifier_occurrences,
    identifiers,
    import_statement_for,
    insert_args,
    insert_params,
    insert_top_level,
    keyword,
    last_import,
    module_body_start,
    phiml_spelling,
)

REASON = "ΦML then traces the operator into a sparse matrix, which assumes it is linear in its first argument"
HOIST_TITLE = "Hoist to a module-level linear operator"
#: Parameters of ``solve_linear`` itself: a keyword ``f_arg`` must not be named like one of them.
SOLVE_PARAMS = frozenset({"f", "y", "solve", "grad_for_f", "f_kwargs"})
#: Names of nested operators that say nothing beyond "operator": the hoisted one is named after
#: the function it came from instead.
GENERIC_NAMES = frozenset({"op", "operator", "f", "fn", "func", "function", "lin", "linear", "linear_op",
                           "linear_operator", "a", "A", "matvec", "apply", "apply_a", "lhs", "system"})
LINEAR = "jit_compile_linear"
FORBIDDEN_NODES = (ast.Yield, ast.YieldFrom, ast.Await, ast.Nonlocal, ast.Global, ast.NamedExpr)


def fixes(ctx: FixContext) -> list[Fix]:
    """The fix for a PML102 on a ``solve_linear`` operator, or a PML107."""
    diagnostic = ctx.diagnostic
    if diagnostic.code == "PML102":
        if ctx.data.get("role") != "solve_linear" or ctx.data.get("preprocess"):
            raise NoFix("only solve_linear operators are hoisted")
        site = ctx.call_with_argument_at(diagnostic.span)
    else:
        site = ctx.call_at(diagnostic.span)
    if ctx.project.role_of(ctx.module, site.scope, site.node.func) != "solve_linear":
        raise NoFix("not a solve_linear call")
    return [_OperatorFix(ctx, site).build()]


class _OperatorFix:
    """One rewrite of a ``solve_linear`` call and of the operator it is given."""

    def __init__(self, ctx: FixContext, site: CallSite) -> None:
        self.ctx = ctx
        self.site = site
        self.call: ast.Call = site.node
        self.module = ctx.module
        self.project = ctx.project
        self.changes: Changes = ctx.changes()
        self.rewrite: Rewrite = self.changes.file(self.module.path)
        self.file: CstFile = self.rewrite.file
        self.taken = identifiers(self.module)
        call = self.call
        if len(call.args) < 3 or any(isinstance(a, ast.Starred) for a in call.args):
            raise NoFix("f, y and solve must be positional arguments")
        for kw in call.keywords:
            if kw.arg != "grad_for_f":
                raise NoFix("solve_linear gets keyword f_args")
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool)):
                raise NoFix("grad_for_f is not a literal")
        self.n_fargs = len(call.args) - 3
        self.anchor_ast = ctx.top_level_statement(call)
        decorators = getattr(self.anchor_ast, "decorator_list", [])
        self.anchor_line = min([self.anchor_ast.lineno, *(d.lineno for d in decorators)]) - 1
        self.call_cst = self.file.of(self.module, call, cst.Call)
        self.anchor = self.file.top_level(self.call_cst)

    # -- dispatch --------------------------------------------------------------------------------------
    def build(self) -> Fix:
        f = self.call.args[0]
        module, scope = self.module, self.site.scope
        if isinstance(f, ast.Lambda):
            return self.hoist(module.function_of[f], None)
        if isinstance(f, ast.Call):
            if self.project.role_of(module, scope, f.func) != "partial":
                raise NoFix("the operator is a call")
            return self.partial(f)
        if isinstance(f, ast.Name):
            found = module.lookup_local(f.id, scope)
            if found is not None and found[0] is not module.module_scope:
                _scope, bindings = found
                if len(bindings) != 1:
                    raise NoFix("the operator's name is bound several times")
                binding = bindings[0]
                if binding.kind == "def" and binding.function is not None:
                    return self.hoist(binding.function, binding)
                if (binding.kind == "assign" and isinstance(binding.value, ast.Lambda)
                        and isinstance(binding.node, ast.Assign) and len(binding.node.targets) == 1
                        and isinstance(binding.node.targets[0], ast.Name)):
                    return self.hoist(module.function_of[binding.value], binding)
                raise NoFix("the operator is a local value")
        target = self.project.follow(self.project.resolve(module, scope, f))
        if isinstance(target, Func):
            return self.decorate_only(target.info)
        if isinstance(target, Api) and target.path.split(".")[0] in ("phiml", "phi"):
            name = self.wrapped(f, target)
            self.rewrite.replace(self.call_cst,
                                 lambda n: self._with_args(n, cst.Name(name), [], [], grad=False))
            return Fix(f"Use the linear operator `{name} = {LINEAR}({ast.unparse(f)})`", Applicability.UNSAFE,
                       self.changes.edits(), REASON)
        raise NoFix("the operator is not a function this fix can compile")

    # -- lambda, nested def, named lambda ---------------------------------------------------------------
    def hoist(self, op: FunctionInfo, binding: Binding | None) -> Fix:
        node = op.node
        if isinstance(node, ast.AsyncFunctionDef):
            raise NoFix("async operator")
        if not isinstance(node, ast.Lambda) and node.decorator_list:
            raise NoFix("decorated operator")
        args = node.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.defaults or args.posonlyargs:
            raise NoFix("the operator has defaults, *args, keyword-only or positional-only parameters")
        if len(args.args) < 1:
            raise NoFix("the operator takes no argument")
        if self.n_fargs != len(args.args) - 1:
            raise NoFix("the call's f_args do not fill the operator's parameters")
        for sub in ast.walk(node):
            if isinstance(sub, FORBIDDEN_NODES):
                raise NoFix(f"the operator uses {type(sub).__name__}")
            if isinstance(sub, ast.Name) and sub.id in ("super", "__class__"):
                raise NoFix("the operator uses super()")
        captured = self.captured(op)
        if binding is not None:
            self.single_use(op, binding)
        name = self.hoisted_name(op, binding)
        spelling = self.linear_spelling(self.module, self.anchor_line)
        decorator = cst.Decorator(decorator=expression(spelling))
        new_params = [cst.Param(cst.Name(c)) for c in captured]
        if isinstance(node, ast.Lambda):
            lam = self.file.of(self.module, node, cst.Lambda)
            body = lam.body
            if not _returnable(self.file.code(body)):
                body = body.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            leading = comment_lines(self._removed_statement(binding).leading_lines) if binding else []
            new_def = cst.FunctionDef(
                name=cst.Name(name),
                params=cst.Parameters(params=[cst.Param(cst.Name(a.arg)) for a in args.args] + new_params),
                body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Return(value=body)])]),
                decorators=[decorator], leading_lines=leading)
        else:
            old = self.file.of(self.module, node, cst.FunctionDef)
            new_def = old.with_changes(name=cst.Name(name), decorators=[decorator],
                                       params=old.params.with_changes(params=insert_params(old.params.params,
                                                                                           new_params)),
                                       leading_lines=comment_lines(old.leading_lines))
        if binding is not None:
            self.rewrite.remove(self._removed_statement(binding))
        insert_top_level(self.rewrite, self.anchor, [new_def])
        extra = [cst.Arg(cst.Name(c)) for c in captured]
        self.rewrite.replace(self.call_cst,
                             lambda n: self._with_args(n, cst.Name(name), extra, [], grad=bool(captured)))
        return Fix(HOIST_TITLE, Applicability.UNSAFE, self.changes.edits(), REASON)

    def captured(self, op: FunctionInfo) -> list[str]:
        """Names the operator reads from enclosing functions, in order of first use.

        Refuses names bound by a comprehension, bound again after the operator is created, read
        in annotations, or not visible under the same binding at the ``solve_linear`` call.
        """
        module = self.module
        annotation_names: set[int] = set()
        if not isinstance(op.node, ast.Lambda):
            for arg in op.params:
                if arg.annotation is not None:
                    annotation_names |= {id(n) for n in names_in(arg.annotation)}
            if op.node.returns is not None:
                annotation_names |= {id(n) for n in names_in(op.node.returns)}
        created = node_start(op.node)
        out: list[str] = []
        for name in sorted(names_in(op.node), key=node_start):  # in source order
            scope = module.scope_of_name(name)
            if scope is None:
                raise NoFix(f"no scope for {name.id}")
            found = module.lookup_local(name.id, scope)
            if found is None:
                continue  # module-level, star-imported or builtin: the same at module level
            bound_scope, bindings = found
            if bound_scope is module.module_scope or inside(bound_scope, op.scope):
                continue
            if bound_scope.kind == "comprehension":
                raise NoFix(f"`{name.id}` is a comprehension variable")
            if id(name) in annotation_names:
                raise NoFix(f"an annotation reads the local `{name.id}`")
            if not isinstance(name.ctx, ast.Load):
                raise NoFix(f"the operator assigns the enclosing `{name.id}`")
            for b in bindings:
                if b.node is None or (b.kind != "param" and node_start(b.node) >= created):
                    raise NoFix(f"`{name.id}` is rebound after the operator is created")
            if _is_instance_param(bound_scope.function, name.id):
                # an auxiliary argument of jit_compile_linear is cached by identity: a mutable
                # instance would give stale matrices in eager calls
                raise NoFix(f"the operator reads the instance `{name.id}`")
            again = module.lookup_local(name.id, self.site.scope)
            if again is None or again[0] is not bound_scope:
                raise NoFix(f"`{name.id}` is not visible at the solve_linear call")
            if name.id not in out:
                out.append(name.id)
        if self.n_fargs == 0 and len(out) == 1:
            # ``solve_linear`` unpacks a single tuple f_arg: a captured tuple would change meaning
            _scope, bindings = module.lookup_local(out[0], self.site.scope)
            for b in bindings:
                annotation = getattr(b.node, "annotation", None)
                tuple_annotation = annotation is not None and "uple" in ast.unparse(annotation)
                if isinstance(b.value, ast.Tuple) or tuple_annotation:
                    raise NoFix("a single captured tuple would be unpacked by solve_linear")
        return out

    def single_use(self, op: FunctionInfo, binding: Binding) -> None:
        """The operator's name must be read once, by this call (its definition is removed)."""
        module = self.module
        name = op.name if not op.is_lambda else binding.node.targets[0].id  # type: ignore[union-attr]
        uses = 0
        for node in names_in(module.tree):
            if node.id != name or not isinstance(node.ctx, ast.Load):
                continue
            found = module.lookup_local(name, module.scope_for_name(node))
            if found is not None and binding in found[1]:
                uses += 1
        if uses != 1:
            raise NoFix(f"`{name}` is used elsewhere")

    def hoisted_name(self, op: FunctionInfo, binding: Binding | None) -> str:
        context = self.site.function
        prefix = context.name.strip("_") if context is not None else "module"
        if binding is not None and not op.is_lambda and op.name not in GENERIC_NAMES:
            counts = Counter(identifier_occurrences(self.module))
            if counts[op.name] == 2 and op.name not in self._star_names():  # its def and this use
                self.taken.discard(op.name)
                return fresh_name(op.name, self.taken)
            return fresh_name(f"_{prefix}_{op.name}", self.taken)
        return fresh_name(f"_{prefix}_operator", self.taken)

    def _star_names(self) -> set[str]:
        from ..analysis import api

        names: set[str] = set()
        for star, level, _node in self.module.star_modules():
            exports = api.star_exports(star) if not level else None
            names |= exports or set()
        return names

    def _removed_statement(self, binding: Binding) -> cst.BaseStatement:
        node = binding.node
        if isinstance(node, ast.FunctionDef):
            return self.file.of(self.module, node, cst.FunctionDef)
        assert isinstance(node, ast.Assign)
        line = self.file.statement(self.file.of(self.module, node, cst.Assign))
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            raise NoFix("the operator's assignment shares its line")
        return line

    # -- partial ------------------------------------------------------------------------------------------
    def partial(self, p: ast.Call) -> Fix:
        if len(p.args) != 1 or any(isinstance(a, ast.Starred) for a in p.args) or any(k.arg is None
                                                                                     for k in p.keywords):
            raise NoFix("only partial(g, name=value, ...) is supported")
        for kw in p.keywords:
            for sub in ast.walk(kw.value):
                if isinstance(sub, (ast.Call, ast.Lambda, *FORBIDDEN_NODES)):
                    raise NoFix("a partial argument is not a plain value")
                if isinstance(sub, ast.Name) and _is_instance_param(self.site.function, sub.id):
                    raise NoFix(f"a partial argument is the instance `{sub.id}`")
        g = p.args[0]
        module, scope = self.module, self.site.scope
        target = self.project.follow(self.project.resolve(module, scope, g))
        g_cst = self.file.of(module, g, cst.BaseExpression)
        positional_names: list[str] | None = None
        if isinstance(target, Func):
            info = target.info
            if info.cls is not None or info.parent is not None:
                raise NoFix("partial of a method or nested function")
            spec = self.ctx.facts.jit_specs.get(id(info))
            if spec is None:
                self.decorate(info)
            elif spec.kind != LINEAR or spec.aux is None:
                raise NoFix("partial of a function compiled another way")
            positional_names = [a.arg for a in info.positional_params()][1:]
            operator: cst.BaseExpression = g_cst
        elif isinstance(target, Value) and (jit := self.project.jit_of_value(target)) is not None \
                and jit[1].kind == LINEAR:
            operator = g_cst
        elif isinstance(target, Api) and target.path.split(".")[0] in ("phiml", "phi"):
            operator = cst.Name(self.wrapped(g, target))
        else:
            raise NoFix("partial of an unknown function")
        names = [kw.arg for kw in p.keywords if kw.arg is not None]
        p_cst = self.file.of(module, p, cst.Call)
        kw_nodes = {a.keyword.value: a for a in p_cst.args if a.keyword is not None}
        positional: list[cst.Arg] = []
        keywords: list[cst.Arg] = []
        fills_next = positional_names is not None and set(names) == set(positional_names[:len(names)])
        if positional_names is not None and fills_next and self.n_fargs == 0:
            positional = [cst.Arg(kw_nodes[n].value) for n in positional_names[:len(names)]]
        else:
            if set(names) & SOLVE_PARAMS:
                raise NoFix("a partial keyword is named like a solve_linear parameter")
            keywords = [keyword(n, kw_nodes[n].value) for n in names]
        grad = any(not isinstance(kw.value, ast.Constant) for kw in p.keywords)
        self.rewrite.replace(self.call_cst,
                             lambda n: self._with_args(n, operator, positional, keywords, grad=grad))
        self.drop_unused_import(p.func)
        return Fix(HOIST_TITLE, Applicability.UNSAFE, self.changes.edits(), REASON)

    def drop_unused_import(self, func: ast.expr) -> None:
        """Remove the import of ``partial`` (or ``functools``) when this call was its only use."""
        head = _head(func)
        module = self.module
        bindings = module.module_scope.bindings.get(head or "", ())
        if head is None or len(bindings) != 1 or bindings[0].kind != "import":
            return
        binding = bindings[0]
        uses = 0
        for node in names_in(module.tree):
            if node.id == head:
                found = module.lookup_local(head, module.scope_for_name(node))
                uses += found is not None and binding in found[1]
        node = binding.node
        if uses != 1 or not isinstance(node, ast.Import | ast.ImportFrom):
            return
        kind = cst.ImportFrom if isinstance(node, ast.ImportFrom) else cst.Import
        statement = self.file.of(module, node, kind)
        names = statement.names
        if isinstance(names, cst.ImportStar):
            return
        keep = [alias for alias in names if _bound_name(self.file, alias) != head]
        if len(keep) == len(names):
            return
        if not keep:
            line = self.file.statement(statement)
            if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
                self.rewrite.remove(line)
            return
        if not isinstance(names[-1].comma, cst.Comma) or getattr(statement, "rpar", None) is None:
            keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        self.rewrite.replace(statement, lambda n: n.with_changes(names=keep))

    # -- module-level functions -----------------------------------------------------------------------------
    def decorate_only(self, info: FunctionInfo) -> Fix:
        spec = self.ctx.facts.jit_specs.get(id(info))
        if spec is not None:
            raise NoFix("the operator is already compiled")
        spelling = self.decorate(info)
        title = f"Decorate `{info.name}` with `@{spelling}`"
        return Fix(title, Applicability.UNSAFE, self.changes.edits(), REASON)

    def decorate(self, info: FunctionInfo) -> str:
        """Add ``@jit_compile_linear`` to a plain module-level ``def`` (maybe in another module)."""
        node = info.node
        if not isinstance(node, ast.FunctionDef) or info.parent is not None or info.cls is not None:
            raise NoFix("not a plain module-level def")
        if node.decorator_list:
            raise NoFix("the operator already has decorators")
        summary = info.module
        file = self.ctx.cst(summary.path)
        old = file.of(summary, node, cst.FunctionDef)
        rewrite = self.changes.file(summary.path)
        spelling = self.linear_spelling(summary, node.lineno - 1, rewrite)
        rewrite.replace(old, lambda n: n.with_changes(
            decorators=[cst.Decorator(decorator=expression(spelling)), *n.decorators]))
        return spelling

    def wrapped(self, expr: ast.expr, target: Api) -> str:
        """A module-level ``name = jit_compile_linear(expr)`` for a ΦML function (reused if present)."""
        from ..analysis import api

        module = self.module
        origin = api.origin(target.path)
        at_module = self.project.resolve(module, module.module_scope, expr)
        if not isinstance(at_module, Api) or api.origin(at_module.path) != origin:
            raise NoFix("the ΦML function is spelled differently at module level")
        for stmt in module.tree.body:
            if not (_simple_assignment(stmt) and len(stmt.value.args) == 1 and not stmt.value.keywords):
                continue
            value = stmt.value
            if self.project.role_of(module, module.module_scope, value.func) != LINEAR:
                continue
            inner = self.project.resolve(module, module.module_scope, value.args[0])
            name = stmt.targets[0].id
            if isinstance(inner, Api) and api.origin(inner.path) == origin \
                    and len(module.module_scope.bindings.get(name, ())) == 1:
                found = module.lookup_local(name, self.site.scope)
                if found is not None and found[0] is module.module_scope:
                    return name
        head = _head(expr)
        if head is not None and not bound_before(module, head, self.anchor_line):
            raise NoFix("the ΦML function is not imported before the fixed code")
        base = expr.attr if isinstance(expr, ast.Attribute) else \
            expr.id if isinstance(expr, ast.Name) else "operator"
        name = fresh_name(f"{base}_linear", self.taken)
        spelling = self.linear_spelling(module, self.anchor_line)
        statement = cst.parse_statement(f"{name} = {spelling}({ast.unparse(expr)})\n")
        insert_top_level(self.rewrite, self.anchor, [statement])
        return name

    # -- shared ---------------------------------------------------------------------------------------
    def linear_spelling(self, summary: ModuleSummary, before_line: int,
                        rewrite: Rewrite | None = None) -> str:
        """How ``summary`` spells ``jit_compile_linear`` before ``before_line``; adds an import if needed."""
        hints: list[str] = []
        if summary is self.module:
            func = self.call.func
            hints.append(f"{ast.unparse(func.value)}.{LINEAR}" if isinstance(func, ast.Attribute) else LINEAR)
        spelling = phiml_spelling(self.project, summary, LINEAR, LINEAR, before_line=before_line, hints=hints)
        if spelling is not None and spelling in hints:
            return spelling
        rewrite = rewrite or self.rewrite
        if summary is self.module and self._extend_from_import(before_line, rewrite):
            return LINEAR
        if spelling is not None:
            return spelling
        added = import_statement_for(summary, LINEAR)
        if added is None:
            raise NoFix("no free name for a ΦML import")
        spelling, statement = added
        file = rewrite.file
        after = last_import(file, summary, before_line)
        if after is not None:
            rewrite.insert_after(after, [statement])
        else:
            first = module_body_start(file)
            if first is None:
                raise NoFix("nowhere to put the import")
            rewrite.insert_before(first, [statement])
        return spelling

    def _extend_from_import(self, before_line: int, rewrite: Rewrite) -> bool:
        """``from phiml.math import solve_linear`` gets ``, jit_compile_linear``.

        Done when the call spells ``solve_linear`` as a bare name from such an import.
        """
        from ..analysis import api

        func = self.call.func
        module = self.module
        if not isinstance(func, ast.Name) or LINEAR in self.taken:
            return False
        bindings = module.module_scope.bindings.get(func.id, ())
        if len(bindings) != 1 or not isinstance(bindings[0].node, ast.ImportFrom):
            return False
        node = bindings[0].node
        if node.level or not node.module or node.lineno - 1 >= before_line \
                or api.role(f"{node.module}.{LINEAR}") != LINEAR:
            return False
        statement = rewrite.file.of(module, node, cst.ImportFrom)
        if isinstance(statement.names, cst.ImportStar):
            return False
        alias = cst.ImportAlias(name=cst.Name(LINEAR))
        rewrite.replace(statement,
                        lambda n: n.with_changes(names=insert_args(n.names, [alias], len(n.names))))
        self.taken.add(LINEAR)
        return True

    @staticmethod
    def _with_args(call: cst.Call, operator: cst.BaseExpression, positional: list[cst.Arg],
                   keywords: list[cst.Arg], *, grad: bool) -> cst.Call:
        args = list(call.args)
        args[0] = args[0].with_changes(value=operator)
        end = max(i for i, a in enumerate(args) if a.keyword is None and not a.star) + 1
        args = insert_args(args, positional, end)
        args = insert_args(args, keywords, len(args))
        if grad:
            existing = [i for i, a in enumerate(args)
                        if a.keyword is not None and a.keyword.value == "grad_for_f"]
            if existing:
                i = existing[0]
                args[i] = args[i].with_changes(value=cst.Name("True"))
            else:
                args = insert_args(args, [keyword("grad_for_f", cst.Name("True"))], len(args))
        return call.with_changes(args=args)


def _is_instance_param(fn: FunctionInfo | None, name: str) -> bool:
    """``self`` / ``cls``: the first parameter of a method."""
    if fn is None or fn.cls is None or fn.is_lambda:
        return False
    params = fn.positional_params()
    return bool(params) and params[0].arg == name


def _simple_assignment(stmt: ast.stmt) -> bool:
    """``name = call(...)``."""
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call))


def _returnable(code: str) -> bool:
    """True when ``return <code>`` parses as the body of a module-level function."""
    source = "def _f():\n    return " + code + "\n"
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    body = tree.body[0].body  # type: ignore[attr-defined]
    return len(body) == 1 and isinstance(body[0], ast.Return)


def _head(expr: ast.expr) -> str | None:
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _bound_name(file: CstFile, alias: cst.ImportAlias) -> str:
    """The name an import alias binds (``import a.b`` binds ``a``)."""
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return file.code(alias.name).split(".")[0]

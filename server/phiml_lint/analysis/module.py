"""One module, parsed once with ``ast`` into the facts every rule needs.

Why ``ast`` and not libcst here: this pass runs on every keystroke and ``ast.parse`` is about
seven times faster than ``libcst.parse_module`` (and thirty times faster than libcst with its
scope metadata). libcst is used where it is irreplaceable: the fixes' lossless rewrites.

The pass builds a light scope tree (module, class, function, lambda, comprehension) with the
bindings of each scope, and records every call with its enclosing function and the loops
around it. Name resolution across modules happens in :mod:`.project`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from ..model import Pos, Span
from .source import SourceText

if TYPE_CHECKING:
    from .project import Memo

ScopeKind = Literal["module", "class", "function", "lambda", "comprehension"]
BindingKind = Literal["import", "star", "def", "class", "assign", "param", "loop", "other"]
Loop = ast.For | ast.AsyncFor | ast.While | ast.comprehension
#: Each ``Name`` node carries the scope it is evaluated in as this attribute. An attribute, not a
#: dict keyed by ``id(node)``: it fits in the node's own ``__dict__`` and saved 5.4 MiB (4 %) of
#: a whole-tree run's memory (docs/performance.md).
NAME_SCOPE = "_phiml_lint_scope"


@dataclass(eq=False, slots=True)
class Binding:
    """One place a name is bound in a scope."""

    kind: BindingKind
    node: ast.AST | None = None  # the binding statement / def / param node
    target: str | None = None  # imports: the dotted path bound ("phiml.math.jit_compile")
    value: ast.expr | None = None  # simple assignments: the assigned expression
    function: FunctionInfo | None = None
    cls: ClassInfo | None = None


@dataclass(eq=False, slots=True)
class Scope:
    """A Python scope with its bindings; resolution walks ``parent`` skipping class scopes."""

    kind: ScopeKind
    parent: Scope | None
    bindings: dict[str, tuple[Binding, ...]] = field(default_factory=dict)
    globals: frozenset[str] = frozenset()  # replaced, not mutated: most scopes have none (saves two sets each)
    nonlocals: frozenset[str] = frozenset()
    function: FunctionInfo | None = None  # for function / lambda scopes
    cls: ClassInfo | None = None  # for class scopes

    def bind(self, name: str, binding: Binding) -> None:
        # Tuples, not lists: most names are bound once, and a 1-tuple is half a 1-list's memory.
        found = self.bindings.get(name)
        self.bindings[name] = (binding,) if found is None else (*found, binding)


@dataclass(eq=False, slots=True)
class FunctionInfo:
    """A ``def`` or ``lambda`` of the module."""

    name: str
    qualname: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    module: ModuleSummary
    scope: Scope  # the function's own scope
    outer: Scope  # the scope the definition is evaluated in
    cls: ClassInfo | None = None  # set for methods
    parent: FunctionInfo | None = None  # enclosing function, for nested defs and lambdas
    loops: tuple[Loop, ...] = ()  # loops around the definition (within the enclosing function)
    body_nodes: list[ast.AST] | None = None  # cache of rules.base.walk_body (several rules walk a body)

    @property
    def is_lambda(self) -> bool:
        return isinstance(self.node, ast.Lambda)

    @property
    def decorators(self) -> list[ast.expr]:
        return [] if isinstance(self.node, ast.Lambda) else list(self.node.decorator_list)

    @property
    def params(self) -> list[ast.arg]:
        a = self.node.args
        return [*a.posonlyargs, *a.args, *([a.vararg] if a.vararg else []), *a.kwonlyargs,
                *([a.kwarg] if a.kwarg else [])]

    def positional_params(self) -> list[ast.arg]:
        a = self.node.args
        return [*a.posonlyargs, *a.args]

    def default_of(self, name: str) -> ast.expr | None:
        a = self.node.args
        positional = [*a.posonlyargs, *a.args]
        offset = len(positional) - len(a.defaults)
        for i, arg in enumerate(positional):
            if arg.arg == name and i >= offset:
                return a.defaults[i - offset]
        for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
            if arg.arg == name:
                return default
        return None

    @property
    def is_method(self) -> bool:
        return self.cls is not None and self.parent is None

    @property
    def label(self) -> str:
        return "lambda" if self.is_lambda else f"`{self.qualname}`"


@dataclass(eq=False, slots=True)
class ClassInfo:
    name: str
    qualname: str
    node: ast.ClassDef
    scope: Scope
    outer: Scope
    module: ModuleSummary
    methods: dict[str, FunctionInfo] = field(default_factory=dict)
    _attributes: dict[str, tuple[ast.expr, Scope]] | None = None

    def attribute_values(self) -> dict[str, tuple[ast.expr, Scope]]:
        """``self.<attr> = <expr>`` assignments in the class's methods (last one wins; computed once)."""
        if self._attributes is not None:
            return self._attributes
        found: dict[str, tuple[ast.expr, Scope]] = {}
        for method in self.methods.values():
            params = method.positional_params()
            if not params:
                continue
            me = params[0].arg
            for node in walk(method.node):
                if type(node) is ast.Assign:
                    for target in node.targets:
                        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id == me):
                            found[target.attr] = (node.value, method.scope)
        self._attributes = found
        return found


@dataclass(eq=False, slots=True)
class CallSite:
    """A call expression with its context."""

    node: ast.Call
    scope: Scope  # where the callee expression is evaluated
    function: FunctionInfo | None  # innermost enclosing def (lambdas count as their parent's body)
    loops: tuple[Loop, ...]  # loops around the call inside ``function`` (or at module level)


class ModuleSummary:
    """Facts about one module, computed from its text alone."""

    def __init__(self, source: SourceText, name: str, tree: ast.Module) -> None:
        self.source = source
        self.path = source.path
        self.name = name
        self.tree = tree
        self.functions: list[FunctionInfo] = []
        self.classes: list[ClassInfo] = []
        self.calls: list[CallSite] = []
        self.function_of: dict[ast.AST, FunctionInfo] = {}  # def/lambda node -> info
        self.memo: Memo | None = None  # the project's resolution memo for this module
        self._calls_by_function: dict[FunctionInfo, list[CallSite]] | None = None
        self.module_scope = Scope("module", None)
        self.scopes: list[Scope] = [self.module_scope]  # every scope, for dispose()
        _Builder(self).run()

    def calls_of(self, fn: FunctionInfo) -> list[CallSite]:
        """Call sites in ``fn``'s body (lambdas count as their enclosing function's body)."""
        if self._calls_by_function is None:
            index: dict[FunctionInfo, list[CallSite]] = {}
            for site in self.calls:
                if site.function is not None:
                    index.setdefault(site.function, []).append(site)
            self._calls_by_function = index
        return self._calls_by_function.get(fn, [])

    def dispose(self) -> None:
        """Break this summary's reference cycles, so reference counting frees it as soon as it is replaced.

        Why: analyses are frozen out of the collector's sight (:mod:`phiml_lint.heap`), so a
        replaced summary that still formed cycles would wait for an idle-time full collection.
        The cycles are scope <-> function/class, scope -> binding -> statement -> ``Name`` ->
        scope, summary <-> its functions, classes and call sites, and class <-> methods; every
        remaining reference points "upwards" (to an enclosing scope or to the summary).
        ``tests/test_heap.py`` checks that a replaced summary is freed with the collector off.
        """
        for scope in self.scopes:
            scope.bindings = {}
            scope.function = None
            scope.cls = None
        for cls in self.classes:
            cls.methods = {}
            cls._attributes = None
        self.scopes = []
        self.functions = []
        self.classes = []
        self.calls = []
        self.function_of = {}
        self._calls_by_function = None
        self.memo = None

    # -- positions -------------------------------------------------------------------------
    def char_col(self, line: int, byte_col: int) -> int:
        """ast columns are UTF-8 byte offsets; the model uses code points."""
        text = self.source.line(line - 1)
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> Span:
        line = node.lineno  # type: ignore[attr-defined]
        end_line = getattr(node, "end_lineno", None) or line
        start = Pos(line - 1, self.char_col(line, node.col_offset))  # type: ignore[attr-defined]
        end_col = getattr(node, "end_col_offset", None)
        end = Pos(end_line - 1, self.char_col(end_line, end_col)) if end_col is not None else start
        return Span(start, end)

    def name_span(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> Span:
        """The span of a def's name (what editors underline for a definition)."""
        line = node.lineno
        text = self.source.line(line - 1)
        keyword = "class" if isinstance(node, ast.ClassDef) else "def"
        start = text.find(f"{keyword} ", self.char_col(line, node.col_offset))
        if start < 0 or (node.decorator_list and line != node.lineno):
            return self.span(node)
        col = text.find(node.name, start + len(keyword))
        if col < 0:
            return self.span(node)
        return Span(Pos(line - 1, col), Pos(line - 1, col + len(node.name)))

    # -- scopes ----------------------------------------------------------------------------
    def scope_for_name(self, node: ast.Name) -> Scope:
        return getattr(node, NAME_SCOPE, None) or self.module_scope

    @staticmethod
    def scope_of_name(node: ast.Name) -> Scope | None:
        """The scope a name is evaluated in, None for a node the summary did not see."""
        return getattr(node, NAME_SCOPE, None)

    def lookup_local(self, name: str, scope: Scope) -> tuple[Scope, tuple[Binding, ...]] | None:
        """Python's LEGB lookup inside this module (no builtins, no star imports)."""
        current: Scope | None = scope
        if name in scope.globals:
            current = self.module_scope
        first = True
        while current is not None:
            if current.kind == "class" and not first:
                current = current.parent
                continue
            found = current.bindings.get(name)
            if found and name not in current.nonlocals and (name not in current.globals or current is self.module_scope):
                return current, found
            if name in current.globals and current is not self.module_scope:
                current = self.module_scope
                first = False
                continue
            first = False
            current = current.parent
        return None

    def star_modules(self) -> list[tuple[str, int, ast.ImportFrom]]:
        return [
            (b.target or "", getattr(b.node, "level", 0), b.node)  # type: ignore[misc]
            for b in self.module_scope.bindings.get("*", ())
            if isinstance(b.node, ast.ImportFrom)
        ]


#: Fields that never hold a node we need to visit: names and flags (strings, ints), the value of
#: a constant, and the context/operator singletons (``Load()``, ``Add()``).
_LEAF_FIELDS = frozenset({"id", "attr", "arg", "name", "asname", "module", "level", "kind", "conversion",
                          "type_comment", "is_async", "ctx", "op", "ops", "tag"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of an ``ast`` node type that may hold child nodes (computed once per type)."""
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        leaf = _LEAF_FIELDS | ({"value"} if cls in (ast.Constant, ast.MatchSingleton) else set())
        fields = _CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in leaf)  # type: ignore[attr-defined]
    return fields


def iter_children(node: ast.AST) -> list[ast.AST]:
    """Child nodes in field order, like ``ast.iter_child_nodes`` minus contexts and operators.

    Why not ``ast.iter_child_nodes``: it is a generator over ``ast.iter_fields`` that also yields
    the ``Load``/``Store`` singletons; a per-type field table halves the cost of a walk.
    """
    out: list[ast.AST] = []
    for name in child_fields(type(node)):
        value = getattr(node, name, None)
        if value is None:
            continue
        if type(value) is list:
            out.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


def walk(node: ast.AST) -> list[ast.AST]:
    """Every node under ``node`` (itself included), like ``ast.walk`` without contexts and operators."""
    out = [node]
    index = 0
    while index < len(out):
        out.extend(iter_children(out[index]))
        index += 1
    return out


class _Builder:
    """One walk that builds scopes, function/class infos and call sites.

    Dispatch is a per-class table of ``visit_*`` methods (built once), not ``ast.NodeVisitor``,
    whose name-building ``getattr`` per node and generator-based ``generic_visit`` were a quarter
    of a whole-tree run (docs/performance.md).
    """

    _handlers: ClassVar[dict[type, object]] = {}

    def __init__(self, summary: ModuleSummary) -> None:
        self.m = summary
        self.scope = summary.module_scope
        self.function: FunctionInfo | None = None
        self.cls: ClassInfo | None = None
        self.loops: list[Loop] = []
        self.qual: list[str] = []

    def run(self) -> None:
        for stmt in self.m.tree.body:
            self.visit(stmt)

    # -- helpers -------------------------------------------------------------------------------
    def _bind_target(self, target: ast.expr, kind: BindingKind, node: ast.AST, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.scope.bind(target.id, Binding(kind, node, value=value))
            target._phiml_lint_scope = self.scope  # type: ignore[attr-defined]
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._bind_target(elt, kind, node, None)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, kind, node, None)
        else:
            self.visit(target)

    def _params(self, args: ast.arguments, scope: Scope) -> None:
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            scope.bind(arg.arg, Binding("param", arg))
        for arg in (args.vararg, args.kwarg):
            if arg is not None:
                scope.bind(arg.arg, Binding("param", arg))

    def _visit_arg_defaults(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(default)
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    # -- scopes ----------------------------------------------------------------------------------
    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        name = "<lambda>" if isinstance(node, ast.Lambda) else node.name
        outer = self.scope
        scope = Scope("lambda" if isinstance(node, ast.Lambda) else "function", outer)
        self.m.scopes.append(scope)
        qual = ".".join([*self.qual, name])
        info = FunctionInfo(
            name=name, qualname=qual, node=node, module=self.m, scope=scope, outer=outer,
            cls=self.cls if outer.kind == "class" else None, parent=self.function, loops=tuple(self.loops),
        )
        scope.function = info
        self.m.functions.append(info)
        self.m.function_of[node] = info
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
            if node.returns is not None:
                self.visit(node.returns)
            outer.bind(node.name, Binding("def", node, function=info))
            if info.cls is not None:
                info.cls.methods.setdefault(node.name, info)
        self._visit_arg_defaults(node.args)
        self._params(node.args, scope)
        saved = (self.scope, self.function, self.loops, self.qual, self.cls)
        self.scope, self.loops = scope, []
        if not isinstance(node, ast.Lambda):
            self.function = info
            self.qual = [*self.qual, name]
            self.cls = None
            for stmt in node.body:
                self.visit(stmt)
        else:
            # A lambda's body runs as part of whatever calls it; calls inside it are attributed
            # to the enclosing function, which is what tracing sees when it is called there.
            self.loops = saved[2]
            self.visit(node.body)
        self.scope, self.function, self.loops, self.qual, self.cls = saved

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        outer = self.scope
        scope = Scope("class", outer)
        self.m.scopes.append(scope)
        info = ClassInfo(node.name, ".".join([*self.qual, node.name]), node, scope, outer, self.m)
        scope.cls = info
        self.m.classes.append(info)
        outer.bind(node.name, Binding("class", node, cls=info))
        saved = (self.scope, self.qual, self.cls)
        self.scope, self.qual, self.cls = scope, [*self.qual, node.name], info
        for stmt in node.body:
            self.visit(stmt)
        self.scope, self.qual, self.cls = saved

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        outer = self.scope
        scope = Scope("comprehension", outer)
        self.m.scopes.append(scope)
        for i, gen in enumerate(node.generators):
            # the first iterable is evaluated in the enclosing scope
            self.scope = outer if i == 0 else scope
            self.visit(gen.iter)
            self.scope = scope
            self._bind_target(gen.target, "loop", gen, None)
            self.loops.append(gen)
            for cond in gen.ifs:
                self.visit(cond)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        del self.loops[len(self.loops) - len(node.generators):]
        self.scope = outer

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # type: ignore[assignment]

    # -- bindings --------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.scope.bind(alias.asname, Binding("import", node, target=alias.name))
            else:
                head = alias.name.split(".")[0]
                self.scope.bind(head, Binding("import", node, target=head))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                self.scope.bind("*", Binding("star", node, target=module))
                continue
            target = f"{module}.{alias.name}" if module else alias.name
            self.scope.bind(alias.asname or alias.name, Binding("import", node, target=target))

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals = self.scope.globals | set(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals = self.scope.nonlocals | set(node.names)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._bind_target(target, "assign", node, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.annotation)
        if node.value is not None or self.scope.kind != "module":
            self._bind_target(node.target, "assign", node, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            node.target._phiml_lint_scope = self.scope  # type: ignore[attr-defined]
            self.scope.bind(node.target.id, Binding("assign", node))
        else:
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        scope = self.scope
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        scope.bind(node.target.id, Binding("assign", node, value=node.value))
        node.target._phiml_lint_scope = self.scope  # type: ignore[attr-defined]

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While) -> None:
        if isinstance(node, ast.While):
            self.loops.append(node)
            self.visit(node.test)
        else:
            self.visit(node.iter)
            self.loops.append(node)
            self._bind_target(node.target, "loop", node, None)
        for stmt in node.body:
            self.visit(stmt)
        self.loops.pop()
        for stmt in node.orelse:
            self.visit(stmt)

    visit_For = visit_AsyncFor = visit_While = _loop  # type: ignore[assignment]

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._bind_target(item.optional_vars, "assign", item, None)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.scope.bind(node.name, Binding("other", node))
        for stmt in node.body:
            self.visit(stmt)

    def visit_Name(self, node: ast.Name) -> None:
        node._phiml_lint_scope = self.scope  # type: ignore[attr-defined]
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.scope.bind(node.id, Binding("other", node))

    def visit_Call(self, node: ast.Call) -> None:
        self.m.calls.append(CallSite(node, self.scope, self.function, tuple(self.loops)))
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs | ast.MatchStar) -> None:
        # match statements bind capture names
        if node.name:
            self.scope.bind(node.name, Binding("other", node))
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs  # type: ignore[assignment]

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.scope.bind(node.rest, Binding("other", node))
        self.generic_visit(node)

    # -- dispatch --------------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        handler = self._handlers.get(type(node), _Builder.generic_visit)
        handler(self, node)  # type: ignore[operator]

    def generic_visit(self, node: ast.AST) -> None:
        visit = self.visit
        for name in child_fields(type(node)):
            value = getattr(node, name, None)
            if value is None:
                continue
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        visit(item)
            elif isinstance(value, ast.AST):
                visit(value)


_Builder._handlers = {
    getattr(ast, attr[6:]): method for attr, method in vars(_Builder).items()
    if attr.startswith("visit_") and isinstance(getattr(ast, attr[6:], None), type)
}

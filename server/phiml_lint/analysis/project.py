"""The project index: modules by path, name resolution across them, and the traced-function facts.

Resolution order for a name, as Python does it: the file's own scopes, then its star imports
(ΦML's from the checked table in :mod:`.api`, the project's from their summaries), then
builtins. Imports resolve to project files first (the importing file's folder, the project
root, ``src/``), then to the API table, then, for anything still unknown, to jedi (see
:mod:`.jedi_bridge`).
"""

from __future__ import annotations

import ast
import builtins
import functools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..model import Related, Span
from . import api
from .module import CallSite, ClassInfo, FunctionInfo, ModuleSummary, Scope
from .source import SourceText
from .targets import Api, Cls, Func, ModuleRef, Param, Target, Value

_BUILTINS = frozenset(dir(builtins))
JIT_ROLES = frozenset({"jit_compile", "jit_compile_linear"})
FUNCTION_TRANSFORMS = frozenset({"gradient", "jacobian", "hessian", "custom_gradient"})
MAX_DEPTH = 24


@dataclass(frozen=True, eq=False, slots=True)
class JitSpec:
    """How a function is jit-compiled: by which decorator or call, with which options."""

    kind: str  # "jit_compile" | "jit_compile_linear"
    node: ast.expr  # the decorator expression or the ``jit_compile(...)`` call
    module: ModuleSummary
    form: str  # "decorator" | "call"
    aux: frozenset[str] | None  # None: auxiliary_args is not a literal
    forget_traces: bool | None  # None: not given (or not a literal)
    call: ast.Call | None  # the call node holding the options, when there is one
    aux_given: bool = True  # False: `auxiliary_args` not passed (jit_compile_linear then means "all but x")

    @property
    def span(self) -> Span:
        return self.module.span(self.node)

    def auxiliary(self, fn: FunctionInfo) -> frozenset[str] | None:
        """The parameters ΦML treats as auxiliary for ``fn`` (None when unknown).

        ``jit_compile_linear`` without ``auxiliary_args`` treats every parameter but the first as
        auxiliary (phiml/math/_functional.py: ``auxiliary_args = f_params[1:]``).
        """
        if self.kind == "jit_compile_linear" and not self.aux_given:
            params = [a.arg for a in [*fn.node.args.posonlyargs, *fn.node.args.args, *fn.node.args.kwonlyargs]]
            if fn.is_method and params:
                params = params[1:]
            return frozenset(params[1:])
        return self.aux


@dataclass(frozen=True, slots=True)
class Step:
    """One link of the chain that makes a function traced."""

    path: str
    span: Span
    message: str


@dataclass(slots=True)
class TraceInfo:
    """Why a function is traced (jit) or runs as a custom-gradient forward."""

    function: FunctionInfo
    chain: tuple[Step, ...]
    entry: FunctionInfo

    def related(self) -> tuple[Related, ...]:
        return tuple(Related(s.path, s.span, s.message) for s in self.chain)


@dataclass(slots=True)
class JitCall:
    """A call of a jit-compiled function somewhere in the project."""

    site: CallSite
    module: ModuleSummary
    function: FunctionInfo
    spec: JitSpec


@dataclass(slots=True)
class Facts:
    """Project-wide facts, recomputed when any module changes."""

    traced: dict[int, TraceInfo] = field(default_factory=dict)  # id(FunctionInfo) -> why traced
    cg_forward: dict[int, TraceInfo] = field(default_factory=dict)  # custom-gradient forward context
    jit_specs: dict[int, JitSpec] = field(default_factory=dict)  # id(FunctionInfo) -> spec
    jit_calls: list[JitCall] = field(default_factory=list)
    by_role: dict[tuple[int, str], list[CallSite]] = field(default_factory=dict)  # (id(module), role) -> sites
    _by_function: dict[int, list[JitCall]] | None = None  # id(function) -> its jit calls (see _index)
    _by_module: dict[int, list[JitCall]] = field(default_factory=dict)  # id(module) -> jit calls made there

    def calls_of(self, fn: FunctionInfo) -> list[JitCall]:
        """The calls of one jit-compiled function (indexed once: rules ask per function)."""
        return self._index().get(id(fn), [])

    def calls_in(self, module: ModuleSummary) -> list[JitCall]:
        """The calls of jit-compiled functions that appear in one module."""
        self._index()
        return self._by_module.get(id(module), [])

    def _index(self) -> dict[int, list[JitCall]]:
        if self._by_function is None:
            self._by_function = {}
            for call in self.jit_calls:
                self._by_function.setdefault(id(call.function), []).append(call)
                self._by_module.setdefault(id(call.module), []).append(call)
        return self._by_function

    def sites_with(self, module: ModuleSummary, roles: Iterable[str]) -> list[CallSite]:
        """Call sites of ``module`` whose callee has one of ``roles`` (ΦML API roles)."""
        return [site for role in roles for site in self.by_role.get((id(module), role), ())]

    def trace(self, fn: FunctionInfo | None) -> TraceInfo | None:
        return None if fn is None else self.traced.get(id(fn))


@dataclass(eq=False, slots=True)
class Memo:
    """Resolution results that belong to one module, kept on its summary.

    Dropped with the summary, or by :meth:`Project._changed` when a module its look-ups entered
    changes; kept across edits of other modules, so an edit re-resolves only what it can affect.
    Keyed by the objects themselves (identity hashes), not ``id()``: no int object per entry.
    """

    deps: set[str] = field(default_factory=set)  # paths of the modules its look-ups entered
    targets: dict[ast.expr, Target | None] = field(default_factory=dict)  # expr -> followed target
    names: dict[Scope, dict[str, Target | None]] = field(default_factory=dict)  # scope -> name -> target
    members: dict[str, Target | None] = field(default_factory=dict)  # name looked up *in* this module
    facts: ModuleFacts | None = None  # this module's contribution to the facts


@dataclass(eq=False, slots=True)
class ModuleFacts:
    """One module's part of the facts: it depends only on look-ups recorded in the module's memo."""

    specs: list[tuple[FunctionInfo, JitSpec, bool]] = field(default_factory=list)  # (fn, spec, by decorator)
    forwards: list[tuple[FunctionInfo, Step]] = field(default_factory=list)  # custom-gradient forwards
    by_role: dict[str, list[CallSite]] = field(default_factory=dict)  # ΦML role -> call sites
    callees: list[tuple[CallSite, Target]] = field(default_factory=list)  # sites calling a function or value


def module_name_for(path: Path, root: Path) -> str:
    """Dotted module name of a file relative to the project root (``src/`` layouts too)."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return path.stem
    parts = list(rel.with_suffix("").parts)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or path.stem


class Project:
    """All modules of one project root, and the facts derived from them."""

    def __init__(self, root: Path, extra_jit_decorators: Iterable[str] = (), loader: object | None = None) -> None:
        self.root = root.resolve()
        self.extra_jit = frozenset(extra_jit_decorators)
        self.modules: dict[str, ModuleSummary] = {}  # path -> summary
        self._missing: set[str] = set()
        self._facts: Facts | None = None
        self._loader = loader  # callable(path) -> SourceText | None, for files not yet added
        self.jedi = None  # set by the engine when jedi is enabled
        # Resolution memos live on each summary (``ModuleSummary.memo``, see :class:`Memo`).
        self._file_cache: dict[tuple[str, str, int], Path | None] = {}  # cleared when files appear/vanish
        self._resolved: dict[Path, str] = {}
        self._listings: dict[str, frozenset[str]] = {}  # folder -> its entries (see _is_file)
        self._owners: list[Memo] = []  # memos of the look-ups under way, innermost last (records deps)
        #: Modules whose diagnostics may follow the last replaced module (None: all, after a full reset).
        self.last_dependents: set[str] | None = None
        self.analysed = 0  # how many module summaries were built (tests count re-analysis)

    # -- modules -----------------------------------------------------------------------------
    def add(self, source: SourceText, tree: ast.Module) -> ModuleSummary:
        """Add or replace a module. Replacing keeps the resolution memos of modules that do not import it."""
        path = str(Path(source.path).resolve()) if not source.path.startswith("untitled:") else source.path
        name = module_name_for(Path(path), self.root) if not source.path.startswith("untitled:") else "__main__"
        summary = ModuleSummary(source, name, tree)
        summary.path = path
        old = self.modules.get(path)
        self.modules[path] = summary
        self.analysed += 1
        if old is not None:
            self._changed(path)
            self._facts = None  # the old facts point into the old summary: drop them before freeing it
            old.dispose()
        else:
            self._forget_files()  # a new file can change how any import resolves
            self.invalidate()
        return summary

    def remove(self, path: str) -> None:
        old = self.modules.pop(str(Path(path).resolve()) if not path.startswith("untitled:") else path, None)
        if old is not None:
            self._forget_files()
        self.invalidate()
        if old is not None:
            old.dispose()

    def _forget_files(self) -> None:
        """Files appeared or vanished: forget what the file system said."""
        self._file_cache.clear()
        self._listings.clear()

    def invalidate(self) -> None:
        """Forget every derived result (configuration changed, a file appeared or vanished)."""
        for summary in self.modules.values():
            summary.memo = None
        self.last_dependents = None
        self._changed(None)

    def _changed(self, path: str | None) -> None:
        """A module's text changed: drop the memos whose results were computed by looking into it.

        Every memo records the modules its look-ups entered (:attr:`Memo.deps`); the memos of
        the modules that entered ``path``, directly or through others, are dropped, the rest are
        kept, and the project-wide facts are recomputed from them. The same set says whose
        diagnostics may have changed (:attr:`last_dependents`).
        """
        if path is not None:
            self.last_dependents = self.dependents(path)
            for key in self.last_dependents:
                self.modules[key].memo = None
        self._facts = None
        self._missing.clear()

    def dependents(self, path: str) -> set[str]:
        """Modules whose resolution entered ``path``, directly or through other modules (recorded)."""
        reverse: dict[str, list[str]] = {}
        for key, module in list(self.modules.items()):
            if module.memo is not None:
                for entered in module.memo.deps:
                    reverse.setdefault(entered, []).append(key)
        found: set[str] = set()
        queue = [path]
        while queue:
            for key in reverse.get(queue.pop(), ()):
                if key not in found and key != path:
                    found.add(key)
                    queue.append(key)
        return found

    def _enter(self, module: ModuleSummary) -> Memo:
        """The memo of ``module``, noting in the look-up under way (if any) that it entered ``module``."""
        memo = module.memo or self._new_memo(module)
        owners = self._owners
        if owners and owners[-1] is not memo:
            owners[-1].deps.add(module.path)
        return memo

    def _resolve_path(self, path: Path) -> str:
        key = self._resolved.get(path)
        if key is None:  # Path.resolve() was a sixth of a cold run before this memo
            key = self._resolved[path] = str(path.resolve())
        return key

    def get(self, path: str) -> ModuleSummary | None:
        return self.modules.get(str(Path(path).resolve()))

    def _load_file(self, path: Path) -> ModuleSummary | None:
        key = self._resolve_path(path)
        if key in self.modules:
            return self.modules[key]
        if key in self._missing or self._loader is None:
            return None
        source = self._loader(path)  # type: ignore[operator]
        if source is None:
            self._missing.add(key)
            return None
        try:
            tree = ast.parse(source.text, filename=key)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            self._missing.add(key)
            return None
        summary = ModuleSummary(source, module_name_for(path, self.root), tree)
        summary.path = key
        self.modules[key] = summary
        self.analysed += 1
        self._facts = None
        return summary

    def find_module_file(self, dotted: str, importer: ModuleSummary, level: int = 0) -> Path | None:
        """The project file for ``import dotted`` from ``importer`` (None when not in the project).

        Memoised per (module, importing folder, level): file-system probes were a tenth of a cold run.
        """
        key = (dotted, os.path.dirname(importer.path), level)
        if key not in self._file_cache:
            self._file_cache[key] = self._find_module_file(dotted, importer, level)
        return self._file_cache[key]

    def _find_module_file(self, dotted: str, importer: ModuleSummary, level: int) -> Path | None:
        parts = [p for p in dotted.split(".") if p]
        if level > 0:
            base = Path(importer.path).parent
            for _ in range(level - 1):
                base = base.parent
            bases = [base]
        else:
            here = Path(importer.path).parent if not importer.path.startswith("untitled:") else self.root
            bases = [here, self.root, self.root / "src"]
            # a package's own absolute imports: walk up to the folder holding the top package
            folder = here
            while self._is_file(folder / "__init__.py") and folder != folder.parent:
                folder = folder.parent
                bases.append(folder)
        for base in bases:
            if not parts:
                init = base / "__init__.py"
                if self._is_file(init):
                    return init
                continue
            candidate = base.joinpath(*parts)
            for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                if (self._is_file(path) or str(path) in self.modules) and self._inside_project(path):
                    return path
        return None

    def _is_file(self, path: Path) -> bool:
        """Does ``path`` exist? Answered from one listing per folder: import look-ups probe the same
        folders thousands of times (file-system probes were a tenth of a whole-tree run)."""
        folder = str(path.parent)
        names = self._listings.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._listings[folder] = names
        return path.name in names

    def _inside_project(self, path: Path) -> bool:
        resolved = self._resolve_path(path)
        return "site-packages" not in resolved and "dist-packages" not in resolved

    # -- resolution --------------------------------------------------------------------------------
    def resolve(self, module: ModuleSummary, scope: Scope, expr: ast.expr, depth: int = 0) -> Target | None:
        """What ``expr`` (a name or attribute chain) refers to, or None when unknown."""
        if not self._owners:  # a look-up on behalf of ``module``: record what it enters
            self._owners.append(self._enter(module))
            try:
                return self._resolve(module, scope, expr, depth)
            finally:
                self._owners.pop()
        return self._resolve(module, scope, expr, depth)

    def _resolve(self, module: ModuleSummary, scope: Scope, expr: ast.expr, depth: int) -> Target | None:
        if depth > MAX_DEPTH:
            return None
        if isinstance(expr, ast.Name):
            return self.resolve_name(module, scope, expr.id, depth)
        if isinstance(expr, ast.Attribute):
            if isinstance(expr.value, ast.Call):  # ``Sim().step``: an attribute of a fresh instance
                cls = self._instance_class(module, scope, expr.value, depth)
                return self._instance_attribute(cls, expr.attr) if cls is not None else None
            base = self.resolve(module, scope, expr.value, depth + 1)
            return self._attribute(module, scope, expr, base, depth)
        return None

    def _instance_class(self, module: ModuleSummary, scope: Scope, call: ast.Call, depth: int) -> ClassInfo | None:
        """The project class that ``call`` instantiates, if it is one."""
        ctor = self.follow(self.resolve(module, scope, call.func, depth + 1), depth + 1)
        return ctor.info if isinstance(ctor, Cls) else None

    def _instance_attribute(self, cls: ClassInfo, attr: str) -> Target | None:
        """``instance.attr``: a method (bound) or a value assigned to ``self.attr`` in a method."""
        method = cls.methods.get(attr)
        if method is not None:
            return Func(method)
        assigned = cls.attribute_values().get(attr)
        if assigned is not None:
            return Value(cls.module, attr, assigned[0], assigned[1])
        return None

    def _attribute(self, module: ModuleSummary, scope: Scope, expr: ast.Attribute, base: Target | None,
                   depth: int) -> Target | None:
        attr = expr.attr
        if isinstance(base, ModuleRef):
            if base.summary is not None:
                return self._member(base.summary, attr, depth + 1)
            return self._external(f"{base.name}.{attr}")
        if isinstance(base, Api):
            return self._external(f"{base.path}.{attr}")
        if isinstance(base, Cls):
            method = base.info.methods.get(attr)
            return Func(method) if method else None
        if isinstance(base, Param) and base.function.cls is not None:
            params = base.function.positional_params()
            if params and params[0].arg == base.name and base.function.is_method:
                return self._instance_attribute(base.function.cls, attr)
            return None
        if isinstance(base, Value) and isinstance(base.expr, ast.Call):  # ``sim = Sim(); sim.step``
            cls = self._instance_class(base.module, base.scope, base.expr, depth)
            if cls is not None:
                return self._instance_attribute(cls, attr)
        return None

    def resolve_name(self, module: ModuleSummary, scope: Scope, name: str, depth: int = 0) -> Target | None:
        owner = self._enter(module)
        memo = owner.names.get(scope)
        if memo is None:
            memo = owner.names[scope] = {}
        elif name in memo:
            return memo[name]
        return self._computed(owner, memo, name, lambda: self._resolve_name(module, scope, name, depth))

    def _computed(self, owner: Memo, table: dict, key: object, compute: Callable[[], Target | None]
                  ) -> Target | None:
        """Compute and store a memo entry; the look-ups it makes are recorded in ``owner.deps``."""
        self._owners.append(owner)
        try:
            value = table[key] = compute()
        finally:
            self._owners.pop()
        return value

    def _resolve_name(self, module: ModuleSummary, scope: Scope, name: str, depth: int) -> Target | None:
        found = module.lookup_local(name, scope)
        if found is not None:
            bound_scope, bindings = found
            return self._binding(module, bound_scope, name, bindings, depth)
        if scope is not module.module_scope:  # not bound in the file: the same for every scope
            return self.resolve_name(module, module.module_scope, name, depth)
        for star, level, _node in reversed(module.star_modules()):
            target = self._from_star(module, star, level, name, depth)
            if target is not None:
                return target
        return None

    def _binding(self, module: ModuleSummary, scope: Scope, name: str, bindings: tuple, depth: int) -> Target | None:
        kinds = {b.kind for b in bindings}
        if "param" in kinds and scope.function is not None:
            return Param(scope.function, name)
        binding = bindings[-1]
        if len(bindings) > 1:
            # A name bound several times is only trusted when every binding agrees on what it is:
            # imports of the same thing, or one def (redefinitions are rare and last-wins).
            targets = {b.target for b in bindings if b.kind == "import"}
            if (kinds == {"import"} and len(targets) == 1) or kinds <= {"def", "class"}:
                pass
            else:
                return None
        if binding.kind == "import":
            level = getattr(binding.node, "level", 0) or 0
            return self._import(module, binding.target or "", level, isinstance(binding.node, ast.ImportFrom),
                                depth + 1)
        if binding.kind == "def" and binding.function is not None:
            return self._func_or_api(binding.function)
        if binding.kind == "class" and binding.cls is not None:
            return Cls(binding.cls)
        if binding.kind == "assign" and binding.value is not None:
            return Value(module, name, binding.value, scope)
        return None

    def _func_or_api(self, fn: FunctionInfo) -> Target:
        # Checking phiml's own sources: its ``jit_compile`` is a project function *and* the API.
        if fn.module.name.split(".")[0] in api.KNOWN_ROOTS and fn.parent is None and fn.cls is None:
            path = f"{fn.module.name}.{fn.name}"
            role = api.role(path)
            if role is not None:
                return Api(path, role)
        return Func(fn)

    def _import(self, module: ModuleSummary, target: str, level: int, is_from: bool, depth: int) -> Target | None:
        if depth > MAX_DEPTH:
            return None
        if is_from:
            head, _, name = target.rpartition(".")
            if level == 0 and head.split(".")[0] in api.KNOWN_ROOTS and not self._is_project_package(head, module):
                return self._external(target)
            path = self.find_module_file(head, module, level) if (head or level) else None
            if path is not None:
                summary = self._load_file(path)
                if summary is not None:
                    member = self._member(summary, name, depth + 1)
                    if member is not None:
                        return member
                # ``from pkg import submodule``
                sub = self.find_module_file(f"{head}.{name}" if head else name, module, level)
                if sub is not None:
                    loaded = self._load_file(sub)
                    return ModuleRef(loaded.name if loaded else target, loaded)
                return None
            if level:
                return None
            if self.jedi is not None and head and head.split(".")[0] not in api.KNOWN_ROOTS:
                found = self.jedi.resolve(module, head, name)
                if found is not None:
                    return found
            return self._external(target)
        if target.split(".", maxsplit=1)[0] in api.KNOWN_ROOTS and not self._is_project_package(target, module):
            return self._external(target)
        path = self.find_module_file(target, module, 0)
        if path is not None:
            loaded = self._load_file(path)
            return ModuleRef(target, loaded)
        return self._external(target)

    def _is_project_package(self, dotted: str, module: ModuleSummary) -> bool:
        """True when checking ΦML's or PhiFlow's own source tree."""
        return module.name.split(".")[0] == dotted.split(".", maxsplit=1)[0] and self.find_module_file(dotted, module) is not None

    def _member(self, summary: ModuleSummary, name: str, depth: int) -> Target | None:
        owner = self._enter(summary)
        if name in owner.members:
            return owner.members[name]
        return self._computed(owner, owner.members, name, lambda: self._find_member(summary, name, depth))

    def _find_member(self, summary: ModuleSummary, name: str, depth: int) -> Target | None:
        scope = summary.module_scope
        if name in scope.bindings:
            return self._binding(summary, scope, name, scope.bindings[name], depth)
        for star, level, _node in reversed(summary.star_modules()):
            target = self._from_star(summary, star, level, name, depth)
            if target is not None:
                return target
        sub = self.find_module_file(name, summary, 1) if summary.path.endswith("__init__.py") else None
        if sub is not None:
            loaded = self._load_file(sub)
            return ModuleRef(loaded.name if loaded else name, loaded)
        return None

    def _from_star(self, module: ModuleSummary, star: str, level: int, name: str, depth: int) -> Target | None:
        if depth > MAX_DEPTH:
            return None
        if level == 0 and star.split(".", maxsplit=1)[0] in api.KNOWN_ROOTS and not self._is_project_package(star, module):
            exports = api.star_exports(star)
            if exports is not None and name in exports:
                return self._external(f"{star}.{name}")
            return None
        path = self.find_module_file(star, module, level)
        if path is not None:
            summary = self._load_file(path)
            if summary is not None and not name.startswith("_"):
                return self._member(summary, name, depth + 1)
            return None
        if self.jedi is not None and level == 0 and name not in _BUILTINS:
            return self.jedi.star_member(module, star, name)
        return None

    def _external(self, dotted: str) -> Target:
        return _external(dotted)

    # -- roles and values --------------------------------------------------------------------------
    def target(self, module: ModuleSummary, scope: Scope, expr: ast.expr) -> Target | None:
        """What ``expr`` denotes after following aliases: ``follow(resolve(...))``, memoised per node.

        An expression node is evaluated in one scope, so the node is the key; the memo lives until
        a module its look-up entered changes (see :class:`Memo`).
        """
        owner = self._enter(module)
        if expr in owner.targets:
            return owner.targets[expr]
        return self._computed(owner, owner.targets, expr, lambda: self.follow(self.resolve(module, scope, expr)))

    def role_of(self, module: ModuleSummary, scope: Scope, expr: ast.expr) -> str | None:
        """The ΦML role of a callee expression (``math.jit_compile`` → ``"jit_compile"``)."""
        target = self.target(module, scope, expr)
        return target.role if isinstance(target, Api) else None

    @staticmethod
    def _new_memo(module: ModuleSummary) -> Memo:
        memo = module.memo = Memo()
        return memo

    def follow(self, target: Target | None, depth: int = 0) -> Target | None:
        """Follow plain aliases (``f = other``) to what they name."""
        while isinstance(target, Value) and depth < MAX_DEPTH:
            if isinstance(target.expr, ast.Name | ast.Attribute):
                target = self.resolve(target.module, target.scope, target.expr, depth + 1)
                depth += 1
            else:
                break
        return target

    def call_role(self, value: Value) -> tuple[str | None, ast.Call | None]:
        """For ``name = CALL(...)``: the role of CALL and the call node."""
        if isinstance(value.expr, ast.Call):
            return self.role_of(value.module, value.scope, value.expr.func), value.expr
        return None, None

    def jit_of_value(self, value: Value) -> tuple[FunctionInfo | None, JitSpec] | None:
        """``fast = jit_compile(f, ...)``: the compiled function (if in the project) and the spec."""
        role, call = self.call_role(value)
        if role in JIT_ROLES and call is not None:
            spec = self._spec_from_call(value.module, role, call, call, "call")
            fn_expr = call.args[0] if call.args else _keyword(call, "f")
            fn = self.function_of_expr(value.module, value.scope, fn_expr) if fn_expr is not None else None
            return fn, spec
        return None

    def function_of_expr(self, module: ModuleSummary, scope: Scope, expr: ast.expr | None) -> FunctionInfo | None:
        """The project function an expression denotes (a name, ``self.m``, or a lambda literal)."""
        if expr is None:
            return None
        if isinstance(expr, ast.Lambda):
            return module.function_of.get(expr)
        target = self.target(module, scope, expr)
        if isinstance(target, Func):
            return target.info
        if isinstance(target, Value) and isinstance(target.expr, ast.Lambda):
            return target.module.function_of.get(target.expr)
        return None

    def is_network(self, target: Target | None, depth: int = 0) -> bool:
        """True when the target is a neural network (ΦML's constructors or a framework model)."""
        target = self.follow(target)
        if depth > 4:
            return False
        if isinstance(target, Value):
            role, call = self.call_role(target)
            if role and role.startswith("network:"):
                return True
            if call is not None:
                ctor = self.target(target.module, target.scope, call.func)
                if isinstance(ctor, Cls) and self.is_model_class(ctor):
                    return True
                if isinstance(ctor, Value) and isinstance(target.expr, ast.Call):
                    return False
                # ``net = nn.mlp(...).to(device)``
                if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call) and call.func.attr in {
                    "to", "cuda", "cpu", "eval", "train", "double", "float"}:
                    inner = Value(target.module, target.name, call.func.value, target.scope)
                    return self.is_network(inner, depth + 1)
        return False

    def is_model_class(self, cls: Cls, depth: int = 0) -> bool:
        if depth > 6:
            return False
        info = cls.info
        for base in info.node.bases:
            target = self.target(info.module, info.outer, base)
            if isinstance(target, Api) and api.is_model_base(target.path):
                return True
            if isinstance(target, Cls) and self.is_model_class(target, depth + 1):
                return True
        return False

    # -- jit specs -------------------------------------------------------------------------------------
    def _spec_from_call(self, module: ModuleSummary, kind: str, options: ast.Call, node: ast.expr,
                        form: str) -> JitSpec:
        aux_node = _keyword(options, "auxiliary_args")
        forget_node = _keyword(options, "forget_traces")
        positional = options.args[1:] if form == "call" else options.args
        if form == "call":
            if aux_node is None and len(positional) >= 1:
                aux_node = positional[0]
            if forget_node is None and len(positional) >= 2:
                forget_node = positional[1]
        aux: frozenset[str] | None = frozenset()
        if aux_node is not None:
            aux = _parse_aux(aux_node)
        forget: bool | None = None
        if isinstance(forget_node, ast.Constant) and isinstance(forget_node.value, bool):
            forget = forget_node.value
        return JitSpec(kind, node, module, form, aux, forget, options, aux_node is not None)

    def decorator_spec(self, fn: FunctionInfo, decorator: ast.expr) -> JitSpec | None:
        module, scope = fn.module, fn.outer
        if isinstance(decorator, ast.Call):
            func = decorator.func
            role = self.role_of(module, scope, func)
            if role in JIT_ROLES:
                return self._spec_from_call(module, role, decorator, decorator, "decorator")
            if role == "partial" and decorator.args:
                inner = self.role_of(module, scope, decorator.args[0])
                if inner in JIT_ROLES:
                    return self._spec_from_call(module, inner, decorator, decorator, "decorator")
            if self._is_extra_jit(module, scope, func):
                return JitSpec("jit_compile", decorator, module, "decorator", None, None, decorator)
            return None
        role = self.role_of(module, scope, decorator)
        if role in JIT_ROLES:
            return JitSpec(role, decorator, module, "decorator", frozenset(), None, None, False)
        if self._is_extra_jit(module, scope, decorator):
            return JitSpec("jit_compile", decorator, module, "decorator", frozenset(), None, None)
        return None

    def _is_extra_jit(self, module: ModuleSummary, scope: Scope, expr: ast.expr) -> bool:
        if not self.extra_jit:
            return False
        target = self.resolve(module, scope, expr)
        if isinstance(target, Api):
            return target.path in self.extra_jit or api.origin(target.path) in self.extra_jit
        if isinstance(target, Func):
            return f"{target.info.module.name}.{target.info.qualname}" in self.extra_jit
        return False

    def function_spec(self, fn: FunctionInfo) -> JitSpec | None:
        return self.facts().jit_specs.get(id(fn))

    # -- facts -------------------------------------------------------------------------------------------
    def calls_in(self, fn: FunctionInfo) -> list[CallSite]:
        """The calls made in ``fn``'s body (its own module's index, built once per summary)."""
        return fn.module.calls_of(fn)

    def facts(self) -> Facts:
        if self._facts is None:
            self._facts = self._compute_facts()
        return self._facts

    def _compute_facts(self) -> Facts:
        facts = Facts()
        jit_entries: list[tuple[FunctionInfo, JitSpec]] = []
        cg_entries: list[tuple[FunctionInfo, Step]] = []
        # Modules may be loaded while resolving; iterate until no new module appears.
        seen: set[str] = set()
        while True:
            pending = [m for p, m in sorted(self.modules.items()) if p not in seen]
            if not pending:
                break
            for summary in pending:
                seen.add(summary.path)
                local = self.module_facts(summary)
                for fn, spec, decorated in local.specs:
                    if decorated:
                        facts.jit_specs[id(fn)] = spec
                    else:
                        facts.jit_specs.setdefault(id(fn), spec)
                    jit_entries.append((fn, spec))
                cg_entries.extend(local.forwards)
                for role, sites in local.by_role.items():
                    facts.by_role[(id(summary), role)] = sites
        for fn, spec in jit_entries:
            if id(fn) not in facts.traced:
                verb = "jit-compiled here" if spec.kind == "jit_compile" else "compiled with `jit_compile_linear` here"
                step = Step(spec.module.path, spec.span, f"{fn.label} is {verb}")
                self._propagate(facts.traced, fn, (step,), fn, follow_custom_gradient=True)
        for fn, step in cg_entries:
            if id(fn) not in facts.cg_forward:
                self._propagate(facts.cg_forward, fn, (step,), fn, follow_custom_gradient=False)
        self._collect_jit_calls(facts)
        return facts

    def module_facts(self, summary: ModuleSummary) -> ModuleFacts:
        """What one module contributes to the facts, kept on its memo (dropped with it, see :class:`Memo`)."""
        memo = summary.memo or self._new_memo(summary)
        if memo.facts is not None:
            return memo.facts
        local = ModuleFacts()
        for fn in summary.functions:
            for decorator in fn.decorators:
                spec = self.decorator_spec(fn, decorator)
                if spec is not None:
                    local.specs.append((fn, spec, True))
                    break
        for site in summary.calls:
            target = self.target(summary, site.scope, site.node.func)
            if isinstance(target, Func | Value):
                local.callees.append((site, target))
            role = target.role if isinstance(target, Api) else None
            if role is None:
                continue
            local.by_role.setdefault(role, []).append(site)
            if role in JIT_ROLES:
                fn_expr = site.node.args[0] if site.node.args else _keyword(site.node, "f")
                fn = self.function_of_expr(summary, site.scope, fn_expr)
                if fn is not None:
                    local.specs.append((fn, self._spec_from_call(summary, role, site.node, site.node, "call"), False))
            elif role == "custom_gradient":
                fn_expr = site.node.args[0] if site.node.args else _keyword(site.node, "f")
                fn = self.function_of_expr(summary, site.scope, fn_expr)
                if fn is not None:
                    step = Step(summary.path, summary.span(site.node),
                                f"{fn.label} is the forward function of this `custom_gradient`")
                    local.forwards.append((fn, step))
        memo.facts = local
        return local

    def _propagate(self, table: dict[int, TraceInfo], entry: FunctionInfo, chain: tuple[Step, ...],
                   root: FunctionInfo, *, follow_custom_gradient: bool) -> None:
        queue: deque[tuple[FunctionInfo, tuple[Step, ...]]] = deque([(entry, chain)])
        while queue:
            fn, steps = queue.popleft()
            if id(fn) in table:
                continue
            table[id(fn)] = TraceInfo(fn, steps, root)
            for site in self.calls_in(fn):
                for callee in self.callees(site, follow_custom_gradient=follow_custom_gradient):
                    if id(callee) not in table:
                        step = Step(fn.module.path, fn.module.span(site.node),
                                    f"{fn.label} calls {callee.label} here")
                        queue.append((callee, (*steps, step)))

    def callees(self, site: CallSite, *, follow_custom_gradient: bool) -> Iterator[FunctionInfo]:
        """Project functions that run when ``site`` runs (directly, or as an API's function argument)."""
        module = site.function.module if site.function else None
        if module is None:
            return
        node = site.node
        target = self.target(module, site.scope, node.func)
        if isinstance(target, Func):
            yield target.info
        elif isinstance(target, Cls):
            init = target.info.methods.get("__init__")
            if init is not None:
                yield init
        elif isinstance(target, Value):
            jit = self.jit_of_value(target)
            if jit is not None and jit[0] is not None:
                yield jit[0]
            role, call = self.call_role(target)
            if follow_custom_gradient and role == "custom_gradient" and call is not None:
                forward = self.function_of_expr(target.module, target.scope, call.args[0] if call.args else None)
                if forward is not None:
                    yield forward
        elif isinstance(target, Api) and target.role in {"solve_linear", *FUNCTION_TRANSFORMS}:
            first = node.args[0] if node.args else _keyword(node, "f")
            fn = self.function_of_expr(module, site.scope, first)
            if fn is not None and (follow_custom_gradient or target.role != "custom_gradient"):
                yield fn

    def _collect_jit_calls(self, facts: Facts) -> None:
        by_id = {id(fn): fn for m in self.modules.values() for fn in m.functions}
        for summary in list(self.modules.values()):
            for site, target in self.module_facts(summary).callees:
                fn: FunctionInfo | None = None
                spec: JitSpec | None = None
                if isinstance(target, Func) and id(target.info) in facts.jit_specs:
                    fn = target.info
                    spec = facts.jit_specs[id(fn)]
                    if spec.form == "call":  # ``fast = jit_compile(f)``: calling ``f`` itself is eager
                        fn = None
                elif isinstance(target, Value):
                    jit = self.jit_of_value(target)
                    if jit is not None and jit[0] is not None:
                        fn, spec = jit
                if fn is not None and spec is not None and id(fn) in by_id:
                    facts.jit_calls.append(JitCall(site, summary, fn, spec))


@functools.cache
def _external(dotted: str) -> Target:
    """The target for a name outside the project; depends on the API table only, so shared."""
    origin = api.origin(dotted)
    if origin.startswith("module:"):
        return ModuleRef(origin[7:])
    return Api(dotted, api.role(dotted))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword argument ``name`` of ``call``, or None."""
    return _keyword(call, name)


def argument(call: ast.Call, index: int, name: str) -> ast.expr | None:
    """An argument by position or keyword (``solve_linear(f, y, solve)`` / ``f=...``)."""
    if len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
        return call.args[index]
    return _keyword(call, name)


def _parse_aux(node: ast.expr) -> frozenset[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return frozenset(p.strip() for p in node.value.split(",") if p.strip())
    if isinstance(node, ast.Tuple | ast.List) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return frozenset(str(e.value).strip() for e in node.elts)  # type: ignore[attr-defined]
    if isinstance(node, ast.Constant) and node.value is None:
        return frozenset()
    return None

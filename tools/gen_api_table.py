"""Generate ``phiml_lint/analysis/data/phiml_api.json`` from the ΦML / ΦFlow sources.

The table lets the checker recognise ΦML API names however they were imported, without
``phiml`` or ``phiflow`` being installed.  It is computed purely statically: every module of
the ``phiml`` and ``phi`` packages is parsed with :mod:`ast` and never imported.

To get star exports right, the script simulates what a *fresh* ``import MODULE`` does, one
module at a time: parent packages are imported first, the top-level statements of every
module reached are "executed" in order (both branches of ``if``/``try`` are taken, function
bodies are not), imported sub-modules are bound as attributes of their parent package once
they finish loading, and the ΦML idiom ``__all__ = [k for k in globals().keys() if not
k.startswith('_')]`` is evaluated as a snapshot of the public names bound at that point.

Usage::

    python tools/gen_api_table.py                      # pip-downloads the pinned sdists
    python tools/gen_api_table.py --phiml DIR --phiflow DIR [--output FILE]

``DIR`` may be an unpacked sdist root (containing ``phiml/`` resp. ``phi/``), the package
directory itself, or an sdist ``.tar.gz``.

Output keys:

``versions``
    versions of the analysed sources (from their ``VERSION`` files).
``modules``
    all module names of both packages.
``star_exports``
    per module, the names ``from MODULE import *`` binds after a fresh import.
``unresolved_star_imports``
    per module, external modules whose names end up in its namespace but cannot be enumerated
    statically: ``from numpy import *``-style imports of non-ΦML modules, and the
    ``for n in dir(mod): globals()[n] = ...`` idiom (``phiml.os`` copies ``os`` this way).
``symbols``
    ``"MODULE.NAME"`` for every public top-level name of every module, mapped to the dotted
    path where the object is really defined; ``"module:X"`` when the name is bound to module X.
    External origins are given as written (``"typing.Callable"``); those reached by
    ``from ext import name`` cannot be told apart from modules and carry no ``module:`` prefix.
``module_aliases``
    modules whose entire body is a single ``from OTHER import *`` (pure re-export shells).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PINNED_VERSIONS: dict[str, str] = {"phiml": "1.16.1", "phiflow": "3.4.0"}
"""Distribution versions the checked-in table is generated from."""

TOP_PACKAGES: dict[str, str] = {"phiml": "phiml", "phiflow": "phi"}
"""Distribution name -> top-level import package."""

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent / "server" / "phiml_lint" / "analysis" / "data" / "phiml_api.json"
)

MODULE_PREFIX = "module:"

TRY_NODES: tuple[type[ast.stmt], ...] = tuple(
    getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name)
)
"""``try`` statements (``TryStar`` only exists on Python >= 3.11)."""


# ---------------------------------------------------------------------------------------------
# Bindings: what a top-level name refers to, captured while simulating the import.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Defined:
    """The object is created in this module (``def``, ``class`` or a non-alias assignment)."""

    path: str


@dataclass(frozen=True)
class ModuleRef:
    """The name is bound to a module (internal or external)."""

    name: str


@dataclass(frozen=True)
class ExternalAttr:
    """``from ext import name`` of a non-ΦML module; unknown whether it is a module or not."""

    path: str


@dataclass(frozen=True)
class AttrRef:
    """An alias assignment ``x = base.a.b`` (``attrs`` may be empty for ``x = base``)."""

    base: Binding
    attrs: tuple[str, ...]


@dataclass(frozen=True)
class LateAttr:
    """``module.name`` that was not bound yet when it was referenced; looked up at the end."""

    module: str
    name: str


Binding = Defined | ModuleRef | ExternalAttr | AttrRef | LateAttr


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleSource:
    """One parsed module file."""

    name: str
    path: Path
    is_package: bool
    tree: ast.Module


class SourceSet:
    """All modules of the analysed packages, parsed once."""

    def __init__(self, package_dirs: Iterable[Path]) -> None:
        """Collect and parse every ``.py`` file below each package directory."""
        self.modules: dict[str, ModuleSource] = {}
        for pkg_dir in package_dirs:
            root = pkg_dir.parent
            for path in sorted(pkg_dir.rglob("*.py")):
                rel = path.relative_to(root).with_suffix("")
                parts = list(rel.parts)
                is_package = parts[-1] == "__init__"
                if is_package:
                    parts = parts[:-1]
                name = ".".join(parts)
                tree = ast.parse(path.read_bytes(), filename=str(path))
                self.modules[name] = ModuleSource(name, path, is_package, tree)
        self.top_levels = {name.partition(".")[0] for name in self.modules}

    def is_internal(self, module: str) -> bool:
        """Whether ``module`` belongs to one of the analysed packages."""
        return module.partition(".")[0] in self.top_levels

    def exists(self, module: str) -> bool:
        """Whether ``module`` is an analysed module."""
        return module in self.modules


# ---------------------------------------------------------------------------------------------
# Import simulation
# ---------------------------------------------------------------------------------------------


def _is_globals_call(node: ast.expr) -> bool:
    """``globals()``."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "globals"


def _is_public_globals_snapshot(node: ast.expr) -> bool:
    """Recognise ``[k for k in globals()(.keys()) if not k.startswith('_')]``."""
    if not isinstance(node, ast.ListComp | ast.SetComp) or len(node.generators) != 1:
        return False
    gen = node.generators[0]
    source = gen.iter
    if (
        isinstance(source, ast.Call)
        and isinstance(source.func, ast.Attribute)
        and source.func.attr == "keys"
        and not source.args
    ):
        source = source.func.value
    if not _is_globals_call(source) or not isinstance(gen.target, ast.Name):
        return False
    if not (isinstance(node.elt, ast.Name) and node.elt.id == gen.target.id) or len(gen.ifs) != 1:
        return False
    cond = gen.ifs[0]
    return (
        isinstance(cond, ast.UnaryOp)
        and isinstance(cond.op, ast.Not)
        and isinstance(cond.operand, ast.Call)
        and isinstance(cond.operand.func, ast.Attribute)
        and cond.operand.func.attr == "startswith"
        and isinstance(cond.operand.func.value, ast.Name)
        and cond.operand.func.value.id == gen.target.id
        and len(cond.operand.args) == 1
        and isinstance(cond.operand.args[0], ast.Constant)
        and cond.operand.args[0].value == "_"
    )


def _literal_names(node: ast.expr) -> list[str] | None:
    """The strings of a literal list/tuple of strings, else ``None``."""
    if not isinstance(node, ast.List | ast.Tuple):
        return None
    names: list[str] = []
    for elt in node.elts:
        if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
            return None
        names.append(elt.value)
    return names


def _attr_chain(node: ast.expr) -> tuple[str, tuple[str, ...]] | None:
    """Split ``a.b.c`` into ``("a", ("b", "c"))``; ``None`` for anything else."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return node.id, tuple(reversed(attrs))
    return None


def _target_names(target: ast.expr) -> Iterator[str]:
    """Names bound by an assignment / ``for`` / ``with`` target."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            yield from _target_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` / ``typing.TYPE_CHECKING``: false at runtime."""
    chain = _attr_chain(test)
    return chain is not None and (chain[0], *chain[1])[-1] == "TYPE_CHECKING"


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == '__main__'``: false on import."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def resolve_from(sources: SourceSet, module: str, node: ast.ImportFrom) -> str:
    """Absolute name of the module named in ``from ... import`` inside ``module``."""
    if not node.level:
        return node.module or ""
    package = module if sources.modules[module].is_package else module.rpartition(".")[0]
    parts = package.split(".")
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    base = ".".join(parts)
    return f"{base}.{node.module}" if node.module else base


class ImportSimulation:
    """Symbolically executes the top level of modules in the order a real import would."""

    def __init__(self, sources: SourceSet) -> None:
        """Start from an empty ``sys.modules``."""
        self.sources = sources
        self.state: dict[str, str] = {}  # module -> "loading" | "done"
        self.namespaces: dict[str, dict[str, Binding]] = {}
        self.all_names: dict[str, list[str]] = {}
        self.unresolved_stars: dict[str, set[str]] = {}
        self.warnings: list[str] = []

    def fork(self) -> ImportSimulation:
        """An independent copy of the current state (bindings themselves are immutable)."""
        other = ImportSimulation(self.sources)
        other.state = dict(self.state)
        other.namespaces = {m: dict(ns) for m, ns in self.namespaces.items()}
        other.all_names = {m: list(names) for m, names in self.all_names.items()}
        other.unresolved_stars = {m: set(s) for m, s in self.unresolved_stars.items()}
        other.warnings = list(self.warnings)
        return other

    # -- loading -------------------------------------------------------------------------------

    def load(self, module: str) -> None:
        """Simulate ``import module`` (parents first; no-op if loading or loaded)."""
        if module in self.state or not self.sources.is_internal(module):
            return
        parent, _, child = module.rpartition(".")
        if parent:
            self.load(parent)
            if module in self.state:  # the parent's __init__ imported it
                return
        if not self.sources.exists(module):
            self.warnings.append(f"import of missing module {module}")
            return
        self.state[module] = "loading"
        self.namespaces[module] = {}
        self._exec_block(module, self.sources.modules[module].tree.body)
        self.state[module] = "done"
        if parent and parent in self.namespaces:
            self.namespaces[parent][child] = ModuleRef(module)

    def star_names(self, module: str) -> list[str]:
        """Names ``from module import *`` binds at this moment of the simulation."""
        if module in self.all_names:
            return list(self.all_names[module])
        return [n for n in self.namespaces.get(module, {}) if not n.startswith("_")]

    def get_attr(self, module: str, name: str) -> Binding:
        """Runtime semantics of ``from module import name`` for an internal module."""
        self.load(module)
        namespace = self.namespaces.get(module, {})
        if name in namespace:
            return namespace[name]
        submodule = f"{module}.{name}"
        if self.sources.exists(submodule):
            self.load(submodule)
            return namespace.get(name, ModuleRef(submodule))
        return LateAttr(module, name)

    def _bind(self, module: str, name: str, binding: Binding) -> None:
        self.namespaces[module][name] = binding

    # -- statements ------------------------------------------------------------------------------

    def _exec_block(self, module: str, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            self._exec_stmt(module, stmt)

    def _exec_stmt(self, module: str, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import):
            self._exec_import(module, stmt)
        elif isinstance(stmt, ast.ImportFrom):
            self._exec_import_from(module, stmt)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self._bind(module, stmt.name, Defined(f"{module}.{stmt.name}"))
        elif isinstance(stmt, ast.ClassDef):
            self._load_nested_imports(module, stmt.body)
            self._bind(module, stmt.name, Defined(f"{module}.{stmt.name}"))
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                self._exec_assign(module, target, stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._exec_assign(module, stmt.target, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            self._exec_aug_assign(module, stmt)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                for name in _target_names(target):
                    self.namespaces[module].pop(name, None)
        elif isinstance(stmt, ast.If):
            if _is_type_checking(stmt.test) or _is_main_guard(stmt.test):
                self._exec_block(module, stmt.orelse)
            else:
                # Both branches count; the main branch runs last so its bindings win.
                self._exec_block(module, stmt.orelse)
                self._exec_block(module, stmt.body)
        elif isinstance(stmt, TRY_NODES):
            for handler in stmt.handlers:
                self._exec_block(module, handler.body)
            self._exec_block(module, stmt.body)
            self._exec_block(module, stmt.orelse)
            self._exec_block(module, stmt.finalbody)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self._bind_defined(module, item.optional_vars)
            self._exec_block(module, stmt.body)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            self._exec_for(module, stmt)
        elif isinstance(stmt, ast.While):
            self._exec_block(module, stmt.body)
            self._exec_block(module, stmt.orelse)
        elif isinstance(stmt, ast.Expr):
            self._check_dynamic(module, stmt.value)

    def _exec_import(self, module: str, stmt: ast.Import) -> None:
        for alias in stmt.names:
            self.load(alias.name)
            if alias.asname:
                self._bind(module, alias.asname, ModuleRef(alias.name))
            else:
                top = alias.name.partition(".")[0]
                self._bind(module, top, ModuleRef(top))

    def _exec_import_from(self, module: str, stmt: ast.ImportFrom) -> None:
        source = resolve_from(self.sources, module, stmt)
        internal = self.sources.is_internal(source)
        if stmt.names[0].name == "*":
            if not internal or not self.sources.exists(source):
                self.unresolved_stars.setdefault(module, set()).add(source)
                return
            self.load(source)
            if source in self.unresolved_stars and source not in self.all_names:
                self.unresolved_stars.setdefault(module, set()).update(self.unresolved_stars[source])
            for name in self.star_names(source):
                self._bind(module, name, self.get_attr(source, name))
            return
        for alias in stmt.names:
            if internal:
                binding: Binding = self.get_attr(source, alias.name)
            else:
                binding = ExternalAttr(f"{source}.{alias.name}")
            self._bind(module, alias.asname or alias.name, binding)

    def _load_nested_imports(self, module: str, body: Sequence[ast.stmt]) -> None:
        """Imports in a class body run at import time: load their modules (no module bindings)."""
        for stmt in body:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    self.load(alias.name)
            elif isinstance(stmt, ast.ImportFrom):
                source = resolve_from(self.sources, module, stmt)
                self.load(source)
                for alias in stmt.names:
                    if self.sources.exists(f"{source}.{alias.name}"):
                        self.get_attr(source, alias.name)
            elif isinstance(stmt, (ast.If, ast.With, ast.For, ast.While, ast.ClassDef, *TRY_NODES)):
                for child in ("body", "orelse", "finalbody"):
                    self._load_nested_imports(module, getattr(stmt, child, []))
                for handler in getattr(stmt, "handlers", []):
                    self._load_nested_imports(module, handler.body)

    def _alias_binding(self, module: str, value: ast.expr) -> Binding | None:
        """Binding for ``x = <value>`` when ``value`` just names an existing object."""
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Name):
            # sys.modules[__name__]: the module itself
            chain = _attr_chain(value.value)
            if chain and chain[1] == ("modules",) and value.slice.id == "__name__":
                base = self.namespaces[module].get(chain[0])
                if base is not None and self.resolve_shallow(base) == ModuleRef("sys"):
                    return ModuleRef(module)
            return None
        chain = _attr_chain(value)
        if chain is None:
            return None
        root, attrs = chain
        namespace = self.namespaces[module]
        if root in namespace:
            base: Binding = namespace[root]
        elif hasattr(builtins, root):
            base = ExternalAttr(f"builtins.{root}")
        else:
            base = LateAttr(module, root)
        return AttrRef(base, attrs) if attrs else base

    @staticmethod
    def resolve_shallow(binding: Binding) -> Binding:
        """Follow attribute-free alias chains."""
        while isinstance(binding, AttrRef) and not binding.attrs:
            binding = binding.base
        return binding

    def _exec_assign(self, module: str, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name) and target.id == "__all__":
            names = _literal_names(value)
            if names is not None:
                self.all_names[module] = names
            elif _is_public_globals_snapshot(value):
                self.all_names[module] = [n for n in self.namespaces[module] if not n.startswith("_")]
            else:
                self.warnings.append(f"{module}: non-literal __all__ ignored")
                self.all_names.pop(module, None)
            self._bind(module, "__all__", Defined(f"{module}.__all__"))
            return
        if isinstance(target, ast.Subscript) and _is_globals_call(target.value):
            self.warnings.append(f"{module}: globals()[...] assignment")
            return
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            # ``othermodule.name = value`` adds a binding to another module's namespace
            owner = self.namespaces[module].get(target.value.id)
            owner = self.resolve_shallow(owner) if owner is not None else None
            if isinstance(owner, ModuleRef) and owner.name in self.namespaces:
                alias = self._alias_binding(module, value)
                defined = Defined(f"{owner.name}.{target.attr}")
                self.namespaces[owner.name][target.attr] = alias if alias is not None else defined
            return
        if isinstance(target, ast.Name):
            alias = self._alias_binding(module, value)
            self._bind(module, target.id, alias if alias is not None else Defined(f"{module}.{target.id}"))
        else:
            self._bind_defined(module, target)

    def _exec_aug_assign(self, module: str, stmt: ast.AugAssign) -> None:
        if isinstance(stmt.target, ast.Name) and stmt.target.id == "__all__":
            names = _literal_names(stmt.value)
            if names is not None and module in self.all_names:
                self.all_names[module] = self.all_names[module] + names
            else:
                self.warnings.append(f"{module}: non-literal __all__ += ignored")
            return
        self._bind_defined(module, stmt.target)

    def _bind_defined(self, module: str, target: ast.expr) -> None:
        for name in _target_names(target):
            self._bind(module, name, Defined(f"{module}.{name}"))

    def _exec_for(self, module: str, stmt: ast.For | ast.AsyncFor) -> None:
        self._bind_defined(module, stmt.target)
        copied = self._globals_copy_source(module, stmt)
        if copied is not None:
            self.unresolved_stars.setdefault(module, set()).add(copied)
        self._exec_block(module, stmt.body)
        self._exec_block(module, stmt.orelse)

    def _globals_copy_source(self, module: str, stmt: ast.For | ast.AsyncFor) -> str | None:
        """``for n in dir(mod): ... globals()[n] = ...``: returns ``mod``'s module name."""
        writes_globals = any(
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store)
            and _is_globals_call(node.value)
            for node in ast.walk(stmt)
        )
        if not writes_globals:
            return None
        it = stmt.iter
        if (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "dir"
            and len(it.args) == 1
            and isinstance(it.args[0], ast.Name)
        ):
            base = self.namespaces[module].get(it.args[0].id)
            if base is not None:
                base = self.resolve_shallow(base)
                if isinstance(base, ModuleRef):
                    return base.name
        self.warnings.append(f"{module}: unrecognised globals() mutation")
        return "?"

    def _check_dynamic(self, module: str, value: ast.expr) -> None:
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "update"
            and _is_globals_call(value.func.value)
        ):
            self.warnings.append(f"{module}: globals().update(...) not modelled")


# ---------------------------------------------------------------------------------------------
# Table construction
# ---------------------------------------------------------------------------------------------


@dataclass
class ModuleResult:
    """Namespace of one module after a fresh import of it."""

    namespace: dict[str, Binding]
    star_exports: list[str]


@dataclass
class Table:
    """Everything computed from the sources, before serialisation."""

    sources: SourceSet
    results: dict[str, ModuleResult] = field(default_factory=dict)
    unresolved_stars: dict[str, set[str]] = field(default_factory=dict)
    warnings: set[str] = field(default_factory=set)

    def resolve(self, binding: Binding, _seen: frozenset[tuple[str, str]] = frozenset()) -> str:
        """Origin of ``binding``: defining dotted path, or ``module:NAME``."""
        if isinstance(binding, Defined):
            return binding.path
        if isinstance(binding, ModuleRef):
            return MODULE_PREFIX + binding.name
        if isinstance(binding, ExternalAttr):
            return binding.path
        if isinstance(binding, LateAttr):
            return self.lookup(binding.module, binding.name, _seen)
        origin = self.resolve(binding.base, _seen)
        for attr in binding.attrs:
            if origin.startswith(MODULE_PREFIX):
                module = origin[len(MODULE_PREFIX) :]
                if self.sources.is_internal(module):
                    origin = self.lookup(module, attr, _seen)
                    continue
                origin = module
            origin = f"{origin}.{attr}"
        return origin

    def lookup(self, module: str, name: str, _seen: frozenset[tuple[str, str]] = frozenset()) -> str:
        """Origin of ``module.name`` using the module's final namespace."""
        key = (module, name)
        result = self.results.get(module)
        if key not in _seen and result is not None and name in result.namespace:
            return self.resolve(result.namespace[name], _seen | {key})
        if self.sources.exists(f"{module}.{name}"):
            return f"{MODULE_PREFIX}{module}.{name}"
        self.warnings.add(f"unresolved attribute {module}.{name}")
        return f"{module}.{name}"

    def module_aliases(self) -> dict[str, str]:
        """Modules consisting of nothing but one ``from X import *`` (docstring allowed)."""
        aliases: dict[str, str] = {}
        for name, src in self.sources.modules.items():
            body = list(src.tree.body)
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body = body[1:]
            if len(body) != 1 or not isinstance(body[0], ast.ImportFrom):
                continue
            stmt = body[0]
            if len(stmt.names) != 1 or stmt.names[0].name != "*":
                continue
            source = resolve_from(self.sources, name, stmt)
            if self.sources.exists(source) and (
                self.results[name].star_exports == self.results[source].star_exports
            ):
                aliases[name] = source
        return aliases


def build_table(sources: SourceSet) -> Table:
    """Simulate a fresh import of every module and collect the results.

    A fresh ``import a.b.c`` is ``import a; import a.b; import a.b.c``, so the state after
    importing a package is computed once and forked for each of its children.
    """
    table = Table(sources)
    package_states: dict[str, ImportSimulation] = {}

    def state_after(package: str) -> ImportSimulation:
        if package not in package_states:
            parent = package.rpartition(".")[0]
            sim = state_after(parent).fork() if parent else ImportSimulation(sources)
            sim.load(package)
            package_states[package] = sim
        return package_states[package]

    for module in sorted(sources.modules):
        if sources.modules[module].is_package:
            sim = state_after(module)
        else:
            parent = module.rpartition(".")[0]
            sim = state_after(parent).fork() if parent else ImportSimulation(sources)
            sim.load(module)
        namespace = sim.namespaces[module]
        if module in sim.all_names:
            exports = sorted(set(sim.all_names[module]))
        else:
            exports = sorted(n for n in namespace if not n.startswith("_"))
        table.results[module] = ModuleResult(namespace=dict(namespace), star_exports=exports)
        for mod, stars in sim.unresolved_stars.items():
            table.unresolved_stars.setdefault(mod, set()).update(stars)
        table.warnings.update(sim.warnings)
    return table


def table_to_json(table: Table, versions: dict[str, str]) -> dict[str, object]:
    """The serialisable form of ``table``."""
    symbols: dict[str, str] = {}
    for module, result in table.results.items():
        for name, binding in result.namespace.items():
            if not name.startswith("_"):
                symbols[f"{module}.{name}"] = table.resolve(binding)
    return {
        "versions": dict(versions),
        "modules": sorted(table.sources.modules),
        "star_exports": {m: r.star_exports for m, r in table.results.items()},
        "unresolved_star_imports": {m: sorted(s) for m, s in table.unresolved_stars.items()},
        "symbols": symbols,
        "module_aliases": table.module_aliases(),
    }


def dumps(data: dict[str, object]) -> str:
    """Deterministic JSON text."""
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=True) + "\n"


# ---------------------------------------------------------------------------------------------
# Locating / downloading sources
# ---------------------------------------------------------------------------------------------


def _extract(archive: Path, dest: Path) -> Path:
    """Unpack an sdist archive into ``dest`` and return its root directory."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            path = Path(member.name)
            if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                raise SystemExit(f"refusing to extract suspicious member {member.name!r} of {archive}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python < 3.10.12 / 3.11.4; members were checked above
            tar.extractall(dest)
        roots = {Path(member.name).parts[0] for member in members if member.name}
    if len(roots) != 1:
        raise SystemExit(f"unexpected layout of {archive}: {sorted(roots)}")
    return dest / roots.pop()


def find_package_dir(location: Path, package: str, scratch: Path) -> Path:
    """The directory of import package ``package`` given an sdist root, package dir or archive."""
    if location.is_file() and location.name.endswith((".tar.gz", ".tgz")):
        location = _extract(location, scratch)
    if (location / package / "__init__.py").is_file():
        return location / package
    if location.name == package and (location / "__init__.py").is_file():
        return location
    raise SystemExit(f"cannot find package {package!r} in {location}")


def download_sdists(dest: Path) -> dict[str, Path]:
    """``pip download`` the pinned sdists into ``dest``; returns distribution -> archive."""
    requirements = [f"{dist}=={ver}" for dist, ver in PINNED_VERSIONS.items()]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(dest)]
    subprocess.run([*cmd, *requirements], check=True)
    archives: dict[str, Path] = {}
    for dist, ver in PINNED_VERSIONS.items():
        matches = sorted(dest.glob(f"{dist}-{ver}.tar.gz"))
        if not matches:
            raise SystemExit(f"pip did not produce an sdist for {dist}=={ver}")
        archives[dist] = matches[0]
    return archives


def read_version(package_dir: Path) -> str:
    """Version of a source tree: ``VERSION`` file in the package, else ``PKG-INFO``."""
    version_file = package_dir / "VERSION"
    if version_file.is_file():
        return version_file.read_text(encoding="utf-8").strip()
    pkg_info = package_dir.parent / "PKG-INFO"
    if pkg_info.is_file():
        for line in pkg_info.read_text(encoding="utf-8").splitlines():
            if line.startswith("Version:"):
                return line.partition(":")[2].strip()
    raise SystemExit(f"cannot determine the version of {package_dir}")


def generate(phiml: Path | None, phiflow: Path | None, output: Path) -> Table:
    """Locate/download the sources, build the table and write it to ``output``."""
    with tempfile.TemporaryDirectory(prefix="phiml-api-") as tmp:
        scratch = Path(tmp)
        locations: dict[str, Path | None] = {"phiml": phiml, "phiflow": phiflow}
        if any(loc is None for loc in locations.values()):
            downloaded = download_sdists(scratch / "dl")
            locations = {d: loc if loc is not None else downloaded[d] for d, loc in locations.items()}
        package_dirs: dict[str, Path] = {}
        for dist, loc in locations.items():
            assert loc is not None
            unpack = scratch / f"src-{dist}"
            unpack.mkdir()
            package_dirs[dist] = find_package_dir(loc, TOP_PACKAGES[dist], unpack)
        versions = {dist: read_version(d) for dist, d in package_dirs.items()}
        for dist, ver in versions.items():
            if ver != PINNED_VERSIONS[dist]:
                pinned = PINNED_VERSIONS[dist]
                print(f"warning: {dist} sources are version {ver}, pinned {pinned}", file=sys.stderr)
        table = build_table(SourceSet(package_dirs.values()))
        text = dumps(table_to_json(table, versions))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--phiml", type=Path, help="phiml sdist root, package dir or .tar.gz")
    parser.add_argument("--phiflow", type=Path, help="phiflow sdist root, package dir or .tar.gz")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    parser.add_argument("--verbose", action="store_true", help="print modelling warnings")
    args = parser.parse_args(argv)
    table = generate(args.phiml, args.phiflow, args.output)
    if args.verbose:
        for warning in sorted(table.warnings):
            print(f"note: {warning}", file=sys.stderr)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

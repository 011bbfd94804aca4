"""What every fixer sees: the engine's analysis of the diagnostic's module, and libcst on demand."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..analysis.module import CallSite, FunctionInfo, ModuleSummary, Scope
from ..model import Diagnostic, Span
from .cst import Changes, CstFile, NoFix, parse

if TYPE_CHECKING:
    from ..analysis.project import Facts, Project
    from ..engine import Engine


@dataclass
class FixContext:
    """One diagnostic, the module it is in, and parsed files shared by the fixes of one request."""

    engine: Engine
    diagnostic: Diagnostic
    module: ModuleSummary
    _files: dict[str, CstFile] = field(default_factory=dict)
    _parents: dict[int, ast.AST] | None = None

    @property
    def project(self) -> Project:
        return self.engine.project

    @property
    def facts(self) -> Facts:
        return self.project.facts()

    @property
    def data(self) -> dict:
        return self.diagnostic.data

    def summary(self, path: str) -> ModuleSummary:
        summary = self.project.modules.get(path) or self.project.get(path)
        if summary is None:
            raise NoFix(f"{path} is not analysed")
        return summary

    def cst(self, path: str) -> CstFile:
        """The libcst parse of a module of the project (parsed on first use)."""
        if path not in self._files:
            self._files[path] = parse(path, self.summary(path).source.text)
        return self._files[path]

    def changes(self) -> Changes:
        return Changes(self.cst)

    # -- locating the diagnostic's nodes ------------------------------------------------------------
    def call_at(self, span: Span) -> CallSite:
        """The call whose span is ``span``."""
        for site in self.module.calls:
            if self.module.span(site.node) == span:
                return site
        raise NoFix("no call at the diagnostic's span")

    def call_with_argument_at(self, span: Span) -> CallSite:
        """The call one of whose arguments (or the callee) has ``span``."""
        for site in self.module.calls:
            node = site.node
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if self.module.span(arg) == span:
                    return site
        raise NoFix("no call argument at the diagnostic's span")

    def function_named(self, summary: ModuleSummary, qualname: str, span: Span | None = None) -> FunctionInfo:
        """A function by qualified name (the one containing ``span`` when names repeat)."""
        found = [fn for fn in summary.functions if fn.qualname == qualname]
        if span is not None and len(found) > 1:
            found = [fn for fn in found if _contains(summary.span(fn.node), span)] or found
        if not found:
            raise NoFix(f"no function {qualname}")
        return found[-1]

    def parent_of(self, node: ast.AST) -> ast.AST | None:
        """The ``ast`` parent of a node of this diagnostic's module."""
        if self._parents is None:
            self._parents = {}
            for parent in ast.walk(self.module.tree):
                for child in ast.iter_child_nodes(parent):
                    self._parents[id(child)] = parent
        return self._parents.get(id(node))

    def top_level_statement(self, node: ast.AST) -> ast.stmt:
        current: ast.AST = node
        while True:
            parent = self.parent_of(current)
            if parent is None or isinstance(parent, ast.Module):
                break
            current = parent
        if not isinstance(current, ast.stmt):
            raise NoFix("no top-level statement")
        return current


def _contains(outer: Span, inner: Span) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def scopes_up(scope: Scope | None) -> Iterator[Scope]:
    while scope is not None:
        yield scope
        scope = scope.parent


def inside(scope: Scope, ancestor: Scope) -> bool:
    """True when ``scope`` is ``ancestor`` or nested in it."""
    return any(s is ancestor for s in scopes_up(scope))


def node_start(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def names_in(node: ast.AST) -> list[ast.Name]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Name)]

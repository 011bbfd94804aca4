"""What a rule is: metadata (code, name, message, severity, backends, docs) plus a check.

A rule's ``valid`` and ``invalid`` examples live on the class, as in Fixit: the test-suite runs
every one of them (``tests/test_rule_examples.py``) and the docs pages are generated from them,
so behaviour, tests and documentation cannot drift apart. ``invalid`` examples mark the lines
where a diagnostic must start with ``# expect: CODE`` comments, like the shared corpus.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..analysis.module import CallSite, FunctionInfo, ModuleSummary, Scope, iter_children
from ..analysis.project import Facts, Project, TraceInfo
from ..analysis.targets import Target
from ..model import Severity, Span

BACKENDS = ("jax", "torch", "tensorflow")
DOCS_BASE = "https://phiml-lint.readthedocs.io/en/latest/rules/"


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check yields; the engine turns it into a :class:`~phiml_lint.model.Diagnostic`."""

    span: Span
    message: str
    trace: TraceInfo | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Context:
    """Everything a check may look at for one module."""

    project: Project
    module: ModuleSummary
    facts: Facts

    def resolve(self, scope: Scope, expr: ast.expr) -> Target | None:
        return self.project.resolve(self.module, scope, expr)

    def target(self, scope: Scope, expr: ast.expr) -> Target | None:
        """``resolve`` followed through aliases (memoised by the project)."""
        return self.project.target(self.module, scope, expr)

    def role(self, scope: Scope, expr: ast.expr) -> str | None:
        return self.project.role_of(self.module, scope, expr)

    def traced_functions(self) -> Iterator[tuple[FunctionInfo, TraceInfo]]:
        for fn in self.module.functions:
            info = self.facts.traced.get(id(fn))
            if info is not None:
                yield fn, info

    def traced_sites(self, roles: Iterable[str] | None = None
                     ) -> Iterator[tuple[CallSite, FunctionInfo, TraceInfo]]:
        """Calls made by traced functions of this module (only those with one of ``roles`` if given).

        The role filter uses the facts' index, so a rule about ``solve_linear`` does not resolve
        every call of the module again.
        """
        sites = self.module.calls if roles is None else self.facts.sites_with(self.module, roles)
        traced = self.facts.traced
        for site in sites:
            if site.function is not None and (trace := traced.get(id(site.function))) is not None:
                yield site, site.function, trace

    def span(self, node: ast.AST) -> Span:
        return self.module.span(node)


class Rule:
    """Base class of all rules. Subclasses set the metadata and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]  # one line for `phiml-lint rules`
    severity: ClassVar[Severity]
    backends: ClassVar[frozenset[str]]
    breaks_on: ClassVar[str]  # human text: "Jax (error), PyTorch (silently stale)"
    why: ClassVar[str]  # docs: why it breaks (markdown)
    fix_text: ClassVar[str]  # docs: how to fix, and the fix's safety
    bad: ClassVar[str] = ""  # docs: a bad example (also an invalid test case)
    good: ClassVar[str] = ""  # docs: the fixed example (also a valid test case)
    observed: ClassVar[dict[str, str]] = {}  # backend -> what was observed (issue: backends proof)
    valid: ClassVar[tuple[str, ...]] = ()
    invalid: ClassVar[tuple[str, ...]] = ()

    @property
    def url(self) -> str:
        return f"{DOCS_BASE}{self.code}/"

    def check(self, ctx: Context) -> Iterator[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def all_valid(self) -> tuple[str, ...]:
        return (*((self.good,) if self.good else ()), *self.valid)

    def all_invalid(self) -> tuple[str, ...]:
        return (*((self.bad,) if self.bad else ()), *self.invalid)


REGISTRY: dict[str, Rule] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: instantiate and register a rule under its code."""
    if cls.code in REGISTRY:
        raise ValueError(f"duplicate rule code {cls.code}")
    REGISTRY[cls.code] = cls()
    return cls


def names_in(node: ast.AST) -> Iterator[ast.Name]:
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            yield child


def walk_body(fn: FunctionInfo) -> list[ast.AST]:
    """Every node of a function's body, not descending into nested defs or classes (computed once)."""
    if fn.body_nodes is None:
        fn.body_nodes = _walk_body(fn)
    return fn.body_nodes


def _walk_body(fn: FunctionInfo) -> list[ast.AST]:
    node = fn.node
    stack: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(reversed(node.body))
    out: list[ast.AST] = []
    while stack:
        current = stack.pop()
        out.append(current)
        children = iter_children(current)
        for child in reversed(children):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                # decorators and defaults run in this function; the body does not
                if not isinstance(child, ast.ClassDef):
                    stack.extend(reversed(child.decorator_list))
                    stack.extend(reversed([*child.args.defaults, *(d for d in child.args.kw_defaults if d)]))
                continue
            stack.append(child)
    return out

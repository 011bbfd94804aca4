"""libcst plumbing for the fixes: parse on demand, find nodes by position, plan and render rewrites.

The diagnostics path never imports this module: a file is parsed with libcst only when a fix
for it is asked for, and the parse (with position and parent metadata) is cached per text, so
the fixes of several diagnostics of one file share it. A rewrite is planned as operations on
original nodes (replace, remove, insert before/after) and applied in one transformer pass; the
new module text is then reduced to minimal edits by :func:`.text.diff_edits`.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, ParentNodeProvider, PositionProvider

from ..analysis.module import ModuleSummary
from ..model import Edit, Pos, Span
from .text import diff_edits

if TYPE_CHECKING:
    from ..analysis.project import Project

N = TypeVar("N", bound=cst.CSTNode)
_LeaveResult = cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel
#: Statements with ``leading_lines`` (what a module or block body holds).
Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


class NoFix(Exception):
    """Raised by a fixer when no correct fix exists; the message says why (for debugging)."""


# -- parsing ------------------------------------------------------------------------------------------
@dataclass(eq=False)
class CstFile:
    """One module parsed with libcst, with positions and parents of every node."""

    path: str
    text: str
    module: cst.Module
    positions: dict[cst.CSTNode, CodeRange]
    parents: dict[cst.CSTNode, cst.CSTNode]
    _by_start: dict[tuple[int, int], list[cst.CSTNode]] = field(default_factory=dict)

    def span(self, node: cst.CSTNode) -> Span:
        r = self.positions[node]
        return Span(Pos(r.start.line - 1, r.start.column), Pos(r.end.line - 1, r.end.column))

    def _index(self) -> dict[tuple[int, int], list[cst.CSTNode]]:
        if not self._by_start:
            for node, r in self.positions.items():
                self._by_start.setdefault((r.start.line - 1, r.start.column), []).append(node)
        return self._by_start

    def at(self, start: Pos, kind: type[N], end: Pos | None = None) -> N:
        """The node of type ``kind`` starting at ``start`` (and ending at ``end`` when given)."""
        for node in self._index().get((start.line, start.col), []):
            if isinstance(node, kind) and (end is None or self.span(node).end == end):
                return node
        raise NoFix(f"no {kind.__name__} at {start}")

    def of(self, summary: ModuleSummary, node: ast.AST, kind: type[N]) -> N:
        """The libcst node for an ``ast`` node (matched by position)."""
        span = summary.span(node)
        if isinstance(node, ast.stmt):
            return self.at(span.start, kind)
        return self.at(span.start, kind, span.end)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def statement(self, node: cst.CSTNode) -> cst.BaseStatement:
        """The innermost statement (a simple statement line or a compound one) holding ``node``."""
        current: cst.CSTNode | None = node
        while current is not None and not isinstance(current, cst.BaseStatement):
            current = self.parents.get(current)
        if current is None:
            raise NoFix("node is not inside a statement")
        return current

    def top_level(self, node: cst.CSTNode) -> cst.BaseStatement:
        """The module-level statement holding ``node``."""
        current = node
        while True:
            parent = self.parents.get(current)
            if parent is None or isinstance(parent, cst.Module):
                break
            current = parent
        if not isinstance(current, cst.BaseStatement):
            raise NoFix("no top-level statement")
        return current

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


@lru_cache(maxsize=16)
def _parse(text: str) -> tuple[cst.Module, dict[cst.CSTNode, CodeRange], dict[cst.CSTNode, cst.CSTNode]]:
    wrapper = MetadataWrapper(cst.parse_module(text))
    positions = dict(wrapper.resolve(PositionProvider))
    parents = dict(wrapper.resolve(ParentNodeProvider))
    return wrapper.module, positions, parents


def parse(path: str, text: str) -> CstFile:
    """Parse ``text`` (cached per text); raises :class:`NoFix` when libcst cannot parse it."""
    try:
        module, positions, parents = _parse(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError) as err:
        raise NoFix(f"libcst cannot parse {path}: {err}") from None
    return CstFile(path, text, module, positions, parents)


# -- planned rewrites ---------------------------------------------------------------------------------
@dataclass
class _Plan:
    replace: Callable[[cst.CSTNode], cst.CSTNode] | None = None
    remove: bool = False
    before: list[cst.BaseStatement] = field(default_factory=list)
    after: list[cst.BaseStatement] = field(default_factory=list)


class Rewrite:
    """Operations planned on the original nodes of one file."""

    def __init__(self, file: CstFile) -> None:
        self.file = file
        self.plans: dict[cst.CSTNode, _Plan] = {}

    def _plan(self, node: cst.CSTNode) -> _Plan:
        return self.plans.setdefault(node, _Plan())

    def replace(self, node: cst.CSTNode, new: cst.CSTNode | Callable[[cst.CSTNode], cst.CSTNode]) -> None:
        """Replace ``node``; a callable receives the node with its children already rewritten."""
        plan = self._plan(node)
        previous = plan.replace
        step = new if callable(new) else (lambda _old, _new=new: _new)
        plan.replace = step if previous is None else (lambda n, _p=previous, _s=step: _s(_p(n)))

    def remove(self, statement: cst.BaseStatement) -> None:
        """Remove a statement; a follower that now opens its block loses its leading blank lines."""
        self._plan(statement).remove = True
        body, index = self.siblings(statement)
        if any(not self.plans.get(item, _Plan()).remove for item in body[:index]):
            return
        for follower in body[index + 1:]:
            if not self.plans.get(follower, _Plan()).remove:
                self.replace(follower, _without_blank_prefix)
                break

    def insert_before(self, statement: cst.BaseStatement, new: Sequence[cst.BaseStatement]) -> None:
        self._plan(statement).before.extend(new)

    def insert_after(self, statement: cst.BaseStatement, new: Sequence[cst.BaseStatement]) -> None:
        self._plan(statement).after.extend(new)

    def siblings(self, statement: cst.BaseStatement) -> tuple[Sequence[cst.CSTNode], int]:
        """The statement list holding ``statement`` and its index there."""
        parent = self.file.parent(statement)
        if not isinstance(parent, cst.Module | cst.IndentedBlock | cst.SimpleStatementSuite):
            raise NoFix("statement is not in a block")
        body: Sequence[cst.CSTNode] = parent.body
        for index, item in enumerate(body):
            if item is statement:
                return body, index
        raise NoFix("statement not found in its block")

    def new_text(self) -> str:
        if not self.plans:
            return self.file.text
        return self.file.module.visit(_Transformer(self.plans)).code


class _Transformer(cst.CSTTransformer):
    def __init__(self, plans: dict[cst.CSTNode, _Plan]) -> None:
        super().__init__()
        self.plans = plans

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> _LeaveResult:
        plan = self.plans.get(original_node)
        if plan is None:
            return updated_node
        node: cst.CSTNode | None = updated_node
        if plan.replace is not None:
            node = plan.replace(updated_node)
        if plan.remove:
            node = None
        items = [*plan.before, *([node] if node is not None else []), *plan.after]
        if not items:
            return cst.RemoveFromParent()
        if len(items) == 1:
            return items[0]
        return cst.FlattenSentinel(items)


class Changes:
    """Rewrites of one or more files that together make one fix."""

    def __init__(self, load: Callable[[str], CstFile]) -> None:
        self._load = load
        self.rewrites: dict[str, Rewrite] = {}

    def file(self, path: str) -> Rewrite:
        if path not in self.rewrites:
            self.rewrites[path] = Rewrite(self._load(path))
        return self.rewrites[path]

    def edits(self) -> tuple[Edit, ...]:
        """Minimal edits of every file; raises :class:`NoFix` when a result would not parse."""
        out: list[Edit] = []
        for path, rewrite in self.rewrites.items():
            new = rewrite.new_text()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ast.parse(new)
            except (SyntaxError, ValueError) as err:
                raise NoFix(f"the rewrite of {path} does not parse: {err}") from None
            out.extend(diff_edits(path, rewrite.file.text, new))
        if not out:
            raise NoFix("nothing to change")
        return tuple(out)


# -- blank lines --------------------------------------------------------------------------------------
def _blank_prefix(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    out = []
    for line in lines:
        if line.comment is not None:
            break
        out.append(line)
    return out


def _strip_blank_prefix(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    return list(lines[len(_blank_prefix(lines)):])


def _without_blank_prefix(statement: Statement) -> Statement:
    return statement.with_changes(leading_lines=_strip_blank_prefix(statement.leading_lines))


def comment_lines(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """``leading_lines`` from the first comment on (what documents a statement)."""
    return _strip_blank_prefix(lines)


BLANK = cst.EmptyLine(indent=False)


def insert_top_level(rewrite: Rewrite, anchor: cst.BaseStatement, new: Sequence[cst.BaseStatement],
                     blank_lines: int = 2) -> None:
    """Insert module-level statements before ``anchor``, separated from it by ``blank_lines``.

    The first new statement takes over the blank lines that preceded the anchor; comments that
    document the anchor stay with the anchor.
    """
    if not new:
        return
    _body, index = rewrite.siblings(anchor)
    prefix = _blank_prefix(anchor.leading_lines)
    first = new[0].with_changes(leading_lines=[*prefix, *comment_lines(new[0].leading_lines)]) if index else \
        new[0].with_changes(leading_lines=comment_lines(new[0].leading_lines))
    rewrite.insert_before(anchor, [first, *new[1:]])
    separator = [BLANK] * blank_lines
    rewrite.replace(anchor, lambda n: n.with_changes(leading_lines=[*separator,
                                                                   *comment_lines(n.leading_lines)]))


# -- argument lists -----------------------------------------------------------------------------------
def insert_args(args: Sequence[cst.Arg], new: Sequence[cst.Arg], index: int) -> list[cst.Arg]:
    """Insert arguments at ``index``, following the list's comma style (trailing commas too)."""
    return _insert_with_commas(list(args), list(new), index)


def insert_params(params: Sequence[cst.Param], new: Sequence[cst.Param]) -> list[cst.Param]:
    return _insert_with_commas(list(params), list(new), len(params))


def _insert_with_commas(items: list, new: list, index: int) -> list:
    if not new:
        return items
    if not items:
        return new
    if index < len(items):
        comma = items[index - 1].comma if index > 0 else cst.MaybeSentinel.DEFAULT
        return [*items[:index], *(n.with_changes(comma=comma) for n in new), *items[index:]]
    last = items[-1]
    if isinstance(last.comma, cst.Comma):  # a trailing comma: the list is laid out one item per line
        between = items[-2].comma if len(items) > 1 and isinstance(items[-2].comma, cst.Comma) else \
            cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        head = [*items[:-1], last.with_changes(comma=between)]
        middle = [n.with_changes(comma=between) for n in new[:-1]]
        return [*head, *middle, new[-1].with_changes(comma=last.comma)]
    return [*items, *(n.with_changes(comma=cst.MaybeSentinel.DEFAULT) for n in new)]


def keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    """``name=value`` formatted as PEP 8 wants for keyword arguments."""
    return cst.Arg(value=value, keyword=cst.Name(name),
                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                         whitespace_after=cst.SimpleWhitespace("")))


def expression(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


def statement(text: str) -> cst.BaseStatement:
    return cst.parse_statement(text)


# -- names and spellings ------------------------------------------------------------------------------
def identifier_occurrences(summary: ModuleSummary) -> Iterator[str]:
    """Every occurrence of an identifier the module binds or reads (repeats kept, for counting)."""
    for node in ast.walk(summary.tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.arg):
            yield node.arg
        elif isinstance(node, ast.alias):
            yield (node.asname or node.name).split(".")[0]
        elif isinstance(node, ast.Global | ast.Nonlocal):
            yield from node.names
        elif isinstance(node, ast.ExceptHandler) and node.name:
            yield node.name


def identifiers(summary: ModuleSummary) -> set[str]:
    """Every name the module binds or reads, plus what its star imports may bind."""
    from ..analysis import api

    names = set(identifier_occurrences(summary))
    for star, level, _node in summary.star_modules():
        exports = api.star_exports(star) if not level else None
        if exports is not None:
            names |= exports
    return names


def fresh_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3`` ... when taken (and reserves the result)."""
    name = base
    counter = 2
    while name in taken or not name.isidentifier():
        name = f"{base}_{counter}"
        counter += 1
    taken.add(name)
    return name


def quote_of(summary: ModuleSummary) -> str:
    """The quote character the module mostly uses for strings."""
    counts = {"'": 0, '"': 0}
    for node in ast.walk(summary.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and hasattr(node, "col_offset"):
            line = summary.source.line(node.lineno - 1)
            col = summary.char_col(node.lineno, node.col_offset)
            text = line[col:col + 4].lstrip("rRbBuUfF")
            if text[:1] in counts and not text.startswith(text[:1] * 3):
                counts[text[:1]] += 1
    return '"' if counts['"'] > counts["'"] else "'"


def string_literal(value: str, quote: str) -> cst.SimpleString:
    if quote in value or "\\" in value:
        return cst.SimpleString(repr(value))
    return cst.SimpleString(f"{quote}{value}{quote}")


def resolves_to_role(project: Project, summary: ModuleSummary, text: str, role: str) -> bool:
    try:
        expr = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    return project.role_of(summary, summary.module_scope, expr) == role


def bound_before(summary: ModuleSummary, name: str, line: int) -> bool:
    """True when a module-level binding of ``name`` (or a star import) comes before 0-based ``line``."""
    for binding in summary.module_scope.bindings.get(name, ()):
        node = binding.node
        if node is not None and getattr(node, "lineno", line + 2) - 1 < line:
            return True
    return any(n.lineno - 1 < line for _s, _l, n in summary.star_modules())


def phiml_spelling(project: Project, summary: ModuleSummary, attr: str, role: str, *, before_line: int,
                   hints: Sequence[str] = ()) -> str | None:
    """How this module spells ΦML's ``attr`` at module level before ``before_line``, if it can.

    Tries the hints first (the spelling next to the fixed code), then every module-level import
    (``math.x``, ``pm.x``, ``phiml.math.x``), then the bare name (``from phi.flow import *``).
    """
    candidates = list(hints)
    for name, bindings in summary.module_scope.bindings.items():
        if any(b.kind == "import" for b in bindings):
            candidates += [f"{name}.{attr}", f"{name}.math.{attr}"]
    candidates.append(attr)
    for text in candidates:
        head = text.split(".")[0]
        if resolves_to_role(project, summary, text, role) and bound_before(summary, head, before_line):
            return text
    return None


def import_statement_for(summary: ModuleSummary, attr: str) -> tuple[str, cst.BaseStatement] | None:
    """An import that makes ΦML's ``attr`` available: ``from phiml import math`` when ``math`` is free."""
    taken = identifiers(summary)
    if "math" not in taken:
        return f"math.{attr}", statement("from phiml import math\n")
    if attr not in taken:
        return attr, statement(f"from phiml.math import {attr}\n")
    return None


def last_import(file: CstFile, summary: ModuleSummary, before_line: int) -> cst.BaseStatement | None:
    """The last module-level import statement before 0-based ``before_line``."""
    found: ast.stmt | None = None
    for stmt in summary.tree.body:
        if stmt.lineno - 1 >= before_line:
            break
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            found = stmt
    if found is None:
        return None
    return file.statement(file.at(summary.span(found).start, cst.BaseSmallStatement))


def module_body_start(file: CstFile) -> cst.BaseStatement | None:
    """The first module statement after the docstring and ``__future__`` imports."""
    body = file.module.body
    for item in body:
        if isinstance(item, cst.SimpleStatementLine) and len(item.body) == 1:
            small = item.body[0]
            docstring = isinstance(small, cst.Expr) and isinstance(small.value, cst.BaseString)
            if docstring:
                continue
            if isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and \
                    small.module.value == "__future__":
                continue
        return item
    return None

"""The engine: source texts in, diagnostics out. Used by the CLI and the LSP server alike.

Data flows one way: text → ``ast`` module → :class:`~.analysis.module.ModuleSummary` →
project facts (traced functions, custom-gradient forwards, jit call sites) → findings of each
rule → :class:`~.model.Diagnostic` (filtered by configuration and ``noqa`` comments).
Fixes are computed separately (:mod:`.fixes`) and only when asked for.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import heap
from . import rules as _rules
from .analysis.incremental import reparse
from .analysis.module import ModuleSummary
from .analysis.project import Project
from .analysis.source import SourceError, SourceText, load
from .config import Config
from .model import Diagnostic, Pos, Related, Severity, Span
from .rules.base import REGISTRY, Context, Rule

SYNTAX_ERROR = _rules.SYNTAX_ERROR
NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,?\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)
#: Cheap prefilter (TorchFix's idea): a file that never mentions ΦML or PhiFlow is not parsed
#: unless another module imports it.
MENTIONS_PHIML = re.compile(r"\bphi(ml)?\b")
IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w.]+))", re.MULTILINE)


def worth_parsing(text: str) -> bool:
    """Cheap prefilter: could this file use ΦML, directly or through another module?

    True when it mentions ``phi``/``phiml``, or imports anything beyond the standard library and
    well-known numeric packages (a project module or a package may re-export ΦML).
    """
    if MENTIONS_PHIML.search(text):
        return True
    from .analysis.jedi_bridge import SKIP_ROOTS

    for match in IMPORT_LINE.finditer(text):
        module = match.group(1) or match.group(2) or ""
        if module.startswith(".") or module.split(".")[0] not in SKIP_ROOTS:
            return True
    return False


@dataclass(frozen=True, slots=True)
class FileResult:
    path: str
    source: SourceText | None
    diagnostics: list[Diagnostic]


def rules_for(config: Config) -> list[Rule]:
    """The enabled rules, in code order (backends with no overlap switch a rule off)."""
    return [
        rule for code, rule in sorted(REGISTRY.items())
        if rule.backends & config.backends and config.is_selected(code)
    ]


def noqa_codes(line: str) -> frozenset[str] | None:
    """Codes suppressed on a line: None for no ``noqa``, empty set for a bare ``# noqa``."""
    if "noqa" not in line.lower():
        return None
    match = NOQA.search(line)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return frozenset()
    return frozenset(c.upper() for c in re.findall(r"[A-Za-z]+[0-9]+", codes))


def syntax_diagnostic(path: str, err: SyntaxError, source: SourceText) -> Diagnostic:
    """One PML000 at the parser's position (``SyntaxError`` columns are 1-based characters)."""
    line = max((err.lineno or 1) - 1, 0)
    col = max((err.offset or 1) - 1, 0)
    text = source.line(line)
    col = min(col, len(text))
    end_line = (err.end_lineno or err.lineno or 1) - 1
    end_col = (err.end_offset or 0) - 1 if err.end_offset else col + 1
    if end_line < line or (end_line == line and end_col <= col):
        end_line, end_col = line, min(col + 1, max(len(text), col))
    # Fuzz fix (tests/fuzz): a NUL byte anywhere is reported at line 1 with end_offset 2 even when
    # line 1 is empty, so the end column could lie past the end of its line: clamp it.
    end_col = min(end_col, len(source.line(end_line)))
    message = f"Syntax error: {err.msg}" if err.msg else "Syntax error"
    return Diagnostic(SYNTAX_ERROR, message, path, Span(Pos(line, col), Pos(end_line, max(end_col, col))),
                      Severity.ERROR)


def input_diagnostic(path: str, message: str) -> Diagnostic:
    """PML000 for input that is not Python text at all (binary, bad encoding, broken notebook)."""
    return Diagnostic(SYNTAX_ERROR, message, path, Span(Pos(0, 0), Pos(0, 0)), Severity.ERROR)


def parse(source: SourceText) -> ast.Module | Diagnostic:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for invalid escapes is not our business
            return ast.parse(source.text, filename=source.path, type_comments=False)
    except SyntaxError as err:
        return syntax_diagnostic(source.path, err, source)
    except (ValueError, RecursionError, MemoryError) as err:  # NUL bytes, absurd nesting
        return input_diagnostic(source.path, f"Cannot parse: {type(err).__name__}: {err}")


def _disk_loader(path: Path) -> SourceText | None:
    try:
        return load(path)
    except SourceError:
        return None


class Engine:
    """The analysis state of one project root."""

    def __init__(self, root: Path, config: Config | None = None, *, loader: object = _disk_loader,
                 use_jedi: bool = True, jedi_timeout: float | None = None) -> None:
        self.root = root
        self.config = config or Config()
        self.project = Project(root, self.config.extra_jit_decorators, loader=loader)
        if use_jedi:
            from .analysis.jedi_bridge import JediBridge

            self.project.jedi = JediBridge(self.project)
            if jedi_timeout is not None:
                self.project.jedi.timeout = jedi_timeout
        self.checks: Counter[str] = Counter()  # path -> how often its rules ran (tests count re-analysis)
        self.errors: dict[str, Diagnostic] = {}  # path -> PML000 for files that do not parse
        self.sources: dict[str, SourceText] = {}
        self._keys: dict[str, str] = {}
        self.reparsed = 0  # updates that re-parsed only the edited statements (analysis/incremental.py)
        self.changed: dict[str, set[str] | None] = {}  # path -> its dependents when last replaced (None: all)

    def configure(self, config: Config) -> None:
        changed = config.extra_jit_decorators != self.config.extra_jit_decorators
        self.config = config
        if changed:
            self.project.extra_jit = frozenset(config.extra_jit_decorators)
            self.project.invalidate()

    def key(self, path: str) -> str:
        """The project's key for a path (resolved; memoised: the server asks for every open document)."""
        if path.startswith("untitled:"):
            return path
        found = self._keys.get(path)
        if found is None:
            found = self._keys[path] = str(Path(path).resolve())
        return found

    def update(self, source: SourceText) -> ModuleSummary | None:
        """Add or replace a module's text; returns its summary, or None when it does not parse."""
        key = self.key(source.path)
        previous, old = self.sources.get(key), self.project.modules.get(key)
        self.sources[key] = source
        with heap.paused():  # the tree and its summary are long-lived: keep the collector off them
            parsed: ast.Module | Diagnostic | None = None
            if previous is not None and old is not None and key not in self.errors:
                parsed = reparse(previous.text, old.tree, source.text)  # a keystroke: only its statement
                self.reparsed += parsed is not None
            if parsed is None:
                parsed = parse(source)
            if isinstance(parsed, Diagnostic):
                self.errors[key] = parsed
                self.project.remove(key)
                self.changed[key] = None
                return None
            self.errors.pop(key, None)
            summary = self.project.add(source, parsed)
            self.changed[key] = self.project.last_dependents if old is not None else None
            return summary

    def update_error(self, path: str, message: str) -> None:
        key = self.key(path)
        self.errors[key] = input_diagnostic(path, message)
        self.sources.pop(key, None)
        self.project.remove(key)
        self.changed[key] = None

    def remove(self, path: str) -> None:
        key = self.key(path)
        self.errors.pop(key, None)
        self.sources.pop(key, None)
        self.project.remove(key)
        self.changed[key] = None

    def diagnostics(self, path: str) -> list[Diagnostic]:
        """All diagnostics of one file (after select/ignore/backends/noqa)."""
        key = self.key(path)
        if key in self.errors:
            error = self.errors[key]
            return [error]
        module = self.project.modules.get(key)
        if module is None:
            return []
        with heap.paused(replaces=False):  # facts and resolution memos live until the next change
            facts = self.project.facts()
        self.checks[key] += 1
        ctx = Context(self.project, module, facts)
        found: list[Diagnostic] = []
        config = self.config
        for rule in rules_for(config):
            if not config.is_selected(rule.code, module.path, self.root):
                continue
            for finding in rule.check(ctx):
                related: tuple[Related, ...] = finding.trace.related() if finding.trace else ()
                data = {"rule": rule.code, **finding.data}
                found.append(Diagnostic(
                    rule.code, finding.message, module.source.path, finding.span,
                    config.severity_of(rule.code, rule.severity), related, data,
                ))
        found = [d for d in found if not self._suppressed(module.source, d)]
        found.sort(key=lambda d: d.sort_key)
        unique: list[Diagnostic] = []
        seen: set[tuple[str, int, int, str]] = set()
        for diagnostic in found:
            if diagnostic.sort_key not in seen:
                seen.add(diagnostic.sort_key)
                unique.append(diagnostic)
        return unique

    def dependency_key(self, path: str) -> tuple:
        """What another module's changes can alter about this one's diagnostics.

        The facts about this module (its traced functions with their chains, custom-gradient
        forwards, jit specs, jit call sites) plus its own text. When the key is unchanged after
        some other file was edited, and this module does not import that file, its diagnostics
        cannot have changed and the server skips re-checking it.
        """
        key = self.key(path)
        module = self.project.modules.get(key)
        if module is None:
            return (key, None)
        facts = self.project.facts()
        traced = tuple(sorted((fn.qualname, tuple(s.message for s in facts.traced[id(fn)].chain))
                              for fn in module.functions if id(fn) in facts.traced))
        forwards = tuple(sorted(fn.qualname for fn in module.functions if id(fn) in facts.cg_forward))
        specs = tuple(sorted((fn.qualname, facts.jit_specs[id(fn)].kind, facts.jit_specs[id(fn)].forget_traces)
                             for fn in module.functions if id(fn) in facts.jit_specs))
        calls = tuple(sorted((c.site.node.lineno, c.site.node.col_offset, c.function.qualname)
                             for c in facts.calls_in(module)))
        return (key, id(module), traced, forwards, specs, calls)

    def imports(self, path: str, other: str) -> bool:
        """Did name look-ups in ``path`` enter the module at ``other`` (directly or through others)?"""
        return self.key(path) in self.dependents(other)

    def dependents(self, path: str) -> set[str]:
        """Keys of the modules whose diagnostics may follow the text of ``path``.

        Those whose name look-ups entered it, directly or through others, as recorded when it was
        last replaced; everything after a file appeared or vanished.
        """
        found = self.changed.get(self.key(path))
        if found is None:
            return set(self.project.modules) - {self.key(path)}
        return found

    @staticmethod
    def _suppressed(source: SourceText, diagnostic: Diagnostic) -> bool:
        codes = noqa_codes(source.line(diagnostic.span.start.line))
        return codes is not None and (not codes or diagnostic.code in codes)

    def check(self, sources: Iterable[SourceText]) -> list[FileResult]:
        """Analyse several sources as one project and return each one's diagnostics."""
        paths = []
        for source in sources:
            self.update(source)
            paths.append(source.path)
        return [FileResult(p, self.sources.get(self.key(p)), self.diagnostics(p)) for p in paths]

"""The engine's data model: what every layer (CLI, LSP, fixes, tests) exchanges.

Positions are 0-based lines and 0-based *code-point* columns inside the analysed text.
The CLI converts to Ruff's 1-based rows/columns, the LSP layer to UTF-16 or UTF-8 units;
keeping one internal unit means the fast ``ast`` pass and the libcst fixes agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.Enum):
    """How loudly a rule speaks. Values match LSP's DiagnosticSeverity numbers."""

    ERROR = 1
    WARNING = 2
    INFO = 3
    HINT = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a user-facing severity name (``error``, ``warning``, ``info``, ``hint``)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r}; expected one of {names}") from None


class Applicability(enum.Enum):
    """Ruff's fix applicability: what `--fix` may apply without asking."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    """A 0-based line and 0-based code-point column."""

    line: int
    col: int


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A half-open range ``[start, end)`` in one text."""

    start: Pos
    end: Pos

    @classmethod
    def of(cls, line: int, col: int, end_line: int, end_col: int) -> Span:
        return cls(Pos(line, col), Pos(end_line, end_col))

    def contains(self, pos: Pos) -> bool:
        return self.start <= pos <= self.end


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``span`` of the file at ``path`` with ``content``."""

    path: str
    span: Span
    content: str


@dataclass(frozen=True, slots=True)
class Fix:
    """One way to resolve a diagnostic; edits may span several files (PML202)."""

    title: str
    applicability: Applicability
    edits: tuple[Edit, ...]
    reason: str = ""  # why it is unsafe / display-only

    @property
    def is_safe(self) -> bool:
        return self.applicability is Applicability.SAFE


@dataclass(frozen=True, slots=True)
class Related:
    """A place that explains a diagnostic: a step in the chain that makes code traced."""

    path: str
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding. ``data`` is JSON-serialisable context the fixers need (kept small)."""

    code: str
    message: str
    path: str
    span: Span
    severity: Severity
    related: tuple[Related, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.span.start.line, self.span.start.col, self.code)

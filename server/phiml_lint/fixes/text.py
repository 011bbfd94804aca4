"""Text edits: minimal edits from a rewrite, applying edits, and mapping them to notebook cells.

Every position here is a :class:`~phiml_lint.model.Pos` of the *analysed* text: ``\\n`` newlines,
0-based lines, code-point columns; for notebooks the joined code cells. Rewrites are computed
on whole modules with libcst (lossless), then reduced to the spans that really changed, so an
editor or ``--fix`` touches nothing else: comments, blank lines and formatting elsewhere stay
byte-identical.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..analysis.source import CellSpan, SourceText, blank_ipython
from ..model import Edit, Pos, Span

#: Tokens for the intra-line diff: words, runs of spaces, and single other characters.
_TOKEN = re.compile(r"\w+|[ \t]+|\n|.", re.DOTALL)


class Unmappable(ValueError):
    """An edit cannot be expressed in the file's own coordinates (e.g. it crosses notebook cells)."""


# -- positions and offsets ------------------------------------------------------------------------
def line_starts(text: str) -> list[int]:
    """Offset of the start of every line (a text of ``n`` newlines has ``n + 1`` lines)."""
    starts = [0]
    index = text.find("\n")
    while index >= 0:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def to_offset(starts: Sequence[int], text: str, pos: Pos) -> int:
    """The offset of ``pos``; raises :class:`Unmappable` for positions outside the text."""
    if not 0 <= pos.line < len(starts):
        raise Unmappable(f"line {pos.line} is outside the text")
    end = starts[pos.line + 1] - 1 if pos.line + 1 < len(starts) else len(text)
    offset = starts[pos.line] + pos.col
    if pos.col < 0 or offset > end:
        raise Unmappable(f"column {pos.col} is outside line {pos.line}")
    return offset


def to_pos(starts: Sequence[int], offset: int) -> Pos:
    """The position of ``offset`` (binary search over the line starts)."""
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return Pos(lo, offset - starts[lo])


# -- minimal edits ---------------------------------------------------------------------------------
def diff_edits(path: str, old: str, new: str) -> list[Edit]:
    """The smallest edits that turn ``old`` into ``new``.

    Lines are matched first (so inserted statements become whole-line insertions); each changed
    group of lines is then reduced token by token to the spans that differ.
    """
    if old == new:
        return []
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    old_starts = _cumulative(old_lines)
    new_starts = _cumulative(new_lines)
    spans: list[tuple[int, int, str]] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a_start, a_end = old_starts[i1], old_starts[i2]
        b_start, b_end = new_starts[j1], new_starts[j2]
        if tag in {"insert", "delete"}:
            spans.append((a_start, a_end, new[b_start:b_end]))
            continue
        spans.extend(_token_edits(old[a_start:a_end], new[b_start:b_end], a_start))
    starts = line_starts(old)
    return [Edit(path, Span(to_pos(starts, s), to_pos(starts, e)), content) for s, e, content in spans]


def _cumulative(lines: list[str]) -> list[int]:
    out = [0]
    for line in lines:
        out.append(out[-1] + len(line))
    return out


def _token_edits(old: str, new: str, base: int) -> list[tuple[int, int, str]]:
    """Edits inside one changed group of lines; nearby changes are merged into one edit."""
    a = _TOKEN.findall(old)
    b = _TOKEN.findall(new)
    a_off = _cumulative(a)
    merged: list[list[int]] = []  # [a1, a2, b1, b2]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if merged:
            last = merged[-1]
            between = a[last[1]:i1]
            # an unchanged gap of only spaces or punctuation does not deserve its own edit boundary
            if len(between) <= 1 or not any(t.strip() and t not in ",()" for t in between):
                last[1], last[3] = i2, j2
                continue
        merged.append([i1, i2, j1, j2])
    return [(base + a_off[i1], base + a_off[i2], "".join(b[j1:j2])) for i1, i2, j1, j2 in merged]


# -- applying edits ---------------------------------------------------------------------------------
def overlapping(a: Span, b: Span) -> bool:
    """True when two edits cannot both be applied: they intersect or insert at the same place."""
    if a.start < b.end and b.start < a.end:
        return True
    a_empty, b_empty = a.start == a.end, b.start == b.end
    if a_empty and b.start <= a.start <= b.end:
        return True
    return b_empty and a.start <= b.start <= a.end


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (positions in ``text``) and return the new text."""
    starts = line_starts(text)
    ranges = sorted(((to_offset(starts, text, e.span.start), to_offset(starts, text, e.span.end), e.content)
                     for e in edits), key=lambda r: (r[0], r[1]))
    return _splice(text, ranges)


def _splice(text: str, ranges: list[tuple[int, int, str]]) -> str:
    """Replace sorted, non-overlapping ``(start, end, content)`` offset ranges of ``text``."""
    out: list[str] = []
    cursor = 0
    for start, end, content in ranges:
        if start < cursor or end < start:
            raise Unmappable("edits overlap")
        out.append(text[cursor:start])
        out.append(content)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


_RAW_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def apply_to_raw(raw: str, edits: Iterable[Edit], newline: str) -> str:
    """Apply edits given in normalised (``\\n``) coordinates to the file's original text.

    Lines keep their own line endings, so files with mixed endings change only where edited;
    new lines use ``newline``, the file's dominant ending.
    """
    lines = _RAW_LINE.findall(raw)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    normalised_lengths = [len(line.rstrip("\r\n")) for line in lines]

    def offset(pos: Pos) -> int:
        if pos.line == len(lines) and pos.col == 0:
            return len(raw)
        if not 0 <= pos.line < len(lines) or pos.col > normalised_lengths[pos.line]:
            raise Unmappable(f"{pos} is outside the file")
        return starts[pos.line] + pos.col

    ranges = sorted(((offset(e.span.start), offset(e.span.end), e.content.replace("\n", newline))
                     for e in edits), key=lambda r: (r[0], r[1]))
    return _splice(raw, ranges)


# -- notebooks ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CellEdit:
    """An edit inside one notebook cell: ``cell`` is the 1-based index in the notebook's cells."""

    cell: int
    span: Span
    content: str


def to_cell_edits(source: SourceText, edits: Iterable[Edit]) -> list[CellEdit]:
    """Map edits of a notebook's joined text to edits of its cells.

    Raises :class:`Unmappable` when an edit spans two cells or touches a line whose analysed
    text differs from the cell (IPython magics are blanked to comments for the analysis).
    """
    out: list[CellEdit] = []
    cells = source.cells
    if not cells:
        raise Unmappable("not a notebook with code cells")
    blanked = {c.cell: blank_ipython(c.source).split("\n") for c in cells}
    originals = {c.cell: c.source.split("\n") for c in cells}
    for edit in edits:
        start, end, content = edit.span.start, edit.span.end, edit.content
        cell = _cell_at(source, start)
        first, count = cell.first_line, cell.line_count
        lines = originals[cell.cell]
        if end.line >= first + count:
            # the edit reaches the separator newline after the cell: keep that newline
            if not (end.line == first + count and end.col == 0):
                raise Unmappable("edit spans several notebook cells")
            if content.endswith("\n"):
                content = content[:-1]
                end = Pos(first + count - 1, len(lines[-1]))
            elif not content and start.col == 0 and start.line > first:
                start = Pos(start.line - 1, len(lines[start.line - 1 - first]))
                end = Pos(first + count - 1, len(lines[-1]))
            elif not content and start == Pos(first, 0):
                end = Pos(first + count - 1, len(lines[-1]))
            else:
                raise Unmappable("edit spans several notebook cells")
        for line in range(start.line, end.line + 1):
            row = line - first
            if blanked[cell.cell][row] != lines[row]:
                raise Unmappable("edit touches an IPython line of the cell")
        span = Span(Pos(start.line - first, start.col), Pos(end.line - first, end.col))
        out.append(CellEdit(cell.cell, span, content))
    return out


def _cell_at(source: SourceText, pos: Pos) -> CellSpan:
    for cell in source.cells:
        if cell.first_line <= pos.line < cell.first_line + max(cell.line_count, 1):
            return cell
    raise Unmappable(f"{pos} is not inside a code cell")


def apply_cell_edits(cell_source: str, edits: Iterable[CellEdit]) -> str:
    """Apply the edits of one cell to its source (``\\n`` newlines)."""
    return apply_edits(cell_source, [Edit("", e.span, e.content) for e in edits])

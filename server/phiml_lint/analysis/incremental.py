"""Re-parse only what an edit touched, when that is provably the same as parsing everything.

Why: on every keystroke the whole file used to go through ``ast.parse``, a third of the time
from ``didChange`` to published diagnostics. Most keystrokes change characters inside one line,
inside one top-level statement. Top-level statements do not influence how each other parse, so
the new tree is the old tree with the touched statements replaced by a parse of just their lines.

When this is used: the edit keeps the number of lines (typing within lines; Enter and deleting
lines take the full parse, because shifting the line numbers of everything below would cost as
much as parsing it). Anything unusual also takes the full parse: the segment does not parse on
its own (the full parse then reports the error with the right position), a ``__future__`` import
is involved. ``tests/test_incremental_parse.py``
compares the result with a full parse, attributes included, on thousands of random edits.

The unchanged statements' nodes are shared with the previous tree; the previous summary is
disposed of before anything reads them again (see ``Project.add``).
"""

from __future__ import annotations

import ast
import warnings


def _statement_lines(stmt: ast.stmt) -> tuple[int, int]:
    """0-based first and last line of a top-level statement, decorators included."""
    first = stmt.lineno
    for decorator in getattr(stmt, "decorator_list", ()):
        first = min(first, decorator.lineno)
    return first - 1, (stmt.end_lineno or stmt.lineno) - 1


def reparse(old_text: str, old_tree: ast.Module, new_text: str) -> ast.Module | None:
    """The tree of ``new_text``, re-parsing only the changed top-level statements; None: parse it all."""
    if "\r" in new_text or "\r" in old_text:
        return None  # the tokenizer's line breaks then differ from "\n" splitting
    old_lines = old_text.split("\n")
    new_lines = new_text.split("\n")
    if len(old_lines) != len(new_lines) or not old_tree.body:
        return None
    first = next((i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b), None)
    if first is None:
        return old_tree
    last = next(i for i in range(len(new_lines) - 1, -1, -1) if old_lines[i] != new_lines[i])
    body = old_tree.body
    spans = [_statement_lines(stmt) for stmt in body]
    # The segment: every statement touching the changed lines, widened to the gaps around them.
    start_index = next((k for k, (_, end) in enumerate(spans) if end >= first), len(body))
    stop_index = next((k for k, (begin, _) in enumerate(spans) if begin > last), len(body))
    start = spans[start_index - 1][1] + 1 if start_index > 0 else 0
    stop = spans[stop_index][0] - 1 if stop_index < len(body) else len(new_lines) - 1
    if start > first or stop < last:
        return None
    segment = "\n".join(new_lines[start:stop + 1]) + "\n"
    if "__future__" in segment or "barry_as_FLUFL" in old_text:
        return None  # a future import must come first (a segment cannot tell); one changes the grammar
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            part = ast.parse(segment)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if start:
        ast.increment_lineno(part, start)
    return ast.Module(body=[*body[:start_index], *part.body, *body[stop_index:]], type_ignores=[])

"""*Suppress with ``# noqa: CODE``*: the one fix every rule has (never applied by ``--fix``)."""

from __future__ import annotations

import io
import tokenize

from ..analysis.source import SourceText
from ..engine import NOQA, noqa_codes
from ..model import Applicability, Diagnostic, Edit, Fix, Pos, Span


def suppress(source: SourceText, path: str, diagnostic: Diagnostic) -> Fix | None:
    """Add the diagnostic's code to a ``# noqa`` comment on its first line.

    Merges into an existing ``# noqa: A, B``; a bare ``# noqa`` already suppresses everything,
    so there is nothing to do. None when the line cannot take a comment: it ends inside a
    multi-line string or with a backslash continuation.
    """
    row = diagnostic.span.start.line
    line = source.line(row)
    code = diagnostic.code
    codes = noqa_codes(line)
    title = f"Suppress with `# noqa: {code}`"
    if codes is not None:
        if not codes or code in codes:
            return None
        match = NOQA.search(line)
        if match is None:  # pragma: no cover - noqa_codes found it
            return None
        end = match.end("codes")
        edit = Edit(path, Span(Pos(row, end), Pos(row, end)), f", {code}")
        return Fix(title, Applicability.SAFE, (edit,))
    stripped = line.rstrip()
    comment = f"  # noqa: {code}"
    if not _is_comment(source.text, row, stripped + comment, len(stripped) + 2):
        return None
    edit = Edit(path, Span(Pos(row, len(stripped)), Pos(row, len(line))), comment)
    return Fix(title, Applicability.SAFE, (edit,))


def _is_comment(text: str, row: int, new_line: str, col: int) -> bool:
    """True when ``new_line`` in place of line ``row`` has a comment token starting at ``col``.

    That is false when the line ends inside a multi-line string or with a backslash.
    """
    lines = text.split("\n")
    lines[row] = new_line
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline):
            if token.start[0] > row + 1:
                return False
            # our text is its own comment, or the tail of a comment the line already has
            if token.type == tokenize.COMMENT and token.start[0] == row + 1 and token.start[1] <= col:
                return True
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False
    return False

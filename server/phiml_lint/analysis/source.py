"""Turning bytes on disk (``.py`` or ``.ipynb``) into one analysable Python text.

Notebooks are analysed as a kernel runs them: code cells joined in order. Each cell keeps
its own lines, so a position in the joined text maps back to ``(cell, row)``. IPython
syntax (magics, shell escapes, help) is blanked to comments of the same line count so it
never breaks parsing and never shifts positions.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from ..model import Pos


class SourceError(Exception):
    """The input cannot be turned into Python text; the message is for the user."""


@dataclass(frozen=True, slots=True)
class CellSpan:
    """Where one notebook code cell sits in the joined text."""

    cell: int  # 1-based index in the notebook's ``cells`` list (markdown cells count)
    first_line: int  # 0-based line of the joined text where the cell starts
    line_count: int
    source: str  # the cell's original text


@dataclass(slots=True)
class SourceText:
    """The text the analysis sees, plus what is needed to map results back."""

    path: str
    text: str
    cells: tuple[CellSpan, ...] = ()  # empty for plain Python files
    encoding: str = "utf-8"
    newline: str = "\n"
    _lines: list[str] | None = field(default=None, repr=False)

    @property
    def is_notebook(self) -> bool:
        return bool(self.cells) or self.path.endswith(".ipynb")

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    def line(self, index: int) -> str:
        lines = self.lines
        return lines[index] if 0 <= index < len(lines) else ""

    def to_cell(self, pos: Pos) -> tuple[int | None, Pos]:
        """Map a joined-text position to ``(cell, position inside that cell)``."""
        for cell in self.cells:
            if cell.first_line <= pos.line < cell.first_line + max(cell.line_count, 1):
                return cell.cell, Pos(pos.line - cell.first_line, pos.col)
        return None, pos


def decode_python(data: bytes, path: str = "<text>") -> tuple[str, str]:
    """Decode Python source bytes following PEP 263 (coding cookie, BOM).

    Returns ``(text, encoding)``. Raises :class:`SourceError` for binary or undecodable files
    with a message that says what is wrong instead of a traceback.
    """
    if b"\x00" in data[:8192]:
        raise SourceError("file looks binary (contains NUL bytes); not analysed")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as err:
        if "invalid or missing encoding declaration" in str(err):
            raise SourceError("not valid UTF-8 and no encoding declared; save the file as UTF-8 or add a "
                              "PEP 263 coding comment such as `# -*- coding: latin-1 -*-`") from None
        raise SourceError(f"invalid encoding declaration: {err}") from None
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r} declared") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        raise SourceError(
            f"cannot decode as {encoding} at byte {err.start}: {err.reason}; "
            "save the file as UTF-8 or declare its encoding (PEP 263)"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, encoding


def detect_newline(text: str) -> str:
    """The file's dominant line ending, so rewritten files keep it."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


def normalise_newlines(text: str) -> str:
    """Analysis works on ``\\n`` only; ``ast`` would do the same."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


_ASSIGN_MAGIC = re.compile(r"^(\s*[\w.\[\], ]+=\s*)([!%].*)$")
_PY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "writefile"})


def blank_ipython(cell: str) -> str:
    """Replace IPython-only syntax with comments, keeping every line and its length class.

    ``x = !ls`` becomes ``x = None  # !ls`` so that ``x`` stays bound; other magic lines
    become comments. Cell magics whose body is not Python (``%%bash``) blank the whole cell.
    """
    lines = cell.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        body_is_python = name in _PY_CELL_MAGICS and name != "writefile"
        start = 1
        lines[0] = "# " + lines[0]
        if not body_is_python:
            return "\n".join([lines[0], *("# " + line for line in lines[start:])])
    out = []
    continuation = False
    for line in lines:
        stripped = line.lstrip()
        if continuation:
            out.append("# " + line)
            continuation = line.rstrip().endswith("\\")
            continue
        if stripped.startswith(("%", "!")) or (stripped.startswith("?") and stripped != "?"):
            out.append(line[: len(line) - len(stripped)] + "# " + stripped)
            continuation = line.rstrip().endswith("\\")
        elif stripped.endswith("?") and not stripped.startswith("#") and re.match(r"^[\w.]+\?{1,2}$", stripped):
            out.append(line[: len(line) - len(stripped)] + "# " + stripped)
        else:
            match = _ASSIGN_MAGIC.match(line)
            if match and not stripped.startswith("#"):
                out.append(f"{match.group(1)}None  # {match.group(2)}")
            else:
                out.append(line)
    return "\n".join(out)


def notebook_from_json(raw: str, path: str) -> SourceText:
    """Join a notebook's code cells (nbformat 4) into one text with a cell map."""
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as err:
        raise SourceError(f"not a valid notebook: JSON error at line {err.lineno}: {err.msg}") from None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        raise SourceError("not a valid notebook: no 'cells' list (nbformat 4 expected)")
    language = ""
    if isinstance(doc.get("metadata"), dict):
        info = doc["metadata"].get("language_info") or doc["metadata"].get("kernelspec") or {}
        if isinstance(info, dict):
            language = str(info.get("name") or info.get("language") or "")
    if language and not language.lower().startswith(("python", "ipython")):
        raise SourceError(f"notebook language is {language!r}, not Python; not analysed")
    code_cells: list[tuple[int, str]] = []
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            raise SourceError(f"not a valid notebook: cell {index} has no text source")
        code_cells.append((index, source))
    return notebook_from_cells(path, code_cells)


def notebook_from_cells(path: str, cells: list[tuple[int, str]]) -> SourceText:
    """Join ``(cell index, source)`` pairs, as a kernel runs them, into one text with a cell map."""
    parts: list[str] = []
    spans: list[CellSpan] = []
    line = 0
    for index, raw in cells:
        source = normalise_newlines(raw)
        code = blank_ipython(source)
        count = code.count("\n") + 1
        spans.append(CellSpan(index, line, count, source))
        parts.append(code)
        line += count
    return SourceText(path=path, text="\n".join(parts) + ("\n" if parts else ""), cells=tuple(spans))


def load(path: Path) -> SourceText:
    """Read a ``.py`` or ``.ipynb`` file into analysable text; errors are :class:`SourceError`."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SourceError(f"cannot read file: {err.strerror or err}") from None
    return from_bytes(data, str(path))


def from_bytes(data: bytes, path: str) -> SourceText:
    """Decode bytes already read (the CLI hashes them for the cache first)."""
    if path.endswith(".ipynb"):
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SourceError("not a valid notebook: not UTF-8 text") from None
        return notebook_from_json(raw, path)
    text, encoding = decode_python(data, path)
    newline = detect_newline(text)
    return SourceText(path=path, text=normalise_newlines(text), encoding=encoding, newline=newline)


def from_text(text: str, path: str) -> SourceText:
    """Wrap text an editor holds in memory."""
    return SourceText(path=path, text=normalise_newlines(text), newline=detect_newline(text))

"""Applying fixes: ``phiml-lint check --fix / --unsafe-fixes / --diff`` and the LSP's fix-all.

As in Ruff, fixing runs in rounds: every diagnostic's best applicable fix is collected, a fix
whose edits overlap an already chosen one (or that binds a module-level name another chosen
fix binds) waits for the next round, the chosen edits are applied together, the files are
re-analysed, and this repeats until no fix applies (at most :data:`MAX_ROUNDS` rounds).
``# noqa`` suppression is never applied here.

Files are written atomically (a temporary file in the same folder, then ``os.replace``), in
their encoding, with their own line endings: only the edited lines change. Notebooks get the
edits in their code cells and their JSON written back in the notebook's own layout.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..analysis.source import SourceText, normalise_newlines, notebook_from_cells
from ..model import Applicability, Edit, Fix, Span
from . import fixes_for
from .text import (
    Unmappable,
    apply_cell_edits,
    apply_edits,
    apply_to_raw,
    diff_edits,
    overlapping,
    to_cell_edits,
)

if TYPE_CHECKING:
    from ..engine import Engine

MAX_ROUNDS = 10


@dataclass
class Outcome:
    """What ``--fix`` / ``--diff`` did: fixed diagnostics, the unified diff, files changed."""

    applied: int = 0
    diff: str = ""
    changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _Doc:
    """One file being fixed: its text before the first round and after the latest."""

    def __init__(self, source: SourceText) -> None:
        self.original = source
        self.current = source

    @property
    def changed(self) -> bool:
        return self.current.text != self.original.text

    def check(self, edits: list[Edit]) -> None:
        """Raise :class:`Unmappable` when the edits cannot be applied to this file."""
        if self.current.is_notebook:
            to_cell_edits(self.current, edits)
        else:
            apply_edits(self.current.text, edits)

    def apply(self, edits: list[Edit]) -> SourceText:
        current = self.current
        if current.is_notebook:
            sources = {c.cell: c.source for c in current.cells}
            by_cell: dict[int, list] = {}
            for edit in to_cell_edits(current, edits):
                by_cell.setdefault(edit.cell, []).append(edit)
            for cell, cell_edits in by_cell.items():
                sources[cell] = apply_cell_edits(sources[cell], cell_edits)
            new = notebook_from_cells(current.path, sorted(sources.items()))
        else:
            new = SourceText(current.path, apply_edits(current.text, edits))
        new.encoding, new.newline = current.encoding, current.newline
        self.current = new
        return new


def _source(engine: Engine, key: str) -> SourceText | None:
    source = engine.sources.get(key)
    if source is None and key in engine.project.modules:
        source = engine.project.modules[key].source
    return source


def _module_names(text: str) -> set[str]:
    """Names bound by module-level statements."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
    return names


def _fix_rounds(engine: Engine, paths: list[str], *, unsafe: bool,
                editable: Callable[[str], bool]) -> tuple[int, dict[str, _Doc]]:
    """Apply fixes in rounds to the engine's texts; returns the number of fixed diagnostics."""
    docs: dict[str, _Doc] = {}
    applied = 0
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    for _round in range(MAX_ROUNDS):
        chosen: list[Fix] = []
        taken: dict[str, list[Span]] = {}
        bound: dict[str, set[str]] = {}
        seen: set[frozenset[Edit]] = set()
        count = 0
        for path in paths:
            for diagnostic in engine.diagnostics(path):
                fix = next((f for f in fixes_for(engine, diagnostic) if f.applicability in allowed), None)
                if fix is None:
                    continue
                signature = frozenset(fix.edits)
                if signature in seen:  # the same fix settles several diagnostics (PML102 + PML107)
                    count += 1
                    continue
                by_path: dict[str, list[Edit]] = {}
                for edit in fix.edits:
                    by_path.setdefault(engine.key(edit.path), []).append(edit)
                if not all(editable(key) for key in by_path):
                    continue
                if any(overlapping(e.span, s) for key, edits in by_path.items() for e in edits
                       for s in taken.get(key, [])):
                    continue
                names = _new_names(engine, docs, by_path)
                if names is None or any(names[key] & bound.get(key, set()) for key in names):
                    continue
                for key, edits in by_path.items():
                    taken.setdefault(key, []).extend(e.span for e in edits)
                    bound.setdefault(key, set()).update(names[key])
                seen.add(signature)
                chosen.append(fix)
                count += 1
        if not chosen:
            break
        grouped: dict[str, list[Edit]] = {}
        for fix in chosen:
            for edit in fix.edits:
                grouped.setdefault(engine.key(edit.path), []).append(edit)
        for key, edits in grouped.items():
            doc = docs[key]
            engine.update(doc.apply(edits))
        applied += count
    return applied, docs


def _new_names(engine: Engine, docs: dict[str, _Doc],
               by_path: dict[str, list[Edit]]) -> dict[str, set[str]] | None:
    """Module-level names a fix adds, per file; None when its edits cannot be applied."""
    out: dict[str, set[str]] = {}
    for key, edits in by_path.items():
        doc = docs.get(key)
        if doc is None:
            source = _source(engine, key)
            if source is None:
                return None
            doc = docs[key] = _Doc(source)
        try:
            doc.check(edits)
            new_text = apply_edits(doc.current.text, edits)
        except Unmappable:
            return None
        out[key] = _module_names(new_text) - _module_names(doc.current.text)
    return out


# -- the CLI ------------------------------------------------------------------------------------------------
def fix_project(engine: Engine, checked_paths: list[str], *, unsafe: bool, write: bool) -> Outcome:
    """Fix the diagnostics of the checked files; write the files unless ``write`` is false.

    Edits land in the checked files and, for a fix that must change another module of the
    project (PML202 adds ``forget_traces`` where the function is compiled), in that module when it
    lies under the project root. The engine is left with the fixed texts, so the diagnostics
    reported afterwards are those that remain. ``Outcome.diff`` is the unified diff of every change.
    """
    keys = [engine.key(p) for p in checked_paths]
    checked = set(keys)
    root = engine.root.resolve()

    def editable(key: str) -> bool:
        if key in checked:
            return True
        path = Path(key)
        return key in engine.project.modules and root in path.parents and path.is_file()

    applied, docs = _fix_rounds(engine, keys, unsafe=unsafe, editable=editable)
    outcome = Outcome(applied=applied)
    diffs: list[str] = []
    cwd = Path.cwd().resolve()
    for key in sorted(docs):
        doc = docs[key]
        if not doc.changed:
            continue
        path = Path(key)
        label = _label(path, cwd)
        try:
            if doc.original.is_notebook:
                data, diff = _notebook_output(path, doc, label)
            else:
                data, diff = _python_output(path, doc, label)
        except (OSError, UnicodeError, ValueError, Unmappable) as err:
            outcome.errors.append(f"{label}: not fixed: {err}")
            continue
        diffs.append(diff)
        outcome.changed.append(key)
        if write:
            write_atomic(path, data)
    outcome.diff = "".join(diffs)
    return outcome


def _label(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


def _read_text(path: Path, encoding: str) -> tuple[str, bool]:
    data = path.read_bytes()
    text = data.decode(encoding)
    bom = text.startswith("\ufeff")
    return (text[1:] if bom else text), bom


def _python_output(path: Path, doc: _Doc, label: str) -> tuple[bytes, str]:
    encoding = doc.original.encoding
    raw, bom = _read_text(path, encoding)
    if normalise_newlines(raw) != doc.original.text:
        raise ValueError("the file changed on disk while it was being fixed")
    edits = diff_edits(str(path), doc.original.text, doc.current.text)
    new_raw = apply_to_raw(raw, edits, doc.original.newline)
    keeps_bom = encoding.lower().replace("_", "-").endswith("sig")  # utf-8-sig writes its BOM itself
    data = (("\ufeff" if bom and not keeps_bom else "") + new_raw).encode(encoding)
    return data, _unified(raw, new_raw, label, label)


def _notebook_output(path: Path, doc: _Doc, label: str) -> tuple[bytes, str]:
    raw_bytes = path.read_bytes()
    bom = raw_bytes.startswith(b"\xef\xbb\xbf")
    raw = raw_bytes.decode("utf-8-sig")
    notebook = json.loads(raw)
    cells: list[Any] = notebook.get("cells", [])
    before = {c.cell: c.source for c in doc.original.cells}
    diffs: list[str] = []
    for cell in doc.current.cells:
        old = before.get(cell.cell)
        if old is None or old == cell.source or not 0 < cell.cell <= len(cells):
            continue
        entry = cells[cell.cell - 1]
        if normalise_newlines(_cell_text(entry.get("source", ""))) != old:
            raise ValueError("the notebook changed on disk while it was being fixed")
        entry["source"] = cell.source.splitlines(keepends=True) if isinstance(entry.get("source"), list) \
            else cell.source
        diffs.append(_unified(old, cell.source, f"{label}:cell {cell.cell}", f"{label}:cell {cell.cell}"))
    text = dump_notebook(notebook, raw)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"), "".join(diffs)


def _cell_text(source: object) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def dump_notebook(notebook: object, original: str) -> str:
    """JSON in the layout of ``original`` (nbformat's: indent 1, no ASCII escaping, final newline)."""
    match = re.match(r"\s*[{\[]\s*?\n([ \t]+)\S", original)
    indent: int | str | None = None
    if match:
        whitespace = match.group(1)
        indent = len(whitespace) if set(whitespace) == {" "} else whitespace
    ensure_ascii = original.isascii() and "\\u" in original
    text = json.dumps(notebook, indent=indent, ensure_ascii=ensure_ascii)
    return text + "\n" if original.endswith("\n") else text


def _unified(old: str, new: str, from_label: str, to_label: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                      fromfile=from_label, tofile=to_label))
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically, keeping its permissions."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- the language server -------------------------------------------------------------------------------------
def fix_all_texts(engine: Engine, path: str, *, unsafe: bool) -> dict[str, tuple[str, str]]:
    """Fix one open document in memory: ``{path: (old text, new text)}`` of the analysed texts.

    Only that document is edited, and the engine is restored to its texts before returning.
    """
    key = engine.key(path)
    _applied, docs = _fix_rounds(engine, [key], unsafe=unsafe, editable=lambda k: k == key)
    out: dict[str, tuple[str, str]] = {}
    for doc in docs.values():
        if doc.changed:
            out[doc.original.path] = (doc.original.text, doc.current.text)
            engine.update(doc.original)
    return out


__all__ = ["MAX_ROUNDS", "Outcome", "dump_notebook", "fix_all_texts", "fix_project", "write_atomic"]

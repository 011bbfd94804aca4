"""Rendering diagnostics for people (text) and for tools (JSON like Ruff's, SARIF, GitHub)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .analysis.source import SourceText
from .model import Diagnostic, Fix, Pos, Severity
from .rules.base import REGISTRY

TOOL = "phiml-lint"


def _url(code: str) -> str | None:
    from .docs import rule_doc

    doc = rule_doc(code)
    return doc.url if doc else None


def location(source: SourceText | None, pos: Pos) -> tuple[int | None, dict[str, int]]:
    """Ruff's 1-based row/column; for notebooks, the cell and the row inside it."""
    cell = None
    if source is not None and source.cells:
        cell, pos = source.to_cell(pos)
    return cell, {"row": pos.line + 1, "column": pos.col + 1}


def fix_json(fix: Fix | None, sources: dict[str, SourceText]) -> dict[str, Any] | None:
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        source = sources.get(edit.path)
        _, start = location(source, edit.span.start)
        _, end = location(source, edit.span.end)
        edits.append({"content": edit.content, "location": start, "end_location": end,
                      "filename": str(Path(edit.path).resolve())})
    return {"applicability": fix.applicability.value, "message": fix.title, "reason": fix.reason or None,
            "edits": edits}


def to_json_list(results: Iterable[tuple[Diagnostic, SourceText | None, Fix | None]],
                 sources: dict[str, SourceText]) -> list[dict[str, Any]]:
    out = []
    for diagnostic, source, fix in results:
        cell, start = location(source, diagnostic.span.start)
        _, end = location(source, diagnostic.span.end)
        item: dict[str, Any] = {
            "code": diagnostic.code,
            "message": diagnostic.message,
            "severity": diagnostic.severity.name.lower(),
            "filename": str(Path(diagnostic.path).resolve()),
            "location": start,
            "end_location": end,
            "url": _url(diagnostic.code),
            "fix": fix_json(fix, sources),
            "noqa_row": start["row"],
            "related": [
                {"filename": str(Path(r.path).resolve()), "location": location(sources.get(r.path), r.span.start)[1],
                 "message": r.message}
                for r in diagnostic.related
            ],
        }
        if cell is not None:
            item["cell"] = cell
        out.append(item)
    return out


def text_line(diagnostic: Diagnostic, source: SourceText | None, cwd: Path, fixable: bool) -> str:
    cell, start = location(source, diagnostic.span.start)
    try:
        name = Path(diagnostic.path).resolve().relative_to(cwd).as_posix()
    except ValueError:
        name = diagnostic.path
    where = f"{name}:cell {cell}:{start['row']}:{start['column']}" if cell else f"{name}:{start['row']}:{start['column']}"
    mark = " [*]" if fixable else ""
    return f"{where}: {diagnostic.code}{mark} {diagnostic.message}"


def github_line(diagnostic: Diagnostic, source: SourceText | None, cwd: Path) -> str:
    cell, start = location(source, diagnostic.span.start)
    _, end = location(source, diagnostic.span.end)
    level = {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(diagnostic.severity, "notice")
    try:
        name = Path(diagnostic.path).resolve().relative_to(cwd).as_posix()
    except ValueError:
        name = diagnostic.path
    message = diagnostic.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    prefix = f"cell {cell}: " if cell else ""
    return (f"::{level} title={TOOL} ({diagnostic.code}),file={name},line={start['row']},col={start['column']},"
            f"endLine={end['row']},endColumn={end['column']}::{prefix}{diagnostic.code} {message}")


def sarif(results: list[tuple[Diagnostic, SourceText | None]], version: str) -> str:
    used = sorted({d.code for d, _ in results})
    rules = []
    for code in used:
        rule = REGISTRY.get(code)
        rules.append({
            "id": code,
            "name": rule.name if rule else "syntax-error",
            "shortDescription": {"text": rule.summary if rule else "The file does not parse"},
            "helpUri": rule.url if rule else None,
            "properties": {"backends": sorted(rule.backends)} if rule else {},
        })
    out_results = []
    for diagnostic, source in results:
        cell, start = location(source, diagnostic.span.start)
        _, end = location(source, diagnostic.span.end)
        region = {"startLine": start["row"], "startColumn": start["column"], "endLine": end["row"],
                  "endColumn": end["column"]}
        out_results.append({
            "ruleId": diagnostic.code,
            "level": {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(diagnostic.severity, "note"),
            "message": {"text": diagnostic.message + (f" (cell {cell})" if cell else "")},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": Path(diagnostic.path).resolve().as_uri()},
                                                "region": region}}],
            "relatedLocations": [
                {"id": i, "message": {"text": r.message},
                 "physicalLocation": {"artifactLocation": {"uri": Path(r.path).resolve().as_uri()},
                                      "region": {"startLine": r.span.start.line + 1,
                                                 "startColumn": r.span.start.col + 1}}}
                for i, r in enumerate(diagnostic.related)
            ],
        })
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": TOOL, "version": version, "informationUri":
                                      "https://phiml-lint.readthedocs.io/", "rules": rules}},
                  "results": out_results}],
    }
    return json.dumps(doc, indent=2)

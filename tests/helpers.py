"""Shared test helpers: run the real engine on real files in a temporary project."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from phiml_lint.analysis.source import from_text
from phiml_lint.config import Config
from phiml_lint.engine import Engine
from phiml_lint.model import Diagnostic

EXPECT = re.compile(r"#\s*expect:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")
REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def expectations(text: str) -> set[tuple[int, str]]:
    """``(1-based row, code)`` pairs marked with ``# expect: CODE`` comments."""
    found = set()
    for row, line in enumerate(text.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            found |= {(row, c.strip()) for c in match.group(1).split(",")}
    return found


def check_files(root: Path, files: dict[str, str], config: Config | None = None) -> dict[str, list[Diagnostic]]:
    """Write ``files`` under ``root`` and check them all as one project."""
    sources = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        sources.append(from_text(path.read_text(encoding="utf-8"), str(path)))
    engine = Engine(root, config or Config())
    results = engine.check(sources)
    return {Path(r.path).name: r.diagnostics for r in results}


def found_pairs(diagnostics: list[Diagnostic]) -> set[tuple[int, str]]:
    return {(d.span.start.line + 1, d.code) for d in diagnostics}



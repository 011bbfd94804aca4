"""Incremental re-parsing (analysis/incremental.py) must equal a full ``ast.parse``, positions included."""

from __future__ import annotations

import ast
import random
import warnings
from pathlib import Path

import pytest

from phiml_lint.analysis.incremental import reparse

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
SOURCES = sorted([*CORPUS.rglob("*.py"), *(REPO / "examples").rglob("*.py"), *(REPO / "server").rglob("*.py")])
#: What people type: identifiers, operators, brackets and quotes that open or close, indentation.
SNIPPETS = ["x", "1", " ", "(", ")", "[", "]", ":", "'", '"', '"""', "#", ",", ".", "=", "+", "\\", "    ",
            "lambda", "def", "return", "math.", "jit_compile", "async ", "yield", "*", "@", "{", "}", "f'{", "\t"]


def full(text: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in edited strings
            return ast.dump(ast.parse(text), include_attributes=True)
    except (SyntaxError, ValueError):
        return None


def edits(text: str, rng: random.Random, count: int) -> list[str]:
    """Single-line edits: insert, delete or replace a few characters somewhere on one line."""
    lines = text.split("\n")
    out = []
    for _ in range(count):
        i = rng.randrange(len(lines))
        line = lines[i]
        col = rng.randrange(len(line) + 1)
        kind = rng.choice(("insert", "delete", "replace"))
        if kind == "insert":
            changed = line[:col] + rng.choice(SNIPPETS) + line[col:]
        elif kind == "delete":
            changed = line[:col] + line[col + rng.randint(1, 4):]
        else:
            changed = line[:col] + rng.choice(SNIPPETS) + line[col + rng.randint(1, 3):]
        out.append("\n".join([*lines[:i], changed, *lines[i + 1:]]))
    return out


@pytest.mark.parametrize("path", SOURCES[:: max(1, len(SOURCES) // 30)], ids=lambda p: p.name)
def test_random_edits_parse_exactly_like_a_full_parse(path: Path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    rng = random.Random(path.name)
    used = 0
    for new in edits(text, rng, 30):
        got = reparse(text, tree, new)
        if got is None:
            continue  # the caller parses everything: always correct
        used += 1
        expected = full(new)
        assert expected is not None, "an edit that breaks the file must not be parsed incrementally"
        assert ast.dump(got, include_attributes=True) == expected
    assert used > 0 or len(text.split("\n")) < 5


def test_what_takes_the_full_parse():
    text = "import os\n\n\ndef f(x):\n    return x\n\n\ndef g(y):\n    return y\n"
    tree = ast.parse(text)
    assert reparse(text, tree, text) is tree
    assert reparse(text, tree, text.replace("return x", "return x\n")) is None  # a line was added
    assert reparse(text, tree, text.replace("return x", "return (x")) is None  # does not parse alone
    first = reparse(text, tree, text.replace("import os", "import sys"))
    assert first is not None and ast.dump(first, include_attributes=True) == full(text.replace("os", "sys"))
    assert reparse(text, tree, text.replace("return y", "from __future__ import annotations")) is None
    changed = reparse(text, tree, text.replace("return x", "return x + 1"))
    assert changed is not None and changed.body[2] is tree.body[2]  # g's nodes are shared, f re-parsed
    assert ast.dump(changed, include_attributes=True) == full(text.replace("return x", "return x + 1"))


@pytest.mark.parametrize("path", sorted((CORPUS / "rules").glob("*.py"))[::3], ids=lambda p: p.name)
def test_diagnostics_after_incremental_updates_equal_a_fresh_analysis(path: Path, tmp_path: Path):
    from phiml_lint.analysis.source import from_text
    from phiml_lint.engine import Engine

    target = tmp_path / path.name
    text = path.read_text(encoding="utf-8")
    engine = Engine(tmp_path, use_jedi=False)
    engine.update(from_text(text, str(target)))
    rng = random.Random(path.name)
    for new in edits(text, rng, 12):
        engine.update(from_text(new, str(target)))
        fresh = Engine(tmp_path, use_jedi=False)
        fresh.update(from_text(new, str(target)))
        assert engine.diagnostics(str(target)) == fresh.diagnostics(str(target))
    assert engine.reparsed > 0

"""Every rule's documented examples are tests (Fixit's VALID/INVALID idea).

``invalid`` examples carry ``# expect: CODE`` comments; each must produce exactly those
diagnostics (of every code, so an example also proves what it does *not* trigger). ``valid``
examples must produce none.
"""

from __future__ import annotations

import pytest

from helpers import expectations, found_pairs
from phiml_lint.rules import REGISTRY

INVALID = [(code, i, text) for code, rule in sorted(REGISTRY.items()) for i, text in enumerate(rule.all_invalid())]
VALID = [(code, i, text) for code, rule in sorted(REGISTRY.items()) for i, text in enumerate(rule.all_valid())]


def test_every_rule_has_examples() -> None:
    for code, rule in REGISTRY.items():
        assert rule.all_invalid(), f"{code} has no invalid example"
        assert rule.all_valid(), f"{code} has no valid example"
        assert any(code in t for t in rule.all_invalid()), f"{code}'s invalid examples never expect it"


@pytest.mark.parametrize(("code", "index", "text"), INVALID, ids=[f"{c}-invalid-{i}" for c, i, _ in INVALID])
def test_invalid_example(project, code: str, index: int, text: str) -> None:
    want = expectations(text)
    assert any(c == code for _, c in want)
    got = found_pairs(project({"example.py": text})["example.py"])
    assert got == want


@pytest.mark.parametrize(("code", "index", "text"), VALID, ids=[f"{c}-valid-{i}" for c, i, _ in VALID])
def test_valid_example(project, code: str, index: int, text: str) -> None:
    assert project({"example.py": text})["example.py"] == []

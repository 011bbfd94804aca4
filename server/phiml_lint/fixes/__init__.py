"""Quick fixes: computed on demand from a diagnostic, rendered as minimal text edits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Diagnostic, Fix

if TYPE_CHECKING:
    from ..engine import Engine


def fixes_for(engine: Engine, diagnostic: Diagnostic) -> list[Fix]:
    """All fixes for a diagnostic (best first); suppression is offered by the callers."""
    return []


def best_fix(engine: Engine, diagnostic: Diagnostic) -> Fix | None:
    found = fixes_for(engine, diagnostic)
    return found[0] if found else None

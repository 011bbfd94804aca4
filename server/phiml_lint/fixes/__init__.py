"""Quick fixes: computed on demand from a diagnostic, rendered as minimal text edits.

Nothing here runs on the diagnostics path. A fix is asked for with :func:`fixes_for` (the CLI's
``--fix`` and JSON output, the LSP's code actions): the module is then parsed with libcst
(once per text), rewritten, and the rewrite reduced to minimal :class:`~phiml_lint.model.Edit`
objects in the analysed text's coordinates (notebooks: the joined cells; see
:func:`.text.to_cell_edits`). Fixes that cannot be done correctly are not offered.

=========  ===============================================  ===========
Rule       Fix                                              Safety
=========  ===============================================  ===========
PML102     Hoist to a module-level linear operator          unsafe
PML107     the same, decorate the ``def``, or wrap the      unsafe
           ΦML function in ``jit_compile_linear``
PML108/9   Add the parameter to ``auxiliary_args``          safe
PML201     Compile once (module level, or before the loop)  safe
PML202     Add ``forget_traces=True``                       safe
PML203     Hoist the transformation (before the loop)       safe/unsafe
PML105     Hoist the transformation (to module level)       safe/unsafe
any        Suppress with ``# noqa: CODE`` (:func:`suppress_fix`, never applied by ``--fix``)
=========  ===============================================  ===========
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..model import Diagnostic, Fix

if TYPE_CHECKING:
    from ..engine import Engine
    from .base import FixContext

log = logging.getLogger(__name__)

Fixer = Callable[["FixContext"], list[Fix]]


def _registry() -> dict[str, Fixer]:
    from . import hoist, jit_options, operator

    return {
        "PML102": operator.fixes,
        "PML107": operator.fixes,
        "PML108": lambda ctx: [jit_options.auxiliary_fix(ctx)],
        "PML109": lambda ctx: [jit_options.auxiliary_fix(ctx)],
        "PML202": lambda ctx: [jit_options.forget_traces_fix(ctx)],
        "PML201": hoist.compile_once_fixes,
        "PML203": hoist.transformation_fixes,
        "PML105": hoist.transformation_fixes,
    }


def fixes_for(engine: Engine, diagnostic: Diagnostic) -> list[Fix]:
    """All fixes for a diagnostic (best first); suppression is offered by the callers."""
    fixer = _registry().get(diagnostic.code)
    if fixer is None:
        return []
    from .base import FixContext  # libcst is imported only when a fix is asked for
    from .cst import NoFix

    module = engine.project.modules.get(engine.key(diagnostic.path))
    if module is None:
        return []
    try:
        return fixer(FixContext(engine, diagnostic, module))
    except NoFix as reason:
        log.debug("no fix for %s at %s: %s", diagnostic.code, diagnostic.span, reason)
        return []
    except Exception:  # a fixer's bug must not take the checker or the server down
        if os.environ.get("PHIML_LINT_DEBUG"):
            raise
        log.exception("fix for %s failed", diagnostic.code)
        return []


def best_fix(engine: Engine, diagnostic: Diagnostic) -> Fix | None:
    """The first fix of :func:`fixes_for`, or None."""
    found = fixes_for(engine, diagnostic)
    return found[0] if found else None


def suppress_fix(engine: Engine, diagnostic: Diagnostic) -> Fix | None:
    """*Suppress with ``# noqa: CODE``* on the diagnostic's first line (merged into an existing one)."""
    from .noqa import suppress

    key = engine.key(diagnostic.path)
    source = engine.sources.get(key)
    if source is None and key in engine.project.modules:
        source = engine.project.modules[key].source
    if source is None:
        return None
    return suppress(source, key, diagnostic)


__all__ = ["best_fix", "fixes_for", "suppress_fix"]

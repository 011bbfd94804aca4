"""Keeping CPython's cyclic garbage collector away from the analysis' long-lived data.

Why: an analysed module is a large graph of ``ast`` nodes, scopes and summaries that lives until
the module is edited again. CPython 3.11's collector re-examines every tracked object on each
full (generation 2) collection, and a full collection is triggered whenever the objects allocated
since the last one exceed a quarter of the older ones, which is every few modules while a
project is loaded and every few keystrokes on a large file. Measured on the phiflow + phiml trees
(bench/run.py, docs/performance.md): the collector took about half of the time spent parsing and
summarising; on a 10,000-line file it made ``ast.parse`` itself 3-4 times slower inside the server.

What we do: after each analysis, :func:`settle` moves everything alive into the collector's
permanent generation (``gc.freeze``), so later collections only look at new objects. Frozen
objects are still freed by reference counting; a replaced module summary breaks its own cycles
(``ModuleSummary.dispose``), so it is freed the moment it is replaced. Cyclic garbage that slips
through waits for :func:`reclaim`, which the language server runs when it has been idle for a
moment, or after :data:`RECLAIM_EVERY` settles in a long typing burst. The CLI lives a few
seconds and never needs it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Settles (one per edit) after which the server reclaims even while busy: a safety net that bounds
#: memory if some cycle escapes ``dispose``; a full collection costs 0.1-0.4 s on a large project.
RECLAIM_EVERY = 1000
_state = {"settled": 0}  # settles since the last reclaim (process-wide, like the collector itself)


@contextmanager
def paused(*, replaces: bool = True) -> Iterator[None]:
    """Run an analysis step without collections, then :func:`settle` what it built.

    Parsing and summarising allocate hundreds of thousands of objects that all survive; every
    collection during that time (one per 700 allocations, a full one whenever the survivors pile
    up) would only scan them to find nothing. Nested use is fine: only the outermost re-enables.
    ``replaces=False`` for work that replaces nothing (facts for a new analysis): it does not count
    towards :data:`RECLAIM_EVERY`, which approximates how much replaced data may await collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            if replaces:
                settle()
            else:
                gc.freeze()


def settle() -> None:
    """Declare everything alive now long-lived: the collector stops re-scanning it."""
    gc.freeze()
    _state["settled"] += 1


def reclaim() -> int:
    """Collect cyclic garbage among frozen objects (a full collection), then settle again."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    _state["settled"] = 0
    return found


def due() -> bool:
    """True when so many analyses were settled that a reclaim should not wait for idle time."""
    return _state["settled"] >= RECLAIM_EVERY


def pending() -> int:
    """Settles since the last reclaim (0: nothing to reclaim)."""
    return _state["settled"]

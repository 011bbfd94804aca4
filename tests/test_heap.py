"""The collector policy (phiml_lint.heap): analyses are frozen, replaced ones are reclaimed."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from phiml_lint import heap
from phiml_lint.analysis.source import from_text
from phiml_lint.engine import Engine

SIM = "from phiml import math\n\n@math.jit_compile\ndef step(x):\n    return x\n"


def test_update_freezes_its_analysis_and_leaves_the_collector_on(tmp_path: Path):
    engine = Engine(tmp_path, use_jedi=False)
    before = gc.get_freeze_count()
    engine.update(from_text(SIM, str(tmp_path / "sim.py")))
    assert gc.isenabled()
    assert gc.get_freeze_count() > before
    assert heap.pending() >= 1


def test_a_replaced_summary_is_reclaimed(tmp_path: Path):
    engine = Engine(tmp_path, use_jedi=False)
    path = str(tmp_path / "sim.py")
    old = weakref.ref(engine.update(from_text(SIM, path)))
    assert [d.code for d in engine.diagnostics(path)] == []
    engine.update(from_text(SIM.replace("return x", "return x * 2"), path))
    # The old summary is a reference cycle (scopes <-> functions) among frozen objects: it waits for a reclaim.
    heap.reclaim()
    assert old() is None
    assert heap.pending() == 0
    assert not heap.due()


def test_paused_restores_the_callers_setting():
    gc.disable()
    try:
        with heap.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller that switched the collector off keeps it off
    finally:
        gc.enable()
    with heap.paused(), heap.paused():
        assert not gc.isenabled()
    assert gc.isenabled()

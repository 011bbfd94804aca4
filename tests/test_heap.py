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


RICH = """\
from phiml import math
log = []
state = {}

class Model:
    scale = 2

    def __init__(self, k):
        self.k = k

    @math.jit_compile
    def step(self, x):
        global state
        squares = [v * v for v in range(3) if v]
        f = lambda y: y * self.k
        def inner(z):
            return f(z) + sum(squares)
        match x:
            case [a, *rest]:
                log.append(a)
            case {"k": b, **others}:
                state = others
        return inner(x)

fast = math.jit_compile(lambda x: x)
"""


def test_a_replaced_summary_is_freed_without_the_collector(tmp_path: Path):
    engine = Engine(tmp_path, use_jedi=False)
    path = str(tmp_path / "model.py")
    old = weakref.ref(engine.update(from_text(RICH, path)))
    assert {d.code for d in engine.diagnostics(path)} == {"PML101"}
    gc.disable()
    try:
        engine.update(from_text(RICH.replace("self.k = k", "self.k = k + 1"), path))
        assert old() is None  # dispose() broke every cycle: reference counting freed it at once
        assert {d.code for d in engine.diagnostics(path)} == {"PML101"}
        engine.remove(path)
    finally:
        gc.enable()


def test_reclaim_collects_frozen_garbage():
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle, frozen below, then dropped
    probe = weakref.ref(a)
    heap.settle()
    del a, b
    gc.collect()
    assert probe() is not None  # frozen: an ordinary collection does not look at it
    heap.reclaim()
    assert probe() is None
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

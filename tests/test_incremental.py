"""After an edit only the edited module is re-parsed, and only dependent modules are re-checked."""

from __future__ import annotations

from pathlib import Path

from phiml_lint.analysis.source import from_text
from phiml_lint.engine import Engine

SIM = "from phiml import math\nfrom ops import helper\n\n@math.jit_compile\ndef step(x):\n    return helper(x)\n"
OPS = "cache = {}\n\ndef helper(x):\n    return x\n"
OTHER = "from phiml import math\n\n@math.jit_compile\ndef other(x):\n    return x\n"


def three_modules(tmp_path: Path) -> tuple[Engine, dict[str, str]]:
    """sim.py (jit-compiles a call of ops.helper), ops.py, and other.py (unrelated), analysed."""
    files = {"sim.py": SIM, "ops.py": OPS, "other.py": OTHER}
    engine = Engine(tmp_path, use_jedi=False)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        engine.update(from_text(text, str(tmp_path / name)))
    return engine, {name: str((tmp_path / name).resolve()) for name in files}


def test_only_the_edited_module_is_reparsed_and_dependents_rechecked(tmp_path: Path):
    engine, paths = three_modules(tmp_path)
    keys = {name: engine.dependency_key(p) for name, p in paths.items()}
    assert all(engine.diagnostics(p) == [] for p in paths.values())
    parsed = engine.project.analysed

    # ops.helper starts writing module state: only ops.py is re-parsed ...
    engine.update(from_text(OPS.replace("    return x", "    cache['x'] = x\n    return x"), paths["ops.py"]))
    assert engine.project.analysed == parsed + 1
    # ... sim.py imports it (re-check), other.py neither imports it nor has changed facts (skip)
    assert engine.imports(paths["sim.py"], paths["ops.py"])
    assert not engine.imports(paths["other.py"], paths["ops.py"])
    assert engine.dependency_key(paths["other.py"]) == keys["other.py"]
    assert [d.code for d in engine.diagnostics(paths["ops.py"])] == ["PML101"]

    # sim.py stops calling helper: ops' facts change (no longer traced), so ops must be re-checked
    before = engine.dependency_key(paths["ops.py"])
    engine.update(from_text(SIM.replace("return helper(x)", "return x"), paths["sim.py"]))
    assert engine.dependency_key(paths["ops.py"]) != before
    assert engine.diagnostics(paths["ops.py"]) == []
    assert engine.checks[str((tmp_path / "other.py").resolve())] == 1


def test_an_edit_keeps_the_resolution_memos_of_modules_that_do_not_import_it(tmp_path: Path):
    engine, paths = three_modules(tmp_path)
    for path in paths.values():
        engine.diagnostics(path)
    memos = {name: engine.project.modules[p].memo for name, p in paths.items()}
    assert all(memo is not None for memo in memos.values())

    engine.update(from_text(OPS + "\n# edited\n", paths["ops.py"]))
    assert engine.dependents(paths["ops.py"]) == {paths["sim.py"]}
    assert engine.project.modules[paths["other.py"]].memo is memos["other.py"]  # kept
    assert engine.project.modules[paths["sim.py"]].memo is None  # imports ops: resolved again
    assert [d.code for d in engine.diagnostics(paths["sim.py"])] == []
    # a new file can change how any import resolves: everything is resolved again
    engine.update(from_text("x = 1\n", str(tmp_path / "new.py")))
    assert engine.project.modules[paths["other.py"]].memo is None

"""The CLI's on-disk run cache: same answers as a cold run, invalidated by every input that matters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SIM = "from ops import jit\nlog = []\n\n@jit\ndef step(x):\n    log.append(x)\n    return x\n"
OPS = "def jit(f):\n    return f\n"


def check(root: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "phiml_lint", "check", *args, "sim.py"], cwd=root,
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout


def test_warm_runs_match_cold_runs_and_see_dependency_edits(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "sim.py").write_text(SIM)
    (tmp_path / "ops.py").write_text(OPS)
    cold = check(tmp_path, "--no-cache")
    assert cold == (0, "All checks passed!\n")
    assert not (tmp_path / ".phiml-lint-cache").exists()  # --no-cache writes nothing
    assert check(tmp_path) == cold  # fills the cache
    assert any((tmp_path / ".phiml-lint-cache").rglob("*"))
    assert check(tmp_path) == cold  # served from it

    # ops.py is not among the checked paths, but whether sim.py's `step` is traced depends on it
    (tmp_path / "ops.py").write_text("from phiml.math import jit_compile as jit\n")
    warm = check(tmp_path, "--output-format", "json")
    assert warm[0] == 1 and '"PML101"' in warm[1]
    assert warm == check(tmp_path, "--output-format", "json", "--no-cache")

    # configuration is part of the key
    (tmp_path / "pyproject.toml").write_text("[tool.phiml-lint]\nignore = ['PML1']\n")
    assert check(tmp_path) == (0, "All checks passed!\n")

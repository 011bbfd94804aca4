"""Name resolution: every way ΦML is imported, look-alikes, cross-module chains, jedi, safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import found_pairs
from phiml_lint.config import Config

HISTORY = "\nhistory = []\n"


@pytest.mark.parametrize("header, decorator", [
    ("from phiml import math", "@math.jit_compile"),
    ("import phiml.math as pm", "@pm.jit_compile"),
    ("from phiml.math import jit_compile as jit", "@jit"),
    ("import phiml", "@phiml.math.jit_compile"),
    ("from phi.flow import *", "@jit_compile"),
    ("from phi.torch.flow import *", "@jit_compile"),
    ("from phi.jax.flow import *", "@jit_compile(auxiliary_args='')"),
    ("from phi.tf.flow import *", "@math.jit_compile"),
    ("from phiml import *", "@jit_compile"),
    ("from phiml.math import *", "@jit_compile()"),
    ("from phi import math", "@math.jit_compile"),
    ("from phi.field import jit_compile", "@jit_compile"),
    ("from functools import partial\nfrom phiml import math", "@partial(math.jit_compile, auxiliary_args='y')"),
])
def test_jit_spellings(project, header: str, decorator: str):
    text = f"{header}{HISTORY}\n{decorator}\ndef step(x, y=None):\n    history.append(x)\n    return x\n"
    row = text.split("\n").index("    history.append(x)") + 1
    assert found_pairs(project({"m.py": text})["m.py"]) == {(row, "PML101")}


def test_call_form_and_method_chain(project):
    text = """\
from phiml import math
log = []

class Sim:
    def helper(self, x):
        log.append(x)
        return x

    def step(self, x):
        return self.helper(x)

fast = math.jit_compile(Sim().step)

def advect(x):
    log.append(x)
    return x

advect_fast = math.jit_compile(advect)
"""
    got = project({"m.py": text})["m.py"]
    assert (15, "PML101") in found_pairs(got)


@pytest.mark.parametrize("text", [
    # a Backend object's jit_compile
    "from phiml import math\nlog = []\n\ndef f(x):\n    log.append(x)\n\ndef g(b):\n    return b.jit_compile(f)\n",
    # a local variable named gradient / jit_compile
    "from phiml import math\nlog = []\n\ndef f(x):\n    log.append(x)\n\ndef g(jit_compile):\n"
    "    return jit_compile(f)\n",
    # a shadowing definition
    "from phi.flow import *\nlog = []\n\ndef jit_compile(f):\n    return f\n\n@jit_compile\ndef f(x):\n"
    "    log.append(x)\n",
    # a string that merely mentions it
    "import numpy as np\nlog = []\nNAME = 'math.jit_compile'\n\ndef f(x):\n    log.append(x)\n",
])
def test_look_alikes_are_not_phiml(project, text: str):
    assert project({"m.py": text})["m.py"] == []


def test_cross_module_chain_reports_related_information(project):
    files = {
        "ops.py": "cache = {}\n\ndef remember(x):\n    cache['x'] = x\n    return x\n",
        "sim.py": "from phiml import math\nfrom ops import remember\n\n@math.jit_compile\ndef step(x):\n"
                  "    return remember(x)\n",
    }
    got = project(files)
    assert found_pairs(got["ops.py"]) == {(4, "PML101")}
    chain = [r.message for r in got["ops.py"][0].related]
    assert chain == ["`step` is jit-compiled here", "`step` calls `remember` here"]
    assert Path(got["ops.py"][0].related[0].path).name == "sim.py"


def test_package_relative_imports(project):
    files = {
        "pkg/__init__.py": "",
        "pkg/core.py": "from phiml import math as m\njit = m.jit_compile\n",
        "pkg/model.py": "from .core import m\nlog = []\n\n@m.jit_compile\ndef f(x):\n    log.append(x)\n",
    }
    assert found_pairs(project(files)["model.py"]) == {(6, "PML101")}


def test_extra_jit_decorators(project):
    files = {
        "mytools.py": "from phiml import math\n\ndef compiled(f):\n    return math.jit_compile(f)\n",
        "app.py": "from mytools import compiled\nlog = []\n\n@compiled\ndef f(x):\n    log.append(x)\n",
    }
    assert project(files)["app.py"] == []
    config = Config(extra_jit_decorators=("mytools.compiled",))
    assert found_pairs(project(files, config)["app.py"]) == {(6, "PML101")}


def test_jedi_resolves_an_installed_reexport(tmp_path: Path):
    site = tmp_path / "site" / "mylib"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("from phiml.math import jit_compile as compile_fast\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    (project / "app.py").write_text("from mylib import compile_fast\nlog = []\n\n@compile_fast\ndef f(x):\n"
                                    "    log.append(x)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    proc = subprocess.run([sys.executable, "-m", "phiml_lint", "check", "--output-format", "json", "app.py"],
                          cwd=project, capture_output=True, text=True, env=env, check=False)
    assert [(d["code"], d["location"]["row"]) for d in json.loads(proc.stdout)] == [("PML101", 6)]


def test_never_imports_or_runs_analysed_code(tmp_path: Path):
    marker = tmp_path / "IMPORTED"
    bomb = f"open({str(marker)!r}, 'w').write('x')\n"
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "evil.py").write_text(bomb + "from phiml import math\njit = math.jit_compile\n")
    (tmp_path / "evil_pkg").mkdir()
    (tmp_path / "evil_pkg" / "__init__.py").write_text(bomb + "from phiml.math import *\n")
    (tmp_path / "app.py").write_text("from evil import jit\nfrom evil_pkg import *\nimport evil\nlog = []\n\n"
                                     "@jit\ndef f(x):\n    log.append(x)\n\n@jit_compile\ndef g(x):\n"
                                     "    log.append(x)\n")
    proc = subprocess.run([sys.executable, "-m", "phiml_lint", "check", "--output-format", "json", "."],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    rows = sorted((d["code"], d["location"]["row"]) for d in json.loads(proc.stdout))
    assert rows == [("PML101", 8), ("PML101", 12)]
    assert not marker.exists()


def test_methods_of_instances(project):
    files = {
        "model.py": """\
from phiml import math

class Smoother:
    @math.jit_compile(auxiliary_args='order')
    def smooth(self, x, order):
        return math.laplace(x) * order
""",
        "run.py": """\
from model import Smoother

def run(x):
    smoother = Smoother()
    for order in range(1, 50):
        x = smoother.smooth(x, order)
    for order in range(1, 50):
        x = Smoother().smooth(x, order)
    return x
""",
    }
    assert found_pairs(project(files)["run.py"]) == {(6, "PML202"), (8, "PML202")}


def test_jedi_is_not_asked_about_packages_that_cannot_reexport_phiml(tmp_path: Path):
    from phiml_lint.analysis.jedi_bridge import JediBridge, phiml_dependents
    from phiml_lint.analysis.project import Project

    bridge = JediBridge(Project(tmp_path))
    assert "phiml" in phiml_dependents()  # ΦML itself (installed for the tests)
    assert not bridge.installed("pytest")  # installed, but its distribution does not require ΦML
    assert bridge.lookup("pytest", "fixture") is None
    assert bridge.calls == 0

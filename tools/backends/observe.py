"""Run the backend programs of tests/backends and classify what they did.

Shared by ``tests/backends/test_backends.py`` (which asserts against ``expectations.json``) and
``tools/backends/make_table.py`` (which writes ``docs/backends.md``), so the tests and the docs
come from the same data and the same classification.

Every program prints one ``PHIML-LINT-RESULT {json}`` line (see ``programs/_harness.py``).
Each program runs in its own fresh interpreter of ``.venv-backends``: a failed PyTorch trace leaves
ΦML's tracing state broken for the rest of the process, and Jax does not survive ``fork``.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "backends"
PROGRAMS = TESTS / "programs"
REFERENCE_FIXES = PROGRAMS / "fixed"
EXPECTATIONS = TESTS / "expectations.json"
RESULTS = TESTS / ".results.json"
VENV_PYTHON = ROOT / ".venv-backends" / "bin" / "python"
BACKENDS = ("torch", "jax")
MARKER = "PHIML-LINT-RESULT "
TIMEOUT = 300  # seconds for one program run; a run takes 5-10 s on 2 cores
VALUE_TOLERANCE = (1e-4, 1e-4)  # rtol, atol: jit vs eager in float32
GRADIENT_TOLERANCE = (1e-3, 1e-3)  # rtol, atol: autodiff vs central finite differences in float32


@dataclass(frozen=True)
class Case:
    """One bad program demonstrating one rule, with what it is expected to do per backend."""

    rule: str
    name: str  # rule name, e.g. "jit-side-effect"
    program: str  # file name under tests/backends/programs
    expected: dict  # backend -> {"behaviour", "detail", "note"?}
    fix: str  # how to fix it (documented; the reference fix lives in programs/fixed/)
    fixed_check: dict  # extra criteria for a fixed program, e.g. {"max_traces": 1}
    claim: str
    autofix: bool  # phiml-lint check --fix --unsafe-fixes is expected to rewrite the program

    @property
    def id(self) -> str:
        return Path(self.program).stem

    @property
    def path(self) -> Path:
        return PROGRAMS / self.program

    @property
    def reference_fix(self) -> Path:
        return REFERENCE_FIXES / self.program


def load_expectations() -> dict:
    return json.loads(EXPECTATIONS.read_text(encoding="utf-8"))


def cases() -> list[Case]:
    result = []
    for rule, spec in load_expectations()["rules"].items():
        for program, per_program in spec["programs"].items():
            result.append(
                Case(
                    rule=rule,
                    name=spec["name"],
                    program=program,
                    expected={b: per_program[b] for b in BACKENDS},
                    fix=per_program.get("fix", spec.get("fix", "")),
                    fixed_check=per_program.get("fixed_check", {}),
                    claim=spec["claim"],
                    autofix=per_program.get("autofix", False),
                )
            )
    return result


def run_program(path: Path, backend: str, timeout: int = TIMEOUT) -> dict:
    """Run ``path BACKEND`` in a fresh ``.venv-backends`` interpreter and return its result line."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROGRAMS),  # the programs import _harness; fixed copies live elsewhere
        "PYTHONHASHSEED": "0",
        "JAX_PLATFORMS": "cpu",
        "OMP_NUM_THREADS": "1",  # two programs run side by side on two cores
        "MKL_NUM_THREADS": "1",
    }
    env.pop("PYTHONSTARTUP", None)
    try:
        proc = subprocess.run(
            [str(VENV_PYTHON), str(path), backend],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(path.parent),
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "crash", "reason": f"timed out after {timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    return {
        "outcome": "crash",
        "reason": f"no result line; exit code {proc.returncode}",
        "stderr": proc.stderr[-3000:],
    }


def run_many(jobs: Iterable[tuple[object, Path, str]], workers: int = 2) -> dict:
    """Run ``(key, path, backend)`` jobs on a small pool; each job is its own subprocess."""
    jobs = list(jobs)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {key: pool.submit(run_program, path, backend) for key, path, backend in jobs}
        return {key: future.result() for key, future in futures.items()}


def _close(a: list, b: list, rtol: float, atol: float) -> bool:
    return len(a) == len(b) and all(
        math.isfinite(x) and math.isfinite(y) and abs(x - y) <= atol + rtol * abs(y) for x, y in zip(a, b, strict=True)
    )


def _short(values: list, n: int = 4) -> str:
    shown = ", ".join(f"{v:.4g}" for v in values[:n])
    return f"[{shown}{', …' if len(values) > n else ''}] ({len(values)} values)"


def _mismatch(value: list, eager: list) -> str:
    if len(value) != len(eager):
        return f"jit gave {_short(value)}, eager gives {_short(eager)}"
    rtol, atol = VALUE_TOLERANCE
    differ = [i for i, (x, y) in enumerate(zip(value, eager, strict=True)) if not abs(x - y) <= atol + rtol * abs(y)]
    i = differ[0]
    return (
        f"{len(differ)} of {len(value)} values differ from eager; first at index {i}: {value[i]:.4g} vs {eager[i]:.4g}"
    )


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r"0x[0-9a-f]+", "0x…", line)


def classify(result: dict) -> tuple[str, str]:
    """Observed behaviour: ``error`` | ``wrong-value`` | ``stale`` | ``retrace`` | ``works`` | ``crash``."""
    outcome = result.get("outcome")
    if outcome == "error":
        message = _first_line(result.get("message", ""))
        if message:
            return "error", f"{result['type']}: {message}"
        return "error", f"{result['type']} in {result.get('where', '?')}"
    if outcome != "ok":
        return "crash", result.get("reason", "no result")
    if "value" in result and not _close(result["value"], result["eager"], *VALUE_TOLERANCE):
        return result.get("mismatch", "wrong-value"), _mismatch(result["value"], result["eager"])
    if "grad" in result and not _close(result["grad"], result["grad_fd"], *GRADIENT_TOLERANCE):
        return "wrong-value", f"gradient {_short(result['grad'])}, finite differences {_short(result['grad_fd'])}"
    if result.get("traces", 0) > 1:
        detail = f"{result['traces']} traces for {result['calls']} calls"
        if "retained" in result:
            detail += f", {result['retained']} kept"
        warned = [w for w in result.get("runtime_warnings", []) if "traced" in w]
        if warned:
            detail += f"; RuntimeWarning “{warned[-1]}”"
        return "retrace", detail
    detail = "matches eager execution"
    if "grad" in result:
        detail += "; gradient matches finite differences"
    return "works", detail


def expectation_problems(result: dict, expected: dict) -> list[str]:
    """Why an observation does not match its expectation (empty when it matches)."""
    behaviour, detail = classify(result)
    problems = []
    if behaviour != expected["behaviour"]:
        problems.append(f"expected {expected['behaviour']!r}, observed {behaviour!r}: {detail}")
    elif behaviour == "error" and expected["detail"] not in detail:
        problems.append(f"expected an error containing {expected['detail']!r}, observed {detail!r}")
    if behaviour == "crash":
        problems.append(result.get("stderr", ""))
    return problems


def fixed_problems(result: dict, fixed_check: dict) -> list[str]:
    """Why a fixed program does not count as fixed: it must run, match eager (and finite differences)."""
    behaviour, detail = classify(result)
    problems = []
    if behaviour not in ("works", "retrace"):
        problems.append(f"fixed program: {behaviour}: {detail}")
        if behaviour == "crash":
            problems.append(result.get("stderr", ""))
        return problems
    if "max_traces" in fixed_check and result.get("traces", 0) > fixed_check["max_traces"]:
        problems.append(f"fixed program still traces {result['traces']} times (allowed {fixed_check['max_traces']})")
    if "max_retained" in fixed_check and result.get("retained", 0) > fixed_check["max_retained"]:
        problems.append(
            f"fixed program still keeps {result['retained']} traces (allowed {fixed_check['max_retained']})"
        )
    if behaviour == "retrace" and not fixed_check:
        problems.append(f"fixed program retraces: {detail}")
    return problems


def versions() -> dict:
    """Versions of the backends installed in ``.venv-backends``."""
    code = (
        "import importlib.metadata as m, json, platform\n"
        "print(json.dumps({p: m.version(p) for p in ('phiml', 'torch', 'jax', 'jaxlib')}"
        " | {'python': platform.python_version()}))"
    )
    out = subprocess.run([str(VENV_PYTHON), "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def load_results() -> dict:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text(encoding="utf-8"))
    return {}


def save_results(results: dict) -> None:
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")

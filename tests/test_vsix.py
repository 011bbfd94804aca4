"""The VS Code extension package (.vsix) as a user installs it.

Builds ``vscode-extension/phiml-lint-linux-x64.vsix`` when it is missing or older than its
sources (``npm ci`` if needed, ``scripts/bundle-server.sh``, ``npm run package``), then checks
what is inside it and starts the bundled server from the extracted package with a fresh,
empty virtual environment's Python, speaking LSP over stdio as VS Code does.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
import venv
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EXT = REPO / "vscode-extension"
VSIX = EXT / "phiml-lint-linux-x64.vsix"
BUNDLED_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")

# What the package is built from: a change to any of these makes the .vsix stale.
SOURCE_GLOBS = [
    (EXT, ["package.json", "package-lock.json", "esbuild.mjs", ".vscodeignore", "README.md", "LICENSE",
           "CHANGELOG.md", "src/**/*", "bundled/tool/**/*", "scripts/**/*"]),
    (REPO, ["pyproject.toml", "server/phiml_lint/**/*"]),
]

SAMPLE = """\
from phiml import math
from phiml.math import Solve


@math.jit_compile
def implicit_step(u, k):
    solve = Solve('CG', 1e-5, 1e-5, x0=u)
    return math.solve_linear(lambda x: math.laplace(x) * k, u, solve)
"""


def _newest_source_mtime() -> float:
    newest = 0.0
    for base, patterns in SOURCE_GLOBS:
        for pattern in patterns:
            for path in base.glob(pattern):
                if path.is_file() and "__pycache__" not in path.parts:
                    newest = max(newest, path.stat().st_mtime)
    return newest


def _run(cmd: list[str], timeout: float) -> None:
    print("$", " ".join(cmd), flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    print(f"  ({time.monotonic() - started:.0f} s, exit {proc.returncode})", flush=True)
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} failed with exit code {proc.returncode}\n"
            f"--- stdout (tail) ---\n{proc.stdout[-4000:]}\n--- stderr (tail) ---\n{proc.stderr[-4000:]}"
        )


def _build_vsix() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: it is needed to build the .vsix (Node 20 + npm)")
    if not (EXT / "node_modules" / ".bin" / "vsce").exists():
        _run([npm, "--prefix", "vscode-extension", "ci", "--no-audit", "--no-fund"], timeout=900)
    _run(["bash", "vscode-extension/scripts/bundle-server.sh"], timeout=1200)
    _run([npm, "--prefix", "vscode-extension", "run", "package"], timeout=1800)


@pytest.fixture(scope="module")
def vsix() -> Path:
    if not VSIX.exists() or VSIX.stat().st_mtime < _newest_source_mtime():
        _build_vsix()
    assert VSIX.is_file(), f"the build did not produce {VSIX}"
    return VSIX


@pytest.fixture(scope="module")
def extracted(vsix: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vsix")
    with zipfile.ZipFile(vsix) as archive:
        for info in archive.infolist():
            archive.extract(info, root)
            mode = info.external_attr >> 16
            if mode:
                (root / info.filename).chmod(mode & 0o777)
    return root


@pytest.fixture(scope="module")
def names(vsix: Path) -> list[str]:
    with zipfile.ZipFile(vsix) as archive:
        return archive.namelist()


# -- manifest -----------------------------------------------------------------------------------


def test_manifest(extracted: Path) -> None:
    manifest = json.loads((extracted / "extension" / "package.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "phiml-lint"
    assert manifest["publisher"] == "phiml-lint"
    assert manifest["engines"]["vscode"] == "^1.90.0"
    assert manifest["main"] == "./dist/extension.js"
    assert set(manifest["activationEvents"]) >= {"onLanguage:python", "onNotebook:jupyter-notebook"}

    properties = manifest["contributes"]["configuration"]["properties"]
    assert set(properties) == {
        f"phimlLint.{key}"
        for key in ("select", "ignore", "backends", "severity", "fixAll", "run", "interpreter", "importStrategy",
                    "trace.server")
    }
    assert properties["phimlLint.importStrategy"]["default"] == "useBundled"
    assert properties["phimlLint.run"]["enum"] == ["onType", "onSave"]
    assert properties["phimlLint.backends"]["items"]["enum"] == ["jax", "torch", "tensorflow"]
    assert set(properties["phimlLint.severity"]["additionalProperties"]["enum"]) == {"error", "warning", "info",
                                                                                      "hint"}
    for key, schema in properties.items():
        assert schema.get("description") or schema.get("markdownDescription"), f"{key} has no description"

    commands = {c["command"]: c for c in manifest["contributes"]["commands"]}
    assert set(commands) == {"phimlLint.restart", "phimlLint.fixAll", "phimlLint.showLogs"}
    assert commands["phimlLint.restart"]["category"] == "PhiML Lint"
    assert commands["phimlLint.restart"]["title"] == "Restart Server"

    trust = manifest["capabilities"]["untrustedWorkspaces"]
    assert trust["supported"] == "limited"
    assert set(trust["restrictedConfigurations"]) == {"phimlLint.interpreter", "phimlLint.importStrategy"}


def test_target_platform(extracted: Path) -> None:
    tree = ET.parse(extracted / "extension.vsixmanifest")
    identity = next(el for el in tree.iter() if el.tag.endswith("Identity"))
    assert identity.get("Id") == "phiml-lint"
    assert identity.get("Publisher") == "phiml-lint"
    assert identity.get("TargetPlatform") == "linux-x64"


# -- contents -----------------------------------------------------------------------------------


def test_bundled_server_files(names: list[str]) -> None:
    present = set(names)
    libs = "extension/bundled/libs/"
    for required in [
        "extension/dist/extension.js",
        "extension/bundled/tool/launch.py",
        "extension/readme.md",  # vsce's names for README.md, LICENSE, CHANGELOG.md
        "extension/LICENSE.txt",
        "extension/changelog.md",
        libs + "phiml_lint/__init__.py",
        libs + "phiml_lint/cli.py",
        libs + "phiml_lint/lsp/server.py",
        libs + "pygls/__init__.py",
        libs + "lsprotocol/types.py",
        libs + "jedi/__init__.py",
        libs + "parso/__init__.py",
        libs + "attrs/__init__.py",
        libs + "cattrs/__init__.py",
        libs + "libcst/__init__.py",
        libs + "tomli/__init__.py",  # phiml-lint reads pyproject.toml with it on Python 3.10
    ]:
        assert required in present, f"{required} is missing from the .vsix"
    for version in BUNDLED_PYTHONS:
        tag = version.replace(".", "")
        native = f"{libs}libcst/native.cpython-{tag}-x86_64-linux-gnu.so"
        assert native in present, f"libcst's compiled core for CPython {version} is missing ({native})"


ALLOWED_TOP = {"dist", "bundled", "package.json", "readme.md", "LICENSE.txt", "changelog.md", "icon.png"}


def _is_stray(name: str) -> bool:
    if name in {"extension.vsixmanifest", "[Content_Types].xml"} or name.endswith("/"):
        return False
    if not name.startswith("extension/"):
        return True
    rel = name[len("extension/"):]
    parts = rel.split("/")
    if parts[0] not in ALLOWED_TOP:
        return True
    if "node_modules" in parts or "__pycache__" in parts or rel.endswith((".pyc", ".map", ".ts", ".tsbuildinfo")):
        return True
    if parts[0] == "bundled":
        if parts[1] not in {"tool", "libs"}:
            return True
        # console scripts (they name the build machine's interpreter), installer lock files
        if parts[1] == "libs" and (parts[2] == "bin" or parts[2].startswith(".")):
            return True
    return False


def test_no_stray_files(names: list[str]) -> None:
    stray = [name for name in names if _is_stray(name)]
    assert stray == [], f"unexpected files in the .vsix: {stray[:20]}"
    dist = sorted(n for n in names if n.startswith("extension/dist/"))
    assert dist == ["extension/dist/extension.js"] or all(
        n == "extension/dist/extension.js" or n.endswith(".LEGAL.txt") for n in dist
    ), dist


def test_no_build_machine_paths(extracted: Path) -> None:
    """The package must not refer to the machine it was built on."""
    ext = extracted / "extension"
    checked = [ext / "dist" / "extension.js", ext / "bundled" / "tool" / "launch.py", ext / "package.json"]
    checked += list((ext / "bundled" / "libs").glob("*.dist-info/direct_url.json"))
    for path in checked:
        text = path.read_text(encoding="utf-8", errors="replace")
        for needle in (str(REPO), "/tmp/", "/root/"):
            assert needle not in text, f"{path.relative_to(extracted)} mentions {needle}"


def test_size_is_reasonable(vsix: Path) -> None:
    size_mb = vsix.stat().st_size / 1e6
    assert 1 < size_mb < 60, f"{vsix.name} is {size_mb:.1f} MB"


# -- the bundled server, run as VS Code runs it ------------------------------------------------------


class LspClient:
    """Just enough JSON-RPC over stdio: Content-Length framing, requests, notifications."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.next_id = 0
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                key, _, value = line.decode("ascii").partition(":")
                headers[key.strip().lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            self.messages.put(json.loads(body.decode("utf-8")))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace").rstrip())

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float = 60.0) -> Any:
        self.next_id += 1
        request_id = self.next_id
        self.send({"id": request_id, "method": method, "params": params})
        response = self.wait_for(lambda m: m.get("id") == request_id and "method" not in m, timeout)
        assert "error" not in response, f"{method} failed: {response['error']}"
        return response.get("result")

    def wait_for(self, predicate: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; server stderr:\n{self.stderr()}")
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is None:
                raise AssertionError(f"the server closed its stdout; stderr:\n{self.stderr()}")
            if "method" in message and "id" in message:
                self._answer_server_request(message)
                continue
            if predicate(message):
                return message

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        """Answer what VS Code would: settings for workspace/configuration, null otherwise."""
        if message["method"] == "workspace/configuration":
            result = [SETTINGS if item.get("section") == "phimlLint" else None for item in message["params"]["items"]]
        else:
            result = None
        self.send({"id": message["id"], "result": result})

    def stderr(self) -> str:
        return "\n".join(self.stderr_lines[-60:])


# What the extension sends for an untouched configuration (toInitializationOptions of the defaults).
SETTINGS = {"select": [], "ignore": [], "backends": [], "severity": {}, "fixAll": {"unsafe": False}, "run": "onType"}


def _fresh_venv_python(root: Path, base: str | None = None) -> Path:
    target = root / "venv"
    if base is None:
        venv.EnvBuilder(with_pip=False, clear=True).create(target)
    else:
        subprocess.run([base, "-m", "venv", "--without-pip", "--clear", str(target)], check=True, timeout=120)
    python = target / "bin" / "python"
    assert python.exists()
    # Nothing but the standard library: phiml_lint must come from the bundle.
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('phiml_lint'))"],
                           capture_output=True, text=True, check=True, env=_clean_env())
    assert probe.stdout.strip() == "None"
    return python


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture
def server(extracted: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LspClient]:
    base = getattr(request, "param", None)
    python = _fresh_venv_python(tmp_path, base)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    launcher = extracted / "extension" / "bundled" / "tool" / "launch.py"
    proc = subprocess.Popen([str(python), str(launcher)], cwd=workspace, env=_clean_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    client = LspClient(proc)
    client.workspace = workspace  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _initialize(client: LspClient, workspace: Path) -> dict[str, Any]:
    result = client.request("initialize", {
        "processId": os.getpid(),
        "clientInfo": {"name": "test_vsix"},
        "rootUri": workspace.as_uri(),
        "workspaceFolders": [{"uri": workspace.as_uri(), "name": "workspace"}],
        "capabilities": {
            "workspace": {"configuration": True, "workspaceFolders": True},
            "textDocument": {
                "publishDiagnostics": {"relatedInformation": True},
                "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source"]}}},
            },
        },
        "initializationOptions": SETTINGS,
    }, timeout=120)
    client.notify("initialized", {})
    return result


def _shutdown(client: LspClient) -> None:
    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(timeout=30) == 0, client.stderr()


def test_bundled_server_initializes_in_empty_venv(server: LspClient) -> None:
    result = _initialize(server, server.workspace)  # type: ignore[attr-defined]
    capabilities = result["capabilities"]
    assert capabilities, "initialize returned no capabilities"
    assert result.get("serverInfo", {}).get("name") == "phiml-lint"
    assert "codeActionProvider" in capabilities
    _shutdown(server)


def test_bundled_server_reports_and_fixes_the_sample(server: LspClient) -> None:
    workspace: Path = server.workspace  # type: ignore[attr-defined]
    _initialize(server, workspace)
    sample = workspace / "implicit_step.py"
    sample.write_text(SAMPLE, encoding="utf-8")
    uri = sample.as_uri()
    server.notify("textDocument/didOpen", {
        "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SAMPLE}})
    published = server.wait_for(
        lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
        and any(d.get("code") == "PML102" for d in m["params"]["diagnostics"]),
        timeout=120,
    )
    diagnostics = published["params"]["diagnostics"]
    pml102 = next(d for d in diagnostics if d["code"] == "PML102")
    assert pml102["source"] == "phiml-lint"
    assert pml102["range"]["start"]["line"] == 7  # the lambda
    actions = server.request("textDocument/codeAction", {
        "textDocument": {"uri": uri},
        "range": pml102["range"],
        "context": {"diagnostics": [pml102], "only": ["quickfix"]},
    })
    assert actions, "no quick fix offered for PML102"
    assert all(a.get("kind", "").startswith("quickfix") for a in actions)
    _shutdown(server)


def _find_python(version: str) -> str | None:
    """A working ``python<version>``: on PATH, or installed by pyenv (whose shims may refuse to run it)."""
    candidates = [shutil.which(f"python{version}"), f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), reverse=True)]
    for exe in candidates:
        if exe is None or not Path(exe).exists():
            continue
        check = subprocess.run([exe, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False, env=_clean_env())
        if check.returncode == 0 and check.stdout.strip() == version:
            return exe
    return None


def _other_pythons() -> list[Any]:
    params = []
    for version in BUNDLED_PYTHONS:
        exe = _find_python(version)
        marks = [] if exe else [pytest.mark.skip(reason=f"no CPython {version} on this machine")]
        params.append(pytest.param(exe, id=f"py{version}", marks=marks))
    return params


@pytest.mark.parametrize("server", _other_pythons(), indirect=True)
def test_bundled_server_runs_on_each_bundled_python(server: LspClient) -> None:
    """The bundle carries compiled modules for several CPythons; each one that is installed here runs it."""
    result = _initialize(server, server.workspace)  # type: ignore[attr-defined]
    assert result["capabilities"]
    _shutdown(server)

"""End-to-end tests of `phiml-lint server` over stdio with recorded real-client capabilities."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_helpers import initialize_params
from lsprotocol import types
from pytest_lsp import LanguageClient

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


async def wait_for_diagnostics(client: LanguageClient, uri: str, predicate=lambda d: True, timeout: float = 20):
    async def loop():
        while True:
            if uri in client.diagnostics and predicate(client.diagnostics[uri]):
                return client.diagnostics[uri]
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    return await asyncio.wait_for(loop(), timeout)


def open_file(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="python", version=version, text=path.read_text() if text is None else text)))
    return uri


def cli_rows(folder: Path, name: str) -> set[tuple[int, int, str]]:
    proc = subprocess.run([sys.executable, "-m", "phiml_lint", "check", "--output-format", "json", "."],
                          cwd=folder, capture_output=True, text=True, check=False)
    out = set()
    for item in json.loads(proc.stdout):
        if Path(item["filename"]).name == name:
            out.add((item["location"]["row"] - 1, item["location"]["column"] - 1, item["code"]))
    return out


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    for name in ("pml102_temporary_functions.py", "pml101_side_effects.py", "pml108_control_flow_on_traced_argument.py"):
        shutil.copy(CORPUS / "rules" / name, tmp_path / name)
    shutil.copytree(CORPUS / "crossmodule", tmp_path / "crossmodule")
    return tmp_path


async def test_diagnostics_match_cli(client: LanguageClient, workspace: Path):
    await client.initialize_session(initialize_params(workspace))
    path = workspace / "pml102_temporary_functions.py"
    uri = open_file(client, path)
    items = await wait_for_diagnostics(client, uri, lambda d: len(d) > 0)
    got = {(d.range.start.line, d.range.start.character, d.code) for d in items}
    assert got == cli_rows(workspace, path.name)
    first = next(d for d in items if d.code == "PML102")
    assert first.source == "phiml-lint"
    assert first.code_description and first.code_description.href.endswith("/PML102/")
    assert first.severity == types.DiagnosticSeverity.Warning
    assert first.related_information and "jit-compiled" in first.related_information[0].message


async def test_related_information_crosses_files(client: LanguageClient, workspace: Path):
    await client.initialize_session(initialize_params(workspace))
    ops = workspace / "crossmodule" / "ops.py"
    uri = open_file(client, ops)
    items = await wait_for_diagnostics(client, uri, lambda d: any(x.code == "PML105" for x in d))
    diag = next(d for d in items if d.code == "PML105")
    uris = [r.location.uri for r in diag.related_information or []]
    assert (workspace / "crossmodule" / "sim.py").as_uri() in uris


async def test_suppress_action_and_syntax_error_repair(client: LanguageClient, workspace: Path):
    await client.initialize_session(initialize_params(workspace))
    path = workspace / "pml101_side_effects.py"
    text = path.read_text()
    uri = open_file(client, path, text)
    items = await wait_for_diagnostics(client, uri, lambda d: len(d) == 3)
    target = next(d for d in items if d.range.start.line == 9)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=target.range,
        context=types.CodeActionContext(diagnostics=[target])))
    suppress = [a for a in actions or [] if a.title.startswith("Suppress PML101")]
    assert suppress, [a.title for a in actions or []]
    edits = suppress[0].edit.changes[uri]
    assert len(edits) == 1 and "noqa: PML101" in edits[0].new_text
    lines = text.split("\n")
    edit = edits[0]
    line = lines[edit.range.start.line]
    lines[edit.range.start.line] = line[:edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
    fixed = "\n".join(lines)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    items = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)
    assert all(d.range.start.line != 9 for d in items)
    # break the file, then repair it
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed + "\ndef broken(:\n")]))
    items = await wait_for_diagnostics(client, uri, lambda d: [x.code for x in d] == ["PML000"])
    assert "Syntax error" in items[0].message
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=4),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 2 and all(x.code == "PML101" for x in d))


async def test_hover_explains_rule_and_traced_function(client: LanguageClient, workspace: Path):
    await client.initialize_session(initialize_params(workspace))
    path = workspace / "pml108_control_flow_on_traced_argument.py"
    uri = open_file(client, path)
    items = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=items[0].range.start))
    assert hover is not None and "PML108" in hover.contents.value and "jit-compiled" in hover.contents.value
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=4, character=5)))
    assert hover is not None and "`smooth` is jit-compiled" in hover.contents.value


async def test_pull_diagnostics_for_vscode(client: LanguageClient, workspace: Path):
    result = await client.initialize_session(initialize_params(workspace, "neovim@v0.11.0"))
    assert result.capabilities.diagnostic_provider is not None
    uri = open_file(client, workspace / "pml101_side_effects.py")
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert sorted(d.range.start.line for d in report.items) == [9, 16, 27]
    assert uri not in client.diagnostics  # pull clients get no pushed duplicates


async def test_notebook_cells(client: LanguageClient, workspace: Path):
    await client.initialize_session(initialize_params(workspace, "neovim@v0.11.0"))
    nb_uri = (workspace / "demo.ipynb").as_uri()
    cells = [
        ("from phiml import math\n%matplotlib inline\nhistory = []", types.NotebookCellKind.Code),
        ("# Title", types.NotebookCellKind.Markup),
        ("@math.jit_compile\ndef step(x):\n    history.append(x)\n    return x", types.NotebookCellKind.Code),
    ]
    docs = [types.TextDocumentItem(uri=f"vscode-notebook-cell:{nb_uri}#c{i}",
                                   language_id="python" if k == types.NotebookCellKind.Code else "markdown",
                                   version=1, text=t) for i, (t, k) in enumerate(cells)]
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(uri=nb_uri, notebook_type="jupyter-notebook", version=1, cells=[
            types.NotebookCell(kind=k, document=d.uri) for (_, k), d in zip(cells, docs, strict=True)]),
        cell_text_documents=docs))
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=docs[2].uri)))
    assert [(d.code, d.range.start.line) for d in report.items] == [("PML101", 2)]
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=docs[0].uri)))
    assert list(report.items) == []


async def test_configuration_pulled_with_workspace_configuration(client: LanguageClient, workspace: Path):
    client.set_configuration({"ignore": ["PML101"]}, section="phimlLint")
    await client.initialize_session(initialize_params(workspace, "neovim@v0.11.0"))
    uri = open_file(client, workspace / "pml101_side_effects.py")
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert list(report.items) == []
    client.set_configuration({"ignore": [], "severity": {"PML101": "hint"}}, section="phimlLint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    for _ in range(50):
        report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        if report.items:
            break
        await asyncio.sleep(0.1)
    assert [d.severity for d in report.items] == [types.DiagnosticSeverity.Hint] * 3


async def test_configuration_from_initialization_options(client: LanguageClient, workspace: Path):
    await client.initialize_session(initialize_params(workspace, options={"ignore": ["PML101"]}))
    uri = open_file(client, workspace / "pml101_side_effects.py")
    other = open_file(client, workspace / "pml108_control_flow_on_traced_argument.py")
    await wait_for_diagnostics(client, other, lambda d: len(d) == 2)
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 0)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"phimlLint": {"ignore": [], "select": ["PML1"]}}))
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 3)


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP edits (UTF-16 = code points for this ASCII text), last first."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = offsets[edit.range.start.line] + edit.range.start.character
        end = offsets[edit.range.end.line] + edit.range.end.character
        text = text[:start] + edit.new_text + text[end:]
    return text


async def test_quick_fix_and_fix_all(client: LanguageClient, workspace: Path):
    await client.initialize_session(initialize_params(workspace, options={"fixAll": {"unsafe": True}}))
    path = workspace / "pml108_control_flow_on_traced_argument.py"
    text = path.read_text()
    uri = open_file(client, path, text)
    items = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)
    target = items[0]
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=target.range,
        context=types.CodeActionContext(diagnostics=[target])))
    fix = next(a for a in actions if "auxiliary_args" in a.title)
    assert fix.is_preferred
    if fix.edit is None:
        fix = await client.code_action_resolve_async(fix)
    fixed = apply_edits(text, fix.edit.changes[uri])
    assert "@math.jit_compile(auxiliary_args='iterations')" in fixed
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=target.range,
        context=types.CodeActionContext(diagnostics=[], only=["source.fixAll.phiml-lint"])))
    fix_all = actions[0]
    if fix_all.edit is None:
        fix_all = await client.code_action_resolve_async(fix_all)
    everything = apply_edits(text, fix_all.edit.changes[uri])
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=everything)]))
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 0)


async def test_cross_file_fix_is_one_workspace_edit(client: LanguageClient, tmp_path: Path):
    (tmp_path / "ops.py").write_text("from phiml import math\n\n\n@math.jit_compile(auxiliary_args='order')\n"
                                     "def smooth(x, order):\n    return math.laplace(x) * order\n")
    run = tmp_path / "run.py"
    run.write_text("from ops import smooth\n\n\ndef run(x):\n    for order in range(1, 20):\n"
                   "        x = smooth(x, order)\n    return x\n")
    await client.initialize_session(initialize_params(tmp_path))
    uri = open_file(client, run)
    items = await wait_for_diagnostics(client, uri, lambda d: [x.code for x in d] == ["PML202"])
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=items[0].range,
        context=types.CodeActionContext(diagnostics=items)))
    fix = next(a for a in actions if "forget_traces" in a.title)
    if fix.edit is None:
        fix = await client.code_action_resolve_async(fix)
    ops_uri = (tmp_path / "ops.py").as_uri()
    assert list(fix.edit.changes) == [ops_uri]
    new = apply_edits((tmp_path / "ops.py").read_text(), fix.edit.changes[ops_uri])
    assert "@math.jit_compile(auxiliary_args='order', forget_traces=True)" in new


async def test_edited_document_first_then_the_documents_depending_on_it(client: LanguageClient, tmp_path: Path):
    """The edited file is published before dependents are re-checked (typing is never queued behind them)."""
    sim = tmp_path / "sim.py"
    ops = tmp_path / "ops.py"
    sim.write_text("from phiml import math\nfrom ops import helper\n\n@math.jit_compile\ndef step(x):\n"
                   "    return helper(x)\n")
    ops.write_text("cache = {}\n\ndef helper(x):\n    cache['x'] = x\n    return x\n")
    await client.initialize_session(initialize_params(tmp_path))
    sim_uri, ops_uri = open_file(client, sim), open_file(client, ops)
    await wait_for_diagnostics(client, ops_uri, lambda d: [x.code for x in d] == ["PML101"])
    # sim.step stops calling helper and starts writing module state itself
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=sim_uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(
            text="from phiml import math\nlog = []\n\n@math.jit_compile\ndef step(x):\n    log.append(x)\n"
                 "    return x\n")]))
    await wait_for_diagnostics(client, ops_uri, lambda d: len(d) == 0)  # facts changed: helper is no longer traced
    assert [x.code for x in client.diagnostics[sim_uri]] == ["PML101"]  # published before ops was re-checked


async def test_a_pulled_dependent_reflects_the_edit_of_another_file(client: LanguageClient, tmp_path: Path):
    """Pull clients re-pull other documents right after a change: they must not get the old result."""
    sim, ops = tmp_path / "sim.py", tmp_path / "ops.py"
    sim.write_text("from phiml import math\nfrom ops import helper\n\n@math.jit_compile\ndef step(x):\n"
                   "    return helper(x)\n")
    ops.write_text("cache = {}\n\ndef helper(x):\n    cache['x'] = x\n    return x\n")
    await client.initialize_session(initialize_params(tmp_path, "neovim@v0.11.0"))
    sim_uri, ops_uri = open_file(client, sim), open_file(client, ops)

    async def pull(uri: str) -> list[str]:
        report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        return [d.code for d in report.items]

    assert await pull(ops_uri) == ["PML101"]
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=sim_uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(
            text="from phiml import math\n\n@math.jit_compile\ndef step(x):\n    return x\n")]))
    assert await pull(ops_uri) == []  # asked before sim.py's analysis ran: waits for it, not stale
    assert await pull(sim_uri) == []

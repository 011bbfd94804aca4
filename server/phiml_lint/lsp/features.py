"""LSP feature handlers: each one translates a request into engine calls and back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path

from ..analysis.source import SourceError, from_bytes
from ..engine import worth_parsing
from ..files import discover
from ..model import Applicability, Diagnostic, Pos, Span
from ..rules.base import REGISTRY
from .server import FIX_ALL_KIND, SETTINGS_SECTION, Document, PhimlLanguageServer, uri_to_path

logger = logging.getLogger(__name__)
MAX_SCAN_FILES = 5000


def _settings_from(value: Any) -> dict[str, Any]:
    """Accept `{...}`, `{"settings": {...}}` (Ruff's shape) and `{"phimlLint": {...}}`."""
    if not isinstance(value, dict):
        return {}
    for key in (SETTINGS_SECTION, "settings"):
        if isinstance(value.get(key), dict):
            return dict(value[key])
    return dict(value)


def register(server: PhimlLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: PhimlLanguageServer, params: types.InitializeParams) -> None:
        ls.global_settings = _settings_from(params.initialization_options)
        caps = params.capabilities
        ls.config_ready = asyncio.Event()
        if not (caps.workspace and caps.workspace.configuration):
            ls.config_ready.set()
        text = caps.text_document
        ls.pull_diagnostics = bool(text and text.diagnostic) and ls.global_settings.get("pull", True) is not False
        ls.resolve_actions = bool(text and text.code_action and text.code_action.resolve_support
                                  and "edit" in (text.code_action.resolve_support.properties or []))
        if ls.pull_diagnostics:
            ls.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, types.DiagnosticOptions(
                identifier="phiml-lint", inter_file_dependencies=True, workspace_diagnostics=False))(pull)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: PhimlLanguageServer, params: types.InitializedParams) -> None:
        try:
            await _pull_configuration(ls)
        finally:
            if ls.config_ready is not None:
                ls.config_ready.set()
        caps = ls.client_capabilities
        watch = caps.workspace and caps.workspace.did_change_watched_files
        if watch and watch.dynamic_registration:
            try:
                await ls.client_register_capability_async(types.RegistrationParams(registrations=[
                    types.Registration(id="phiml-lint-pyproject", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                       register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=[
                                           types.FileSystemWatcher(glob_pattern="**/pyproject.toml"),
                                           types.FileSystemWatcher(glob_pattern="**/*.py")]))]))
            except Exception:
                logger.info("client refused file watching")
        await _scan_workspace(ls)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: PhimlLanguageServer, params: Any) -> None:
        ls.worker.shutdown(wait=False, cancel_futures=True)

    # -- text documents -----------------------------------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PhimlLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri in ls.cell_owner or uri.startswith("vscode-notebook-cell"):
            return  # cells are handled through notebook sync
        ls.refresh_text(uri)
        ls.schedule(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PhimlLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri in ls.cell_owner:
            return
        if uri not in ls.documents:
            logger.warning("didChange for a document that was never opened: %s", uri)
            return
        doc = ls.refresh_text(uri)
        if ls.setting(doc.path, "run", "onType") == "onType":
            ls.schedule(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PhimlLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = uri_to_path(uri)
        if path.endswith("pyproject.toml"):
            ls.reconfigure()
            for doc_uri in list(ls.documents):
                ls.schedule(doc_uri)
            return
        if uri in ls.documents:
            ls.refresh_text(uri)
            ls.schedule(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PhimlLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = ls.documents.pop(uri, None)
        if doc is None:
            return
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        # The file on disk becomes the truth again for cross-module analysis.
        path = doc.path

        def reload() -> None:
            engine = ls.engine_for(path)
            try:
                engine.update(from_bytes(Path(path).read_bytes(), path))
            except (OSError, SourceError):
                engine.remove(path)

        if not path.startswith("untitled:"):
            ls.worker.submit(reload)

    # -- notebooks ----------------------------------------------------------------------------------
    def nb_sync(ls: PhimlLanguageServer, params: Any) -> None:
        """Open, change and save all mean: rebuild the joined cells and re-analyse."""
        if ls.refresh_notebook(params.notebook_document.uri):
            ls.schedule(params.notebook_document.uri)

    for method in (types.NOTEBOOK_DOCUMENT_DID_OPEN, types.NOTEBOOK_DOCUMENT_DID_CHANGE,
                   types.NOTEBOOK_DOCUMENT_DID_SAVE):
        server.feature(method)(nb_sync)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def nb_close(ls: PhimlLanguageServer, params: types.DidCloseNotebookDocumentParams) -> None:
        doc = ls.documents.pop(params.notebook_document.uri, None)
        if doc is None:
            return
        for cell_uri in doc.cell_uris.values():
            ls.cell_owner.pop(cell_uri, None)
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell_uri, diagnostics=[]))

    # -- configuration ------------------------------------------------------------------------------
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: PhimlLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and (SETTINGS_SECTION in settings or "settings" in settings):
            ls.global_settings = _settings_from(settings)
        await _pull_configuration(ls)
        await ls.run_in_worker(ls.reconfigure)
        for uri in list(ls.documents):
            ls.documents[uri].published.clear()
            ls.schedule(uri)
        if ls.pull_diagnostics:
            _refresh(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched(ls: PhimlLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        reconfigure = False
        changed_paths = []
        for change in params.changes:
            path = uri_to_path(change.uri)
            if path.endswith("pyproject.toml"):
                reconfigure = True
            elif path.endswith(".py") and change.uri not in ls.documents:
                changed_paths.append((path, change.type))

        def apply() -> None:
            for path, kind in changed_paths:
                engine = ls.engine_for(path)
                if kind == types.FileChangeType.Deleted:
                    engine.remove(path)
                    continue
                try:
                    engine.update(from_bytes(Path(path).read_bytes(), path))
                except (OSError, SourceError):
                    engine.remove(path)
            if reconfigure:
                ls.reconfigure()

        await ls.run_in_worker(apply)
        for uri in list(ls.documents):
            ls.schedule(uri)

    # -- code actions -------------------------------------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll, FIX_ALL_KIND],
        resolve_provider=True))
    async def code_action(ls: PhimlLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        doc, cell_uri = ls.document_for(params.text_document.uri)
        if doc is None:
            return None
        only = params.context.only
        wants_quickfix = not only or any(str(k).startswith("quickfix") for k in only)
        wants_fix_all = not only or any(FIX_ALL_KIND.startswith(str(k)) for k in only)
        await _ensure_current(ls, doc)
        actions: list[types.CodeAction] = []
        if wants_quickfix:
            chosen = ls.matching_diagnostics(doc, cell_uri, params.range, params.context.diagnostics or [])
            actions += await ls.run_in_worker(_quick_fixes, ls, doc, chosen)
        if wants_fix_all and doc.diagnostics:
            action = types.CodeAction(title="phiml-lint: Fix all auto-fixable problems", kind=FIX_ALL_KIND,
                                      data={"fixAll": doc.uri, "version": doc.version})
            if not ls.resolve_actions:
                action.edit = await ls.run_in_worker(_fix_all_edit, ls, doc)
                if action.edit is None:
                    action = None  # type: ignore[assignment]
            if action is not None:
                actions.append(action)
        return actions or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: PhimlLanguageServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        if "fixAll" in data:
            doc = ls.documents.get(data["fixAll"])
            if doc is not None:
                await _ensure_current(ls, doc)
                action.edit = await ls.run_in_worker(_fix_all_edit, ls, doc)
        elif "edits" in data:
            action.edit = ls.workspace_edit(_edits_from_json(data["edits"]))
        return action

    # -- hover --------------------------------------------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: PhimlLanguageServer, params: types.HoverParams) -> types.Hover | None:
        doc, cell_uri = ls.document_for(params.text_document.uri)
        if doc is None:
            return None
        await _ensure_current(ls, doc)
        lines = ls.lines_for(doc, cell_uri)
        pos = lines.from_client(params.position)
        if cell_uri is not None:
            for cell in doc.source.cells:
                if doc.cell_uris.get(cell.cell) == cell_uri:
                    pos = Pos(pos.line + cell.first_line, pos.col)
        text = await ls.run_in_worker(_hover_text, ls, doc, pos)
        if not text:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    # -- commands -----------------------------------------------------------------------------------
    @server.command("phimlLint.applyFixAll")
    async def apply_fix_all(ls: PhimlLanguageServer, uri: str) -> None:
        doc = ls.documents.get(uri)
        if doc is None:
            return
        await _ensure_current(ls, doc)
        edit = await ls.run_in_worker(_fix_all_edit, ls, doc)
        if edit is not None:
            await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="phiml-lint: fix all"))


async def pull(ls: PhimlLanguageServer, params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
    """``textDocument/diagnostic``: analyse the current text and answer with a full report."""
    doc, cell_uri = ls.document_for(params.text_document.uri)
    if doc is None:
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    await _ensure_current(ls, doc)
    by_uri = ls.diagnostics_by_uri(doc)
    return types.RelatedFullDocumentDiagnosticReport(items=by_uri.get(cell_uri or doc.uri, []))


def _refresh(ls: PhimlLanguageServer) -> None:
    caps = ls.client_capabilities.workspace
    if caps and caps.diagnostics and caps.diagnostics.refresh_support:
        ls.workspace_diagnostic_refresh(None)


#: How long a pull waits for other files' analyses before answering with what it has.
SETTLE_TIMEOUT = 10.0


async def _ensure_current(ls: PhimlLanguageServer, doc: Document) -> None:
    """Make sure ``doc.diagnostics`` belong to the document's current version."""
    await ls.wait_config()
    if doc.analysed_version == doc.version and doc.uri not in ls.pending:
        if not ls.settled.is_set():  # another file changed: its analysis and re-checks may touch this one
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ls.settled.wait(), SETTLE_TIMEOUT)
            if ls.recheck_roots and not ls.pending:  # a re-check that gave way to an edit: finish it
                await ls.recheck_now()
        return
    version = doc.version
    results = await ls.run_in_worker(ls._analyse, doc, doc.source)
    if doc.version == version:
        doc.diagnostics = results.get(doc.uri, [])
        doc.analysed_version = version


async def _pull_configuration(ls: PhimlLanguageServer) -> None:
    caps = ls.client_capabilities.workspace
    if not (caps and caps.configuration):
        return
    roots = ls.roots()
    items = [types.ConfigurationItem(section=SETTINGS_SECTION)] + [
        types.ConfigurationItem(scope_uri=from_fs_path(r), section=SETTINGS_SECTION) for r in roots]
    try:
        results = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
    except Exception:
        logger.info("workspace/configuration failed", exc_info=True)
        return
    if not results:
        return
    if isinstance(results[0], dict):
        ls.global_settings = {**ls.global_settings, **_settings_from(results[0])}
    for root, value in zip(roots, results[1:], strict=False):
        if isinstance(value, dict):
            ls.folder_settings[root] = _settings_from(value)
    await ls.run_in_worker(ls.reconfigure)


async def _scan_workspace(ls: PhimlLanguageServer) -> None:
    """Index the workspace so cross-module facts (a helper called from a jit elsewhere) are known."""
    roots = ls.roots()
    if not roots:
        return
    token = "phiml-lint-scan"
    progress = bool(ls.client_capabilities.window and ls.client_capabilities.window.work_done_progress)
    if progress:
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title="phiml-lint: indexing", percentage=0))
        except Exception:
            progress = False

    def scan() -> int:
        count = 0
        for root in roots:
            engine = ls.engine_for(root + "/__root__.py")
            for path in discover([Path(root)]):
                if count >= MAX_SCAN_FILES:
                    break
                key = str(path.resolve())
                if key in engine.project.modules or any(d.path == key for d in ls.documents.values()):
                    continue
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                if path.suffix == ".py" and worth_parsing(data.decode("latin-1")):
                    try:
                        engine.update(from_bytes(data, key))
                    except SourceError:
                        continue
                    engine.sources.pop(key, None)
                    count += 1
        return count

    count = await ls.run_in_worker(scan)
    if progress:
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=f"{count} modules"))
    for uri in list(ls.documents):
        ls.schedule(uri)


# -- worker-thread helpers (engine access) -------------------------------------------------------------
def _edits_json(edits: tuple) -> list[dict[str, Any]]:
    return [{"path": e.path, "span": [e.span.start.line, e.span.start.col, e.span.end.line, e.span.end.col],
             "content": e.content} for e in edits]


def _edits_from_json(items: list[dict[str, Any]]) -> list:
    from ..model import Edit

    return [Edit(i["path"], Span.of(*i["span"]), i["content"]) for i in items]


def _quick_fixes(ls: PhimlLanguageServer, doc: Document, chosen: list[Diagnostic]) -> list[types.CodeAction]:
    from ..fixes import fixes_for, suppress_fix

    engine = ls.engine_for(doc.path)
    by_uri = ls.diagnostics_by_uri(doc)
    lsp_diags = {(d.code, tuple(d.data.get("start", ()))): d for items in by_uri.values() for d in items
                 if isinstance(d.data, dict)}
    actions: list[types.CodeAction] = []
    suppress: list[types.CodeAction] = []
    for diagnostic in chosen:
        lsp_diag = lsp_diags.get((diagnostic.code, (diagnostic.span.start.line, diagnostic.span.start.col)))
        related = [lsp_diag] if lsp_diag is not None else None
        for index, fix in enumerate(fixes_for(engine, diagnostic)):
            if fix.applicability is Applicability.DISPLAY_ONLY:
                continue
            title = f"{fix.title} ({diagnostic.code})" + (" [unsafe]" if not fix.is_safe else "")
            action = types.CodeAction(title=title, kind=types.CodeActionKind.QuickFix, diagnostics=related,
                                      is_preferred=fix.is_safe and index == 0)
            if ls.resolve_actions:
                action.data = {"edits": _edits_json(fix.edits)}
            else:
                action.edit = ls.workspace_edit(list(fix.edits))
            actions.append(action)
        fix = suppress_fix(engine, diagnostic)
        if fix is not None:
            suppress.append(types.CodeAction(
                title=f"Suppress {diagnostic.code} on this line", kind=types.CodeActionKind.QuickFix,
                diagnostics=related, edit=ls.workspace_edit(list(fix.edits))))
    return actions + suppress


def _fix_all_edit(ls: PhimlLanguageServer, doc: Document) -> types.WorkspaceEdit | None:
    from ..fixes.apply import fix_all_texts

    engine = ls.engine_for(doc.path)
    unsafe = bool(engine.config.fix_all_unsafe)
    new_texts = fix_all_texts(engine, doc.path, unsafe=unsafe)
    if not new_texts:
        return None
    from ..model import Edit

    edits = []
    for path, (old, new) in new_texts.items():
        edits.extend(Edit(path, span, content) for span, content in _minimal_replacements(old, new))
    # re-analyse the untouched engine state: fix_all_texts must leave the engine as it was
    return ls.workspace_edit(edits) if edits else None


def _minimal_replacements(old: str, new: str) -> list[tuple[Span, str]]:
    """Line-based difference between two texts as replacements (unchanged lines untouched)."""
    import difflib

    a, b = old.split("\n"), new.split("\n")
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        content = "".join(line + "\n" for line in b[j1:j2])
        out.append((Span(Pos(i1, 0), Pos(i2, 0)), content))
    return out


def _hover_text(ls: PhimlLanguageServer, doc: Document, pos: Pos) -> str | None:
    parts = []
    for diagnostic in doc.diagnostics:
        if diagnostic.span.contains(pos):
            rule = REGISTRY.get(diagnostic.code)
            if rule is None:
                parts.append(f"**{diagnostic.code}** {diagnostic.message}")
                continue
            chain = "".join(f"\n{i + 1}. {step.message} ({Path(step.path).name}:{step.span.start.line + 1})"
                            for i, step in enumerate(diagnostic.related))
            parts.append(f"**{rule.code} {rule.name}** — breaks on {rule.breaks_on}\n\n{diagnostic.message}\n\n"
                         f"{rule.why}" + (f"\n\n**Why this code is traced:**{chain}" if chain else "")
                         + f"\n\n[Documentation]({rule.url})")
    if parts:
        return "\n\n---\n\n".join(parts)
    engine = ls.engine_for(doc.path)
    module = engine.project.get(doc.path) if not doc.path.startswith("untitled:") else \
        engine.project.modules.get(doc.path)
    if module is None:
        return None
    facts = engine.project.facts()
    for fn in module.functions:
        if fn.is_lambda:
            continue
        if module.name_span(fn.node).contains(pos):  # type: ignore[arg-type]
            trace = facts.traced.get(id(fn))
            if trace is None:
                return None
            steps = "".join(f"\n- {s.message} ({Path(s.path).name}:{s.span.start.line + 1})" for s in trace.chain)
            head = "jit-compiled" if trace.entry is fn else f"traced (called from jit-compiled `{trace.entry.name}`)"
            return f"**phiml-lint**: `{fn.name}` is {head}.{steps}"
    return None

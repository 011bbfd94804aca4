"""``phiml-lint server``: the language server. It translates between LSP and the engine only.

Threading model: pygls runs the message loop on asyncio; every engine call runs on one
worker thread (the engine's project state is not thread-safe, and one thread keeps results
ordered). Per document, at most one analysis is queued: rapid ``didChange`` notifications
coalesce, and a result computed for an older version is dropped, never published.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__, heap
from .. import config as config_mod
from ..analysis.source import SourceText, from_text, notebook_from_cells
from ..config import Config, ConfigError
from ..engine import Engine
from ..model import Diagnostic, Edit, Fix, Pos, Span
from ..rules.base import REGISTRY
from .convert import SOURCE, Lines, text_edit, to_lsp
from .protocol import Protocol

#: Quiet time after the last edit before frozen garbage is collected (a full collection takes
#: 10-100 ms on large projects: done while the user is typing, it would delay diagnostics).
IDLE_RECLAIM_SECONDS = 1.5
logger = logging.getLogger(__name__)
FIX_ALL_KIND = "source.fixAll.phiml-lint"
SETTINGS_SECTION = "phimlLint"


@dataclass(slots=True)
class Document:
    """One analysed unit: a text document, or a notebook (its code cells joined)."""

    uri: str
    path: str
    version: int | None
    source: SourceText
    cell_uris: dict[int, str] = field(default_factory=dict)  # cell index (1-based) -> cell URI
    diagnostics: list[Diagnostic] = field(default_factory=list)
    analysed_version: int | None = -1
    published: dict[str, list[types.Diagnostic]] = field(default_factory=dict)
    lines: dict[str | None, Lines] = field(default_factory=dict)  # position tables for ``lines_source``
    lines_source: SourceText | None = None
    dependency_key: tuple | None = None  # engine.dependency_key when last checked

    @property
    def is_notebook(self) -> bool:
        return bool(self.cell_uris)


CLIENT_ONLY_SETTINGS = frozenset({"interpreter", "importStrategy", "trace", "path", "enable", "logLevel", "pull",
                                  "showNotifications"})


def editor_overrides(settings: dict[str, Any]) -> dict[str, Any]:
    """Editor settings that override ``pyproject.toml``.

    Editors send every setting, defaults included: an empty ``select`` / ``backends`` list or an
    empty ``severity`` table means "not set here" (use the project's configuration), never "nothing".
    """
    out = {}
    for key, value in settings.items():
        if key in CLIENT_ONLY_SETTINGS or value is None:
            continue
        if isinstance(value, list | dict) and not value:
            continue
        out[key] = {k: v for k, v in value.items() if v is not None} if key == "fixAll" and isinstance(
            value, dict) else value
    return out


def uri_to_path(uri: str) -> str:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return path if path else uri


class PhimlLanguageServer(LanguageServer):
    """Server state: documents, one engine per workspace root, editor settings."""

    def __init__(self) -> None:
        super().__init__(
            "phiml-lint", __version__, protocol_cls=Protocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[types.NotebookDocumentFilterWithCells(
                    notebook="*", cells=[types.NotebookCellLanguage(language="python")])],
                save=True,
            ),
        )
        self.documents: dict[str, Document] = {}  # main URI -> document
        self.cell_owner: dict[str, str] = {}  # cell URI -> notebook URI
        self.engines: dict[str, Engine] = {}  # root path -> engine
        self.folder_settings: dict[str, dict[str, Any]] = {}
        self.global_settings: dict[str, Any] = {}
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="phiml-lint")
        self.pending: set[str] = set()
        self.recheck: set[str] = set()  # open documents importing an edited module, not yet re-checked
        self.recheck_roots: set[Path] = set()  # roots with edits whose dependents are not all re-checked
        #: Set when no analysis is waiting or running and every dependent is re-checked; pull
        #: requests for an untouched document wait for it, so they never answer with a stale result.
        self.settled = asyncio.Event()
        self.settled.set()
        self.pull_diagnostics = False
        self.resolve_actions = False
        self.analyses = 0
        self.config_ready: asyncio.Event | None = None  # set once the initial settings are known
        self.last_activity = 0.0  # loop time of the last scheduled analysis (idle-time reclaim, see heap)
        self.reclaims = 0
        self.tasks: set[asyncio.Task] = set()
        self._resolved: dict[str, str] = {}

    async def wait_config(self) -> None:
        """Hold analyses until the client's settings have arrived (bounded: a silent client is not fatal)."""
        if self.config_ready is not None and not self.config_ready.is_set():
            try:
                await asyncio.wait_for(self.config_ready.wait(), 3.0)
            except TimeoutError:
                self.config_ready.set()

    def _start_io_async(self, stdin: Any = None, stdout: Any = None) -> None:
        """pygls' stdio loop, with a reader that resynchronises after a bad Content-Length.

        pygls matches the header line exactly; after a body shorter than announced, the rest of
        it is glued to the next header and every later message is lost. Cutting the line at
        ``Content-Length:`` recovers from the next message on.
        """
        import sys
        from threading import Event

        from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async

        self._stop_event = Event()
        reader = _ResyncReader(StdinAsyncReader(stdin or sys.stdin.buffer, self.thread_pool))
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(run_async(stop_event=self._stop_event, reader=reader, protocol=self.protocol,
                                  logger=logger, error_handler=self.report_server_error))
        except BrokenPipeError:
            logger.error("Connection to the client is lost; shutting down.")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Answer unparseable JSON with JSON-RPC's Parse error (id null) instead of a pop-up."""
        import json

        if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
            self.protocol._send_data({"jsonrpc": "2.0", "id": None,
                                      "error": {"code": -32700, "message": f"Parse error: {error}"}})
            return
        logger.error("server error from %s: %s", getattr(source, "__name__", source), error)

    # -- engines and configuration -------------------------------------------------------------
    def roots(self) -> list[str]:
        folders = [uri_to_path(f.uri) for f in (self.workspace.folders or {}).values()] if self.protocol._workspace \
            else []
        if not folders and self.protocol._workspace is not None and self.workspace.root_path:
            folders = [self.workspace.root_path]
        return sorted(folders, key=len, reverse=True)

    def root_for(self, path: str) -> str:
        for root in self.roots():
            if path == root or path.startswith(root.rstrip("/") + "/"):
                return root
        found = config_mod.find_root(Path(path)) if not path.startswith("untitled:") else None
        return str(found) if found else str(Path(path).parent) if not path.startswith("untitled:") else "."

    def config_for(self, root: str) -> Config:
        try:
            base = config_mod.load(Path(root))
        except ConfigError as err:
            self.show_error(str(err))
            base = Config()
        settings = {**self.global_settings, **self.folder_settings.get(root, {})}
        settings = editor_overrides(settings)
        if not settings:
            return base
        try:
            return base.merged(settings)
        except ConfigError as err:
            self.show_error(str(err))
            return base

    def engine_for(self, path: str) -> Engine:
        root = self.root_for(path)
        engine = self.engines.get(root)
        if engine is None:
            engine = Engine(Path(root), self.config_for(root), loader=self._loader)
            self.engines[root] = engine
        return engine

    def _loader(self, path: Path) -> SourceText | None:
        """Open documents win over the disk (the engine asks for imported modules)."""
        uri = from_fs_path(str(path))
        doc = self.documents.get(uri) if uri else None
        if doc is not None:
            return doc.source
        from ..engine import _disk_loader

        return _disk_loader(path)

    def reconfigure(self) -> None:
        for root, engine in self.engines.items():
            engine.configure(self.config_for(root))

    def show_error(self, message: str) -> None:
        try:
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error,
                                                             message=f"phiml-lint: {message}"))
        except Exception:
            logger.error(message)

    def setting(self, path: str, key: str, default: Any) -> Any:
        root = self.root_for(path)
        return self.folder_settings.get(root, {}).get(key, self.global_settings.get(key, default))

    # -- documents ------------------------------------------------------------------------------
    def lines_for(self, doc: Document, cell_uri: str | None = None) -> Lines:
        """The (cached) line table of a document or cell, for position conversion."""
        if doc.lines_source is not doc.source:  # the text changed: drop the old tables
            doc.lines.clear()
            doc.lines_source = doc.source
        cached = doc.lines.get(cell_uri)
        if cached is not None:
            return cached
        text = doc.source.text
        if cell_uri is not None and doc.is_notebook:
            for cell in doc.source.cells:
                if doc.cell_uris.get(cell.cell) == cell_uri:
                    text = cell.source
        lines = doc.lines[cell_uri] = Lines(text, self.workspace.position_codec)
        return lines

    def document_for(self, uri: str) -> tuple[Document | None, str | None]:
        """The analysed document for a URI, and the cell URI when it is a notebook cell."""
        if uri in self.documents:
            return self.documents[uri], None
        owner = self.cell_owner.get(uri)
        if owner is not None and owner in self.documents:
            return self.documents[owner], uri
        return None, None

    def refresh_text(self, uri: str) -> Document:
        text_doc = self.workspace.get_text_document(uri)
        path = uri_to_path(uri)
        source = from_text(text_doc.source, path)
        doc = self.documents.get(uri)
        if doc is None:
            doc = Document(uri, path, text_doc.version, source)
            self.documents[uri] = doc
        else:
            doc.source, doc.version = source, text_doc.version
        return doc

    def refresh_notebook(self, notebook_uri: str) -> Document | None:
        notebook = self.workspace.get_notebook_document(notebook_uri=notebook_uri)
        if notebook is None:
            return None
        cells: list[tuple[int, str]] = []
        cell_uris: dict[int, str] = {}
        for index, cell in enumerate(notebook.cells, start=1):
            if cell.kind != types.NotebookCellKind.Code:
                continue
            text_doc = self.workspace.get_text_document(cell.document)
            if getattr(text_doc, "language_id", "python") not in (None, "python"):
                continue
            cells.append((index, text_doc.source))
            cell_uris[index] = cell.document
            self.cell_owner[cell.document] = notebook_uri
        path = uri_to_path(notebook_uri)
        source = notebook_from_cells(path, cells)
        doc = self.documents.get(notebook_uri)
        if doc is None:
            doc = Document(notebook_uri, path, notebook.version, source, cell_uris)
            self.documents[notebook_uri] = doc
        else:
            doc.source, doc.version, doc.cell_uris = source, notebook.version, cell_uris
        return doc

    # -- analysis ---------------------------------------------------------------------------------
    def schedule(self, uri: str) -> None:
        loop = asyncio.get_event_loop()
        self.last_activity = loop.time()
        if uri in self.pending:
            return
        self.pending.add(uri)
        self.settled.clear()
        task = loop.create_task(self._analyse_and_publish(uri))
        self.tasks.add(task)  # a reference, or the loop may drop the task half-way
        task.add_done_callback(self.tasks.discard)

    def _reclaim_when_idle(self) -> None:
        """Collect the garbage frozen analyses left behind once nobody has typed for a moment (see heap)."""
        loop = asyncio.get_event_loop()
        if self.pending or loop.time() - self.last_activity < IDLE_RECLAIM_SECONDS or not heap.pending():
            return
        self.reclaims += 1
        loop.run_in_executor(self.worker, heap.reclaim)

    async def _analyse_and_publish(self, uri: str) -> None:
        """Analyse every document waiting at this moment as one batch, publish, then re-check dependents.

        Batching matters when many documents arrive at once (an editor restoring a session opens
        dozens): their texts go into the engine together and the project facts are computed once,
        not once per document.
        """
        await asyncio.sleep(0)  # let queued notifications for this document land first
        await self.wait_config()
        if uri not in self.pending:
            return  # taken by an earlier batch
        try:
            await self._analyse_pending()
        finally:
            if not self.pending and not self.recheck_roots:
                self.settled.set()
        asyncio.get_event_loop().call_later(IDLE_RECLAIM_SECONDS, self._reclaim_when_idle)

    async def _analyse_pending(self) -> None:
        batch = [(doc, doc.version, doc.source) for u in sorted(self.pending)
                 if (doc := self.documents.get(u)) is not None]
        self.pending.clear()
        if not batch:
            return
        loop = asyncio.get_event_loop()
        try:
            results = await loop.run_in_executor(self.worker, self._analyse_batch, [(d, s) for d, _, s in batch])
        except Exception:
            logger.exception("analysis of %s failed", ", ".join(d.uri for d, _, _ in batch))
            return
        for doc, version, _ in batch:
            current = self.documents.get(doc.uri)
            if current is None or current.version != version:
                continue  # superseded by a newer version: its own analysis publishes
            current.diagnostics = results[doc.uri]
            current.analysed_version = version
            self.publish(current)
        if self.recheck_roots and not self.pending:
            await self.recheck_now()

    async def recheck_now(self) -> None:
        """Second stage: re-check documents that may depend on what changed; store (push: publish) the results.

        Runs after the edited documents are published, and before a pull of a document that waits
        for it (``features._ensure_current``)."""
        try:
            results = await asyncio.get_event_loop().run_in_executor(self.worker, self._recheck)
        except Exception:
            logger.exception("re-checking dependent documents failed")
            return
        for uri, diagnostics in results.items():
            other = self.documents.get(uri)
            if other is None or other.version != other.analysed_version or uri in self.pending:
                continue  # being edited: its own analysis publishes
            other.diagnostics = diagnostics
            self.publish(other)

    def _analyse(self, doc: Document, source: SourceText) -> dict[str, list[Diagnostic]]:
        """Worker thread: one document (pull diagnostics); dependents follow in :meth:`_recheck`."""
        return self._analyse_batch([(doc, source)])

    def _analyse_batch(self, items: list[tuple[Document, SourceText]]) -> dict[str, list[Diagnostic]]:
        """Worker thread: put the texts into their engines, then diagnose each of them.

        Other open documents of the same roots are only *marked*: those whose look-ups entered an
        edited module (``Engine.dependents``), and (found in :meth:`_recheck`) those whose facts changed.
        """
        if heap.due():  # a long typing burst: do not let frozen garbage grow without bound
            heap.reclaim()
        for doc, source in items:
            self.engine_for(doc.path).update(source)
            self.analyses += 1
        out: dict[str, list[Diagnostic]] = {}
        for doc, _ in items:
            engine = self.engine_for(doc.path)
            out[doc.uri] = engine.diagnostics(doc.path)
            doc.dependency_key = engine.dependency_key(doc.path)
            self.recheck_roots.add(engine.root)
            dependents = engine.dependents(doc.path)
            for uri, other in self.documents.items():
                if other is not doc and engine.key(other.path) in dependents:
                    self.recheck.add(uri)
        return out

    def _recheck(self) -> dict[str, list[Diagnostic]]:
        """Worker thread: re-check marked documents and those whose facts changed; yield to new edits.

        Stops as soon as another edit is waiting (the marks survive for the next round), so typing
        in one file is never queued behind re-checking the files that import it.
        """
        out: dict[str, list[Diagnostic]] = {}
        for uri, other in list(self.documents.items()):
            if self.pending:
                return out  # an edit is waiting: it goes first, the rest waits for the next round
            engine = self.engine_for(other.path)
            if engine.root not in self.recheck_roots or other.analysed_version != other.version:
                continue
            key = engine.dependency_key(other.path)
            if key != other.dependency_key or uri in self.recheck:
                other.dependency_key = key
                out[uri] = engine.diagnostics(other.path)
            self.recheck.discard(uri)
        self.recheck_roots.clear()
        self.recheck.clear()
        return out

    def diagnostics_by_uri(self, doc: Document) -> dict[str, list[types.Diagnostic]]:
        """LSP diagnostics per URI (each notebook cell gets its own)."""
        if not doc.is_notebook:
            lines = self.lines_for(doc)
            return {doc.uri: [self._to_lsp(doc, d, lines) for d in doc.diagnostics]}
        out: dict[str, list[types.Diagnostic]] = {uri: [] for uri in doc.cell_uris.values()}
        for diagnostic in doc.diagnostics:
            cell, start = doc.source.to_cell(diagnostic.span.start)
            if cell is None or cell not in doc.cell_uris:
                continue
            _, end = doc.source.to_cell(diagnostic.span.end)
            cell_uri = doc.cell_uris[cell]
            lines = self.lines_for(doc, cell_uri)
            out[cell_uri].append(self._to_lsp(doc, diagnostic, lines, Span(start, end)))
        return out

    def _to_lsp(self, doc: Document, diagnostic: Diagnostic, lines: Lines, span: Span | None = None
                ) -> types.Diagnostic:
        data = {**diagnostic.data, "uri": doc.uri, "version": doc.version,
                "start": [diagnostic.span.start.line, diagnostic.span.start.col]}
        return to_lsp(diagnostic, lines, self.location_of, data, span)

    def resolved_path(self, path: str) -> str:
        """``Path.resolve`` memoised: it is a few system calls, and every related location asks."""
        if path.startswith("untitled:"):
            return path
        found = self._resolved.get(path)
        if found is None:
            if len(self._resolved) > 10_000:
                self._resolved.clear()
            found = self._resolved[path] = str(Path(path).resolve())
        return found

    def location_of(self, path: str, span: Span) -> tuple[str, types.Range] | None:
        """URI and range of a place in any file (open documents, else the file on disk)."""
        key = self.resolved_path(path)
        for doc in self.documents.values():
            if doc.path in (path, key):
                if doc.is_notebook:
                    cell, start = doc.source.to_cell(span.start)
                    _, end = doc.source.to_cell(span.end)
                    if cell in doc.cell_uris:
                        uri = doc.cell_uris[cell]
                        return uri, self.lines_for(doc, uri).range(Span(start, end))
                return doc.uri, self.lines_for(doc).range(span)
        for engine in self.engines.values():
            source = engine.sources.get(key) or (engine.project.modules[key].source
                                                 if key in engine.project.modules else None)
            if source is not None:
                uri = from_fs_path(key) or key
                return uri, Lines(source.text, self.workspace.position_codec).range(span)
        return None

    def publish(self, doc: Document) -> None:
        if self.pull_diagnostics:
            return
        by_uri = self.diagnostics_by_uri(doc)
        for uri, items in by_uri.items():
            if doc.published.get(uri) == items:
                continue
            doc.published[uri] = items
            version = doc.version if not doc.is_notebook else None
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=items, version=version))

    async def run_in_worker(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_event_loop().run_in_executor(self.worker, fn, *args)

    # -- fixes --------------------------------------------------------------------------------------
    def matching_diagnostics(self, doc: Document, cell_uri: str | None, rng: types.Range,
                             context: list[types.Diagnostic]) -> list[Diagnostic]:
        """Our diagnostics for a code-action request: by the client's diagnostics' data, else by line.

        Neovim 0.7 sends byte offsets as characters on non-ASCII lines, so exact ranges cannot be
        trusted; the ``data.start`` we attached, or the line, identifies the diagnostic.
        """
        chosen: list[Diagnostic] = []
        starts = set()
        for item in context:
            if item.source not in (SOURCE, None):
                continue
            data = item.data if isinstance(item.data, dict) else {}
            if isinstance(data.get("start"), list) and len(data["start"]) == 2:
                starts.add((item.code, int(data["start"][0]), int(data["start"][1])))
        for diagnostic in doc.diagnostics:
            key = (diagnostic.code, diagnostic.span.start.line, diagnostic.span.start.col)
            if key in starts:
                chosen.append(diagnostic)
        if chosen:
            return chosen
        first, last = rng.start.line, rng.end.line
        offset = 0
        if cell_uri is not None:
            for cell in doc.source.cells:
                if doc.cell_uris.get(cell.cell) == cell_uri:
                    offset = cell.first_line
        lines = {line + offset for line in range(first, last + 1)}
        context_codes = {str(item.code) for item in context if item.code}
        for diagnostic in doc.diagnostics:
            covered = set(range(diagnostic.span.start.line, diagnostic.span.end.line + 1))
            if covered & lines and (not context_codes or diagnostic.code in context_codes):
                chosen.append(diagnostic)
        return chosen

    def workspace_edit(self, edits: list[Edit]) -> types.WorkspaceEdit:
        changes: dict[str, list[types.TextEdit]] = {}
        for edit in edits:
            target = self.edit_target(edit)
            if target is None:
                continue
            uri, lines, span = target
            changes.setdefault(uri, []).append(text_edit(edit, lines, span))
        return types.WorkspaceEdit(changes=changes)

    def edit_target(self, edit: Edit) -> tuple[str, Lines, Span] | None:
        key = str(Path(edit.path).resolve()) if not edit.path.startswith("untitled:") else edit.path
        if not self._inside_workspace(key):
            return None
        for doc in self.documents.values():
            if doc.path in (edit.path, key):
                if doc.is_notebook:
                    cell, start = doc.source.to_cell(edit.span.start)
                    _, end = doc.source.to_cell(edit.span.end)
                    if cell not in doc.cell_uris:
                        return None
                    uri = doc.cell_uris[cell]
                    return uri, self.lines_for(doc, uri), Span(start, end)
                return doc.uri, self.lines_for(doc), edit.span
        for engine in self.engines.values():
            module = engine.project.modules.get(key)
            if module is not None:
                return from_fs_path(key) or key, Lines(module.source.text, self.workspace.position_codec), edit.span
        return None

    def _inside_workspace(self, path: str) -> bool:
        """Workspace edits never touch files outside the workspace folders (or open documents)."""
        if path.startswith("untitled:") or any(d.path == path for d in self.documents.values()):
            return True
        roots = self.roots()
        return not roots or any(path.startswith(r.rstrip("/") + "/") for r in roots)


class _ResyncReader:
    """Wraps pygls' async stdin reader; see :meth:`PhimlLanguageServer._start_io_async`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def readline(self) -> bytes:
        line = await self.inner.readline()
        index = line.find(b"Content-Length:")
        return line[index:] if index > 0 else line

    def readexactly(self, n: int) -> Any:
        return self.inner.readexactly(n)

    def close(self) -> Any:
        return self.inner.close()


SERVER = PhimlLanguageServer


def create_server() -> PhimlLanguageServer:
    server = PhimlLanguageServer()
    from . import features

    features.register(server)
    return server


def serve(log_file: Path | None = None) -> None:
    import os

    if log_file is None and os.environ.get("PHIML_LINT_LOG_FILE"):
        log_file = Path(os.environ["PHIML_LINT_LOG_FILE"])
    if log_file is not None:
        logging.basicConfig(filename=str(log_file), level=logging.INFO)
    else:
        logging.basicConfig(level=logging.WARNING)
    create_server().start_io()


__all__ = ["REGISTRY", "Fix", "Pos", "create_server", "serve"]

"""Malformed JSON-RPC against the real server process, byte for byte (no client library in between)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raw_lsp import RawServer

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


@pytest.fixture
def server(tmp_path: Path):
    (tmp_path / "a.py").write_text((CORPUS / "rules" / "pml101_side_effects.py").read_text())
    s = RawServer(tmp_path)
    assert "capabilities" in s.request(1, "initialize", {"processId": None, "rootUri": tmp_path.as_uri(),
                                                         "capabilities": {}})["result"]
    s.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    yield s
    s.close()


def hover(server: RawServer, msg_id: int, uri: str, line=0, character=0) -> dict:
    server.send({"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/hover",
                 "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}})
    return server.response(msg_id)


def test_invalid_params_get_an_error_response(server: RawServer):
    uri = (server.root / "a.py").as_uri()
    server.send({"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover",
                 "params": {"textDocument": {"uri": uri}, "position": {"line": "x", "character": None}}})
    assert server.response(7)["error"]["code"] == -32602
    server.send({"jsonrpc": "2.0", "id": 8, "method": "textDocument/codeAction",
                 "params": {"textDocument": {"uri": uri}, "range": {"start": 3}, "context": {}}})
    assert server.response(8)["error"]["code"] == -32602
    assert "result" in hover(server, 9, uri)  # still serving


def test_garbage_and_unknown_methods(server: RawServer):
    uri = (server.root / "a.py").as_uri()
    server.raw(b"{not json")
    assert server.wait(lambda m: m.get("error", {}).get("code") == -32700)["id"] is None
    server.send({"jsonrpc": "2.0", "id": 11, "method": "textDocument/nonsense", "params": {}})
    assert server.response(11)["error"]["code"] == -32601
    server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": (server.root / "never_opened.py").as_uri(), "version": 2},
        "contentChanges": [{"text": "x = 1"}]}})
    assert "result" in hover(server, 12, uri)


def test_positions_past_the_end_and_unopened_documents(server: RawServer):
    path = server.root / "a.py"
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": path.as_uri(), "languageId": "python", "version": 1, "text": path.read_text() + "# Δ 😀\n"}}})
    server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
    assert hover(server, 20, path.as_uri(), 10_000, 10_000)["result"] is None
    assert hover(server, 21, path.as_uri(), 44, 3)["result"] is None  # inside the surrogate pair
    assert hover(server, 22, (server.root / "missing.py").as_uri())["result"] is None
    server.send({"jsonrpc": "2.0", "id": 23, "method": "textDocument/codeAction", "params": {
        "textDocument": {"uri": path.as_uri()},
        "range": {"start": {"line": 5000, "character": 0}, "end": {"line": 5001, "character": 0}},
        "context": {"diagnostics": []}}})
    assert "result" in server.response(23)


def test_bad_content_length_does_not_kill_the_server(server: RawServer):
    uri = (server.root / "a.py").as_uri()
    body = json.dumps({"jsonrpc": "2.0", "id": 30, "method": "textDocument/hover",
                       "params": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}}).encode()
    server.raw(body, length=len(body) - 5)  # too short: the rest is junk before the next header
    for attempt in range(31, 36):
        try:
            hover(server, attempt, uri)
            break
        except AssertionError:
            continue
    else:
        pytest.fail("server stopped answering after a bad Content-Length")
    assert server.proc.poll() is None

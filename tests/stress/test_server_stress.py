"""Stress the real language server process over stdio (raw Content-Length framing, no client library).

* 1,000 rapid ``didChange`` notifications (incremental range edits and full-text changes) end with
  diagnostics for the final text only, equal to ``phiml-lint check`` of that text;
* interleaved open/close of 200 documents ends with an empty diagnostics list for every closed one;
* ``$/cancelRequest`` for requests in flight: each still gets exactly one response;
* the server's resident memory (VmRSS) stays within a generous bound over the whole stress.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from raw_lsp import RawServer

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
BASE = (CORPUS / "rules" / "pml101_side_effects.py").read_text() if CORPUS.is_dir() else """\
from phiml import math

history = []


@math.jit_compile
def step(x):
    history.append(x)
    return x
"""
MEMORY_BOUND_MB = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc for the memory check")
    root = tmp_path_factory.mktemp("stress")
    s = RawServer(root)
    s.request(1, "initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {
        "textDocument": {"publishDiagnostics": {"versionSupport": True}}}})
    s.notify("initialized", {})
    s.rss_start = s.rss_kb()
    yield s
    s.close()


# -- a client-side copy of the document, in UTF-16 positions (the LSP default) ------------------------------------
def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def position_of(text: str, offset: int) -> dict:
    """LSP position (UTF-16 character) of a code-point offset."""
    before = text[:offset]
    line = before.count("\n")
    return {"line": line, "character": utf16_len(before[before.rfind("\n") + 1:])}


FRAGMENTS = ["x", " ", "\n", "history.append(y)\n    ", "math.jit_compile", "(", ")", ":", "#", "😀", "Δ", "e\u0301",
             "\n@math.jit_compile\ndef g(x):\n    return math.laplace(x)\n", "    ", "\t", "'", "for i in range(3):\n"]


def random_change(rng: random.Random, text: str) -> tuple[str, dict]:
    """One contentChanges entry and the text after it."""
    if rng.random() < 0.1:
        lines = BASE.split("\n")
        new = "\n".join(lines[: rng.randrange(len(lines))]) if rng.random() < 0.5 else BASE + rng.choice(FRAGMENTS)
        return new, {"text": new}
    start = rng.randrange(len(text) + 1)
    end = min(len(text), start + rng.choice([0, 0, 1, 2, 5, 20]))
    content = rng.choice(FRAGMENTS) if rng.random() < 0.7 else ""
    new = text[:start] + content + text[end:]
    return new, {"range": {"start": position_of(text, start), "end": position_of(text, end)}, "text": content}


def test_rapid_changes_end_with_final_diagnostics(server: RawServer):
    rng = random.Random(20261125)
    path = server.root / "rapid.py"
    uri = path.as_uri()
    text = BASE
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})
    version = 1
    for _ in range(1000):
        changes = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            text, change = random_change(rng, text)
            changes.append(change)
        version += 1
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": changes})
    # make the final text one the checker has something to say about, with an astral char before a finding
    final_change = "# 😀 final\n"
    text = final_change + text
    version += 1
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": final_change}]})
    server.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
                and m["params"].get("version") == version, timeout=60)
    server.quiesce()
    published = server.publishes(uri)
    last = published[-1]
    assert last["version"] == version, [p.get("version") for p in published[-5:]]
    versions = [p.get("version") for p in published]
    assert versions == sorted(versions), "a stale version was published after a newer one"
    print(f"\n{len(published)} publishDiagnostics for 1001 changes")

    # the same text through the CLI
    path.write_text(text)
    run = subprocess.run([sys.executable, "-m", "phiml_lint", "check", str(path), "--output-format", "json",
                          "--no-cache"], check=False, capture_output=True, text=True, cwd=server.root, timeout=60)
    assert run.returncode in (0, 1), run.stderr
    lines = text.split("\n")

    def from_utf16(line: int, character: int) -> int:
        units = lines[line].encode("utf-16-le")[: character * 2]
        return len(units.decode("utf-16-le"))

    lsp = sorted((d["code"], d["range"]["start"]["line"] + 1,
                  from_utf16(d["range"]["start"]["line"], d["range"]["start"]["character"]) + 1,
                  d["message"]) for d in last["diagnostics"])
    cli = sorted((d["code"], d["location"]["row"], d["location"]["column"], d["message"])
                 for d in json.loads(run.stdout))
    assert lsp == cli


def test_open_close_200_documents(server: RawServer):
    rng = random.Random(7)
    sources = sorted(CORPUS.rglob("*.py")) if CORPUS.is_dir() else []
    texts = [p.read_text() for p in sources] or [BASE]
    uris = []
    for i in range(200):
        path = server.root / "many" / f"doc{i:03}.py"
        path.parent.mkdir(exist_ok=True)
        uris.append(path.as_uri())
    open_now: set[str] = set()
    closed_ever: set[str] = set()
    versions: dict[str, int] = {}
    closes: dict[str, int] = {}
    for i, uri in enumerate(uris):
        versions[uri] = versions.get(uri, 0) + 1
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": versions[uri], "text": texts[i % len(texts)]}})
        open_now.add(uri)
        if rng.random() < 0.6 and open_now:
            victim = rng.choice(sorted(open_now))
            server.notify("textDocument/didClose", {"textDocument": {"uri": victim}})
            open_now.discard(victim)
            closed_ever.add(victim)
            closes[victim] = closes.get(victim, 0) + 1
        if rng.random() < 0.2 and closed_ever - open_now:  # reopen a closed one, edited
            again = rng.choice(sorted(closed_ever - open_now))
            versions[again] += 1
            server.notify("textDocument/didOpen", {"textDocument": {
                "uri": again, "languageId": "python", "version": versions[again], "text": BASE + "\nx = 1\n"}})
            open_now.add(again)
    for uri in sorted(open_now):
        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        closes[uri] = closes.get(uri, 0) + 1
    server.request(2, "textDocument/hover", {"textDocument": {"uri": uris[0]},
                                             "position": {"line": 0, "character": 0}})
    server.quiesce(quiet=2.0)
    not_empty = []
    for uri in uris:
        published = server.publishes(uri)
        assert published, f"no publishDiagnostics for {uri}"
        if published[-1]["diagnostics"]:
            not_empty.append(uri)
        empty = sum(1 for p in published if not p["diagnostics"])
        assert empty >= closes[uri], f"{uri}: closed {closes[uri]} times, {empty} empty publishes"
    assert not not_empty, f"{len(not_empty)} closed documents keep diagnostics, e.g. {not_empty[:3]}"


def test_cancel_request_gets_exactly_one_response(server: RawServer):
    path = server.root / "cancel.py"
    uri = path.as_uri()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": BASE}})
    ids = list(range(1000, 1060))
    methods = [
        ("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 8, "character": 5}}),
        ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
            "start": {"line": 0, "character": 0}, "end": {"line": 40, "character": 0}}, "context": {"diagnostics": []}}),
        ("textDocument/documentSymbol", {"textDocument": {"uri": uri}}),
        ("textDocument/definition", {"textDocument": {"uri": uri}, "position": {"line": 8, "character": 5}}),
    ]
    for n, msg_id in enumerate(ids):
        method, params = methods[n % len(methods)]
        server.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        if n % 3 != 2:  # cancel most of them, some immediately, some after another request
            server.notify("$/cancelRequest", {"id": msg_id if n % 2 else msg_id - 1})
    server.request(3, "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
    server.quiesce(quiet=1.5)
    with server.lock:
        responses = [m for m in server.log if "method" not in m and m.get("id") in ids]
    by_id: dict[int, list[dict]] = {}
    for m in responses:
        by_id.setdefault(m["id"], []).append(m)
    missing = [i for i in ids if i not in by_id]
    doubled = {i: r for i, r in by_id.items() if len(r) != 1}
    assert not missing, f"no response for {missing}"
    assert not doubled, f"several responses: {doubled}"
    for m in responses:
        assert "result" in m or m["error"]["code"] in (-32800, -32601), m  # cancelled, or not offered
    cancelled = sum(1 for m in responses if "error" in m and m["error"]["code"] == -32800)
    print(f"\n{cancelled} of {len(ids)} requests answered with RequestCancelled")


def test_memory_stays_bounded(server: RawServer):
    """Runs last in this module: compares VmRSS after all the stress above with the start."""
    server.quiesce()
    after = server.rss_kb()
    print(f"\nserver VmRSS before stress: {server.rss_start / 1024:.1f} MB, after: {after / 1024:.1f} MB")
    assert after - server.rss_start < MEMORY_BOUND_MB * 1024

"""A raw LSP client for tests: Content-Length framing over the real server's stdio, no library between."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty, Queue


class RawServer:
    """A minimal LSP client speaking to the real server over stdin/stdout, byte for byte."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "phiml_lint", "server"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.root = root
        self.lock = threading.Lock()
        self.messages: Queue = Queue()
        self.log: list[dict] = []  # every message, in arrival order
        self.last_arrival = time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                chunk = out.read(1)
                if not chunk:
                    return
                header += chunk
            length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            message = json.loads(out.read(length))
            if "method" in message and "id" in message:  # a request from the server: answer it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            with self.lock:
                self.log.append(message)
                self.last_arrival = time.monotonic()
            self.messages.put(message)

    def raw(self, body: bytes, length: int | None = None) -> None:
        """Send ``body`` with a Content-Length header (a wrong ``length`` on purpose, if given)."""
        with self.lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body)
            self.proc.stdin.flush()

    def send(self, obj: dict) -> None:
        self.raw(json.dumps(obj).encode())

    def notify(self, method: str, params: dict) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait(self, predicate, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=0.2)
            except Empty:
                continue
            if predicate(message):
                return message
        raise AssertionError("no matching message from the server")

    def response(self, msg_id: int | str, timeout: float = 30) -> dict:
        return self.wait(lambda m: m.get("id") == msg_id and "method" not in m, timeout)

    def request(self, msg_id: int, method: str, params: dict | None, timeout: float = 30) -> dict:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return self.response(msg_id, timeout)

    def quiesce(self, quiet: float = 1.5, timeout: float = 60) -> None:
        """Wait until the server has sent nothing for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                idle = time.monotonic() - self.last_arrival
            if idle >= quiet:
                return
            time.sleep(0.1)
        raise AssertionError("server never went quiet")

    def publishes(self, uri: str) -> list[dict]:
        with self.lock:
            return [m["params"] for m in self.log
                    if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri]

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def close(self) -> None:
        try:
            self.request(99_999, "shutdown", None, 15)
            self.notify("exit", None)
            self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

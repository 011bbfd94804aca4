"""Benchmarks for phiml-lint; writes docs/performance.md.

Usage: ``.venv/bin/python bench/run.py [--quick] [--runs N] [--out docs/performance.md]``.

Everything runs locally (subprocesses, stdio, temp folders); every loop is bounded in count and
time. Peers are measured side by side in the same run, interleaved, and reported as median [min-max].
Sources (phiml 1.16.1, phiflow 3.4.0 sdists) are downloaded once into bench/.cache with pip.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
LINT = VENV_BIN / "phiml-lint"
RUFF = VENV_BIN / "ruff"
PEERS = ROOT / "bench" / ".venv-peers"
CACHE = ROOT / "bench" / ".cache"
CORPUS = Path("/work/shared/corpus/rules")
PACKAGES = {"phiml-1.16.1": "phiml==1.16.1", "phiflow-3.4.0": "phiflow==3.4.0"}
TIME_BIN = Path("/usr/bin/time")


# --------------------------------------------------------------------------------------------- utils
def log(*args: object) -> None:
    print("[bench]", *args, file=sys.stderr, flush=True)


def fmt(values: list[float], unit: str = "s", digits: int = 2) -> str:
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f} {unit} (n=1)"
    return f"{med:.{digits}f} {unit} [{min(values):.{digits}f}–{max(values):.{digits}f}] (n={len(values)})"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores (nproc), {model}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def timed(cmd: list[str], cwd: Path, timeout: float) -> tuple[float, int | None, int]:
    """(wall seconds, peak RSS KiB or None, exit status)."""
    rss_file = None
    if TIME_BIN.exists():
        rss_file = tempfile.NamedTemporaryFile(delete=False, suffix=".rss")  # noqa: SIM115 - closed at once
        rss_file.close()
        cmd = [str(TIME_BIN), "-f", "%M", "-o", rss_file.name, *cmd]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout,
                          check=False)
    wall = time.perf_counter() - start
    rss = None
    if rss_file is not None:
        try:
            rss = int(Path(rss_file.name).read_text().strip().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            rss = None
        os.unlink(rss_file.name)
    return wall, rss, proc.returncode


def sources() -> list[Path]:
    """Fresh copies of the two trees (downloaded into bench/.cache when absent)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    trees = []
    for folder, spec in PACKAGES.items():
        tree = CACHE / folder
        if not tree.is_dir():
            archive = CACHE / f"{folder}.tar.gz"
            if not archive.exists():
                log("downloading", spec)
                subprocess.run([str(VENV_BIN / "python"), "-m", "pip", "download", "-q", "--no-deps",
                                "--no-binary", ":all:", "-d", str(CACHE), spec], check=True, timeout=300)
            with tarfile.open(archive) as tar:
                tar.extractall(CACHE, filter="data")
        trees.append(tree)
    return trees


def py_files(trees: list[Path]) -> list[Path]:
    return sorted(p for t in trees for p in t.rglob("*.py"))


# ------------------------------------------------------------------------------------------ CLI runs
def cli_benchmarks(work: Path, runs: int, budget: float, results: dict) -> None:
    trees = ["phiflow-3.4.0", "phiml-1.16.1"]
    files = py_files([work / t for t in trees])
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    results["files"], results["lines"] = len(files), lines
    cold, warm, ruff, rss_cold, rss_warm, rss_ruff = [], [], [], [], [], []
    lint_cmd = [str(LINT), "check", "-q", *trees]
    shutil.rmtree(work / ".phiml-lint-cache", ignore_errors=True)
    start = time.monotonic()
    for i in range(runs):
        t, rss, _ = timed([*lint_cmd, "--no-cache"], work, timeout=900)
        cold.append(t)
        rss_cold.append(rss)
        log(f"cold #{i}: {t:.1f}s")
        t, rss, _ = timed([str(RUFF), "check", "--select", "ALL", "--no-cache", "-q", *trees], work, timeout=300)
        ruff.append(t)
        rss_ruff.append(rss)
        if time.monotonic() - start > budget:
            log("CLI time budget spent after", i + 1, "runs")
            break
    # warm: one run to fill the cache (timed as a cold run with cache write), then N hits
    t, _, _ = timed(lint_cmd, work, timeout=900)
    results["fill"] = t
    for _ in range(max(runs, 5)):
        t, rss, _ = timed(lint_cmd, work, timeout=900)
        warm.append(t)
        rss_warm.append(rss)
    results.update(cold=cold, warm=warm, ruff=ruff, rss_cold=[r for r in rss_cold if r],
                   rss_warm=[r for r in rss_warm if r], rss_ruff=[r for r in rss_ruff if r])


def fixit_benchmark(work: Path, results: dict) -> None:
    fixit = PEERS / "bin" / "fixit"
    if not fixit.exists():
        try:
            log("installing fixit into", PEERS)
            subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True, timeout=120)
            subprocess.run([str(PEERS / "bin" / "pip"), "install", "-q", "fixit==2.2.1"], check=True, timeout=180)
        except (subprocess.SubprocessError, OSError) as err:
            results["fixit"] = f"not installed: {err}"
            return
    files = py_files([work / "phiflow-3.4.0", work / "phiml-1.16.1"])
    sample = files[::8]
    t_sample, _, _ = timed([str(fixit), "lint", *map(str, sample)], work, timeout=300)
    estimate = t_sample * len(files) / max(len(sample), 1)
    if estimate <= 180:
        t, _, _ = timed([str(fixit), "lint", "phiflow-3.4.0", "phiml-1.16.1"], work, timeout=400)
        results["fixit"] = [t]
        results["fixit_scope"] = f"whole tree ({len(files)} files)"
    else:
        results["fixit"] = [t_sample]
        results["fixit_scope"] = (f"subset: every 8th file ({len(sample)} of {len(files)}); whole tree "
                                  f"estimated {estimate:.0f} s > 180 s")


def parser_floor(work: Path, runs: int, results: dict) -> None:
    files = py_files([work / "phiflow-3.4.0", work / "phiml-1.16.1"])
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    results["ast_parse"] = _time_parse(texts, runs)
    try:
        import libcst
    except ImportError:
        results["libcst"] = None
        return
    sample = texts[::10]
    sample_lines = sum(t.count("\n") for t in sample)
    times = []
    for _ in range(max(1, runs // 2)):
        start = time.perf_counter()
        for text in sample:
            try:
                libcst.parse_module(text)
            except Exception:
                continue
        times.append(time.perf_counter() - start)
    results["libcst"] = times
    results["libcst_sample"] = (len(sample), sample_lines)
    results["ast_sample"] = [min(_time_parse(sample))]


def _time_parse(texts: list[str], reps: int = 3) -> list[float]:
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        for text in texts:
            ast.parse(text)
        out.append(time.perf_counter() - start)
    return out


def scaling(runs: int, results: dict) -> None:
    rows = []
    if not CORPUS.is_dir():
        results["scaling"] = rows
        return
    base = sorted(CORPUS.rglob("*.py"))
    for factor in (1, 4, 16):
        with tempfile.TemporaryDirectory(prefix="phiml-bench-scale-") as tmp:
            root = Path(tmp)
            (root / "pyproject.toml").write_text("[project]\nname = 'scale'\n")
            for k in range(factor):
                target = root / f"copy{k}"
                target.mkdir()
                for src in base:
                    shutil.copy(src, target / src.name)
            times = [timed([str(LINT), "check", "--no-cache", "-q", "."], root, timeout=300)[0] for _ in range(runs)]
            rows.append((factor, len(base) * factor, times))
    results["scaling"] = rows


# ---------------------------------------------------------------------------------------------- LSP
class Lsp:
    """A minimal LSP client over the server's stdio (Content-Length framing)."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen([str(LINT), "server"], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.buffer = b""

    def send(self, payload: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **payload}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def _read(self, n: int) -> bytes:
        assert self.proc.stdout is not None
        while len(self.buffer) < n:
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                raise EOFError("server closed stdout")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def receive(self, deadline: float) -> dict:
        import select

        assert self.proc.stdout is not None
        while b"\r\n\r\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise EOFError("server closed stdout")
                self.buffer += chunk
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        message = json.loads(self._read(length))
        if "id" in message and "method" in message:  # a server→client request: answer it
            result = [None] * len(message.get("params", {}).get("items", [])) \
                if message["method"] == "workspace/configuration" else None
            self.send({"id": message["id"], "result": result})
        return message

    def wait(self, pred, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(deadline)
            if pred(message):
                return message

    def initialize(self, root: Path) -> None:
        rid = self.request("initialize", {
            "processId": os.getpid(), "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True},
                                              "synchronization": {"didSave": True}},
                             "workspace": {"configuration": False, "workspaceFolders": True}},
        })
        self.wait(lambda m: m.get("id") == rid, 60)
        self.notify("initialized", {})

    def rss_kib(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def close(self) -> None:
        try:
            rid = self.request("shutdown", None)  # type: ignore[arg-type]
            self.wait(lambda m: m.get("id") == rid, 10)
            self.notify("exit", None)  # type: ignore[arg-type]
            self.proc.wait(timeout=10)
        except (OSError, TimeoutError, EOFError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)


FUNCTION = '''

@jit_compile
def step_{i}(v: Tensor, p: Tensor, dt: float = 0.1) -> tuple:
    v = advect.semi_lagrangian(v, v, dt)
    total = 0
    for k in range(3):
        total = total + math.sum(v.values ** 2)
    if math.max(total) > 1.0:
        print("large")
    p = math.solve_linear(laplace_{i}, v.values, Solve('CG', 1e-5, 1e-5, x0=p))
    return v, p


def laplace_{i}(x):
    return math.laplace(x)


def train_{i}(net, data, steps: int = 10):
    optimizer = nn.adam(net, 1e-3)
    for _ in range(steps):
        def loss_function(x):
            return math.l2_loss(net(x) - data)
        nn.update_weights(net, optimizer, loss_function, data)
    fn = jit_compile(lambda x: x * 2)
    return fn(data)
'''
HEADER = "from phi.flow import *\nfrom phiml import math, nn\nfrom phiml.math import Tensor, Solve\n"


def phiml_file(lines: int) -> str:
    chunks = [HEADER]
    i = 0
    while sum(c.count("\n") for c in chunks) < lines:
        chunks.append(FUNCTION.format(i=i))
        i += 1
    return "".join(chunks)


def _published(uri: str, version: int | None):
    def pred(m: dict) -> bool:
        return (m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
                and (version is None or m["params"].get("version") == version))
    return pred


def timed_edits(client: Lsp, uri: str, versions: list[tuple[int, str]], budget: float
                ) -> tuple[list[float], list[float]]:
    """didChange → publishDiagnostics for each (version, text), and ``ast.parse`` of the same text."""
    latencies, parses = [], []
    deadline = time.monotonic() + budget
    for version, new in versions:
        start = time.perf_counter()
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": [{"text": new}]})
        client.wait(_published(uri, version), 60)
        latencies.append(time.perf_counter() - start)
        start = time.perf_counter()
        ast.parse(new)
        parses.append(time.perf_counter() - start)
        if time.monotonic() > deadline:
            break
    return latencies, parses


def lsp_benchmarks(work: Path, edits: int, results: dict) -> None:
    # edit latency for 1,000 and 10,000 lines
    for size in (1000, 10000):
        with tempfile.TemporaryDirectory(prefix="phiml-bench-lsp-") as tmp:
            root = Path(tmp)
            (root / "pyproject.toml").write_text("[project]\nname = 'b'\n")
            path = root / f"sim_{size}.py"
            text = phiml_file(size)
            path.write_text(text)
            uri = path.as_uri()
            client = Lsp(root)
            try:
                client.initialize(root)
                client.notify("textDocument/didOpen", {"textDocument": {
                    "uri": uri, "languageId": "python", "version": 1, "text": text}})
                first = client.wait(_published(uri, 1), 120)
                versions = [(v, text.replace("total = 0", f"total = {v}", 1)) for v in range(2, edits + 2)]
                latencies, parses = timed_edits(client, uri, versions, budget=90)
                results[f"edit_{size}"] = {"lat": latencies, "parse": parses,
                                           "lines": text.count("\n"), "diags": len(first["params"]["diagnostics"])}
            finally:
                client.close()
    # cold start: initialize -> first diagnostics of an open 300-line file
    starts = []
    for _ in range(3):
        with tempfile.TemporaryDirectory(prefix="phiml-bench-cold-") as tmp:
            root = Path(tmp)
            (root / "pyproject.toml").write_text("[project]\nname = 'b'\n")
            path = root / "sim_300.py"
            text = phiml_file(300)
            path.write_text(text)
            start = time.perf_counter()
            client = Lsp(root)
            try:
                client.initialize(root)
                client.notify("textDocument/didOpen", {"textDocument": {
                    "uri": path.as_uri(), "languageId": "python", "version": 1, "text": text}})
                client.wait(_published(path.as_uri(), 1), 60)
                starts.append(time.perf_counter() - start)
            finally:
                client.close()
    results["cold_start"] = starts
    # memory: open every .py of the phiflow tree
    root = work / "phiflow-3.4.0"
    client = Lsp(root)
    try:
        client.initialize(root)
        files = sorted(root.rglob("*.py"))
        pending = set()
        for v, path in enumerate(files, 1):
            client.notify("textDocument/didOpen", {"textDocument": {
                "uri": path.as_uri(), "languageId": "python", "version": v,
                "text": path.read_text(encoding="utf-8", errors="replace")}})
            pending.add(path.as_uri())
        deadline = time.monotonic() + 120
        start = time.perf_counter()
        try:
            while pending and time.monotonic() < deadline:
                m = client.receive(deadline)
                if m.get("method") == "textDocument/publishDiagnostics":
                    pending.discard(m["params"]["uri"])
        except TimeoutError:
            pass
        results["open_all"] = {"files": len(files), "unpublished": len(pending), "seconds": time.perf_counter() - start,
                               "rss_kib": client.rss_kib()}
        # editing a hub module of a real project (most of phiflow imports it), every file open
        target = root / "phi" / "field" / "_field_math.py"
        text = target.read_text(encoding="utf-8")
        uri = target.as_uri()
        versions = [(len(files) + 2 + i, f"{text}\n# edit {i}\n") for i in range(max(edits // 2, 5))]
        latencies, parses = timed_edits(client, uri, versions, budget=90)
        results["project_edit"] = {"lat": latencies, "parse": parses, "lines": text.count("\n"),
                                   "file": str(target.relative_to(root))}
    finally:
        client.close()


# ------------------------------------------------------------------------------------------- report
def write_report(results: dict, out: Path, profile: str) -> None:
    lines_k = results["lines"] / 1000
    cold, warm, ruff = results["cold"], results["warm"], results["ruff"]
    med_cold = statistics.median(cold)
    rows = [
        ("phiml-lint check --no-cache (cold)", fmt(cold), f"{results['files'] / med_cold:.1f} files/s, "
         f"{1000 * med_cold / lines_k:.0f} ms/1k lines", fmt([r / 1024 for r in results["rss_cold"]], "MiB", 0)),
        ("phiml-lint check (warm cache)", fmt(warm, digits=3), f"{results['files'] / statistics.median(warm):.0f}"
         f" files/s; cache fill run {results['fill']:.1f} s", fmt([r / 1024 for r in results["rss_warm"]], "MiB", 0)),
        ("ruff check --select ALL --no-cache", fmt(ruff, digits=3), f"{results['files'] / statistics.median(ruff):.0f}"
         " files/s", fmt([r / 1024 for r in results["rss_ruff"]], "MiB", 0)),
    ]
    fixit = results.get("fixit")
    if isinstance(fixit, list):
        rows.append(("fixit lint (2.2.1, separate venv)", fmt(fixit), results.get("fixit_scope", ""), ""))
    elif fixit:
        rows.append(("fixit lint", "n/a", str(fixit), ""))
    if results.get("ast_parse"):
        rows.append(("ast.parse in-process (parser floor)", fmt(results["ast_parse"], digits=3),
                     f"{1000 * statistics.median(results['ast_parse']) / lines_k:.1f} ms/1k lines", ""))
    if results.get("libcst"):
        n, sl = results["libcst_sample"]
        rows.append((f"libcst.parse_module, sample of {n} files / {sl} lines", fmt(results["libcst"], digits=3),
                     f"ast.parse on the same sample: {results['ast_sample'][0]:.3f} s", ""))
    md = ["# Performance", "",
          "Generated by `make bench` (`.venv/bin/python bench/run.py`); numbers are medians [min–max] over n runs,",
          "peers measured side by side (interleaved) in the same run.", "",
          f"**Machine:** {machine()}", "",
          f"**Trees:** phiflow 3.4.0 + phiml 1.16.1 sdists: {results['files']} `.py` files, "
          f"{results['lines']:,} lines.", "",
          "## Whole-repo CLI", "", "| what | wall time | throughput | peak RSS |", "|---|---|---|---|"]
    md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    md += ["", "## Language server", "", "| what | median | p95 | ast.parse of same text (median) | ratio median / p95 |",
           "|---|---|---|---|---|"]
    for size in (1000, 10000):
        e = results.get(f"edit_{size}")
        if not e or not e["lat"]:
            md.append(f"| didChange→publishDiagnostics, {size} lines | n/a | | | |")
            continue
        med, hi, parse = statistics.median(e["lat"]), p95(e["lat"]), statistics.median(e["parse"])
        md.append(f"| didChange→publishDiagnostics, {e['lines']} lines ({len(e['lat'])} edits, "
                  f"{e['diags']} diagnostics) | {1000 * med:.1f} ms | {1000 * hi:.1f} ms | {1000 * parse:.1f} ms | "
                  f"{med / parse:.1f}× / {hi / parse:.1f}× |")
    if results.get("cold_start"):
        md.append(f"| cold start: spawn + initialize → first diagnostics, 300 lines | {fmt(results['cold_start'])} "
                  "| | | |")
    oa = results.get("open_all")
    if oa:
        md.append(f"| server RSS after didOpen of all {oa['files']} phiflow files | "
                  f"{(oa['rss_kib'] or 0) / 1024:.0f} MiB | | | {oa['unpublished']} not yet published after "
                  f"{oa['seconds']:.0f} s |")
    pe = results.get("project_edit")
    if pe:
        med, par = statistics.median(pe["lat"]), statistics.median(pe["parse"])
        md.append(f"| didChange→publishDiagnostics in a project: `{pe['file']}` ({pe['lines']} lines) with all "
                  f"phiflow files open ({len(pe['lat'])} edits) | {1000 * med:.1f} ms | {1000 * p95(pe['lat']):.1f} ms | "
                  f"{1000 * par:.1f} ms | {med / par:.1f}× / {p95(pe['lat']) / par:.1f}× |")
    md += ["", "## Scaling (shared rule corpus replicated)", "", "| copies | files | wall time | per file |",
           "|---|---|---|---|"]
    for factor, n, times in results.get("scaling", []):
        md.append(f"| {factor}× | {n} | {fmt(times)} | {1000 * statistics.median(times) / n:.0f} ms |")
    md += ["", "## Targets (issue 6), judged from the figures above", "", "| target | result | met? |", "|---|---|---|"]
    md += [f"| {a} | {b} | {'yes' if ok else '**no**'} |" for a, b, ok in targets(results)]
    md += ["", "## Profile", "", profile.strip() or "(not profiled in this run)", ""]
    out.write_text("\n".join(md) + "\n", encoding="utf-8")
    log("wrote", out)


def targets(results: dict) -> list[tuple[str, str, bool]]:
    """Each target of the performance issue with this run's figure, computed, never typed in."""
    out: list[tuple[str, str, bool]] = []
    med = statistics.median
    for size in (1000, 10000):
        e = results.get(f"edit_{size}")
        if e and e["lat"]:
            ratio, tail = med(e["lat"]) / med(e["parse"]), p95(e["lat"]) / med(e["parse"])
            out.append((f"edit latency, {e['lines']:,} lines: median ≤ 3×, p95 ≤ 6× `ast.parse`",
                        f"{ratio:.1f}× / {tail:.1f}×", ratio <= 3 and tail <= 6))
    if results.get("cold") and results.get("ruff"):
        ratio = med(results["cold"]) / med(results["ruff"])
        out.append(("whole-repo `--no-cache` ≤ 3× ruff `--select ALL --no-cache`",
                    f"{med(results['cold']):.2f} s vs {med(results['ruff']):.2f} s = {ratio:.1f}×", ratio <= 3))
        warm = med(results["warm"]) / med(results["ruff"])
        out.append(("warm on-disk cache ≤ 1× ruff cold", f"{med(results['warm']):.2f} s = {warm:.2f}×", warm <= 1))
    if results.get("cold_start"):
        start = med(results["cold_start"])
        out.append(("cold start (initialize → first diagnostics, 300 lines) ≤ 1.5 s", f"{start:.2f} s", start <= 1.5))
    oa = results.get("open_all")
    if oa and oa.get("rss_kib"):
        mb = oa["rss_kib"] * 1024 / 1e6
        out.append((f"server RSS ≤ 200 MB after opening all {oa['files']} phiflow files", f"{mb:.0f} MB", mb <= 200))
    if results.get("rss_cold"):
        mb = max(results["rss_cold"]) * 1024 / 1e6
        out.append(("CLI peak RSS ≤ 150 MB (largest of the cold runs)",
                    f"{mb:.1f} MB ({max(results['rss_cold']) / 1024:.1f} MiB)", mb <= 150))
    scaling = results.get("scaling", [])
    if len(scaling) >= 2:
        per_file = [med(times) / n for _, n, times in scaling]
        linear = all(b <= a * 1.25 for a, b in itertools.pairwise(per_file))
        out.append(("scaling: time per file does not grow with 1× / 4× / 16× the corpus",
                    " → ".join(f"{1000 * x:.0f} ms" for x in per_file), linear))
    return out


def save(path: Path, results: dict) -> None:
    """Results so far (a later section that times out loses only itself)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cli-budget", type=float, default=600, help="seconds for the cold CLI loop")
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--profile", type=Path, default=ROOT / "bench" / "profile.md",
                        help="Markdown with the profile summary to include")
    parser.add_argument("--skip", default="", help="comma-separated: cli,fixit,parse,lsp,scaling")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / ".cache" / "results.json")
    parser.add_argument("--merge", type=Path, nargs="*", help="only render the report from these result files")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    if args.merge:  # re-render the report from saved result files (e.g. parts run separately)
        results = {}
        for part in args.merge:
            results.update(json.loads(part.read_text()))
        profile = args.profile.read_text(encoding="utf-8") if args.profile.exists() else ""
        write_report(results, args.out, profile)
        return 0
    trees = sources()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="phiml-bench-") as tmp:
        work = Path(tmp)
        for tree in trees:
            shutil.copytree(tree, work / tree.name)
        (work / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
        if "cli" not in skip:
            log("CLI")
            cli_benchmarks(work, args.runs, args.cli_budget, results)
            save(args.json, results)
        if "parse" not in skip:
            log("parser floor")
            parser_floor(work, max(args.runs, 5), results)
            save(args.json, results)
        if "fixit" not in skip:
            log("fixit")
            fixit_benchmark(work, results)
            save(args.json, results)
        if "lsp" not in skip:
            log("LSP")
            lsp_benchmarks(work, args.edits, results)
            save(args.json, results)
        if "scaling" not in skip:
            log("scaling")
            scaling(args.runs, results)
    save(args.json, results)
    profile = args.profile.read_text(encoding="utf-8") if args.profile.exists() else ""
    write_report(results, args.out, profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

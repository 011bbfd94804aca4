"""On-disk result cache for ``phiml-lint check`` (like Ruff's, but whole-run).

Why whole-run and not per file: a file's diagnostics depend on other files (cross-module tracing of
jit-compiled functions, custom-gradient forwards, re-exports), so a per-file key would need the
project facts anyway. The correct, simple scheme used here:

* **key** = sha256 of (phiml-lint version, Python version + prefix (jedi reads installed packages),
  the effective configuration, the output options, the working folder (paths are printed relative to
  it), and the sorted list of ``(path, sha256(bytes))`` of every file the run checks);
* **entry** = the printed output and exit status, plus the ``sha256`` of every *other* file the
  analysis loaded from disk on its own (modules imported by the checked files) and the paths it
  looked for and did not find. A hit is used only when those dependencies are still unchanged.

A warm run on an unchanged tree therefore reads and hashes the files and prints the stored output:
no parsing and no rule checking. Any edit to any checked or loaded file misses and recomputes.
Entries live under ``<root>/.phiml-lint-cache/<version>/``, are written atomically (temporary file
+ ``os.replace``) and are never trusted when unreadable. ``--no-cache`` disables reading and writing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from . import __version__

CACHE_DIR = ".phiml-lint-cache"
MAX_ENTRIES = 32  # oldest entries beyond this are deleted on write


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: str) -> str | None:
    try:
        return _digest(Path(path).read_bytes())
    except OSError:
        return None


def _config_json(config: object) -> str:
    value: Any = asdict(config) if is_dataclass(config) else repr(config)  # type: ignore[arg-type]
    return json.dumps(value, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, (set, frozenset))
                      else getattr(o, "name", repr(o)))


def _code_fingerprint() -> str:
    """The checker's own code (file names, sizes, mtimes): an edited or reinstalled checker misses the cache.

    The version string alone is not enough: a development install keeps ``0.1.0`` across edits.
    """
    package = Path(__file__).resolve().parent
    parts = []
    for path in sorted(package.rglob("*")):
        if path.suffix in {".py", ".json"}:
            stat = path.stat()
            parts.append(f"{path.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


class RunCache:
    """One run's cache entry: look it up before analysing, store it afterwards."""

    def __init__(self, root: Path, config: object, options: dict[str, Any], files: Iterable[Path]) -> None:
        self.folder = root / CACHE_DIR / __version__
        self.checked: dict[str, str | None] = {}
        h = hashlib.sha256()
        for part in (__version__, _code_fingerprint(), sys.version, sys.prefix, _config_json(config),
                     json.dumps(options, sort_keys=True, default=str), str(Path.cwd().resolve())):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
        for path in sorted(str(p.resolve()) for p in files):
            digest = _file_digest(path)
            self.checked[path] = digest
            h.update(f"{path}\0{digest}\0".encode("utf-8", "surrogatepass"))
        self.key = h.hexdigest()
        self.entry = self.folder / f"{self.key}.json"

    def lookup(self) -> tuple[str, int] | None:
        """``(output, exit status)`` of an identical earlier run, or None."""
        try:
            stored = json.loads(self.entry.read_text(encoding="utf-8"))
            deps: dict[str, str | None] = stored["deps"]
            for path, digest in deps.items():
                if _file_digest(path) != digest:
                    return None
            return str(stored["output"]), int(stored["status"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, output: str, status: int, loaded: Iterable[str], missing: Iterable[str] = ()) -> None:
        """Record a run; ``loaded``/``missing``: files the analysis read (or looked for) beyond the checked ones."""
        # ``missing`` holds paths looked for but absent *or* unparsable: record what is there now
        deps: dict[str, str | None] = {p: _file_digest(p) for p in (*loaded, *missing) if p not in self.checked}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"deps": deps, "output": output, "status": status}, handle)
                os.replace(tmp, self.entry)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._prune()
        except OSError:
            pass  # a read-only project still gets its diagnostics

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[MAX_ENTRIES:]:
            old.unlink(missing_ok=True)

"""Which files ``phiml-lint check PATH...`` looks at.

Skips VCS folders, virtual environments, build output, ``site-packages`` and whatever the
project's ``.gitignore`` files exclude (parsed with ``pathspec``, the library pip and black use).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

SUFFIXES = (".py", ".pyi", ".ipynb")
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", "build", "dist", "site-packages", "dist-packages", "node_modules", ".ipynb_checkpoints",
    ".eggs", "__pypackages__",
})


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def _gitignore(folder: Path) -> pathspec.PathSpec | None:
    path = folder / ".gitignore"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines())


def discover(paths: list[Path], exclude: tuple[str, ...] = ()) -> Iterator[Path]:
    """Python files and notebooks under ``paths``; explicitly named files are always included."""
    seen: set[Path] = set()
    excluded = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    for start in paths:
        if start.is_file():
            resolved = start.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield start
            continue
        if not start.is_dir():
            continue
        specs: list[tuple[Path, pathspec.PathSpec]] = []
        for folder in [start.resolve(), *start.resolve().parents]:
            spec = _gitignore(folder)
            if spec is not None:
                specs.append((folder, spec))
            if (folder / ".git").exists():
                break
        yield from _walk(start, specs, excluded, seen)


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.PathSpec]],
             excluded: pathspec.PathSpec | None, root: Path) -> bool:
    for base, spec in specs:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        if spec.match_file(rel + ("/" if is_dir else "")):
            return True
    if excluded is not None:
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = path.name
        if excluded.match_file(rel + ("/" if is_dir else "")):
            return True
    return False


def _walk(start: Path, specs: list[tuple[Path, pathspec.PathSpec]], excluded: pathspec.PathSpec | None,
          seen: set[Path]) -> Iterator[Path]:
    root = start.resolve()
    stack: list[tuple[Path, list[tuple[Path, pathspec.PathSpec]]]] = [(root, specs)]
    while stack:
        folder, active = stack.pop()
        local = _gitignore(folder)
        if local is not None and folder != root:
            active = [*active, (folder, local)]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name in SKIP_DIRS or entry.name.endswith(".egg-info") or _is_venv(path):
                    continue
                if _ignored(path, True, active, excluded, root):
                    continue
                subfolders.append((path, active))
            elif entry.name.endswith(SUFFIXES) and not entry.name.endswith(".pyi"):
                if _ignored(path, False, active, excluded, root):
                    continue
                if path not in seen:
                    seen.add(path)
                    yield path
        stack.extend(reversed(subfolders))

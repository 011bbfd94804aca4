"""jedi, for the names a file and the project index cannot tell.

Used only for modules that are neither project files nor ΦML/PhiFlow (whose exports the checked
table in :mod:`.api` knows): a user's installed package that re-exports ΦML, or a star import from
one. jedi is used statically (``jedi.Script`` with a ``jedi.Project``; never ``jedi.Interpreter``),
each call is bounded in time and cached, and stdlib / well-known numeric packages are never asked.

Nor are installed distributions that cannot re-export ΦML: a package in ``site-packages`` whose
distribution does not require ``phiml`` or ``phiflow``, directly or through its own requirements,
has nothing of ΦML to hand out. Asking jedi about ``setuptools.setup`` in a ``setup.py`` cost
0.4 s and 17 MiB of a whole-tree run before this filter (docs/performance.md). A package that imports
ΦML without declaring it is missed; loose modules on ``PYTHONPATH`` (no distribution) are still asked.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import api

if TYPE_CHECKING:
    from importlib.metadata import Distribution

    from .module import ModuleSummary
    from .project import Project
    from .targets import Target

logger = logging.getLogger(__name__)
TIMEOUT = 2.0  # per look-up on the keystroke path; the CLI allows more (see engine.Engine)
#: Packages whose names never lead to ΦML: asking jedi about them only costs time.
SKIP_ROOTS = frozenset(getattr(sys, "stdlib_module_names", ())) | {
    "numpy", "scipy", "torch", "jax", "jaxlib", "tensorflow", "keras", "flax", "matplotlib", "pandas", "sklearn",
    "IPython", "tqdm", "PIL", "cv2", "h5py", "numba", "sympy", "plotly", "dash",
}


_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PHIML_DISTRIBUTIONS = frozenset({"phiml", "phiflow"})


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_levels(dist: Distribution) -> set[str]:
    """Top-level import names a distribution installs (``top_level.txt``, else its file list)."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return {line.strip() for line in listed.splitlines() if line.strip()}
    tops: set[str] = set()
    for file in dist.files or ():
        head = file.parts[0] if file.parts else ""
        if head.endswith((".dist-info", ".egg-info", ".data", ".pth")) or head in {"..", "__pycache__"}:
            continue
        tops.add(head.split(".")[0] if head.endswith((".py", ".so", ".pyd")) else head)
    return tops


@functools.cache
def phiml_dependents() -> frozenset[str]:
    """Top-level modules of installed distributions that require ΦML (transitively), ΦML's own included.

    Reads each distribution's metadata once per process (about 0.1 s for 50 distributions), and
    only when a look-up is about to go to jedi.
    """
    import importlib.metadata  # here, not at the top: most runs never need it (it imports email, zipfile, csv)

    requires: dict[str, set[str]] = {}
    dists: dict[str, Distribution] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if not name:
            continue
        key = _normalise(name)
        dists.setdefault(key, dist)
        wanted = requires.setdefault(key, set())
        for requirement in dist.requires or ():
            match = _REQUIREMENT_NAME.match(requirement)
            if match:
                wanted.add(_normalise(match.group(0)))
    reach = set(_PHIML_DISTRIBUTIONS)
    grew = True
    while grew:
        grew = False
        for key, wanted in requires.items():
            if key not in reach and wanted & reach:
                reach.add(key)
                grew = True
    tops: set[str] = set()
    for key in reach:
        if key in dists:
            tops |= _top_levels(dists[key])
    return frozenset(tops)


def _in_site_packages(entry: str) -> bool:
    """Is a ``sys.path`` entry an installation folder (holds distributions' metadata)?"""
    try:
        return any(Path(entry).glob("*.dist-info"))
    except OSError:
        return False


class JediBridge:
    """Bounded, cached jedi look-ups for one project root."""

    def __init__(self, project: Project, environment: str | None = None) -> None:
        self.project = project
        self.environment = environment
        self._cache: dict[tuple[str, str], tuple[str, str | None] | None] = {}
        self._pending: dict[tuple[str, str], concurrent.futures.Future] = {}
        self.timeout = TIMEOUT
        self._installed: dict[str, bool] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="phiml-lint-jedi")
        self._jedi_project = None
        self.calls = 0

    def _project(self) -> object:
        if self._jedi_project is None:
            import jedi

            kwargs: dict[str, object] = {"path": str(self.project.root), "load_unsafe_extensions": False}
            if self.environment:
                kwargs["environment_path"] = self.environment
            self._jedi_project = jedi.Project(**kwargs)
        return self._jedi_project

    def installed(self, top: str) -> bool:
        """Could ``top`` lead jedi to ΦML? It must exist, and, if installed, require ΦML (module docstring)."""
        if top not in self._installed:
            entry = next((entry for entry in sys.path if entry and (
                (Path(entry) / top).is_dir() or (Path(entry) / f"{top}.py").is_file()
                or any(Path(entry).glob(f"{top}.*.so")))), None)
            self._installed[top] = entry is not None and (
                not _in_site_packages(entry) or top in phiml_dependents())
        return self._installed[top]

    def lookup(self, module: str, name: str) -> tuple[str, str | None] | None:
        """``(full_name, module_path)`` of ``from module import name``'s definition, or None."""
        key = (module, name)
        if key in self._cache:
            return self._cache[key]
        result = None
        top = module.split(".", maxsplit=1)[0]
        if top not in SKIP_ROOTS and self.installed(top):
            future = self._pending.get(key) or self._pool.submit(self._goto, module, name)
            try:
                result = future.result(timeout=self.timeout)
            except concurrent.futures.TimeoutError:
                # Not cached: the look-up goes on in the background and a later analysis uses it.
                self._pending[key] = future
                logger.warning("jedi look-up of %s.%s is slow; continuing without it", module, name)
                return None
            except Exception:
                logger.info("jedi look-up of %s.%s failed", module, name, exc_info=True)
            self._pending.pop(key, None)
        self._cache[key] = result
        return result

    def _goto(self, module: str, name: str) -> tuple[str, str | None] | None:
        import jedi

        self.calls += 1
        code = f"from {module} import {name}\n"
        script = jedi.Script(code=code, path=str(self.project.root / "__phiml_lint_probe__.py"),
                             project=self._project())
        for definition in script.goto(1, len(code) - 2, follow_imports=True):
            full = definition.full_name
            path = str(definition.module_path) if definition.module_path else None
            if full:
                return full, path
        return None

    def resolve(self, importer: ModuleSummary, module: str, name: str) -> Target | None:
        """A target for ``from module import name`` when the project and the table do not know it."""
        found = self.lookup(module, name)
        if found is None:
            return None
        full, path = found
        if path is not None and self.project._inside_project(Path(path)):
            summary = self.project._load_file(Path(path))
            if summary is not None:
                return self.project._member(summary, full.rsplit(".", 1)[-1], 1)
        if full.split(".")[0] in api.KNOWN_ROOTS:
            return self.project._external(full)
        return None

    def star_member(self, importer: ModuleSummary, module: str, name: str) -> Target | None:
        if module.split(".", maxsplit=1)[0] in SKIP_ROOTS:
            return None
        return self.resolve(importer, module, name)

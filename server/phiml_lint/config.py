"""Configuration: ``[tool.phiml-lint]`` in the nearest ``pyproject.toml``, and editor settings.

Every value is validated here, once, with an error that names the key; nothing downstream
re-checks types. Editor settings (LSP) are merged on top of the file's values.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .model import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BACKENDS = frozenset({"jax", "torch", "tensorflow"})
CODE_PREFIX = re.compile(r"^PML\d{0,3}$|^ALL$")
ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


class ConfigError(ValueError):
    """An invalid setting; the message names the key and the file."""


@dataclass(frozen=True, slots=True)
class Config:
    select: tuple[str, ...] = ("PML",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    backends: frozenset[str] = BACKENDS
    extra_jit_decorators: tuple[str, ...] = ()
    severity: tuple[tuple[str, Severity], ...] = ()
    fix_all_unsafe: bool = False
    run: str = "onType"
    source: str = "defaults"  # where the values came from, for messages
    exclude: tuple[str, ...] = field(default_factory=tuple)

    def is_selected(self, code: str, path: str | None = None, root: Path | None = None) -> bool:
        """Ruff's semantics: the longest matching prefix between select and ignore wins."""
        if code == "PML000":
            return True
        best_select = max((len(p) for p in self.select if _matches(code, p)), default=-1)
        ignores = list(self.ignore)
        if path is not None:
            ignores += self.file_ignores(path, root)
        best_ignore = max((len(p) for p in ignores if _matches(code, p)), default=-1)
        return best_select >= 0 and best_select > best_ignore

    def file_ignores(self, path: str, root: Path | None) -> list[str]:
        if not self.per_file_ignores:
            return []
        rel = path
        if root is not None:
            try:
                rel = Path(path).resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                rel = Path(path).as_posix()
        found: list[str] = []
        for pattern, codes in self.per_file_ignores:
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(Path(rel).name, pattern):
                found.extend(codes)
        return found

    def severity_of(self, code: str, default: Severity) -> Severity:
        for key, value in self.severity:
            if key == code:
                return value
        return default

    def merged(self, settings: Mapping[str, Any], source: str = "editor settings") -> Config:
        """These settings on top of this configuration (editor settings override pyproject)."""
        return replace(from_mapping(settings, source, base=self), source=f"{self.source} + {source}")


def _matches(code: str, prefix: str) -> bool:
    return prefix == "ALL" or code.startswith(prefix)


def _codes(value: Any, key: str, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: `{key}` must be a list of rule codes such as [\"PML1\", \"PML202\"]")
    codes = tuple(v.strip().upper() for v in value)
    for code in codes:
        if not CODE_PREFIX.match(code):
            raise ConfigError(f"{source}: `{key}` has {code!r}, which is not a rule code or prefix (PML, PML1, PML102)")
    return codes


_KEYS = {"select", "ignore", "per-file-ignores", "backends", "extra-jit-decorators", "severity", "fixAll",
         "fix-all-unsafe", "run", "exclude", "extend-select", "extend-ignore"}


def from_mapping(data: Mapping[str, Any], source: str, base: Config | None = None) -> Config:
    """Validate a mapping (pyproject table or editor settings) into a :class:`Config`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a table of settings, got {type(data).__name__}")
    config = base or Config(source=source)
    unknown = sorted(set(data) - _KEYS - {k.replace("_", "-") for k in ()} - {
        "per_file_ignores", "extra_jit_decorators", "fix_all_unsafe", "perFileIgnores", "extraJitDecorators",
        "importStrategy", "interpreter", "trace", "path", "enable", "logLevel"})
    if unknown:
        raise ConfigError(f"{source}: unknown setting `{unknown[0]}` (known: {', '.join(sorted(_KEYS))})")
    changes: dict[str, Any] = {}

    def get(*names: str) -> Any:
        for name in names:
            if name in data and data[name] is not None:
                return data[name]
        return None

    if (value := get("select")) is not None:
        changes["select"] = _codes(value, "select", source)
    if (value := get("extend-select")) is not None:
        changes["select"] = (*changes.get("select", config.select), *_codes(value, "extend-select", source))
    if (value := get("ignore")) is not None:
        changes["ignore"] = _codes(value, "ignore", source)
    if (value := get("extend-ignore")) is not None:
        changes["ignore"] = (*changes.get("ignore", config.ignore), *_codes(value, "extend-ignore", source))
    if (value := get("per-file-ignores", "per_file_ignores", "perFileIgnores")) is not None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: `per-file-ignores` must be a table of glob = [codes]")
        changes["per_file_ignores"] = tuple(
            (str(pattern), _codes(codes, f"per-file-ignores.{pattern}", source)) for pattern, codes in value.items())
    if (value := get("backends")) is not None:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: `backends` must be a list drawn from jax, torch, tensorflow")
        names = {v.strip().lower() for v in value}
        names = {"tensorflow" if n in {"tf"} else "torch" if n == "pytorch" else n for n in names}
        bad = sorted(names - BACKENDS)
        if bad:
            raise ConfigError(f"{source}: `backends` has unknown backend {bad[0]!r}; use jax, torch or tensorflow")
        changes["backends"] = frozenset(names)
    if (value := get("extra-jit-decorators", "extra_jit_decorators", "extraJitDecorators")) is not None:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{source}: `extra-jit-decorators` must be a list of qualified names (\"mypkg.jit\")")
        changes["extra_jit_decorators"] = tuple(value)
    if (value := get("severity")) is not None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: `severity` must be a table of CODE = \"error\"|\"warning\"|\"info\"|\"hint\"")
        pairs = []
        for code, level in value.items():
            _codes([code], "severity", source)
            if not isinstance(level, str):
                raise ConfigError(f"{source}: `severity.{code}` must be a string")
            try:
                pairs.append((str(code).upper(), Severity.parse(level)))
            except ValueError as err:
                raise ConfigError(f"{source}: `severity.{code}`: {err}") from None
        changes["severity"] = tuple(pairs)
    unsafe = get("fix-all-unsafe", "fix_all_unsafe")
    fix_all = get("fixAll")
    if fix_all is not None:
        if not isinstance(fix_all, Mapping) or not isinstance(fix_all.get("unsafe", False), bool):
            raise ConfigError(f"{source}: `fixAll` must be {{\"unsafe\": true|false}}")
        unsafe = fix_all.get("unsafe", False)
    if unsafe is not None:
        if not isinstance(unsafe, bool):
            raise ConfigError(f"{source}: `fix-all-unsafe` must be true or false")
        changes["fix_all_unsafe"] = unsafe
    if (value := get("run")) is not None:
        if value not in ("onType", "onSave"):
            raise ConfigError(f"{source}: `run` must be \"onType\" or \"onSave\", not {value!r}")
        changes["run"] = value
    if (value := get("exclude")) is not None:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: `exclude` must be a list of glob patterns")
        changes["exclude"] = tuple(value)
    return replace(config, **changes)


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding a project marker."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    return None


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def load(start: Path) -> Config:
    """The configuration that applies to files under ``start``."""
    path = find_pyproject(start)
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    table = data.get("tool", {}).get("phiml-lint")
    if table is None:
        return Config(source=str(path))
    return from_mapping(table, f"{path} [tool.phiml-lint]", base=Config(source=str(path)))

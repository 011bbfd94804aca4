"""Command line: ``check``, ``rules``, ``rule``, ``server``.

Exit status as in Ruff: 0 when nothing is reported, 1 when diagnostics remain, 2 for usage or
internal errors (argparse already exits 2 on bad usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from . import config as config_mod
from .analysis.source import SourceError, SourceText, from_bytes
from .config import Config, ConfigError
from .engine import Engine, worth_parsing
from .files import discover
from .model import Diagnostic, Fix
from .output import github_line, sarif, text_line, to_json_list
from .rules.base import REGISTRY


def _codes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phiml-lint",
        description="Find ΦML/PhiFlow backend-portability mistakes (jit, gradients, solves) before they run.",
    )
    parser.add_argument("--version", action="version", version=f"phiml-lint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="check files and folders (.py, .ipynb)")
    check.add_argument("paths", nargs="*", type=Path, help="files or folders (default: .)")
    check.add_argument("--output-format", choices=["text", "json", "sarif", "github"], default="text")
    check.add_argument("--select", help="comma-separated codes or prefixes to enable (PML1,PML202)")
    check.add_argument("--ignore", help="comma-separated codes or prefixes to disable")
    check.add_argument("--backends", help="comma-separated backends you target (jax,torch,tensorflow)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes")
    check.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff: unsafe fixes too")
    check.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the on-disk cache")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when diagnostics remain")
    check.add_argument("--config", type=Path, help="use this pyproject.toml instead of the nearest one")
    check.add_argument("-q", "--quiet", action="store_true", help="print diagnostics only, no summary")

    sub.add_parser("rules", help="list the rule catalogue").add_argument(
        "--output-format", choices=["text", "json"], default="text")
    rule = sub.add_parser("rule", help="print a rule's documentation")
    rule.add_argument("code")
    server = sub.add_parser("server", help="run the language server over stdio")
    server.add_argument("--log-file", type=Path, help="write server logs to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return run_check(args)
        if args.command == "rules":
            return run_rules(args)
        if args.command == "rule":
            return run_rule(args.code)
        if args.command == "server":
            from .lsp.server import serve

            serve(log_file=args.log_file)
            return 0
        parser.print_help()
        return 2
    except ConfigError as err:
        print(f"phiml-lint: configuration error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:
        print(f"phiml-lint: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        if os.environ.get("PHIML_LINT_DEBUG"):
            traceback.print_exc()
        else:
            print("(set PHIML_LINT_DEBUG=1 for the traceback; please report it)", file=sys.stderr)
        return 2


def project_root(paths: list[Path]) -> Path:
    """The nearest project marker above the first path, else the current folder."""
    first = paths[0] if paths else Path.cwd()
    found = config_mod.find_root(first)
    cwd = Path.cwd().resolve()
    if found is not None:
        return found
    return cwd if (first.resolve() == cwd or cwd in first.resolve().parents) else first.resolve() if first.is_dir() \
        else first.resolve().parent


def load_config(args: argparse.Namespace, root: Path, paths: list[Path]) -> Config:
    config = config_mod.load(args.config if args.config is not None else paths[0] if paths else root)
    overrides: dict[str, object] = {}
    if (select := _codes(args.select)) is not None:
        overrides["select"] = select
    if (ignore := _codes(args.ignore)) is not None:
        overrides["ignore"] = [*config.ignore, *ignore]
    if (backends := _codes(args.backends)) is not None:
        overrides["backends"] = backends
    return config.merged(overrides, "command line") if overrides else config


def read_sources(paths: list[Path], engine: Engine) -> tuple[list[str], dict[str, SourceText]]:
    """Read every file; files that never mention ΦML are loaded only if another module imports them."""
    checked: list[str] = []
    sources: dict[str, SourceText] = {}
    for path in paths:
        key = str(path.resolve())
        checked.append(key)
        try:
            data = path.read_bytes()
        except OSError as err:
            engine.update_error(key, f"Cannot read file: {err.strerror or err}")
            continue
        if not data.strip():
            continue
        if path.suffix != ".ipynb" and not worth_parsing(data.decode("latin-1")):
            continue
        try:
            source = from_bytes(data, key)
        except SourceError as err:
            engine.update_error(key, str(err))
            continue
        sources[key] = source
        engine.update(source)
    return checked, sources


def run_check(args: argparse.Namespace) -> int:
    paths = args.paths or [Path(".")]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"phiml-lint: {missing[0]}: no such file or folder", file=sys.stderr)
        return 2
    root = project_root(paths)
    config = load_config(args, root, paths)
    files = list(discover(paths, config.exclude))
    cache = None
    if not (args.no_cache or args.fix or args.diff):
        from .cache import RunCache

        cache = RunCache(root, config, {k: getattr(args, k) for k in ("output_format", "quiet", "exit_zero")}, files)
        if (hit := cache.lookup()) is not None:
            sys.stdout.write(hit[0])
            return hit[1]
    engine = Engine(root, config, jedi_timeout=5.0)  # batch runs can wait longer than editors
    checked, sources = read_sources(files, engine)

    fixes_applied = 0
    if args.fix or args.diff:
        from .fixes.apply import fix_project

        outcome = fix_project(engine, checked, unsafe=args.unsafe_fixes, write=not args.diff)
        fixes_applied = outcome.applied
        for error in outcome.errors:
            print(f"phiml-lint: {error}", file=sys.stderr)
        if args.diff:
            sys.stdout.write(outcome.diff)
            return 1 if outcome.diff else 0
        sources = {k: v for k, v in engine.sources.items()}

    results: list[tuple[Diagnostic, SourceText | None, Fix | None]] = []
    for path in checked:
        source = engine.sources.get(path)
        diagnostics = engine.diagnostics(path)
        if diagnostics:
            from .fixes import best_fix

            for diagnostic in diagnostics:
                fix = best_fix(engine, diagnostic) if args.output_format == "json" or not args.quiet else None
                results.append((diagnostic, source, fix))
    all_sources = {**sources, **engine.sources}
    status = 0 if args.exit_zero or not results else 1
    if cache is None:
        emit(args, results, all_sources, fixes_applied)
        return status
    import contextlib
    import io

    with contextlib.redirect_stdout(buffer := io.StringIO()):
        emit(args, results, all_sources, fixes_applied)
    sys.stdout.write(buffer.getvalue())
    cache.store(buffer.getvalue(), status, engine.project.modules, engine.project._missing)
    return status


def emit(args: argparse.Namespace, results: list[tuple[Diagnostic, SourceText | None, Fix | None]],
         sources: dict[str, SourceText], fixes_applied: int) -> None:
    cwd = Path.cwd().resolve()
    fmt = args.output_format
    if fmt == "json":
        json.dump(to_json_list(results, sources), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if fmt == "sarif":
        sys.stdout.write(sarif([(d, s) for d, s, _ in results], __version__) + "\n")
        return
    if fmt == "github":
        for diagnostic, source, _ in results:
            print(github_line(diagnostic, source, cwd))
        return
    for diagnostic, source, fix in results:
        print(text_line(diagnostic, source, cwd, fixable=fix is not None and fix.is_safe))
    if args.quiet:
        return
    fixable = sum(1 for _, _, f in results if f is not None and f.is_safe)
    unsafe = sum(1 for _, _, f in results if f is not None and not f.is_safe)
    if fixes_applied:
        print(f"Fixed {fixes_applied} error{'s' if fixes_applied != 1 else ''}.")
    if results:
        print(f"Found {len(results)} error{'s' if len(results) != 1 else ''}.")
        if fixable:
            print(f"[*] {fixable} fixable with `phiml-lint check --fix`.")
        if unsafe:
            print(f"{unsafe} hidden fix{'es' if unsafe != 1 else ''} can be enabled with `--unsafe-fixes`.")
    elif not fixes_applied:
        print("All checks passed!")


def run_rules(args: argparse.Namespace) -> int:
    rules = [REGISTRY[c] for c in sorted(REGISTRY)]
    if args.output_format == "json":
        json.dump([{"code": r.code, "name": r.name, "summary": r.summary, "severity": r.severity.name.lower(),
                    "backends": sorted(r.backends), "breaks_on": r.breaks_on, "url": r.url} for r in rules],
                  sys.stdout, indent=2)
        print()
        return 0
    width = max(len(r.name) for r in rules)
    for r in rules:
        print(f"{r.code}  {r.name:<{width}}  {r.severity.name.lower():<7}  {r.summary}")
    return 0


def run_rule(code: str) -> int:
    from .docs import render_rule, rule_doc

    doc = rule_doc(code.upper())
    if doc is None:
        print(f"phiml-lint: unknown rule {code!r}; `phiml-lint rules` lists them", file=sys.stderr)
        return 2
    print(render_rule(doc))
    return 0


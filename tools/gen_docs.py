#!/usr/bin/env python3
"""Write the generated documentation (``docs/rules/*.md`` and their nav entries) from the rule metadata.

    python tools/gen_docs.py          # write the pages (make docs-gen)
    python tools/gen_docs.py --check  # exit 1 and name the pages that differ; write nothing

The pages are rendered by :mod:`phiml_lint.docs`; ``tests/test_docs.py`` runs the same comparison,
so a rule whose metadata changed without ``make docs-gen`` fails the test-suite. Rule pages of
codes that no longer exist are deleted.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS = ROOT / "mkdocs.yml"
sys.path.insert(0, str(ROOT / "server"))

from phiml_lint.docs import all_docs, generated_pages  # noqa: E402

RULE_PAGE = re.compile(r"^PML\d{3}\.md$")
NAV_BLOCK = re.compile(r"(?P<begin>^(?P<indent>[ \t]*)# BEGIN rule pages[^\n]*\n)(?P<body>.*?)(?P<end>^[ \t]*# END rule pages)",
                       re.MULTILINE | re.DOTALL)


def mkdocs_text(current: str) -> str:
    """``mkdocs.yml`` with the nav entries of every rule page between the markers."""
    match = NAV_BLOCK.search(current)
    if match is None:
        raise SystemExit("gen_docs: mkdocs.yml has no '# BEGIN rule pages' / '# END rule pages' markers")
    indent = match.group("indent")
    body = "".join(f'{indent}- "{d.code} {d.name}": rules/{d.code}.md\n' for d in all_docs())
    return current[: match.start("body")] + body + current[match.end("body"):]


def plan(docs: Path = DOCS, mkdocs: Path = MKDOCS) -> tuple[dict[Path, str], list[Path]]:
    """The files to write (path -> text) and the stale rule pages to delete."""
    pages = {docs / rel: text for rel, text in generated_pages().items()}
    pages[mkdocs] = mkdocs_text(mkdocs.read_text(encoding="utf-8"))
    stale = sorted(p for p in (docs / "rules").glob("PML*.md") if RULE_PAGE.match(p.name) and p not in pages)
    return pages, stale


def differences(docs: Path = DOCS, mkdocs: Path = MKDOCS) -> list[str]:
    """Paths (relative to the repository) whose committed text differs from what would be generated."""
    pages, stale = plan(docs, mkdocs)
    out = []
    for path, text in sorted(pages.items()):
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            out.append(str(path.relative_to(ROOT)) + ("" if current is not None else " (missing)"))
    out += [f"{p.relative_to(ROOT)} (stale: no such rule)" for p in stale]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report pages that differ; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        diff = differences()
        for line in diff:
            print(f"out of date: {line}")
        if diff:
            print("run `make docs-gen` (python tools/gen_docs.py) to regenerate", file=sys.stderr)
        return 1 if diff else 0
    pages, stale = plan()
    written = 0
    for path, text in sorted(pages.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            written += 1
    for path in stale:
        path.unlink()
    print(f"gen_docs: {len(pages)} files, {written} written, {len(stale)} stale pages removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

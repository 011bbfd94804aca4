"""The documentation cannot drift from the checker.

* The rule pages (``docs/rules/``) and their nav entries in ``mkdocs.yml`` are exactly what
  ``tools/gen_docs.py`` generates from the rule metadata now.
* Every diagnostic's ``url`` names a page that exists (``docs/rules/PMLxxx.md`` is served at
  ``rules/PMLxxx/``), and ``phiml-lint rule CODE`` prints that page.
* Relative links between the pages resolve, and, when mkdocs is installed, the site builds
  with ``--strict``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from helpers import expectations
from phiml_lint import docs
from phiml_lint.analysis.source import from_text
from phiml_lint.cli import main
from phiml_lint.engine import Engine
from phiml_lint.rules import REGISTRY
from phiml_lint.rules.base import DOCS_BASE

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MKDOCS = REPO / "mkdocs.yml"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)|!\[[^\]]*\]\((?P<image>[^)\s]+)\)")


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "tools" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _site_url() -> str:
    match = re.search(r"^site_url:\s*(\S+)\s*$", MKDOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, "mkdocs.yml must set site_url (the rule URLs point into the site)"
    return match.group(1)


def test_generated_docs_are_current() -> None:
    stale = _gen_docs().differences()
    assert not stale, (
        "the generated docs differ from the rule metadata:\n  " + "\n  ".join(stale)
        + "\nrun `make docs-gen` (python tools/gen_docs.py) and commit the result"
    )


def test_every_rule_has_a_page_and_a_nav_entry() -> None:
    nav = MKDOCS.read_text(encoding="utf-8")
    for doc in docs.all_docs():
        assert (DOCS / "rules" / f"{doc.code}.md").is_file(), f"docs/rules/{doc.code}.md is missing"
        assert f"rules/{doc.code}.md" in nav, f"mkdocs.yml's nav does not list rules/{doc.code}.md"
    assert {d.code for d in docs.all_docs()} == {*REGISTRY, "PML000"}


def test_rule_urls_point_at_existing_pages() -> None:
    site = _site_url()
    assert f"{site}rules/" == DOCS_BASE, f"Rule.url base {DOCS_BASE!r} is not {site!r} + 'rules/'"
    assert not re.search(r"^use_directory_urls:\s*false", MKDOCS.read_text(encoding="utf-8"), re.MULTILINE)
    for url in [rule.url for rule in REGISTRY.values()] + [docs.SYNTAX_ERROR.url]:
        assert url.startswith(site)
        relative = url[len(site):]
        match = re.fullmatch(r"rules/(PML\d{3})/", relative)
        assert match, f"{url} is not of the form {site}rules/PMLxxx/"
        assert (DOCS / "rules" / f"{match.group(1)}.md").is_file(), f"{url}: no docs/rules/{match.group(1)}.md"


def test_json_output_urls_point_at_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "sim.py").write_text(docs.example(REGISTRY["PML101"].bad), encoding="utf-8")
    (tmp_path / "broken.py").write_text(docs.SYNTAX_ERROR.bad, encoding="utf-8")
    status = main(["check", "--no-cache", "--output-format", "json", str(tmp_path)])
    assert status == 1
    found = json.loads(capsys.readouterr().out)
    assert {d["code"] for d in found} >= {"PML000", "PML101"}
    site = _site_url()
    for diagnostic in found:
        if diagnostic["code"] != "PML000":
            assert diagnostic["url"], f"{diagnostic['code']} has no url"
        if diagnostic["url"]:
            code = diagnostic["url"][len(site):].removeprefix("rules/").rstrip("/")
            assert (DOCS / "rules" / f"{code}.md").is_file(), diagnostic["url"]


def test_syntax_error_examples(tmp_path: Path) -> None:
    bad, good = docs.SYNTAX_ERROR.bad, docs.SYNTAX_ERROR.good
    engine = Engine(tmp_path, use_jedi=False)
    results = engine.check([from_text(bad, str(tmp_path / "bad.py")), from_text(good, str(tmp_path / "good.py"))])
    found = {(d.span.start.line + 1, d.code) for d in results[0].diagnostics}
    assert found == expectations(bad)
    assert results[1].diagnostics == []


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_rule_command_prints_the_page(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", code]) == 0
    assert capsys.readouterr().out == (DOCS / "rules" / f"{code}.md").read_text(encoding="utf-8") + "\n"


def test_examples_on_pages_have_no_test_annotations() -> None:
    for path in (DOCS / "rules").glob("PML*.md"):
        assert "# expect:" not in path.read_text(encoding="utf-8"), path


def test_relative_links_resolve() -> None:
    broken = []
    for page in sorted(DOCS.rglob("*.md")):
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        for match in LINK.finditer(text):
            target = match.group("target") or match.group("image")
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert not broken, "links to missing files:\n  " + "\n  ".join(broken)


def test_pre_commit_hook() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert re.search(r"^- id: phiml-lint$", text, re.MULTILINE)
    assert re.search(r"^  entry: phiml-lint check$", text, re.MULTILINE)
    assert re.search(r"^  language: python$", text, re.MULTILINE)
    assert re.search(r"^  types_or: \[python, jupyter\]$", text, re.MULTILINE)


def test_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    project = tmp_path / "project"
    shutil.copytree(DOCS, project / "docs")
    shutil.copy(MKDOCS, project / "mkdocs.yml")
    config = load_config(str(project / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True)
    build(config)  # raises mkdocs.exceptions.Abort on the first warning in strict mode
    assert (tmp_path / "site" / "rules" / "PML102" / "index.html").is_file()

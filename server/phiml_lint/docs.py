"""Rule documentation rendered from rule metadata: the pages under ``docs/rules/`` and ``phiml-lint rule``.

Everything a rule page says comes from the rule class (code, name, summary, severity, backends,
breaks_on, why, observed, bad, good, fix_text), so the pages cannot drift from the checker:
``tools/gen_docs.py`` writes them and ``tests/test_docs.py`` fails when the committed pages differ.
The layout is Ruff's: what it does, why is this bad, example, use instead, fix safety, options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Severity
from .rules.base import BACKENDS, DOCS_BASE, REGISTRY, Rule

#: How the docs spell the backends (``backends`` values are the import names).
BACKEND_NAMES = {"jax": "Jax", "torch": "PyTorch", "tensorflow": "TensorFlow"}
#: ``# expect: CODE`` test annotations in the examples, shown to readers as ``# ← CODE``.
_EXPECT = re.compile(r"#\s*expect:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")
#: Rule families, by code prefix (``--select PML2`` picks one).
FAMILIES = (
    ("PML0", "Input", "The file cannot be analysed at all. Always on."),
    ("PML1", "Backend portability",
     "Code that crashes, or silently computes something else, on at least one backend."),
    ("PML2", "Retracing",
     "Code that runs everywhere but traces again and again: slow, and memory grows with every trace."),
)


@dataclass(frozen=True, slots=True)
class RuleDoc:
    """The documented fields of a rule; also describes PML000, which is not a :class:`Rule`."""

    code: str
    name: str
    summary: str
    severity: Severity
    backends: frozenset[str]
    breaks_on: str
    why: str
    fix_text: str
    bad: str = ""
    good: str = ""
    observed: dict[str, str] = field(default_factory=dict)
    options: str = ""  # replaces the generic options section when set

    @property
    def url(self) -> str:
        return f"{DOCS_BASE}{self.code}/"


SYNTAX_ERROR = RuleDoc(
    code="PML000",
    name="syntax-error",
    summary="The file does not parse, or is not Python text at all",
    severity=Severity.ERROR,
    backends=frozenset(BACKENDS),
    breaks_on="— (the file does not parse)",
    why=(
        "phiml-lint analyses the code it can parse. When Python's own parser rejects a file, the "
        "diagnostic sits where the parser stopped and no other rule runs on that file until it "
        "parses again. The same code reports input that is not Python text: a binary file (NUL "
        "bytes), bytes that do not decode in the declared encoding (PEP 263), a notebook that is "
        "not valid nbformat-4 JSON or whose kernel language is not Python, and a file that cannot "
        "be read.\n\n"
        "In notebooks, IPython syntax (`%magic`, `!shell`, `x = !ls`, `obj?`, `%%bash` cells) is "
        "blanked before parsing and never causes this diagnostic."
    ),
    fix_text="There is no fix: correct the syntax, or save the file as UTF-8 (or declare its encoding).",
    bad="""\
from phiml import math


@math.jit_compile
def step(x)  # expect: PML000
    return x * 2
""",
    good="""\
from phiml import math


@math.jit_compile
def step(x):
    return x * 2
""",
    options=(
        "PML000 is always on: `select`, `ignore`, `per-file-ignores`, `severity` and `# noqa` do not "
        "apply to it. To skip a file that is not meant to parse (a template, a fixture), leave it out "
        "with `exclude` in `[tool.phiml-lint]`, or do not pass it to `phiml-lint check`.\n"
    ),
)


def _doc(rule: Rule | RuleDoc) -> RuleDoc:
    if isinstance(rule, RuleDoc):
        return rule
    return RuleDoc(rule.code, rule.name, rule.summary, rule.severity, frozenset(rule.backends), rule.breaks_on,
                   rule.why, rule.fix_text, rule.bad, rule.good, dict(rule.observed))


def all_docs() -> list[RuleDoc]:
    """PML000 and every registered rule, in code order."""
    return [SYNTAX_ERROR, *(_doc(REGISTRY[code]) for code in sorted(REGISTRY))]


def rule_doc(code: str) -> RuleDoc | None:
    """The documentation of a code (case-insensitive), PML000 included; None when unknown."""
    code = code.strip().upper()
    if code == SYNTAX_ERROR.code:
        return SYNTAX_ERROR
    rule = REGISTRY.get(code)
    return _doc(rule) if rule is not None else None


def backend_list(backends: frozenset[str]) -> str:
    """``Jax, PyTorch`` in the canonical order; ``all`` for every backend."""
    if backends >= set(BACKENDS):
        return "all"
    return ", ".join(BACKEND_NAMES.get(b, b) for b in BACKENDS if b in backends)


def example(code: str) -> str:
    """An example for readers: test annotations become ``# ← CODE`` marks, trailing space trimmed."""
    return _EXPECT.sub(lambda m: "# ← " + m.group(1), code.rstrip())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _observed(observed: dict[str, str]) -> str:
    """What each backend did, one paragraph per backend; multi-line output as a code block."""
    parts = []
    for backend in sorted(observed, key=lambda b: (BACKENDS.index(b) if b in BACKENDS else len(BACKENDS), b)):
        text = observed[backend].strip()
        name = BACKEND_NAMES.get(backend, backend)
        if "\n" in text:
            parts.append(f"**{name}**:\n\n```text\n{text}\n```\n")
        else:
            parts.append(f"**{name}**: {text}\n")
    return "\n".join(parts)


def _options(doc: RuleDoc) -> str:
    if doc.options:
        return doc.options
    other = "error" if doc.severity is not Severity.ERROR else "warning"
    lines = [
        f'- Turn it off with `ignore = ["{doc.code}"]` in `[tool.phiml-lint]` (or `--ignore {doc.code}`), '
        f'for some files with `per-file-ignores = {{ "tests/*" = ["{doc.code}"] }}`, '
        f"or on one line with `# noqa: {doc.code}`.",
        f'- Report it as {"an" if other == "error" else "a"} {other} with `severity = {{ {doc.code} = "{other}" }}` '
        f"(`error`, `warning`, `info` or `hint`; the default is `{doc.severity.name.lower()}`).",
    ]
    if doc.backends >= set(BACKENDS):
        lines.append("- It applies whichever `backends` you target.")
    else:
        names = ", ".join(f"`{b}`" for b in BACKENDS if b in doc.backends)
        lines.append(f"- It only runs when `backends` includes {names}; the default targets all three backends.")
    return "\n".join(lines) + "\n"


def render_rule(rule: Rule | RuleDoc) -> str:
    """A rule's page in Ruff's layout: what, why, example, use instead, fix safety, options."""
    doc = _doc(rule)
    observed = _observed(doc.observed)
    parts = [
        f"# {doc.code}: {doc.name}\n",
        "| Severity | Breaks on | Backends |\n|---|---|---|\n"
        f"| {doc.severity.name.lower()} | {_cell(doc.breaks_on)} | {backend_list(doc.backends)} |\n",
        f"## What it does\n{doc.summary}.\n",
        f"## Why is this bad?\n{doc.why.strip()}\n",
    ]
    if observed:
        parts.append(f"### What the backends do\n{observed}\n")
    if doc.bad:
        parts.append(f"## Example\n```python\n{example(doc.bad)}\n```\n")
    if doc.good:
        parts.append(f"## Use instead\n```python\n{example(doc.good)}\n```\n")
    fix_safety = doc.fix_text.strip()
    if doc.code != SYNTAX_ERROR.code:
        fix_safety += (
            f"\n\nEditors also offer *Suppress {doc.code} on this line*, which adds `# noqa: {doc.code}`; "
            "`--fix` never applies it."
        )
    parts.append(f"## Fix safety\n{fix_safety}\n")
    parts.append(f"## Options\n{_options(doc)}")
    return "\n".join(parts)


def render_index() -> str:
    """``docs/rules/index.md``: every code with its name, severity and the backends it breaks on."""
    docs = all_docs()
    out = [
        "# Rules\n",
        "Every diagnostic has a code `PMLxyz`. The first digit is its family, so `--select PML2` "
        "(or `select = [\"PML2\"]`) picks a whole family. `phiml-lint rules` prints this list and "
        "`phiml-lint rule PML102` prints one page in the terminal.\n",
    ]
    for prefix, title, text in FAMILIES:
        members = [d for d in docs if d.code.startswith(prefix)]
        if not members:
            continue
        out.append(f"## {prefix}xx: {title}\n\n{text}\n")
        out.append("| Code | Name | Severity | Breaks on |\n|---|---|---|---|")
        for d in members:
            out.append(f"| [{d.code}]({d.code}.md) | {d.name} | {d.severity.name.lower()} | {_cell(d.breaks_on)} |")
        out.append("")
    return "\n".join(out)


def generated_pages() -> dict[str, str]:
    """Every generated page, keyed by its path below ``docs/``."""
    pages = {f"rules/{d.code}.md": render_rule(d) for d in all_docs()}
    pages["rules/index.md"] = render_index()
    return pages

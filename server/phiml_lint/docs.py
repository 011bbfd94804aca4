"""Rule documentation rendered from rule metadata (the docs pages and `phiml-lint rule`)."""

from __future__ import annotations

from .rules.base import Rule


def render_rule(rule: Rule) -> str:
    """A rule's page in Ruff's layout: what, why, example, use instead, fix safety, options."""
    backends = ", ".join(sorted(rule.backends))
    observed = "".join(f"- **{b}**: {text}\n" for b, text in sorted(rule.observed.items()))
    return f"""# {rule.code}: {rule.name}

**Severity:** {rule.severity.name.lower()} · **Breaks on:** {rule.breaks_on} · **Backends:** {backends}

## What it does
{rule.summary}.

## Why is this bad?
{rule.why}
{f"{chr(10)}### Observed{chr(10)}{observed}" if observed else ""}
## Example
```python
{rule.bad.rstrip()}
```

## Use instead
```python
{rule.good.rstrip()}
```

## Fix safety
{rule.fix_text}

## Options
- Disable with `ignore = ["{rule.code}"]` in `[tool.phiml-lint]`, or on one line with `# noqa: {rule.code}`.
- Change the severity with `severity = {{ {rule.code} = "warning" }}`.
- Switch off all rules for a backend you do not target with `backends = [...]`.
"""

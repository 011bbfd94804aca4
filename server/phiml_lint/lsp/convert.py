"""Translation between the engine's model and lsprotocol types. No rule logic lives here."""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from ..model import Diagnostic, Edit, Pos, Span

SOURCE = "phiml-lint"


class Lines:
    """A text's lines, for converting code-point columns to the client's units and back."""

    def __init__(self, text: str, codec: PositionCodec) -> None:
        self.lines = [line + "\n" for line in text.split("\n")]
        self.codec = codec

    def to_client(self, pos: Pos) -> types.Position:
        line = min(max(pos.line, 0), len(self.lines) - 1)
        col = pos.col if line == pos.line else 0
        text = self.lines[line]
        col = min(col, len(text) - 1)  # every stored line ends with its "\n"
        if text.isascii():  # O(1) in CPython: code points are UTF-8 and UTF-16 units alike
            return types.Position(line=line, character=col)
        return types.Position(line=line, character=self.codec.client_num_units(text[:col]))

    def range(self, span: Span) -> types.Range:
        return types.Range(start=self.to_client(span.start), end=self.to_client(span.end))

    def from_client(self, position: types.Position) -> Pos:
        """Client units to a code-point position, clamped to the text (bad offsets never raise)."""
        line = max(position.line, 0)
        if line >= len(self.lines):
            last = len(self.lines) - 1
            return Pos(last, len(self.lines[last].rstrip("\n")))
        text = self.lines[line].rstrip("\n")
        units = max(position.character, 0)
        count = 0
        for index, char in enumerate(text):
            if count >= units:
                return Pos(line, index)
            count += self.codec.client_num_units(char)
        return Pos(line, len(text))


def server_position(pos: Pos) -> ServerTextPosition:
    return ServerTextPosition(pos.line, pos.col)


def severity(diagnostic: Diagnostic) -> types.DiagnosticSeverity:
    return types.DiagnosticSeverity(diagnostic.severity.value)


def to_lsp(diagnostic: Diagnostic, lines: Lines, uri_of: Any, data: dict[str, Any] | None = None,
           span: Span | None = None) -> types.Diagnostic:
    """An LSP diagnostic: code, docs link, severity, exact range, trace chain as related info."""
    from ..docs import rule_doc

    rule = rule_doc(diagnostic.code)
    related = []
    for step in diagnostic.related:
        target = uri_of(step.path, step.span)
        if target is None:
            continue
        uri, rng = target
        related.append(types.DiagnosticRelatedInformation(location=types.Location(uri=uri, range=rng),
                                                          message=step.message))
    tags = None
    return types.Diagnostic(
        range=lines.range(span or diagnostic.span),
        message=diagnostic.message,
        severity=severity(diagnostic),
        code=diagnostic.code,
        code_description=types.CodeDescription(href=rule.url) if rule else None,
        source=SOURCE,
        related_information=related or None,
        tags=tags,
        data=data if data is not None else dict(diagnostic.data),
    )


def text_edit(edit: Edit, lines: Lines, span: Span | None = None) -> types.TextEdit:
    return types.TextEdit(range=lines.range(span or edit.span), new_text=edit.content)

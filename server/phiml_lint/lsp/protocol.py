"""pygls protocol adjustments that make the server answer every request.

pygls 2.1.1 drops a request whose params fail to deserialize: it logs "Unable to deserialize
message" and sends nothing, so the client waits forever. JSON-RPC requires an error response
with the request's id (InvalidParams, -32602). This subclass sends it. It also prefers UTF-8
positions when the client offers them (pygls takes the client's first preference).
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls import capabilities as pygls_capabilities
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol
from pygls.protocol import language_server as pygls_language_server
from pygls.protocol.json_rpc import JsonRPCNotification

logger = logging.getLogger(__name__)
IGNORED_METHOD = "$/phimlLint/ignoredMalformedMessage"


class _Builder(pygls_capabilities.ServerCapabilitiesBuilder):
    @classmethod
    def choose_position_encoding(cls, client_capabilities: types.ClientCapabilities) -> str:
        general = client_capabilities.general
        offered = list(general.position_encodings or []) if general is not None else []
        if types.PositionEncodingKind.Utf8 in offered:
            return types.PositionEncodingKind.Utf8
        return types.PositionEncodingKind.Utf16


# The builder is looked up as a module global by pygls' initialize handler; this is the one
# hook pygls offers for choosing the encoding.
pygls_language_server.ServerCapabilitiesBuilder = _Builder  # type: ignore[misc]


class Protocol(LanguageServerProtocol):
    """LanguageServerProtocol that answers malformed requests with InvalidParams."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                method = data.get("method")
                error = JsonRpcInvalidParams(f"Invalid params for {method!r}: {exc.__cause__ or exc}")
                msg_id = data["id"]
                if isinstance(msg_id, int | str):
                    self._send_response(msg_id, None, error.to_response_error())
            # Hand the loop a harmless notification instead of raising (which would log a traceback).
            return JsonRPCNotification(method=IGNORED_METHOD, params=None, jsonrpc="2.0")

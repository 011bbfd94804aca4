"""Start the real server process over stdio for every test (pytest-lsp)."""

from __future__ import annotations

import pytest_lsp
from lsp_helpers import SERVER
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    """A client speaking to a fresh server; tests call ``initialize_session`` themselves."""

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:
        lsp_client.registrations = [*getattr(lsp_client, "registrations", []), *params.registrations]

    yield
    await lsp_client.shutdown_session()

"""Helpers for the LSP tests."""

from __future__ import annotations

import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities

SERVER = [sys.executable, "-m", "phiml_lint", "server"]


def initialize_params(root: Path, client: str = "neovim@v0.7.0", options: dict | None = None) -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=client_capabilities(client),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=options,
    )



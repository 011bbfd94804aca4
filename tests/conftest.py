"""Fixtures shared by the Python tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import check_files
from phiml_lint.config import Config
from phiml_lint.model import Diagnostic


@pytest.fixture
def project(tmp_path: Path):
    """``project({"a.py": "..."})`` → diagnostics per file name."""

    def run(files: dict[str, str], config: Config | None = None) -> dict[str, list[Diagnostic]]:
        return check_files(tmp_path, files, config)

    return run

"""Shared fixtures: a fresh workspace and the real console script in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import CliRunner, run_torghut
from torghut.workspace import Workspace, init_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def torghut() -> CliRunner:
    return run_torghut

"""Governance fixtures: a bootstrapped workspace with its ledger open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from torghut.ledger import Ledger, open_ledger
from torghut.workspace import Workspace


@pytest.fixture
def ledger(ws: Workspace) -> Iterator[Ledger]:
    opened = open_ledger(ws)
    try:
        yield opened
    finally:
        opened.close()

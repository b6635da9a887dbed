"""Advisory fixtures: both ledger backends, the replay server, an enabled, evaluated path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.advisory.advisory_helpers import enable
from tests.advisory.llm_server import ReplayServer, replay_server
from tests.ledger.conftest import backend, ledger, ledger_ws, pg_database  # noqa: F401
from torghut.advisory.config import AdvisoryConfig
from torghut.advisory.evalset import load
from torghut.advisory.evaluate import run_evaluation
from torghut.contracts.gates import GatePolicy
from torghut.ledger import Ledger
from torghut.workspace import Workspace

POLICY = GatePolicy()


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with replay_server() as srv:
        yield srv


@pytest.fixture
def config(ledger_ws: Workspace, ledger: Ledger,  # noqa: F811
           server: ReplayServer) -> AdvisoryConfig:
    """Enabled and evaluated: an enabled path stays forced off until the evaluation set
    has measured it (the hard stop fails closed below ``min_llm_requests``)."""
    enabled = enable(ledger_ws, server.url)
    assert run_evaluation(ledger, enabled, POLICY, "research-agent", load()).passed
    server.received.clear()
    server.headers.clear()
    return enabled

"""AI-R1: reliability below the policy trips the ``llm_reliability`` hard stop (promotion
blocked) and forces the advisory path off; both backends, real recorded calls."""

from __future__ import annotations

import pytest

from tests.advisory.advisory_helpers import enable
from tests.advisory.conftest import POLICY
from tests.advisory.llm_server import ReplayServer
from torghut.advisory.advisor import NoAdvice, Request, advise, path_state
from torghut.advisory.config import AdvisoryConfig
from torghut.advisory.evalset import load
from torghut.advisory.evaluate import run_evaluation
from torghut.advisory.prompts import Task
from torghut.gates.engine import make_context
from torghut.gates.hard_stops import evaluate_hard_stops
from torghut.governance.lifecycle import hard_stops_clear
from torghut.governance.refusal import Refusal
from torghut.ledger import Ledger
from torghut.ops.conditions import measure_hard_stops
from torghut.workspace import Workspace

ASK = Request(Task.SUMMARISE_EVIDENCE, {"candidate": {}, "target": "paper", "gates": []},
              expected="pass")


def llm_codes(ws: Workspace, ledger: Ledger) -> list[str]:
    """The hard-stop gate's LLM reason codes, measured as `gates evaluate` measures them."""
    with ledger.read() as session:
        measured = measure_hard_stops(ws, ledger, session)
    from datetime import UTC, datetime

    result = evaluate_hard_stops(measured.inputs, make_context(POLICY, datetime.now(UTC)),
                                 measured.absent)
    return [r.code for r in result.reasons if "_LLM_" in r.code]


def blocked(ws: Workspace, ledger: Ledger) -> str | None:
    """The promotion state machine's hard-stop refusal code, if any."""
    with ledger.read() as session:
        try:
            hard_stops_clear(ws, ledger, session, POLICY)
        except Refusal as refusal:
            return refusal.code
    return None


def status(ledger: Ledger, config: AdvisoryConfig) -> str:
    with ledger.read() as session:
        return path_state(session, config, POLICY).status


def test_enabled_but_unmeasured_fails_closed(ledger_ws: Workspace, ledger: Ledger,
                                             server: ReplayServer) -> None:
    config = enable(ledger_ws, server.url)
    assert llm_codes(ledger_ws, ledger)[0] == "HARD_STOP_LLM_REQUESTS_BELOW_MIN"
    assert blocked(ledger_ws, ledger) == "HARD_STOP_LLM_REQUESTS_BELOW_MIN"
    assert status(ledger, config) == "forced_off"


def test_reliable_path_clears_then_a_degraded_model_trips_the_hard_stop(
        ledger_ws: Workspace, ledger: Ledger, config: AdvisoryConfig,
        server: ReplayServer) -> None:
    # control: AI-R1
    assert llm_codes(ledger_ws, ledger) == [] and blocked(ledger_ws, ledger) is None
    assert status(ledger, config) == "on"
    # the same model starts answering badly: every other reply malformed or schema-invalid
    server.degrade("malformed_content", "schema_invalid")
    report = run_evaluation(ledger, config, POLICY, "research-agent", load())
    assert not report.passed and report.reliability.error_ratio == pytest.approx(0.5)
    codes = llm_codes(ledger_ws, ledger)
    assert {"HARD_STOP_LLM_ERROR_RATIO_ABOVE_MAX",
            "HARD_STOP_LLM_SCHEMA_VALID_RATE_BELOW_MIN"} <= set(codes), codes
    assert blocked(ledger_ws, ledger) in codes  # promotion is refused
    # ... and the path forced itself off: it asks nothing until re-evaluated
    assert status(ledger, config) == "forced_off"
    sent = len(server.received)
    result = advise(ledger, config, POLICY, "research-agent", ASK)
    assert isinstance(result, NoAdvice) and result.reason == "forced_off"
    assert "HARD_STOP_LLM_ERROR_RATIO_ABOVE_MAX" in result.detail
    assert len(server.received) == sent


def test_schema_valid_but_wrong_advice_trips_agreement(
        ledger_ws: Workspace, ledger: Ledger, config: AdvisoryConfig,
        server: ReplayServer) -> None:
    server.replay("summarise_pass", "propose_pass_through", "review_allow")  # always "yes"
    for _ in range(3):  # the window (200) fills with the yes-model's answers
        run_evaluation(ledger, config, POLICY, "research-agent", load())
    codes = llm_codes(ledger_ws, ledger)
    assert codes == ["HARD_STOP_LLM_AGREEMENT_RATE_BELOW_MIN"], codes
    assert status(ledger, config) == "forced_off"


def test_slow_model_trips_the_timeout_ratio(ledger_ws: Workspace, ledger: Ledger,
                                            server: ReplayServer) -> None:
    config = enable(ledger_ws, server.url, timeout_seconds=0.2)
    server.degrade("slow", every=10)  # 10% timeouts, over the 5% bound
    run_evaluation(ledger, config, POLICY, "research-agent", load(), limit=50)
    codes = llm_codes(ledger_ws, ledger)
    assert "HARD_STOP_LLM_TIMEOUT_RATIO_ABOVE_MAX" in codes, codes


def test_switched_off_the_recorded_history_no_longer_blocks(
        ledger_ws: Workspace, ledger: Ledger, config: AdvisoryConfig,
        server: ReplayServer) -> None:
    server.replay("malformed_content")
    run_evaluation(ledger, config, POLICY, "research-agent", load())
    assert llm_codes(ledger_ws, ledger)
    off = enable(ledger_ws, server.url, stage=0)
    assert llm_codes(ledger_ws, ledger) == [] and blocked(ledger_ws, ledger) is None
    assert status(ledger, off) == "off"

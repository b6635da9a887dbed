"""Gate 4 (live review) and the hard-stop checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.gates.gate_helpers import (
    HASH_A,
    HASH_B,
    NOW,
    STRATEGY,
    codes,
    ctx,
    drill,
    good_hard_stops,
    good_live_review,
)
from torghut.contracts.gates import (
    ApprovalRecord,
    ChainBreak,
    ConfigValidation,
    DriftReport,
    HardStopInputs,
    KillSwitchState,
    LedgerIntegrity,
    LlmReliability,
    RiskViolation,
    RiskViolations,
)
from torghut.gates.gate4 import evaluate_gate4
from torghut.gates.hard_stops import evaluate_hard_stops


def test_good_live_review_passes() -> None:
    result = evaluate_gate4(good_live_review(), ctx())
    assert result.passed, result.reasons
    assert result.observations["kill_switch_drill_age_hours"] == pytest.approx(5.0)
    assert [a.kind for a in result.artifact_refs] == [
        "live_review", "kill_switch_drill", "rollback_drill"]


def _by(identity: str) -> ApprovalRecord:
    return ApprovalRecord(identity=identity, role="approver", at=NOW - timedelta(hours=2))


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"paper_started_at": NOW - timedelta(days=19)}, ["GATE4_PAPER_DAYS_BELOW_MIN"]),
    ({"kill_switch_drill": None}, ["GATE4_KILL_SWITCH_DRILL_MISSING"]),
    ({"kill_switch_drill": drill(passed=False)}, ["GATE4_KILL_SWITCH_DRILL_FAILED"]),
    ({"kill_switch_drill": drill(72.5)}, ["GATE4_KILL_SWITCH_DRILL_STALE"]),
    ({"rollback_drill": drill(-1.0)}, ["GATE4_ROLLBACK_DRILL_IN_FUTURE"]),
    ({"rollback_drill": None}, ["GATE4_ROLLBACK_DRILL_MISSING"]),
    ({"approvals": ()}, ["GATE4_APPROVALS_BELOW_MIN"]),
    ({"approvals": (_by("research-agent"),)}, ["GATE4_APPROVALS_BELOW_MIN"]),
    ({"rollback_target": None}, ["GATE4_ROLLBACK_TARGET_MISSING"]),
    ({"rollback_target": ""}, ["GATE4_ROLLBACK_TARGET_MISSING"]),
    ({"strategy": "tsmom@0.9.0"}, ["GATE4_STRATEGY_MISMATCH"]),
])
def test_each_bad_live_review_fails_with_its_code(overrides: dict[str, Any],
                                                  expected: list[str]) -> None:
    result = evaluate_gate4(good_live_review(**overrides), ctx(), strategy=STRATEGY)
    assert codes(result) == expected


def test_live_review_boundaries() -> None:
    assert evaluate_gate4(good_live_review(kill_switch_drill=drill(72.0)), ctx()).passed
    assert codes(evaluate_gate4(None, ctx())) == ["GATE4_EVIDENCE_MISSING"]
    two = good_live_review(approvals=(_by("alice"), _by("alice"), _by("research-agent")))
    policy = ctx().policy
    stricter = policy.model_copy(update={"gate4": policy.gate4.model_copy(
        update={"min_approvals": 2})})
    result = evaluate_gate4(two, ctx(stricter))  # one distinct approver, not the proposer
    assert codes(result) == ["GATE4_APPROVALS_BELOW_MIN"] and result.reasons[0].observed == 1


def test_good_hard_stop_inputs_pass() -> None:
    result = evaluate_hard_stops(good_hard_stops(), ctx())
    assert result.passed, result.reasons
    assert result.observations["unresolved_high_risk_violations"] == 0
    assert len(result.artifact_refs) == 6


def test_every_missing_input_fails_closed() -> None:
    assert codes(evaluate_hard_stops(HardStopInputs(), ctx())) == [
        "HARD_STOP_LEDGER_MISSING", "HARD_STOP_CONFIG_MISSING", "HARD_STOP_DRIFT_MISSING",
        "HARD_STOP_RISK_MISSING",
        "HARD_STOP_LLM_MISSING", "HARD_STOP_KILL_SWITCH_MISSING"]


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"config": ConfigValidation(config_sha256=HASH_B, valid=False,
                                 errors=("strategies[0].params.lookback: not an int",))},
     ["HARD_STOP_CONFIG_INVALID"]),
    ({"drift": DriftReport(gitops_sha256="a" * 64, runtime_sha256=HASH_B)},
     ["HARD_STOP_GITOPS_DRIFT"]),
    ({"drift": DriftReport(gitops_sha256=HASH_B, runtime_sha256=HASH_B,
                           differences=("catalog.tsmom.enabled",))},
     ["HARD_STOP_GITOPS_DRIFT"]),
    ({"risk": RiskViolations(violations=(
        RiskViolation(violation_id="r-9", severity="high", resolved=False),))},
     ["HARD_STOP_RISK_VIOLATION_UNRESOLVED"]),
    ({"llm": LlmReliability(advisory_stage=2, requests=400, error_ratio=0.11,
                            latency_p95_ms=250.0)},
     ["HARD_STOP_LLM_ERROR_RATIO_ABOVE_MAX", "HARD_STOP_LLM_LATENCY_P95_MS_ABOVE_MAX"]),
    ({"llm": LlmReliability(advisory_stage=1, requests=10, error_ratio=0.0,
                            latency_p95_ms=50.0)}, ["HARD_STOP_LLM_REQUESTS_BELOW_MIN"]),
    ({"llm": LlmReliability(advisory_stage=1, requests=0, error_ratio=None,
                            latency_p95_ms=None)},
     ["HARD_STOP_LLM_REQUESTS_BELOW_MIN", "HARD_STOP_LLM_ERROR_RATIO_MISSING",
      "HARD_STOP_LLM_LATENCY_P95_MS_MISSING"]),
    ({"kill_switch": KillSwitchState(state="reducing", scope="strategy:tsmom")},
     ["HARD_STOP_KILL_SWITCH_ENGAGED"]),
    ({"kill_switch": KillSwitchState(state="halted", scope="firm")},
     ["HARD_STOP_KILL_SWITCH_ENGAGED"]),
    ({"ledger": LedgerIntegrity(events=9, head_hash=HASH_A, broken=ChainBreak(
        seq=4, table="candidates", row_id="c1", code="row_modified", message="edited"))},
     ["HARD_STOP_LEDGER_BROKEN"]),
])
def test_each_hard_stop_fails_with_its_code(overrides: dict[str, Any],
                                            expected: list[str]) -> None:
    assert codes(evaluate_hard_stops(good_hard_stops(**overrides), ctx())) == expected


def test_the_reason_an_input_is_absent_is_in_the_message() -> None:
    result = evaluate_hard_stops(good_hard_stops(drift=None), ctx(),
                                 {"hard_stops.drift": "runtime unreachable"})
    (reason,) = result.reasons
    assert reason.code == "HARD_STOP_DRIFT_MISSING" and "runtime unreachable" in reason.message


def test_no_runtime_deployed_means_nothing_can_drift() -> None:
    result = evaluate_hard_stops(
        good_hard_stops(drift=DriftReport(gitops_sha256=HASH_A, runtime_sha256=None)), ctx())
    assert result.passed and result.observations["runtime_deployed"] is False


def test_advisory_path_off_is_not_judged_on_reliability() -> None:
    off = LlmReliability(advisory_stage=0, requests=0, error_ratio=None, latency_p95_ms=None)
    result = evaluate_hard_stops(good_hard_stops(llm=off), ctx())
    assert result.passed and result.observations["llm_advisory_stage"] == 0

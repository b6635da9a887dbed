"""The engine: required gates per target, allow/deny, determinism, contracts, Markdown."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.gates.conftest import Evidence
from tests.gates.gate_helpers import (
    NOW,
    family_of,
    good_hard_stops,
    good_live_review,
    good_paper,
    good_tca,
)
from torghut.contracts.gates import (
    Decision,
    GateId,
    GateInputs,
    GateReport,
    GateResult,
    KillSwitchState,
    Target,
)
from torghut.errors import TorghutError
from torghut.gates import default_policy, evaluate, policy_checksum, render_markdown


def _inputs(evidence: Evidence, **overrides: Any) -> GateInputs:
    data: dict[str, Any] = {
        "candidate_id": "cand-edge", "quality": evidence.edge_quality, "bundle": evidence.edge,
        "trial_family": family_of(evidence.edge), "paper": good_paper(), "tca": good_tca(),
        "live_review": good_live_review(), "hard_stops": good_hard_stops()} | overrides
    return GateInputs.model_validate(data)


@pytest.mark.parametrize(("target", "gates"), [
    (Target.PAPER, ("gate0", "gate1", "hard_stops")),
    (Target.PAPER_VERIFIED, ("gate2", "gate3", "hard_stops")),
    (Target.LIVE, ("gate4", "hard_stops")),
])
def test_each_target_runs_its_gates_and_allows_on_good_evidence(
        evidence: Evidence, target: Target, gates: tuple[str, ...]) -> None:
    report = evaluate(_inputs(evidence), target, default_policy(), evaluated_at=NOW)
    assert report.decision is Decision.ALLOW, report.reason_codes
    assert tuple(g.value for g in report.required_gates) == gates
    assert all(r.policy_checksum == policy_checksum(default_policy()) for r in report.results)
    assert report.policy_checksum == policy_checksum(default_policy())


def test_absent_evidence_denies_with_missing_codes() -> None:
    report = evaluate(GateInputs(candidate_id="c"), Target.PAPER, default_policy(),
                      evaluated_at=NOW)
    assert report.decision is Decision.DENY
    assert report.reason_codes == (
        "GATE0_EVIDENCE_MISSING", "GATE1_EVIDENCE_MISSING", "HARD_STOP_LEDGER_MISSING",
        "HARD_STOP_CONFIG_MISSING",
        "HARD_STOP_DRIFT_MISSING", "HARD_STOP_RISK_MISSING", "HARD_STOP_LLM_MISSING",
        "HARD_STOP_KILL_SWITCH_MISSING")


@pytest.mark.parametrize("target", list(Target))
def test_an_engaged_kill_switch_blocks_every_target(evidence: Evidence, target: Target) -> None:
    halted = good_hard_stops(kill_switch=KillSwitchState(state="halted", scope="firm"))
    report = evaluate(_inputs(evidence, hard_stops=halted), target, default_policy(),
                      evaluated_at=NOW)
    assert report.decision is Decision.DENY
    assert report.reason_codes == ("HARD_STOP_KILL_SWITCH_ENGAGED",)


def test_noise_candidate_is_denied_at_gate1(evidence: Evidence) -> None:
    inputs = _inputs(evidence, bundle=evidence.noise, trial_family=family_of(evidence.noise))
    report = evaluate(inputs, Target.PAPER, default_policy(), evaluated_at=NOW)
    assert report.decision is Decision.DENY
    gate0, gate1, stops = report.results
    # The quality report is the edge snapshot's: Gate 0 notices it is not this run's data.
    assert "GATE0_DATASET_MISMATCH" in [r.code for r in gate0.reasons]
    assert not gate1.passed and stops.passed


def test_same_inputs_and_policy_give_the_same_report(evidence: Evidence) -> None:
    inputs = _inputs(evidence)
    first = evaluate(inputs, Target.PAPER, default_policy(), evaluated_at=NOW)
    # Reproduce from the recorded form: inputs and policy read back from their JSON.
    replayed = GateInputs.model_validate_json(inputs.canonical_json())
    later = evaluate(replayed, Target.PAPER, default_policy(),
                     evaluated_at=NOW + timedelta(days=3))
    assert first.canonical_json() == evaluate(inputs, Target.PAPER, default_policy(),
                                              evaluated_at=NOW).canonical_json()

    def strip(report: GateReport) -> dict[str, Any]:
        data = json.loads(report.canonical_json())
        data.pop("evaluated_at")
        for result in data["results"]:
            result.pop("evaluated_at")
        return data

    assert strip(first) == strip(later)


def test_a_stricter_policy_changes_checksum_and_decision(evidence: Evidence) -> None:
    policy = default_policy()
    strict = policy.model_copy(update={
        "policy_version": "1.1.0",
        "gate1": policy.gate1.model_copy(update={"min_folds": 5})})
    report = evaluate(_inputs(evidence), Target.PAPER, strict, evaluated_at=NOW)
    assert report.decision is Decision.DENY and report.reason_codes == (
        "GATE1_FOLDS_BELOW_MIN",)
    assert report.policy_version == "1.1.0"
    assert report.policy_checksum != policy_checksum(policy)


def test_the_clock_must_be_timezone_aware(evidence: Evidence) -> None:
    with pytest.raises(TorghutError, match="timezone-aware"):
        evaluate(_inputs(evidence), Target.PAPER, default_policy(),
                 evaluated_at=datetime(2026, 3, 2, 15, 0))


def test_result_and_report_contracts_refuse_inconsistent_verdicts(evidence: Evidence) -> None:
    report = evaluate(_inputs(evidence), Target.PAPER, default_policy(), evaluated_at=NOW)
    data = json.loads(report.canonical_json())
    good = data["results"][0]
    reason = {"code": "GATE0_X", "message": "m", "observed": 1, "threshold": 0}
    with pytest.raises(ValueError, match="no reasons"):
        GateResult.model_validate(good | {"reasons": [reason]})
    with pytest.raises(ValueError, match="no reasons"):
        GateResult.model_validate(good | {"status": "fail"})
    with pytest.raises(ValueError, match="pass"):
        GateResult.model_validate(good | {"status": "skipped"})
    with pytest.raises(ValueError, match="should match pattern"):
        GateResult.model_validate(good | {"status": "fail", "reasons": [
            reason | {"code": "gate0 lower"}]})
    failed = good | {"status": "fail", "reasons": [reason]}
    with pytest.raises(ValueError, match="every required gate passes"):
        GateReport.model_validate(data | {"results": [failed, *data["results"][1:]]})
    with pytest.raises(ValueError, match="exactly the required gates"):
        GateReport.model_validate(data | {"results": data["results"][1:]})
    assert GateReport.model_validate(data) == report


def test_markdown_report(evidence: Evidence) -> None:
    allow = evaluate(_inputs(evidence), Target.PAPER, default_policy(), evaluated_at=NOW)
    text = render_markdown(allow)
    assert text.startswith("# Gate report: cand-edge → paper\n")
    assert "**Decision: ALLOW**" in text and "## Gate 1 — robustness: **PASS**" in text
    assert "| n_trials_family | 3 |" in text  # the report states N
    drift = good_hard_stops().drift
    assert drift is not None
    bad = good_hard_stops(drift=drift.model_copy(update={"differences": ("a|b",)}))
    deny = evaluate(_inputs(evidence, hard_stops=bad), Target.LIVE, default_policy(),
                    evaluated_at=NOW)
    text = render_markdown(deny)
    assert "**Decision: DENY**" in text and "## Hard stops: **FAIL**" in text
    assert "| `HARD_STOP_GITOPS_DRIFT` | runtime config differs from GitOps: a\\|b |" in text
    assert deny.results[0].gate_id is GateId.LIVE_REVIEW

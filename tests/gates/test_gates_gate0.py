"""Gate 0 on a real quality report of a real snapshot, and on broken copies of it."""

from __future__ import annotations

import math

import pytest

from tests.gates.conftest import Evidence
from tests.gates.gate_helpers import codes, ctx
from torghut.contracts.datasets import QualityFinding
from torghut.contracts.gates import GateId
from torghut.gates.gate0 import evaluate_gate0


def test_clean_snapshot_passes(evidence: Evidence) -> None:
    q = evidence.edge_quality
    result = evaluate_gate0(q, ctx(), dataset_id=q.dataset_id, universe=("SYN000", "SYN001"))
    assert result.passed and result.gate_id is GateId.DATA and result.reasons == ()
    assert result.observations["null_rate"] == 0.0
    assert [(a.kind, a.sha256) for a in result.artifact_refs] == [
        ("quality_report", q.content_hash())]


def test_missing_report_fails_closed() -> None:
    result = evaluate_gate0(None, ctx())
    assert not result.passed and codes(result) == ["GATE0_EVIDENCE_MISSING"]
    assert result.artifact_refs == ()


def test_report_about_another_snapshot_or_universe_fails(evidence: Evidence) -> None:
    q = evidence.edge_quality
    result = evaluate_gate0(q, ctx(), dataset_id="0" * 64, universe=("SYN000", "SYN009"))
    assert codes(result) == ["GATE0_DATASET_MISMATCH", "GATE0_UNIVERSE_NOT_COVERED"]
    assert result.reasons[0].observed == q.dataset_id


def test_failed_report_and_each_fail_finding_are_reasons(evidence: Evidence) -> None:
    stale = QualityFinding(code="STALE_DATA", severity="fail", message="last bar 9 d old",
                           symbol="SYN001", observed=777600.0, threshold=86400.0)
    warn = QualityFinding(code="ZERO_VOLUME", severity="warn", message="2 bars")
    q = evidence.edge_quality.model_copy(update={"passed": False, "findings": (stale, warn)})
    result = evaluate_gate0(q, ctx())
    assert codes(result) == ["GATE0_QUALITY_REPORT_FAILED", "GATE0_QUALITY_FINDING"]
    assert result.reasons[1].observed == "STALE_DATA" and "SYN001" in result.reasons[1].message


@pytest.mark.parametrize(("metric", "value", "code"), [
    ("max_required_null_rate", 0.02, "GATE0_NULL_RATE_ABOVE_MAX"),
    ("duplicate_ratio", 0.001, "GATE0_DUPLICATE_RATIO_ABOVE_MAX"),
    ("symbol_coverage", 0.5, "GATE0_SYMBOL_COVERAGE_BELOW_MIN"),
    ("gap_ratio", 0.05, "GATE0_GAP_RATIO_ABOVE_MAX"),
    ("gap_ratio", float("nan"), "GATE0_GAP_RATIO_MISSING"),
    ("symbol_coverage", None, "GATE0_SYMBOL_COVERAGE_MISSING"),
])
def test_policy_thresholds_are_checked_on_the_metrics(evidence: Evidence, metric: str,
                                                      value: float | None, code: str) -> None:
    metrics = dict(evidence.edge_quality.metrics)
    if value is None:
        del metrics[metric]
    else:
        metrics[metric] = value
    result = evaluate_gate0(evidence.edge_quality.model_copy(update={"metrics": metrics}),
                            ctx())
    unreadable = ["GATE0_EVIDENCE_UNREADABLE"] if value is not None and math.isnan(value) else []
    assert codes(result) == [*unreadable, code]
    assert result.canonical_json()  # NaN never reaches the JSON contract


def test_explicit_staleness_ceiling(evidence: Evidence) -> None:
    policy = ctx().policy
    strict = policy.model_copy(update={"gate0": policy.gate0.model_copy(
        update={"max_staleness_seconds": 0.25})})
    metrics = dict(evidence.edge_quality.metrics) | {"staleness_seconds": 0.5}
    q = evidence.edge_quality.model_copy(update={"metrics": metrics})
    assert codes(evaluate_gate0(q, ctx(strict))) == ["GATE0_STALENESS_ABOVE_MAX"]
    assert evaluate_gate0(q, ctx()).passed  # unset: the report's calendar-aware check rules

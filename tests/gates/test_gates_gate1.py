"""Gate 1 on real research bundles: a planted edge passes, noise over a large grid does not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gates.conftest import Evidence
from tests.gates.gate_helpers import codes, ctx, family_of
from torghut.contracts.gates import GateId
from torghut.contracts.research import MetricsBundle
from torghut.gates.gate1 import evaluate_gate1
from torghut.research.stats import deflated_sharpe_ratio


def _edit(bundle: MetricsBundle, **parts: dict[str, Any]) -> MetricsBundle:
    """A copy with fields of its sub-records replaced (``statistics={...}`` etc.)."""
    update = {name: getattr(bundle, name).model_copy(update=fields)
              for name, fields in parts.items()}
    return bundle.model_copy(update=update)


def test_planted_edge_passes_every_check(evidence: Evidence) -> None:
    b = evidence.edge
    result = evaluate_gate1(b, family_of(b), ctx())
    assert result.passed, result.reasons
    obs = result.observations
    assert obs["n_trials_family"] == 3 and obs["folds"] == 4
    assert obs["dsr"] == pytest.approx(b.statistics.dsr, rel=1e-12)  # same N: same DSR
    assert {a.kind for a in result.artifact_refs} == {"metrics_bundle", "trial_family"}


def test_noise_over_a_large_grid_fails_on_overfitting_statistics(evidence: Evidence) -> None:
    b = evidence.noise
    result = evaluate_gate1(b, family_of(b), ctx())
    found = set(codes(result))
    assert {"GATE1_DSR_BELOW_MIN", "GATE1_PBO_ABOVE_MAX",
            "GATE1_REALITY_CHECK_PVALUE_ABOVE_MAX"} <= found
    assert result.observations["n_trials_family"] == 30


def test_trials_recorded_for_the_family_count_against_the_edge(evidence: Evidence) -> None:
    """Re-running sweeps raises N; the DSR is recomputed with the ledger's N, not the run's."""
    b = evidence.edge
    s = b.statistics
    family = family_of(b, n_trials=5_000_000, var_trial_sharpe=0.01)
    result = evaluate_gate1(b, family, ctx())
    assert codes(result) == ["GATE1_DSR_BELOW_MIN"]
    expected = deflated_sharpe_ratio(s.oos.sharpe, s.oos.n_obs, s.oos_skew, s.oos_kurtosis,
                                     5_000_000, var_trials_sr=0.01).dsr
    assert result.reasons[0].observed == pytest.approx(expected, rel=1e-12)
    assert "N=5000000" in result.reasons[0].message


def test_family_missing_or_inconsistent_fails_closed(evidence: Evidence) -> None:
    b = evidence.edge
    assert codes(evaluate_gate1(b, None, ctx())) == ["GATE1_TRIAL_FAMILY_MISSING"]
    assert codes(evaluate_gate1(b, family_of(b, n_trials=2), ctx())) == [
        "GATE1_TRIAL_FAMILY_INCONSISTENT"]
    other = family_of(b, strategy_type="mean_reversion")
    assert codes(evaluate_gate1(b, other, ctx())) == ["GATE1_TRIAL_FAMILY_INCONSISTENT"]
    result = evaluate_gate1(None, family_of(b), ctx())
    assert codes(result) == ["GATE1_EVIDENCE_MISSING"] and result.gate_id is GateId.ROBUSTNESS


def _fold_edits(b: MetricsBundle, **fields: Any) -> dict[str, Any]:
    return {"folds": tuple(f.model_copy(update=fields) for f in b.folds)}


@pytest.mark.parametrize(("make", "code"), [
    (lambda b: {"folds": b.folds[:3]}, "GATE1_FOLDS_BELOW_MIN"),
    (lambda b: _fold_edits(b, trades=4), "GATE1_TRADES_BELOW_MIN"),
    (lambda b: {"folds": tuple(f.model_copy(update={"net_pnl": -1.0 if f.index < 3 else 2.0})
                               for f in b.folds)}, "GATE1_NEGATIVE_FOLD_RATIO_ABOVE_MAX"),
])
def test_fold_checks(evidence: Evidence, make: Any, code: str) -> None:
    b = evidence.edge.model_copy(update=make(evidence.edge))
    assert code in codes(evaluate_gate1(b, family_of(b), ctx()))


def test_zero_oos_net_pnl_is_not_enough(evidence: Evidence) -> None:
    b = evidence.edge.model_copy(update=_fold_edits(evidence.edge, net_pnl=0.0))
    assert codes(evaluate_gate1(b, family_of(b), ctx())) == ["GATE1_OOS_NET_PNL_BELOW_MIN"]


@pytest.mark.parametrize(("part", "fields", "expected"), [
    ("statistics", {"pbo": None}, ["GATE1_PBO_MISSING"]),
    ("statistics", {"reality_check_pvalue": 0.05}, ["GATE1_REALITY_CHECK_PVALUE_ABOVE_MAX"]),
    ("statistics", {"spa_pvalue_consistent": 0.2}, ["GATE1_SPA_PVALUE_ABOVE_MAX"]),
    ("statistics", {"spa_pvalue_consistent": None}, ["GATE1_SPA_PVALUE_MISSING"]),
    ("statistics", {"sensitivity": None}, ["GATE1_SENSITIVITY_MISSING"]),
    ("statistics", {"oos_kurtosis": None}, ["GATE1_DSR_MISSING"]),
    ("statistics", {"estimator": "unknown-estimator"}, ["GATE1_DSR_MISSING"]),
    ("selected_metrics", {"cost_bps": 36.0}, ["GATE1_COST_BPS_ABOVE_MAX"]),
    ("selected_metrics", {"cost_bps": None}, ["GATE1_COST_BPS_MISSING"]),
    ("selected_metrics", {"max_drawdown": -0.3}, ["GATE1_DRAWDOWN_ABOVE_MAX"]),
    ("selected_metrics", {"turnover": 101.0}, ["GATE1_TURNOVER_ABOVE_MAX"]),
])
def test_statistic_and_risk_checks(evidence: Evidence, part: str, fields: dict[str, Any],
                                   expected: list[str]) -> None:
    b = _edit(evidence.edge, **{part: fields})
    assert codes(evaluate_gate1(b, family_of(b), ctx())) == expected


def test_pbo_above_max(evidence: Evidence) -> None:
    s = evidence.edge.statistics
    assert s.pbo is not None
    b = _edit(evidence.edge, statistics={"pbo": s.pbo.model_copy(update={"pbo": 0.21})})
    result = evaluate_gate1(b, family_of(b), ctx())
    assert codes(result) == ["GATE1_PBO_ABOVE_MAX"]
    assert (result.reasons[0].observed, result.reasons[0].threshold) == (0.21, 0.2)


def test_stress_survival_under_pessimistic_costs(evidence: Evidence) -> None:
    b = evidence.edge
    assert b.stress is not None
    worst = b.stress.scenarios[0]
    broke = worst.model_copy(update={
        "metrics": worst.metrics.model_copy(update={"net_pnl": -10.0}),
        "relative": worst.relative | {"sharpe": -0.9}})
    bad = b.model_copy(update={"stress": b.stress.model_copy(update={"scenarios": (broke,)})})
    assert codes(evaluate_gate1(bad, family_of(b), ctx())) == [
        "GATE1_STRESS_NET_PNL_BELOW_MIN", "GATE1_STRESS_SHARPE_DEGRADATION_ABOVE_MAX"]
    undefined = broke.model_copy(update={"metrics": worst.metrics,
                                         "relative": worst.relative | {"sharpe": None}})
    bad = b.model_copy(update={"stress": b.stress.model_copy(
        update={"scenarios": (undefined,)})})
    assert codes(evaluate_gate1(bad, family_of(b), ctx())) == [
        "GATE1_STRESS_SHARPE_DEGRADATION_MISSING"]
    for gone in (None, b.stress.model_copy(update={"scenarios": ()})):
        result = evaluate_gate1(b.model_copy(update={"stress": gone}), family_of(b), ctx())
        assert codes(result) == ["GATE1_STRESS_SCENARIO_MISSING"]
        assert result.reasons[0].observed == "pessimistic_costs"

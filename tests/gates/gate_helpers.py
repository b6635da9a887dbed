"""Good evidence for every gate, built from real contracts; tests break one field at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from torghut.contracts.gates import (
    ApprovalRecord,
    ConfigValidation,
    DriftReport,
    DrillRecord,
    GatePolicy,
    GateResult,
    HardStopInputs,
    KillSwitchState,
    LedgerIntegrity,
    LiveReviewEvidence,
    LlmReliability,
    PaperEvidence,
    PaperSimDivergence,
    PaperSlice,
    PaperStability,
    RegimeClass,
    RegimeSegment,
    RiskViolation,
    RiskViolations,
    TcaEvidence,
    TrialFamily,
)
from torghut.contracts.research import MetricsBundle
from torghut.gates import default_policy, make_context
from torghut.gates.checks import Context

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
STRATEGY = "tsmom@1.0.0"
HASH_A = "a" * 64
HASH_B = "b" * 64


def ctx(policy: GatePolicy | None = None, at: datetime = NOW) -> Context:
    return make_context(policy or default_policy(), at)


def codes(result: GateResult) -> list[str]:
    return [r.code for r in result.reasons]


def family_of(bundle: MetricsBundle, **overrides: Any) -> TrialFamily:
    """The family record the ledger would hold if this run were the only one."""
    s = bundle.statistics
    data = {"strategy_type": bundle.candidate.strategy_type, "n_trials": s.n_trials_run,
            "var_trial_sharpe": s.var_trial_sharpe} | overrides
    return TrialFamily.model_validate(data)


def paper_slice(sharpe: float | None, **overrides: Any) -> PaperSlice:
    data = {"bars": 120, "net_pnl": 5_000.0, "sharpe_annual": sharpe, "cost_bps": 8.0,
            "max_drawdown": -0.03} | overrides
    return PaperSlice.model_validate(data)


def segment(regime: RegimeClass, challenger: float | None = 1.8,
            champion: float | None = 1.0, day: int = 0, **overrides: Any) -> RegimeSegment:
    data: dict[str, Any] = {
        "regime": regime, "start": NOW - timedelta(days=40 - day),
        "end": NOW - timedelta(days=30 - day), "challenger": paper_slice(challenger),
        "champion": paper_slice(champion) if champion is not None else None} | overrides
    return RegimeSegment.model_validate(data)


def good_paper(**overrides: Any) -> PaperEvidence:
    data: dict[str, Any] = {
        "strategy": STRATEGY, "champion": "legacy_macd_rsi@2.1.0", "mode": "paper",
        "start": NOW - timedelta(days=40), "end": NOW - timedelta(days=1), "sessions": 28,
        "divergence": PaperSimDivergence(pnl_divergence=0.002, intent_agreement=0.99,
                                         fill_ratio_divergence=0.02),
        "stability": PaperStability(plugin_errors=0, circuit_open_count=0,
                                    risk_limit_breaches=0, max_drawdown=-0.04),
        "segments": (segment(RegimeClass.HIGH_VOL), segment(RegimeClass.NORMAL, day=10)),
    } | overrides
    return PaperEvidence.model_validate(data)


def good_tca(**overrides: Any) -> TcaEvidence:
    data = {"strategy": STRATEGY, "start": NOW - timedelta(days=40), "end": NOW,
            "orders": 400, "fills": 380, "slippage_bps": 6.5, "shortfall_bps": 9.0,
            "churn": 0.2} | overrides
    return TcaEvidence.model_validate(data)


def drill(hours_ago: float = 5.0, passed: bool = True) -> DrillRecord:
    return DrillRecord(passed=passed, at=NOW - timedelta(hours=hours_ago),
                       evidence_sha256=HASH_A)


def good_live_review(**overrides: Any) -> LiveReviewEvidence:
    data: dict[str, Any] = {
        "strategy": STRATEGY, "proposer": "research-agent",
        "paper_started_at": NOW - timedelta(days=30), "kill_switch_drill": drill(),
        "rollback_drill": drill(10.0),
        "approvals": (ApprovalRecord(identity="alice", role="approver",
                                     at=NOW - timedelta(hours=1)),),
        "rollback_target": "catalog@3f2a9c1"} | overrides
    return LiveReviewEvidence.model_validate(data)


def good_hard_stops(**overrides: Any) -> HardStopInputs:
    data: dict[str, Any] = {
        "ledger": LedgerIntegrity(events=42, head_hash=HASH_B, broken=None),
        "config": ConfigValidation(config_sha256=HASH_A, valid=True),
        "drift": DriftReport(gitops_sha256=HASH_A, runtime_sha256=HASH_A),
        "risk": RiskViolations(violations=(
            RiskViolation(violation_id="r-1", severity="high", resolved=True),
            RiskViolation(violation_id="r-2", severity="medium", resolved=False))),
        "llm": LlmReliability(advisory_stage=1, requests=400, error_ratio=0.03,
                              latency_p95_ms=120.0),
        "kill_switch": KillSwitchState(state="active", scope="firm")} | overrides
    return HardStopInputs.model_validate(data)

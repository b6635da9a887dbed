"""Gate results, the gate policy and the evidence each gate reads.

Every gate emits the same :class:`GateResult` (DESIGN.md "Gates"): a status, stable
UPPER_SNAKE reason codes with the observed value and the threshold, the content hashes of
the evidence read, and the policy version/checksum and code version it was judged under.
Only ``pass`` passes, and a result passes exactly when it has no reasons.

The evidence contracts for Gates 2–4 and the hard stops are defined here, ahead of the
parts that will produce them (runtime, ops, governance); each gate fails closed with a
``*_MISSING`` code when its evidence is absent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from torghut.contracts.base import SEMVER_PATTERN, SHA256_PATTERN, SLUG_PATTERN, Contract
from torghut.contracts.datasets import QualityReport
from torghut.contracts.research import MetricsBundle

REASON_CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"
STRATEGY_REF_PATTERN = r"^[a-z][a-z0-9_\-]{0,62}@(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"

Scalar = float | int | str | bool | None


class GateId(StrEnum):
    DATA = "gate0"
    ROBUSTNESS = "gate1"
    PAPER = "gate2"
    TCA = "gate3"
    LIVE_REVIEW = "gate4"
    HARD_STOPS = "hard_stops"


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class Target(StrEnum):
    """Lifecycle state a gate evaluation would move a candidate into."""

    PAPER = "paper"
    PAPER_VERIFIED = "paper_verified"
    LIVE = "live"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


# --------------------------------------------------------------------------- results


class GateReason(Contract):
    """Why a gate failed: a stable code, a sentence, and the numbers behind it."""

    schema_version: Literal["1.0"] = "1.0"
    code: str = Field(pattern=REASON_CODE_PATTERN)
    message: str = Field(min_length=1)
    observed: Scalar = None
    threshold: Scalar = None


class ArtifactRef(Contract):
    """One piece of evidence a gate read, by content hash (sha256 of its canonical JSON)."""

    schema_version: Literal["1.0"] = "1.0"
    kind: str = Field(pattern=SLUG_PATTERN)
    sha256: str = Field(pattern=SHA256_PATTERN)


class GateResult(Contract):
    """One gate's verdict (DESIGN.md "Gates"). ``observations`` are the measured values."""

    schema_version: Literal["1.0"] = "1.0"
    gate_id: GateId
    status: GateStatus
    reasons: tuple[GateReason, ...]
    observations: dict[str, Scalar] = Field(
        default_factory=dict, description="Every value the gate measured, pass or fail")
    artifact_refs: tuple[ArtifactRef, ...]
    evaluated_at: AwareDatetime
    code_version: str = Field(min_length=1)
    policy_version: str = Field(pattern=SEMVER_PATTERN)
    policy_checksum: str = Field(pattern=SHA256_PATTERN)

    @model_validator(mode="after")
    def _pass_means_no_reasons(self) -> GateResult:
        if (self.status is GateStatus.PASS) == bool(self.reasons):
            raise ValueError("status is 'pass' exactly when there are no reasons")
        return self

    @property
    def passed(self) -> bool:
        return self.status is GateStatus.PASS


class GateReport(Contract):
    """Every gate a target requires, plus the hard stops; allow only if all of them pass."""

    schema_version: Literal["1.0"] = "1.0"
    candidate_id: str = Field(min_length=1)
    target: Target
    decision: Decision
    required_gates: tuple[GateId, ...] = Field(min_length=1)
    results: tuple[GateResult, ...]
    evaluated_at: AwareDatetime
    code_version: str = Field(min_length=1)
    policy_version: str = Field(pattern=SEMVER_PATTERN)
    policy_checksum: str = Field(pattern=SHA256_PATTERN)

    @model_validator(mode="after")
    def _decision_follows_results(self) -> GateReport:
        ids = tuple(r.gate_id for r in self.results)
        if ids != self.required_gates:
            raise ValueError("results must be exactly the required gates, in order")
        allow = all(r.passed for r in self.results)
        if (self.decision is Decision.ALLOW) != allow:
            raise ValueError("decision is 'allow' exactly when every required gate passes")
        return self

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(reason.code for r in self.results for reason in r.reasons)


# --------------------------------------------------------------------------- Gate 1 input


class TrialFamily(Contract):
    """Every trial the ledger recorded for a strategy family (type): the DSR's N and V[SR]."""

    schema_version: Literal["1.0"] = "1.0"
    strategy_type: str = Field(pattern=SLUG_PATTERN)
    n_trials: int = Field(ge=1, description="All trials recorded for the family, ever")
    var_trial_sharpe: float = Field(ge=0, allow_inf_nan=False,
                                    description="Variance of their per-period Sharpe ratios")
    var_trial_sharpe_ddof: Literal[1] = 1


# --------------------------------------------------------------------------- Gate 2 input


class RegimeClass(StrEnum):
    HIGH_VOL = "high_vol"
    NORMAL = "normal"


class PaperSlice(Contract):
    """Risk- and cost-adjusted performance of one strategy over one regime segment."""

    schema_version: Literal["1.0"] = "1.0"
    bars: int = Field(ge=0)
    net_pnl: float = Field(allow_inf_nan=False, description="After costs, currency")
    sharpe_annual: float | None = Field(allow_inf_nan=False,
                                        description="Of net returns; None if undefined")
    cost_bps: float | None = Field(allow_inf_nan=False, description="Costs / traded notional")
    max_drawdown: float = Field(le=0, allow_inf_nan=False, description="Fraction of equity")


class RegimeSegment(Contract):
    """A contiguous part of the paper window with its regime label."""

    schema_version: Literal["1.0"] = "1.0"
    regime: RegimeClass
    start: AwareDatetime
    end: AwareDatetime
    challenger: PaperSlice
    champion: PaperSlice | None = Field(
        default=None, description="The current champion over the same segment")


class PaperSimDivergence(Contract):
    """Paper versus the simulator replaying the same feed (runtime reconciliation)."""

    schema_version: Literal["1.0"] = "1.0"
    pnl_divergence: float = Field(ge=0, allow_inf_nan=False,
                                  description="|paper − sim net PnL| / capital")
    intent_agreement: float = Field(ge=0, le=1,
                                    description="Share of sim intents paper reproduced")
    fill_ratio_divergence: float = Field(ge=0, le=1,
                                         description="|paper − sim fill ratio|")


class PaperStability(Contract):
    """Operational stability of the challenger over the paper window."""

    schema_version: Literal["1.0"] = "1.0"
    plugin_errors: int = Field(ge=0)
    circuit_open_count: int = Field(ge=0)
    risk_limit_breaches: int = Field(ge=0)
    max_drawdown: float = Field(le=0, allow_inf_nan=False, description="Fraction of equity")


class PaperEvidence(Contract):
    """Gate 2 evidence: a paper (or shadow) window of the challenger, produced by runtime."""

    schema_version: Literal["1.0"] = "1.0"
    strategy: str = Field(pattern=STRATEGY_REF_PATTERN, description="TYPE@VERSION")
    champion: str | None = Field(default=None, pattern=STRATEGY_REF_PATTERN,
                                 description="TYPE@VERSION of the champion; None if none")
    mode: Literal["paper", "shadow"]
    start: AwareDatetime
    end: AwareDatetime
    sessions: int = Field(ge=0)
    divergence: PaperSimDivergence
    stability: PaperStability
    segments: tuple[RegimeSegment, ...]

    @model_validator(mode="after")
    def _ordered(self) -> PaperEvidence:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


# --------------------------------------------------------------------------- Gate 3 input


class TcaEvidence(Contract):
    """Gate 3 evidence: per-order TCA aggregated over the paper window (plan-details "TCA").

    Slippage bps = side × (fill − arrival mid) / arrival mid × 10⁴, notional weighted.
    """

    schema_version: Literal["1.0"] = "1.0"
    strategy: str = Field(pattern=STRATEGY_REF_PATTERN)
    start: AwareDatetime
    end: AwareDatetime
    orders: int = Field(ge=0)
    fills: int = Field(ge=0)
    slippage_bps: float | None = Field(allow_inf_nan=False, description="None without fills")
    shortfall_bps: float | None = Field(allow_inf_nan=False,
                                        description="Implementation shortfall vs arrival")
    churn: float | None = Field(ge=0, allow_inf_nan=False,
                                description="Cancel/replace messages per order")


# --------------------------------------------------------------------------- Gate 4 input


class DrillRecord(Contract):
    """A kill-switch or rollback dry run, as recorded by ops."""

    schema_version: Literal["1.0"] = "1.0"
    passed: bool
    at: AwareDatetime
    evidence_sha256: str = Field(pattern=SHA256_PATTERN)


class ApprovalRecord(Contract):
    schema_version: Literal["1.0"] = "1.0"
    identity: str = Field(min_length=1)
    role: str = Field(min_length=1)
    at: AwareDatetime


class LiveReviewEvidence(Contract):
    """Gate 4 evidence: paper track record, drills and approvals (ops, governance)."""

    schema_version: Literal["1.0"] = "1.0"
    strategy: str = Field(pattern=STRATEGY_REF_PATTERN)
    proposer: str = Field(min_length=1)
    paper_started_at: AwareDatetime
    kill_switch_drill: DrillRecord | None
    rollback_drill: DrillRecord | None
    approvals: tuple[ApprovalRecord, ...]
    rollback_target: str | None = Field(description="Known-good catalog revision to revert to")


# --------------------------------------------------------------------------- hard stops


class ConfigValidation(Contract):
    """Schema/type validation of the runtime config about to be (or being) applied."""

    schema_version: Literal["1.0"] = "1.0"
    config_sha256: str = Field(pattern=SHA256_PATTERN)
    valid: bool
    errors: tuple[str, ...] = ()


class DriftReport(Contract):
    """GitOps desired state versus the runtime's applied state."""

    schema_version: Literal["1.0"] = "1.0"
    gitops_sha256: str = Field(pattern=SHA256_PATTERN)
    runtime_sha256: str | None = Field(
        pattern=SHA256_PATTERN,
        description="Config the runtime last applied; None when no runtime has applied any "
                    "(nothing deployed, so nothing can drift)")
    differences: tuple[str, ...] = ()


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RiskViolation(Contract):
    schema_version: Literal["1.0"] = "1.0"
    violation_id: str = Field(min_length=1)
    severity: Severity
    resolved: bool


class RiskViolations(Contract):
    schema_version: Literal["1.0"] = "1.0"
    violations: tuple[RiskViolation, ...]


class LlmReliability(Contract):
    """Advisory-path reliability on the versioned evaluation set (control AI-S1).

    1.1 adds the rates measured over the policy's window of recorded advisory calls;
    ``compared`` is ``None`` only in a 1.0 measurement (which judged no rates)."""

    schema_version: Literal["1.0", "1.1"] = "1.1"
    advisory_stage: int = Field(ge=0, le=3, description="0 off, 1 shadow, 2 paper, 3 live")
    requests: int = Field(ge=0)
    error_ratio: float | None = Field(ge=0, le=1, description="None when no requests")
    latency_p95_ms: float | None = Field(ge=0, allow_inf_nan=False)
    window_calls: int | None = Field(default=None, ge=1, description="Window size: the "
                                     "newest recorded advisory calls measured")
    schema_valid_rate: float | None = Field(default=None, ge=0, le=1, description="Calls "
                                            "whose output passed the strict response schema")
    timeout_ratio: float | None = Field(default=None, ge=0, le=1,
                                        description="Calls that timed out")
    compared: int | None = Field(default=None, ge=0, description="Calls with advice and a "
                                 "deterministic outcome to compare it with")
    agreement_rate: float | None = Field(default=None, ge=0, le=1, description="Share of "
                                         "compared calls agreeing with the deterministic "
                                         "outcome; None when none compared")


class KillSwitchState(Contract):
    schema_version: Literal["1.0"] = "1.0"
    state: Literal["active", "reducing", "halted"]
    scope: str = Field(min_length=1, description="firm, strategy:<id> or symbol:<sym>")


class ChainBreak(Contract):
    """Where the audit chain stops vouching for the ledger (``torghut audit verify``)."""

    schema_version: Literal["1.0"] = "1.0"
    seq: int = Field(ge=1)
    table: str = Field(min_length=1)
    row_id: str = Field(min_length=1)
    code: str = Field(min_length=1)
    message: str = Field(min_length=1)


class LedgerIntegrity(Contract):
    """The audit chain, every row it vouches for and every artifact it references."""

    schema_version: Literal["1.0"] = "1.0"
    events: int = Field(ge=0)
    head_hash: str = Field(pattern=SHA256_PATTERN)
    broken: ChainBreak | None = Field(description="The first break; None when intact")


class HardStopInputs(Contract):
    """Inputs of every hard-stop check; a ``None`` input fails its check closed."""

    schema_version: Literal["1.0"] = "1.0"
    ledger: LedgerIntegrity | None = None
    config: ConfigValidation | None = None
    drift: DriftReport | None = None
    risk: RiskViolations | None = None
    llm: LlmReliability | None = None
    kill_switch: KillSwitchState | None = None


# --------------------------------------------------------------------------- all inputs


class GateInputs(Contract):
    """Everything a gate evaluation reads for one candidate (absent evidence is ``None``)."""

    schema_version: Literal["1.0"] = "1.0"
    candidate_id: str = Field(min_length=1)
    quality: QualityReport | None = None
    bundle: MetricsBundle | None = None
    trial_family: TrialFamily | None = None
    paper: PaperEvidence | None = None
    tca: TcaEvidence | None = None
    live_review: LiveReviewEvidence | None = None
    hard_stops: HardStopInputs = Field(default_factory=HardStopInputs)
    absent: dict[str, str] = Field(
        default_factory=dict,
        description="Why an input is None (input name, or hard_stops.<check>, → reason); "
                    "the gate that needed it fails closed and says why")


# --------------------------------------------------------------------------- policy


def _f(default: float, description: str, *, ge: float | None = None, gt: float | None = None,
       le: float | None = None) -> Any:
    """A finite float threshold with its documented default."""
    return Field(default=default, description=description, allow_inf_nan=False, ge=ge, gt=gt,
                 le=le)


class PolicySection(Contract):
    """Strict: a policy file's ``"4"`` or ``true`` is a type error, not a coerced number."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, strict=True)


class Gate0Policy(PolicySection):
    """Data quality (plan-details "Reference gate defaults", Gate 0)."""

    schema_version: Literal["1.0"] = "1.0"
    max_null_rate: float = _f(0.01, "Max null rate of any required column", ge=0, le=1)
    max_duplicate_ratio: float = _f(0.0, "Max duplicate (ts, symbol) rows / rows", ge=0, le=1)
    min_symbol_coverage: float = _f(1.0, "Min share of the universe present", ge=0, le=1)
    max_gap_ratio: float = _f(0.01, "Max missing calendar sessions / expected", ge=0, le=1)
    max_staleness_seconds: float | None = Field(
        default=None, ge=0, allow_inf_nan=False,
        description="Max age of each symbol's last bar at as-of; null = the quality "
                    "report's calendar-aware staleness check decides")


class Gate1Policy(PolicySection):
    """Robustness: is the edge real out of sample, after costs and after all trials?"""

    schema_version: Literal["1.0"] = "1.0"
    min_folds: int = Field(default=4, ge=1, description="Min walk-forward / CPCV folds "
                           "(the old system used 1)")
    min_trades: int = Field(default=20, ge=0, description="Min fills over all test windows")
    min_oos_net_pnl: float = _f(0.0, "Out-of-sample net PnL after costs must exceed this")
    max_negative_fold_ratio: float = _f(0.5, "Max share of folds with net PnL < 0", ge=0, le=1)
    max_pbo: float = _f(0.20, "Max probability of backtest overfitting (CSCV)", ge=0, le=1)
    min_dsr: float = _f(0.95, "Min Deflated Sharpe Ratio, N = the family's ledger trials "
                        "(P[true SR > SR0] at 95% confidence)", ge=0, le=1)
    max_reality_check_pvalue: float = _f(0.05, "White reality-check p must be below this",
                                         gt=0, le=1)
    max_spa_pvalue: float = _f(0.05, "Hansen SPA (consistent) p must be below this", gt=0, le=1)
    min_sensitivity: float = _f(0.5, "Min parameter-neighbourhood stability score "
                                "(rejects narrow peaks)", ge=0, le=1)
    max_cost_bps: float = _f(35.0, "Max total costs / traded notional, bps", ge=0)
    max_drawdown: float = _f(0.25, "Max drawdown as a fraction of capital (full sample and "
                             "out of sample)", ge=0, le=1)
    max_turnover: float = _f(100.0, "Max annualised turnover (traded notional / equity)", ge=0)
    required_stress: tuple[str, ...] = Field(
        default=("pessimistic_costs",), strict=False,
        description="Stress scenarios that must have run and survived (net PnL > 0, Sharpe "
                    "degradation bounded)")
    max_stress_sharpe_degradation: float = _f(
        0.5, "Max relative Sharpe loss under each required stress scenario", ge=0)


class Gate2Policy(PolicySection):
    """Paper: stable, like the simulation, and better than the champion in every regime."""

    schema_version: Literal["1.0"] = "1.0"
    min_sessions: int = Field(default=10, ge=1, description="Min paper sessions")
    max_pnl_divergence: float = _f(0.01, "Max |paper − sim net PnL| / capital", ge=0)
    min_intent_agreement: float = _f(0.95, "Min share of sim intents reproduced in paper",
                                     ge=0, le=1)
    max_fill_ratio_divergence: float = _f(0.10, "Max |paper − sim fill ratio|", ge=0, le=1)
    max_plugin_errors: int = Field(default=0, ge=0, description="Max plugin errors")
    max_circuit_opens: int = Field(default=0, ge=0, description="Max circuit-breaker opens")
    max_risk_breaches: int = Field(default=0, ge=0, description="Max risk-limit breaches")
    max_drawdown: float = _f(0.10, "Max paper drawdown as a fraction of capital", ge=0, le=1)
    min_segment_bars: int = Field(default=50, ge=1, description="Bars a regime segment needs "
                                  "to count; fewer: extend the window")
    sharpe_margin: float = _f(0.25, "Annualised Sharpe margin: beat the champion by more "
                              "than this, lose by more than this fails, between is ambiguous "
                              "(extend the window)", ge=0)
    max_cost_bps_excess: float = _f(5.0, "Max cost bps above the champion's, per regime", ge=0)


class Gate3Policy(PolicySection):
    """TCA bands (plan-details "Reference gate defaults", TCA)."""

    schema_version: Literal["1.0"] = "1.0"
    min_fills: int = Field(default=20, ge=1, description="Min fills for the bands to mean "
                           "anything")
    max_slippage_bps: float = _f(25.0, "Max arrival-mid slippage, bps")
    max_shortfall_bps: float = _f(25.0, "Max implementation shortfall, bps")
    max_churn: float = _f(0.75, "Max cancel/replace messages per order", ge=0)


class Gate4Policy(PolicySection):
    """Live review: track record, drills (control RTS-5) and approvals."""

    schema_version: Literal["1.0"] = "1.0"
    min_paper_days: float = _f(20.0, "Min days since paper started", ge=0)
    max_drill_age_hours: float = _f(72.0, "Kill-switch and rollback drills passed within "
                                    "this many hours", gt=0)
    min_approvals: int = Field(default=1, ge=1, description="Min human approvals, none by "
                               "the proposer")


class HardStopPolicy(PolicySection):
    """Thresholds of the hard-stop checks (the others are binary); 1.1 adds the advisory
    window and rates (a 1.0 file still reads, with the documented defaults)."""

    schema_version: Literal["1.0", "1.1"] = "1.1"
    max_llm_error_ratio: float = _f(0.10, "Max advisory-path error ratio", ge=0, le=1)
    max_llm_latency_p95_ms: float = _f(200.0, "Max advisory-path latency p95, ms", ge=0)
    min_llm_requests: int = Field(default=50, ge=1, description="Min evaluation requests for "
                                  "an enabled advisory path to be judged")
    llm_window_calls: int = Field(default=200, ge=1, description="Window: the newest N "
                                  "recorded advisory calls are measured")
    min_llm_schema_valid_rate: float = _f(0.95, "Min share of advisory outputs passing the "
                                          "strict response schema", ge=0, le=1)
    max_llm_timeout_ratio: float = _f(0.05, "Max share of advisory calls timing out",
                                      ge=0, le=1)
    min_llm_agreement_rate: float = _f(0.80, "Min agreement of advice with the deterministic "
                                       "outcome (gate verdict) it addresses", ge=0, le=1)


class GatePolicy(PolicySection):
    """The versioned gate policy (GitOps ``apps/torghut/gate-policy.yaml``)."""

    schema_version: Literal["1.0"] = "1.0"
    policy_version: str = Field(default="1.0.0", pattern=SEMVER_PATTERN,
                                description="Bump on every threshold change")
    freeze_after_failures: int = Field(
        default=3, ge=1, description="Consecutive denied decisions that freeze a candidate "
        "(it must be re-proposed as a new candidate)")
    gate0: Gate0Policy = Field(default_factory=Gate0Policy, description="Data quality")
    gate1: Gate1Policy = Field(default_factory=Gate1Policy, description="Robustness")
    gate2: Gate2Policy = Field(default_factory=Gate2Policy,
                               description="Paper stability and champion-challenger")
    gate3: Gate3Policy = Field(default_factory=Gate3Policy, description="TCA bands")
    gate4: Gate4Policy = Field(default_factory=Gate4Policy, description="Live review")
    hard_stops: HardStopPolicy = Field(default_factory=HardStopPolicy,
                                       description="Hard-stop checks")


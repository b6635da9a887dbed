"""Hard stops: conditions that block every forward transition while they hold (DESIGN.md).

Each check reads one input contract fed by the part that measures it and fails closed
(``HARD_STOP_<CHECK>_MISSING``) when that input is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torghut.contracts.gates import (
    ConfigValidation,
    DriftReport,
    GateId,
    GateResult,
    HardStopInputs,
    KillSwitchState,
    LedgerIntegrity,
    LlmReliability,
    RiskViolations,
    Severity,
)
from torghut.gates.checks import Context, Findings


def check_config(config: ConfigValidation, out: Findings, ctx: Context) -> None:
    if not config.valid:
        detail = "; ".join(config.errors) or "no detail"
        out.fail("CONFIG_INVALID", f"runtime config fails schema/type validation: {detail}",
                 len(config.errors), 0)


def check_ledger(ledger: LedgerIntegrity, out: Findings, ctx: Context) -> None:
    """A ledger that no longer verifies cannot vouch for any evidence (control RTS-28)."""
    out.observe("audit_events", ledger.events)
    b = ledger.broken
    if b is not None:  # control: RTS-28
        out.fail("LEDGER_BROKEN", f"audit chain broken at seq {b.seq} ({b.table} row "
                 f"{b.row_id}): {b.code}: {b.message}", b.code, None)


def check_drift(drift: DriftReport, out: Findings, ctx: Context) -> None:
    out.observe("runtime_deployed", drift.runtime_sha256 is not None)
    if drift.runtime_sha256 is None:
        return  # no runtime has applied any config: nothing deployed can drift
    if drift.gitops_sha256 != drift.runtime_sha256 or drift.differences:
        out.fail("GITOPS_DRIFT", "runtime config differs from GitOps: "
                 + (", ".join(drift.differences) or "hashes differ"),
                 drift.runtime_sha256, drift.gitops_sha256)


def check_risk(risk: RiskViolations, out: Findings, ctx: Context) -> None:
    open_high = sorted(v.violation_id for v in risk.violations
                       if v.severity is Severity.HIGH and not v.resolved)
    out.observe("unresolved_high_risk_violations", len(open_high))
    if open_high:
        out.fail("RISK_VIOLATION_UNRESOLVED", "unresolved high-severity risk violations: "
                 + ", ".join(open_high), len(open_high), 0)


def check_llm(llm: LlmReliability, out: Findings, ctx: Context) -> None:
    """Control AI-R1: advisory reliability below threshold is a hard stop."""
    out.observe("llm_advisory_stage", llm.advisory_stage)  # control: AI-R1
    if llm.advisory_stage == 0:
        return  # the advisory path is off: nothing it says can reach a decision
    p = ctx.policy.hard_stops
    out.at_least("LLM_REQUESTS", llm.requests, p.min_llm_requests,
                 what="advisory evaluation requests")
    out.at_most("LLM_ERROR_RATIO", llm.error_ratio, p.max_llm_error_ratio,
                what="advisory error ratio")
    out.at_most("LLM_LATENCY_P95_MS", llm.latency_p95_ms, p.max_llm_latency_p95_ms,
                what="advisory latency p95 (ms)")
    if llm.compared is None:
        return  # a 1.0 measurement carries no rates (AI-S1 rates came with 1.1)
    out.at_least("LLM_SCHEMA_VALID_RATE", llm.schema_valid_rate, p.min_llm_schema_valid_rate,
                 what="advisory schema-valid output rate")
    out.at_most("LLM_TIMEOUT_RATIO", llm.timeout_ratio, p.max_llm_timeout_ratio,
                what="advisory timeout ratio")
    out.at_least("LLM_AGREEMENT_RATE", llm.agreement_rate, p.min_llm_agreement_rate,
                 what="advisory agreement with the deterministic outcome")


def check_kill_switch(kill: KillSwitchState, out: Findings, ctx: Context) -> None:
    """Engaging the kill switch freezes the promotion pipeline (governance plan)."""
    if kill.state != "active":  # control: RTS-12 (a kill freezes the pipeline)
        out.fail("KILL_SWITCH_ENGAGED", f"kill switch is {kill.state} ({kill.scope})",
                 kill.state, "active")


Check = Callable[..., None]
CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("ledger", "LEDGER", check_ledger),
    ("config", "CONFIG", check_config),
    ("drift", "DRIFT", check_drift),
    ("risk", "RISK", check_risk),
    ("llm", "LLM", check_llm),
    ("kill_switch", "KILL_SWITCH", check_kill_switch),
)


def evaluate_hard_stops(inputs: HardStopInputs, ctx: Context,
                        absent: Mapping[str, str] | None = None) -> GateResult:
    """Run every check; ``absent`` says why an input is missing (``hard_stops.<name>``)."""
    out = Findings(GateId.HARD_STOPS)
    why = absent or {}
    for attr, name, check in CHECKS:
        value = getattr(inputs, attr)
        if value is None:
            out.missing(name, f"the {attr.replace('_', ' ')} input", why.get(f"hard_stops.{attr}"))
            continue
        out.ref(attr, value)
        check(value, out, ctx)
    return out.result(ctx)

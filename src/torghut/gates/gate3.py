"""Gate 3 — is execution quality within the TCA bands? (plan-details "TCA metrics")."""

from __future__ import annotations

from torghut.contracts.gates import GateId, GateResult, TcaEvidence
from torghut.gates.checks import Context, Findings, evidence_missing


def evaluate_gate3(tca: TcaEvidence | None, ctx: Context, *,
                   strategy: str | None = None, why: str | None = None) -> GateResult:
    if tca is None:
        return evidence_missing(GateId.TCA, "the TCA evidence", ctx, why)
    p = ctx.policy.gate3
    out = Findings(GateId.TCA)
    out.ref("tca_evidence", tca)
    if strategy is not None and tca.strategy != strategy:
        out.fail("STRATEGY_MISMATCH", "the TCA evidence is about another strategy",
                 tca.strategy, strategy)
    out.observe("orders", tca.orders)
    out.at_least("FILLS", tca.fills, p.min_fills, what="fills")
    out.at_most("SLIPPAGE_BPS", tca.slippage_bps, p.max_slippage_bps, what="slippage (bps)")
    out.at_most("SHORTFALL_BPS", tca.shortfall_bps, p.max_shortfall_bps,
                what="implementation shortfall (bps)")
    out.at_most("CHURN", tca.churn, p.max_churn, what="cancel/replace churn")
    return out.result(ctx)

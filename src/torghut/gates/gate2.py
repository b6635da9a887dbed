"""Gate 2 — did it behave in paper as in simulation, stably, and better than the champion?

Champion–challenger (plan-details "Shadow and paper evaluation"): in every regime segment
the challenger must beat the champion on risk-adjusted (annualised Sharpe, by more than
``sharpe_margin``) and cost-adjusted (cost bps) terms; a difference inside the margin, or a
segment too short to judge, is ambiguous and fails with ``GATE2_EXTEND_WINDOW``. The window
must contain both a high-volatility and a normal segment.
"""

from __future__ import annotations

from torghut.contracts.gates import (
    GateId,
    GateResult,
    PaperEvidence,
    RegimeClass,
    RegimeSegment,
)
from torghut.gates.checks import Context, Findings, evidence_missing


def evaluate_gate2(paper: PaperEvidence | None, ctx: Context, *,
                   strategy: str | None = None, why: str | None = None) -> GateResult:
    """``strategy`` (TYPE@VERSION), when given, is the candidate the evidence must be about."""
    if paper is None:
        return evidence_missing(GateId.PAPER, "the paper-run evidence", ctx, why)
    p = ctx.policy.gate2
    out = Findings(GateId.PAPER)
    out.ref("paper_evidence", paper)
    if strategy is not None and paper.strategy != strategy:
        out.fail("STRATEGY_MISMATCH", "the paper evidence is about another strategy",
                 paper.strategy, strategy)
    out.at_least("SESSIONS", paper.sessions, p.min_sessions, what="paper sessions")
    d, st = paper.divergence, paper.stability
    out.at_most("PNL_DIVERGENCE", d.pnl_divergence, p.max_pnl_divergence,
                what="paper-vs-sim PnL divergence")
    out.at_least("INTENT_AGREEMENT", d.intent_agreement, p.min_intent_agreement,
                 what="paper-vs-sim intent agreement")
    out.at_most("FILL_RATIO_DIVERGENCE", d.fill_ratio_divergence,
                p.max_fill_ratio_divergence, what="paper-vs-sim fill-ratio divergence")
    out.at_most("PLUGIN_ERRORS", st.plugin_errors, p.max_plugin_errors, what="plugin errors")
    out.at_most("CIRCUIT_OPENS", st.circuit_open_count, p.max_circuit_opens,
                what="circuit-breaker opens")
    out.at_most("RISK_BREACHES", st.risk_limit_breaches, p.max_risk_breaches,
                what="risk-limit breaches")
    out.at_most("DRAWDOWN", -st.max_drawdown, p.max_drawdown, what="paper drawdown")
    _regime_coverage(paper, out)
    if paper.champion is not None:
        for i, segment in enumerate(paper.segments):
            _versus_champion(i, segment, out, ctx)
    out.observe("champion", paper.champion)
    return out.result(ctx)


def _regime_coverage(paper: PaperEvidence, out: Findings) -> None:
    present = {s.regime for s in paper.segments}
    for regime in RegimeClass:
        if regime not in present:
            out.fail("REGIME_MISSING", f"the window has no {regime.value} segment: extend it",
                     regime.value, None)


def _versus_champion(i: int, seg: RegimeSegment, out: Findings, ctx: Context) -> None:
    p = ctx.policy.gate2
    label = f"segment {i} ({seg.regime.value})"
    if seg.champion is None:
        out.fail("CHAMPION_EVIDENCE_MISSING", f"{label} has no champion slice: fails closed")
        return
    bars = min(seg.challenger.bars, seg.champion.bars)
    if bars < p.min_segment_bars:
        out.fail("EXTEND_WINDOW", f"{label} has {bars} bars, too few to judge", bars,
                 p.min_segment_bars)
        return
    ch, champ = seg.challenger.sharpe_annual, seg.champion.sharpe_annual
    if ch is None or champ is None:
        out.fail("EXTEND_WINDOW", f"{label}: a Sharpe ratio is undefined, extend the window")
        return
    edge = ch - champ
    out.observe(f"segment.{i}.sharpe_edge", edge)
    if edge < -p.sharpe_margin:
        out.fail("CHAMPION_NOT_BEATEN", f"{label}: Sharpe {ch:.3g} vs champion {champ:.3g}",
                 edge, p.sharpe_margin)
    elif edge <= p.sharpe_margin:
        out.fail("EXTEND_WINDOW", f"{label}: Sharpe edge {edge:.3g} is inside the ±"
                 f"{p.sharpe_margin:.3g} margin: ambiguous", edge, p.sharpe_margin)
    ch_cost, champ_cost = seg.challenger.cost_bps, seg.champion.cost_bps
    if ch_cost is None or champ_cost is None:
        out.fail("COST_MISSING", f"{label}: cost bps undefined")
    elif ch_cost - champ_cost > p.max_cost_bps_excess:
        out.fail("COST_ABOVE_CHAMPION", f"{label}: cost {ch_cost:.3g} bps vs champion "
                 f"{champ_cost:.3g}", ch_cost - champ_cost, p.max_cost_bps_excess)

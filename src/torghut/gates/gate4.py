"""Gate 4 — (optional) live review: paper track record, drills and approvals.

Controls RTS-5 (a switch-off drill passes before deployment) and FIA-6 (rollback drilled):
both drills must have passed within ``max_drill_age_hours`` before the evaluation.
Separation of duties: an approval by the proposer does not count.
"""

from __future__ import annotations

from torghut.contracts.gates import DrillRecord, GateId, GateResult, LiveReviewEvidence
from torghut.gates.checks import Context, Findings, evidence_missing


def evaluate_gate4(review: LiveReviewEvidence | None, ctx: Context, *,
                   strategy: str | None = None, why: str | None = None) -> GateResult:
    """``strategy`` (TYPE@VERSION), when given, is the candidate the evidence must be about."""
    if review is None:
        return evidence_missing(GateId.LIVE_REVIEW, "the live-review evidence", ctx,
                                why)
    p = ctx.policy.gate4
    out = Findings(GateId.LIVE_REVIEW)
    out.ref("live_review", review)
    if strategy is not None and review.strategy != strategy:
        out.fail("STRATEGY_MISMATCH", "the live-review evidence is about another strategy",
                 review.strategy, strategy)
    days = (ctx.evaluated_at - review.paper_started_at).total_seconds() / 86_400
    out.at_least("PAPER_DAYS", days, p.min_paper_days, what="days in paper")
    _drill("KILL_SWITCH_DRILL", "kill-switch drill", review.kill_switch_drill, out, ctx)
    _drill("ROLLBACK_DRILL", "rollback drill", review.rollback_drill, out, ctx)
    approvers = {a.identity for a in review.approvals} - {review.proposer}  # control: RTS-5
    out.at_least("APPROVALS", len(approvers), p.min_approvals,
                 what="approvals by identities other than the proposer")
    if not review.rollback_target:
        out.missing("ROLLBACK_TARGET", "the rollback target")
    out.observe("rollback_target", review.rollback_target)
    return out.result(ctx)


def _drill(name: str, what: str, drill: DrillRecord | None, out: Findings,
           ctx: Context) -> None:
    if drill is None:
        out.missing(name, f"the {what}")
        return
    out.ref(name.lower(), drill)
    if not drill.passed:
        out.fail(f"{name}_FAILED", f"the last {what} failed", False, True)
    age = (ctx.evaluated_at - drill.at).total_seconds() / 3600  # control: RTS-5, FIA-6
    out.observe(f"{name.lower()}_age_hours", age)
    if age < 0:
        out.fail(f"{name}_IN_FUTURE", f"the {what} is dated after the evaluation", age, 0.0)
    elif age > ctx.policy.gate4.max_drill_age_hours:
        out.fail(f"{name}_STALE", f"the {what} ran {age:.1f} h ago", age,
                 ctx.policy.gate4.max_drill_age_hours)

"""Ledger reads the demo's steps share: a candidate's state, and a gate decision taken once.

A decision already recorded for (candidate, target) is reused rather than taken again, so a
resumed step never adds a second decision (each decision counts toward the freeze rule).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from torghut.contracts.gates import Target
from torghut.demo.plan import VALIDATION_AGENT
from torghut.demo.runner import DemoContext
from torghut.governance.lifecycle import State, current_state
from torghut.lanes.validation import EvidenceFiles, evaluate_candidate, gitops_policy
from torghut.ledger.models import PromotionDecision


def candidate_state(ctx: DemoContext, cid: str) -> State:
    with ctx.ledger.read() as session:
        return current_state(session, cid)


def decide(ctx: DemoContext, cid: str, target: Target,
           evidence: EvidenceFiles = EvidenceFiles()) -> dict[str, Any]:
    """The latest recorded decision for ``target``, else evaluate (signed) and record one."""
    with ctx.ledger.read() as session:
        row = session.scalars(select(PromotionDecision).where(
            PromotionDecision.candidate_id == cid, PromotionDecision.target == target.value)
            .order_by(PromotionDecision.decided_at.desc()).limit(1)).first()
        if row is not None:
            return {"decision_id": row.id, "allowed": row.allowed,
                    "reason_codes": [str(r) for r in row.reasons]}
    decided = evaluate_candidate(ctx.ws, ctx.ledger, cid, target,
                                 gitops_policy(ctx.ws).policy, now=datetime.now(UTC),
                                 actor=VALIDATION_AGENT, evidence=evidence, sign=True)
    return {"decision_id": decided.decision_id,
            "allowed": decided.report.decision.value == "allow",
            "reason_codes": list(decided.report.reason_codes)}

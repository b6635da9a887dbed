"""The candidate state machine (DESIGN.md "Lifecycle of a candidate") — the one authority.

Nothing else writes a candidate's state. A state is a ``promotions`` row (history: the
newest row is the current state; a candidate with none is ``proposed``), written together
with its audit event. :func:`transition` refuses an edge the diagram does not have;
:func:`check_forward` refuses a forward move unless its evidence holds *now*:

* a decision that allowed this exact candidate for the target, judged under the policy that
  is on GitOps ``main`` today (a changed policy invalidates older decisions), and not
  superseded by a later deny (e.g. a failed reproduction);
* every hard stop clear — the ledger verifies, the catalog validates, no drift, no open
  high-severity risk incident, the LLM path within bounds, the kill switch not engaged.

``frozen`` is where repeated gate failures end (:func:`freeze_if_repeated`); like
``rejected``, ``rolled_back`` and ``retired`` it has no way forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from torghut.contracts.gates import GatePolicy
from torghut.gates.engine import make_context
from torghut.gates.hard_stops import evaluate_hard_stops
from torghut.governance.refusal import Refusal
from torghut.ledger import Ledger, audit
from torghut.ledger.models import Promotion, PromotionDecision
from torghut.ops.conditions import measure_hard_stops
from torghut.workspace import Workspace


class State(StrEnum):
    PROPOSED = "proposed"
    VALIDATED = "validated"
    REJECTED = "rejected"
    PR_OPEN = "pr_open"
    APPROVED = "approved"
    PAPER = "paper"
    PAPER_VERIFIED = "paper_verified"
    LIVE_REVIEW = "live_review"
    FROZEN = "frozen"
    ROLLED_BACK = "rolled_back"
    RETIRED = "retired"


FORWARD: dict[State, State] = {
    State.PROPOSED: State.VALIDATED, State.VALIDATED: State.PR_OPEN,
    State.PR_OPEN: State.APPROVED, State.APPROVED: State.PAPER,
    State.PAPER: State.PAPER_VERIFIED, State.PAPER_VERIFIED: State.LIVE_REVIEW,
}
"""Each state's one way forward."""

#: The decision target a forward move into the key state relies on.
EVIDENCE_TARGET: dict[State, str] = {
    State.VALIDATED: "paper", State.PR_OPEN: "paper", State.APPROVED: "paper",
    State.PAPER: "paper", State.PAPER_VERIFIED: "paper_verified", State.LIVE_REVIEW: "live",
}
DEAD_ENDS = frozenset({State.REJECTED, State.FROZEN, State.ROLLED_BACK, State.RETIRED})
REJECTABLE = frozenset({State.PROPOSED, State.VALIDATED, State.PR_OPEN})


def allowed(src: State, dst: State) -> bool:
    """Whether the diagram has the edge ``src → dst``."""
    if src in DEAD_ENDS:
        return False
    if dst is State.REJECTED:
        return src in REJECTABLE
    if dst in (State.FROZEN, State.ROLLED_BACK, State.RETIRED):
        return True
    return FORWARD.get(src) is dst


def current_state(session: Session, candidate_id: str) -> State:
    row = latest_transition(session, candidate_id)
    return State.PROPOSED if row is None else State(row.state)


def latest_transition(session: Session, candidate_id: str) -> Promotion | None:
    return session.scalars(select(Promotion).where(Promotion.candidate_id == candidate_id)
                           .order_by(Promotion.id.desc()).limit(1)).first()


# ----------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Evidence:
    """What a forward move relied on: the decision and the report it cites."""

    decision_id: str
    report_hash: str | None


def valid_decision(session: Session, candidate_id: str, target: str,
                   policy_checksum: str) -> Evidence:
    """The latest decision for (candidate, target) — it must allow, under today's policy."""
    row = session.scalars(
        select(PromotionDecision).where(PromotionDecision.candidate_id == candidate_id,
                                        PromotionDecision.target == target)
        .order_by(PromotionDecision.decided_at.desc(), PromotionDecision.id).limit(1)).first()
    if row is None:
        raise Refusal("DECISION_MISSING", f"no gate decision for {target!r}: run `torghut "
                      f"gates evaluate --candidate {candidate_id[:12]} --target {target}`")
    if not row.allowed:
        raise Refusal("DECISION_DENIED", f"the latest {target!r} decision {row.id[:12]}… "
                      f"denied: {', '.join(map(str, row.reasons)) or 'see its report'}")
    if row.policy_checksum != policy_checksum:
        raise Refusal("POLICY_CHANGED", f"decision {row.id[:12]}… was judged under policy "
                      f"{row.policy_checksum[:12]}…; main now has {policy_checksum[:12]}… "
                      "— evaluate again")
    return Evidence(row.id, row.report_hash)


def hard_stops_clear(ws: Workspace, ledger: Ledger, session: Session,
                     policy: GatePolicy) -> None:
    """Refuse with the first hard stop's code while any holds (they block every move)."""
    measured = measure_hard_stops(ws, ledger, session)
    result = evaluate_hard_stops(measured.inputs, make_context(policy, datetime.now(UTC)),
                                 measured.absent)
    if not result.passed:
        first = result.reasons[0]
        raise Refusal(first.code, first.message)


def check_forward(ws: Workspace, ledger: Ledger, session: Session, candidate_id: str,
                  dst: State, policy: GatePolicy, policy_checksum: str) -> Evidence:
    """Everything a forward move into ``dst`` needs (module docstring); its evidence."""
    src = current_state(session, candidate_id)
    if not allowed(src, dst) or dst not in EVIDENCE_TARGET:
        raise Refusal("TRANSITION_NOT_ALLOWED" if src not in DEAD_ENDS
                      else f"CANDIDATE_{src.value.upper()}",
                      f"candidate {candidate_id[:12]}… is {src.value}; it cannot become "
                      f"{dst.value}")
    evidence = valid_decision(session, candidate_id, EVIDENCE_TARGET[dst], policy_checksum)
    hard_stops_clear(ws, ledger, session, policy)
    return evidence


# ----------------------------------------------------------------------------- writes


def transition(session: Session, candidate_id: str, dst: State, *, actor: str,
               decision_id: str | None = None, reasons: tuple[str, ...] = (),
               patch_ref: str | None = None, mode: str = "paper",
               artifact_refs: tuple[str, ...] = ()) -> Promotion:
    """Write the move ``current → dst`` (inside the caller's write transaction)."""
    src = current_state(session, candidate_id)
    if not allowed(src, dst):
        raise Refusal("TRANSITION_NOT_ALLOWED", f"candidate {candidate_id[:12]}… is "
                      f"{src.value}; it cannot become {dst.value}")
    row = Promotion(candidate_id=candidate_id, decision_id=decision_id, state=dst.value,
                    requested_mode=mode,
                    approved_mode=mode if dst in (State.PAPER, State.PAPER_VERIFIED) else None,
                    actor=actor, reasons=list(reasons), patch_ref=patch_ref,
                    effective_at=None)
    audit.record(session, row, actor=actor, action=f"lifecycle.{dst.value}",
                 subject=f"candidate:{candidate_id}", artifact_refs=artifact_refs)
    return row


def freeze_if_repeated(session: Session, candidate_id: str, limit: int, *,
                       actor: str) -> bool:
    """Freeze the candidate after ``limit`` consecutive denied decisions; True if frozen."""
    recent = session.scalars(
        select(PromotionDecision.allowed).where(PromotionDecision.candidate_id == candidate_id)
        .order_by(PromotionDecision.decided_at.desc()).limit(limit)).all()
    state = current_state(session, candidate_id)
    if len(recent) < limit or any(recent) or state in DEAD_ENDS:
        return False
    transition(session, candidate_id, State.FROZEN, actor=actor,
               reasons=(f"{limit} consecutive gate decisions denied",))
    return True

"""Step 5: validation sign-off, promotion pull requests, human approval, merge.

Each candidate that passed Gate 1 is moved one lifecycle step at a time, and which step
comes next is read from the ledger (its current state), so a re-run after a crash carries
on where the candidate stands and never repeats an action. The reserve candidate is signed
off but kept back: step 8 shows that the kill switch freezes its promotion.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from torghut.demo.decisions import candidate_state
from torghut.demo.plan import APPROVER, PROMOTION_AGENT, RESERVE, VALIDATION_AGENT
from torghut.demo.runner import DemoContext
from torghut.governance.lifecycle import State
from torghut.lanes import promotion
from torghut.ledger.models import PullRequest, PullRequestEvent


def passed(ctx: DemoContext) -> dict[str, dict[str, Any]]:
    """Gate 1 passes by candidate name (from step 4's result)."""
    rows = ctx.state.steps["research"]["result"]["candidates"]
    return {name: row for name, row in rows.items() if row["allowed"]}


def promoted_names(ctx: DemoContext) -> list[str]:
    return [name for name in passed(ctx) if name != RESERVE]


def promoted_ids(ctx: DemoContext) -> list[str]:
    """The catalog strategy ids (the candidate specs' names) of the promoted candidates."""
    rows = ctx.state.steps["research"]["result"]["candidates"]
    return [rows[name]["strategy_id"] for name in promoted_names(ctx)]


def promote_step(ctx: DemoContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, row in passed(ctx).items():
        cid = row["candidate_id"]
        last = RESERVE if name == RESERVE else None
        while (state := candidate_state(ctx, cid)) is not State.PAPER and _advance(ctx, cid, state,
                                                                          hold=last):
            pass
        out[name] = {"candidate_id": cid, "state": candidate_state(ctx, cid).value, **_pr(ctx, cid)}
        pr = out[name].get("pr_id")
        ctx.say(f"{name:17} → {out[name]['state']:9}"
                + (f" PR #{pr} {out[name]['branch']} merged as {out[name]['merge_sha'][:12]}"
                   if pr else " (held back: signed off, not proposed)"))
    return {"promotions": out}


def _advance(ctx: DemoContext, cid: str, state: State, *, hold: str | None) -> bool:
    """Take the next lifecycle step of ``cid``; False when it should stop here."""
    if state is State.PROPOSED:
        promotion.signoff(ctx.ws, ctx.ledger, cid, as_identity=VALIDATION_AGENT,
                          reason="Gate 0 and Gate 1 pass; evidence reviewed")
        return True
    if hold is not None:
        return False
    if state is State.VALIDATED:
        promotion.propose(ctx.ws, ctx.ledger, cid, as_identity=PROMOTION_AGENT)
        return True
    pr_id = _pr(ctx, cid)["pr_id"]
    if state is State.PR_OPEN:
        promotion.approve(ctx.ws, ctx.ledger, pr_id, as_identity=APPROVER,
                          reason="gate report and catalog diff reviewed")
        return True
    if state is State.APPROVED:
        promotion.merge(ctx.ws, ctx.ledger, pr_id, as_identity=PROMOTION_AGENT)
        return True
    return False


def _pr(ctx: DemoContext, cid: str) -> dict[str, Any]:
    """The candidate's promotion pull request (and its merge), as the ledger has them."""
    with ctx.ledger.read() as session:
        pr = session.scalars(select(PullRequest).where(PullRequest.candidate_id == cid)
                             .order_by(PullRequest.id.desc()).limit(1)).first()
        if pr is None:
            return {}
        events = session.scalars(select(PullRequestEvent).where(
            PullRequestEvent.pull_request_id == pr.id).order_by(PullRequestEvent.id)).all()
        merged = [e for e in events if e.event == "merged"]
        approvals = [e.actor for e in events if e.event == "approved"]
        return {"pr_id": pr.id, "branch": pr.branch, "head_sha": pr.head_sha,
                "approved_by": approvals,
                "merge_sha": merged[-1].merge_sha or "" if merged else ""}
